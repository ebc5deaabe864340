"""One request's record, filled in as the request runs and handed to the ledger when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field

from tierwise.types import Usage


@dataclass(slots=True, kw_only=True)
class Attempt:
    """One call to one upstream model, successful or not."""

    model: str
    status: int  # the upstream HTTP status, or 0 when no answer came (timeout, connection failure)
    error: str | None = None
    latency_ms: float = 0.0


@dataclass(slots=True, kw_only=True)
class LedgerEntry:
    """Mutable on purpose: the request handler fills it in step by step, then hands it over exactly once."""

    request_id: str
    started_at: float  # unix time
    api: str  # the inbound API: "openai" or "anthropic"
    requested_model: str = ""
    stream: bool = False
    policy: str | None = None
    tier: str | None = None
    model: str | None = None  # the alias that answered (or was last tried)
    upstream_model: str | None = None
    provider: str | None = None
    reasons: str = ""
    status: int = 0  # the status the client got
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    usage_estimated: bool = False  # the tokens are the gateway's estimate, not the upstream's report
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    # Calls made for this request besides the one that answered (a cascade's checker, say): (alias, usage).
    side_calls: list[tuple[str, Usage]] = field(default_factory=list)
    session: str | None = None
    session_switch: str | None = None  # what the session changed on this request (tier or effort) and why
    forfeited_cache_tokens: int = 0  # prompt-cache tokens of the previous turn the switch's new model pays afresh
    key_id: str | None = None
    error_kind: str | None = None  # the error's class name (BudgetExceeded, UpstreamTimeout, ...): metrics only
    traceparent: str | None = None  # the caller's W3C trace context, when it sent one: traces only
    traffic: str = "client"  # "shadow" and "judge": calls the evidence loop made, counted apart from clients'
