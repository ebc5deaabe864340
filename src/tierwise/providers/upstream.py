"""An upstream provider: one HTTP API (through its wire format), one base URL, one key.

Every transport failure is turned into a tierwise ``UpstreamError`` here, at the boundary, so the layers
above can tell an outage from a bad request without knowing about aiohttp.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import aiohttp

from tierwise.config.settings import ModelSettings, ProviderSettings
from tierwise.errors import UpstreamConnectionError, UpstreamError, UpstreamStatusError, UpstreamTimeout
from tierwise.types import ChatRequest, ChatResponse, StreamEvent
from tierwise.wire.format import MaxTokensField, wire_for
from tierwise.wire.sse import SseDecoder


class UpstreamProvider:
    def __init__(self, settings: ProviderSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.wire = wire_for(settings.api)
        self._session = session
        self._url = settings.base_url + self.wire.UPSTREAM_PATH
        # OpenAI's own API wants max_completion_tokens (its reasoning models reject max_tokens); the
        # OpenAI-compatible hosts (Ollama, vLLM, ...) get the name the client used.
        self._max_tokens_field: MaxTokensField | None = "max_completion_tokens" if settings.kind == "openai" else None
        self._headers = {**self.wire.upstream_headers(settings.api_key), **settings.headers}
        t = settings.timeouts
        self._timeout = aiohttp.ClientTimeout(total=t.total_s, sock_connect=t.connect_s)
        self._first_token_s = t.first_token_s
        self._max_body = settings.limits.max_body_bytes
        self._max_line = settings.limits.max_sse_line_bytes

    def _body(self, request: ChatRequest, model: ModelSettings) -> bytes:
        return self.wire.build_upstream_request(
            request,
            upstream_model=model.upstream_id,
            default_max_tokens=model.max_output_tokens,
            max_tokens_field=self._max_tokens_field,
        )

    def _request_headers(self, request: ChatRequest) -> dict[str, str]:
        extra = self.wire.request_headers(request)
        return {**self._headers, **extra} if extra else self._headers

    async def complete(self, request: ChatRequest, model: ModelSettings) -> ChatResponse:
        body = self._body(request, model)
        headers = self._request_headers(request)
        # Without streaming the whole answer is the first byte, so only the total timeout applies.
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                _refuse_redirect(response, model)
                payload = await _read_capped(response, self._max_body, model)
                if response.status >= 400:
                    raise self.wire.parse_upstream_error(response.status, payload, response.headers)
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamTimeout(f"{model.alias}: timed out connecting ({self._timeout.sock_connect:g}s)") from None
        except TimeoutError:
            raise UpstreamTimeout(
                f"{model.alias}: timed out (no complete answer within {self._timeout.total:g}s)"
            ) from None
        except aiohttp.ClientError as exc:
            raise UpstreamConnectionError(f"{model.alias}: {_describe(exc)}") from None
        if len(payload) > _PARSE_INLINE_BYTES:  # a large answer is parsed off the event loop
            return await asyncio.to_thread(self.wire.parse_upstream_response, payload)
        return self.wire.parse_upstream_response(payload)

    async def stream(self, request: ChatRequest, model: ModelSettings) -> AsyncGenerator[list[StreamEvent], None]:
        """Events as they arrive, in batches: all the events of one network read together, so the server can
        send them on in one write. Close the iterator (``aclose``) to cancel the upstream call."""
        body = self._body(request, model)
        headers = self._request_headers(request)
        try:
            async with asyncio.timeout(self._first_token_s):
                response = await self._session.post(
                    self._url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
                )
            finished = False
            try:
                _refuse_redirect(response, model)
                if response.status >= 400:
                    payload = await _read_capped(response, self._max_body, model)
                    raise self.wire.parse_upstream_error(response.status, payload, response.headers)
                decoder = SseDecoder(max_line=self._max_line)
                parser = self.wire.UpstreamStreamParser()
                async for chunk in response.content.iter_any():
                    batch: list[StreamEvent] = []
                    try:
                        for sse in decoder.feed(chunk):
                            batch.extend(parser.feed(sse))
                    except UpstreamError:  # an error event: first pass on what came before it in this read
                        if batch:
                            yield batch
                        raise
                    if batch:
                        yield batch
                tail = [event for sse in decoder.close() for event in parser.feed(sse)]
                tail.extend(parser.finish())
                if tail:
                    yield tail
                finished = True
            finally:
                # Closing (not releasing) drops the connection, which is how an abandoned stream is cancelled.
                if finished:
                    response.release()
                else:
                    response.close()
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamTimeout(f"{model.alias}: timed out connecting ({self._timeout.sock_connect:g}s)") from None
        except TimeoutError:
            raise UpstreamTimeout(
                f"{model.alias}: timed out "
                f"(limits: {self._first_token_s:g}s to respond, {self._timeout.total:g}s in all)"
            ) from None
        except aiohttp.ClientError as exc:
            raise UpstreamConnectionError(f"{model.alias}: {_describe(exc)}") from None


_PARSE_INLINE_BYTES = 1024 * 1024
_READ_CHUNK = 256 * 1024


async def _read_capped(response: aiohttp.ClientResponse, limit: int, model: ModelSettings) -> bytes:
    """The body, decompressed as it arrives (aiohttp inflates in bounded steps), refused as soon as the
    announced or the decompressed size passes ``limit``: a 200 MB answer or a gzip bomb costs ``limit`` bytes of
    memory at most, and is an upstream failure like any other."""
    if response.content_length is not None and response.content_length > limit:
        raise _too_large(model, f"it announces {response.content_length:,} bytes", limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(model, f"{size:,} bytes received so far", limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(model: ModelSettings, detail: str, limit: int) -> UpstreamError:
    return UpstreamError(
        f"{model.alias}: the upstream answer is larger than this gateway accepts ({detail}; "
        f"providers.{model.provider.name}.limits.max_body_bytes is {limit:,})"
    )


def _refuse_redirect(response: aiohttp.ClientResponse, model: ModelSettings) -> None:
    """An upstream redirect is never followed: the request carries our provider key, and the HTTP client would
    send every header but ``Authorization`` on to the new origin (``x-api-key`` included). It is an upstream
    failure like a 502, so the request moves on to the next attempt or fallback."""
    if 300 <= response.status < 400:
        raise UpstreamStatusError(
            f"{model.alias}: the upstream answered HTTP {response.status} (a redirect); tierwise does not follow "
            "upstream redirects, check the provider's base_url",
            upstream_status=response.status,
            kind="api_error",
        )


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the response was cut short"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection error ({exc.strerror or 'reset'})"
    return type(exc).__name__
