"""Every error tierwise raises, under one root, each knowing the HTTP status it maps to.

    TierwiseError
    ├── ConfigError                  the configuration file is wrong (start-up, not a request)
    ├── LedgerError                  the ledger file cannot be opened (start-up: corrupt, unreadable)
    ├── ClientError                  the caller's mistake: 4xx
    │   ├── InvalidRequest           400: malformed JSON, missing or mistyped field
    │   ├── AuthenticationFailed     401
    │   ├── PermissionDenied         403
    │   ├── NotFound                 404: unknown route or model
    │   ├── PayloadTooLarge          413
    │   ├── UnsupportedEncoding      415: a content-encoding this gateway cannot decode
    │   └── RateLimited              429: a gateway key's request or token rate limit
    │       └── BudgetExceeded       429: a gateway key's daily or monthly budget is spent
    ├── StateUnavailable             503: the shared state (Redis) behind key limits cannot be reached
    └── UpstreamError                the provider's failure: 5xx towards the client
        ├── UpstreamUnavailable      503: no model could be reached now (circuits open, all fallbacks failing)
        ├── GatewayMisconfigured     502, permanent: no model can ever be reached as configured (keys unset)
        ├── UpstreamTimeout          504
        ├── UpstreamConnectionError  502
        └── UpstreamStatusError      the provider answered with an error status: the request's own faults
                                     (400, 413, 422) are relayed as they are, the rest become 502/503/429

Wire formats turn these into the error body of the API the client spoke; nothing else builds error bodies.
A ``permanent`` error is answered with ``x-should-retry: false``: the official SDKs retry every 5xx otherwise,
sending the same doomed request three more times.
"""

from __future__ import annotations

from typing import ClassVar


class TierwiseError(Exception):
    status: ClassVar[int] = 500
    permanent: bool = False  # the same request will fail the same way: tell clients not to retry it
    # The neutral error kind; each wire format maps it to its own vocabulary.
    kind: ClassVar[str] = "api_error"

    def __init__(self, message: str, *, param: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self._status = status  # overrides the class's status, e.g. to keep aiohttp's 405

    @property
    def http_status(self) -> int:
        """The status the client sees."""
        return self._status or self.status

    @property
    def error_kind(self) -> str:
        """The neutral error kind the wire formats map to their own vocabulary."""
        return self.kind


class ConfigError(TierwiseError):
    pass


class LedgerError(TierwiseError):
    pass


class ClientError(TierwiseError):
    status = 400
    kind = "invalid_request"


class InvalidRequest(ClientError):
    status = 400
    kind = "invalid_request"


class AuthenticationFailed(ClientError):
    status = 401
    kind = "authentication"


class PermissionDenied(ClientError):
    status = 403
    kind = "permission"


class NotFound(ClientError):
    status = 404
    kind = "not_found"


class PayloadTooLarge(ClientError):
    status = 413
    kind = "request_too_large"


class UnsupportedEncoding(ClientError):
    status = 415
    kind = "invalid_request"


class RateLimited(ClientError):
    status = 429
    kind = "rate_limit"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s  # sent as the retry-after header


class BudgetExceeded(RateLimited):
    kind = "budget_exceeded"


class StateUnavailable(TierwiseError):
    """Key budgets and rate limits fail closed: without the shared state, a limited key is not let through."""

    status = 503
    kind = "overloaded"


class UpstreamError(TierwiseError):
    status = 502
    kind = "api_error"
    # Whether trying again (same or another model) may help; set per instance by the provider boundary.
    retryable: bool = True


class UpstreamUnavailable(UpstreamError):
    status = 503
    kind = "overloaded"


class GatewayMisconfigured(UpstreamError):
    status = 502
    kind = "api_error"
    permanent = True
    retryable = False


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout"


class UpstreamConnectionError(UpstreamError):
    status = 502
    kind = "api_error"


REQUEST_FAULTS = frozenset({400, 413, 422})  # upstream statuses that blame the request itself


class UpstreamStatusError(UpstreamError):
    """The provider answered with an error status. 4xx caused by the request are relayed as they are.

    ``kind`` is the neutral kind parsed from the provider's error body (see ``TierwiseError.kind``).
    """

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int,
        kind: str,
        retry_after_s: float | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, param=param)
        self.upstream_status = upstream_status
        self.upstream_kind = kind
        self.retry_after_s = retry_after_s
        # Only the request's own faults are final; anything else (our upstream key rejected, a model
        # missing upstream, rate limits, outages) may go better on another attempt or another model.
        self.retryable = upstream_status not in REQUEST_FAULTS
        # Our key refused, the model or route unknown there, or a redirect: not going to change on a retry.
        self.permanent = upstream_status in (401, 403, 404) or 300 <= upstream_status < 400

    @property
    def error_kind(self) -> str:
        status = self.http_status
        if status < 500:
            return self.upstream_kind
        return "overloaded" if status == 503 else "api_error"

    @property
    def http_status(self) -> int:
        """The status to show the client: the request's own faults as they are, outages as 502/503."""
        if self.upstream_status in REQUEST_FAULTS or self.upstream_status == 429:
            return self.upstream_status
        return 503 if self.upstream_status in (503, 529) else 502
