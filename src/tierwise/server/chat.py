"""The chat endpoints: HTTP in, a routed upstream call, HTTP out in the client's own API, one ledger row."""

from __future__ import annotations

import asyncio
import math
import secrets
import sys
import time
import traceback
import zlib
from dataclasses import replace

import orjson
from aiohttp import web

from tierwise.config.settings import ServerSettings
from tierwise.errors import (
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
    TierwiseError,
    UnsupportedEncoding,
    UpstreamError,
)
from tierwise.evidence.records import Finished
from tierwise.keys.estimate import completed_usage, response_text_bytes
from tierwise.ledger.entry import LedgerEntry
from tierwise.redaction import Redactor
from tierwise.routing.decision import RouteInput, RoutingDecision
from tierwise.routing.features import SESSION_HEADERS, route_input
from tierwise.server.gateway import Gateway
from tierwise.server.guard import Grant
from tierwise.types import (
    ApiName,
    ChatRequest,
    ChatResponse,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
)
from tierwise.wire.format import StreamRenderer, WireFormat, wire_for

GATEWAY = web.AppKey("gateway", Gateway)
CLIENT_CLOSED = 499  # nginx's convention for "the client went away"
_REASON_MAX = 240


class ChatEndpoint:
    """One instance per inbound API; ``__call__`` is the aiohttp handler."""

    def __init__(self, api: ApiName) -> None:
        self.api = api
        self.wire: WireFormat = wire_for(api)

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        gateway = request.app[GATEWAY]
        started = time.perf_counter()
        entry = LedgerEntry(request_id="twr_" + secrets.token_hex(12), started_at=time.time(), api=self.api)
        entry.traceparent = request.headers.get("traceparent")
        grant: Grant | None = None
        body: object = None
        chat: ChatRequest | None = None
        response: ChatResponse | None = None
        streamed: list[str] | None = [] if gateway.evidence is not None else None
        score: float | None = None
        recorded = _Recorded()
        tally = _Tally()
        features: RouteInput | None = None
        try:
            grant = gateway.guard.authenticate(request.headers)
            entry.key_id = grant.key_id
            limits = gateway.settings.server
            body = _few_messages(await _read_json(request, limits.max_body_bytes), limits)
            chat = self.parse(body, request, grant.key_id)
            entry.requested_model, entry.stream = chat.model, chat.stream
            features = route_input(chat, _tierwise_headers(request), caller=grant.key_id)
            entry.session = features.session
            decision = gateway.router.decide(features)
            entry.policy, entry.tier, entry.reasons = decision.policy, decision.tier, decision.reason
            score = decision.score
            entry.session_switch, entry.forfeited_cache_tokens = decision.switch, decision.forfeited_cache_tokens
            if decision.effort is not None:  # the session raised the reasoning effort
                chat = replace(chat, reasoning_effort=decision.effort)
            decision = await grant.admit(chat, decision, features)
            if chat.stream:
                return await self._stream(request, gateway, chat, decision, entry, started, streamed, recorded, tally)
            if decision.cascade:
                response = await gateway.cascade.complete(chat, decision, entry, features)
            else:
                response = await gateway.dispatcher.complete(chat, decision, entry)
            entry.usage, entry.status = response.usage, 200
            return web.Response(
                body=self.render_response(response, chat, entry),
                content_type="application/json",
                headers=_explain(entry),
            )
        except TierwiseError as err:
            return self._error(_redacted(err, gateway.redactor), entry)
        except (RecursionError, orjson.JSONEncodeError) as exc:
            too_deep = nested_too_deeply(exc)
            if too_deep is None:
                traceback.print_exc(file=sys.stderr)
                return self._error(UpstreamError("internal gateway error"), entry, status=500)
            return self._error(too_deep, entry)
        except Exception:  # a bug of ours: answer in the client's API shape, keep the traceback in stderr only
            traceback.print_exc(file=sys.stderr)
            return self._error(UpstreamError("internal gateway error"), entry, status=500)
        except BaseException:  # cancelled: the client went away (before the answer, unless a stream's was sent)
            if not recorded.answered:
                entry.status, entry.error = CLIENT_CLOSED, "client disconnected"
            raise
        finally:
            entry.latency_ms = (time.perf_counter() - started) * 1000.0
            if chat is not None:
                _complete_usage(entry, chat, response, tally)
            if grant is not None:
                grant.settle(entry)
            if features is not None and entry.status == 200 and gateway.sessions is not None:
                gateway.sessions.settle(features, entry.model, entry.usage)
            if recorded.status != entry.status:  # a stream records itself before its last bytes (see _stream)
                _redact_entry(entry, gateway.redactor)
                gateway.ledger.record(entry)
            if gateway.evidence is not None and chat is not None:
                finished = Finished(
                    entry=entry, body=body, request=chat, response=response, streamed=streamed, score=score
                )
                gateway.evidence.observe(finished)

    # Hooks for an API whose requests or answers depend on more than the body and the upstream's answer
    # (Messages: headers, see messages.py; Responses: the response store, see responses.py).

    def parse(self, body: object, request: web.Request, caller: str | None) -> ChatRequest:
        """The internal request; ``caller`` is the gateway key's id (None when keys are off)."""
        return self.wire.parse_request(body)

    def render_response(self, response: ChatResponse, chat: ChatRequest, entry: LedgerEntry) -> bytes:
        return self.wire.render_response(response)

    def stream_renderer(self, chat: ChatRequest, entry: LedgerEntry) -> StreamRenderer:
        return self.wire.StreamRenderer(include_usage=chat.stream_usage)

    def stream_finished(self, chat: ChatRequest, renderer: StreamRenderer, entry: LedgerEntry) -> None:
        return None

    def _error(self, err: TierwiseError, entry: LedgerEntry, status: int | None = None) -> web.Response:
        code, body = self.wire.render_error(err)
        entry.status, entry.error, entry.error_kind = status or code, err.message, type(err).__name__
        headers = {"x-tierwise-request-id": entry.request_id, "x-tierwise-attempts": str(len(entry.attempts))}
        if entry.model:
            headers["x-tierwise-model"] = entry.model
        if isinstance(err, RateLimited) and err.retry_after_s is not None:
            headers["retry-after"] = str(max(1, math.ceil(err.retry_after_s)))
        if err.permanent:
            headers["x-should-retry"] = "false"  # the openai and anthropic SDKs obey it before their 5xx retries
        return web.Response(status=status or code, body=body, content_type="application/json", headers=headers)

    def _finished(
        self,
        gateway: Gateway,
        chat: ChatRequest,
        renderer: StreamRenderer,
        entry: LedgerEntry,
        started: float,
        recorded: _Recorded,
        tally: _Tally,
    ) -> None:
        """The stream's answer is complete: make its row durable before the client sees the end, as a
        non-streamed answer's is before it is sent. Should a later write fail, the handler records the entry
        again (499): same request id, one row."""
        entry.status = 200
        self.stream_finished(chat, renderer, entry)
        _complete_usage(entry, chat, None, tally)
        entry.latency_ms = (time.perf_counter() - started) * 1000.0
        _redact_entry(entry, gateway.redactor)
        gateway.ledger.record(entry)
        recorded.status = entry.status

    async def _stream(
        self,
        request: web.Request,
        gateway: Gateway,
        chat: ChatRequest,
        decision: RoutingDecision,
        entry: LedgerEntry,
        started: float,
        streamed: list[str] | None,
        recorded: _Recorded,
        tally: _Tally,
    ) -> web.StreamResponse:
        opened = await gateway.dispatcher.open_stream(chat, decision, entry)
        renderer = self.stream_renderer(chat, entry)
        response = web.StreamResponse(
            status=200,
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                **_explain(entry),
            },
        )
        try:
            await response.prepare(request)
            entry.ttft_ms = (time.perf_counter() - started) * 1000.0

            async def send(batch: list[StreamEvent]) -> None:
                chunk = _render(renderer, batch, entry, streamed, tally)
                ends = tally.ended
                if ends and not recorded.status:  # this batch ends the answer, for the client
                    self._finished(gateway, chat, renderer, entry, started, recorded, tally)
                try:
                    await response.write(chunk)
                except asyncio.CancelledError:
                    # Cancelled while the last bytes drain: they were handed to the socket, and a client that
                    # hangs up now (Codex, on reading response.completed) had the whole answer.
                    recorded.answered = recorded.answered or ends
                    raise
                # Written: the client has the whole answer, so a hang-up from here on loses it nothing (Codex
                # closes the connection as soon as it reads response.completed).
                recorded.answered = recorded.answered or ends

            await send(opened.buffered)
            async for batch in opened.rest:
                await send(batch)
            if not recorded.status:
                self._finished(gateway, chat, renderer, entry, started, recorded, tally)
            await response.write(renderer.done())
        except TierwiseError as err:  # after the first byte: an error event of the client's API, then the end
            entry.status, entry.error = err.http_status, f"mid-stream: {err.message}"
            entry.error_kind = type(err).__name__
            if isinstance(err, UpstreamError) and err.retryable:  # the model failed us: its breaker should know
                gateway.dispatcher.circuit(opened.model.alias).failed()
            await response.write(renderer.error(_redacted(err, gateway.redactor)))
        except (ConnectionError, RuntimeError) as exc:  # the client went away (aiohttp raises both kinds)
            if not recorded.answered:
                entry.status, entry.error = CLIENT_CLOSED, f"client disconnected ({type(exc).__name__})"
        finally:
            await opened.rest.aclose()  # cancels the upstream call if it is still running
        if entry.status != CLIENT_CLOSED:
            try:
                await response.write_eof()
            except (ConnectionError, RuntimeError):  # the client left just as the stream ended
                if not recorded.answered:
                    entry.status, entry.error = CLIENT_CLOSED, "client disconnected at the end of the stream"
        return response


def nested_too_deeply(exc: RecursionError | orjson.JSONEncodeError) -> InvalidRequest | None:
    """The client's error when encoding its request overflowed (a tool schema hundreds of levels deep parses,
    but no encoder can write it again); None for an encoding failure of another kind, which is ours."""
    if isinstance(exc, orjson.JSONEncodeError) and "ecursion" not in str(exc):
        return None
    return InvalidRequest(
        "the request is nested too deeply to be forwarded (a tool schema or value more than about 250 "
        "levels deep); flatten it"
    )


class _Recorded:
    """The status with which a request's entry was already handed to the ledger (0: not yet), and whether the
    stream's final event reached the client's socket."""

    __slots__ = ("answered", "status")

    def __init__(self) -> None:
        self.status = 0
        self.answered = False


class _Tally:
    """What a stream sent the client: UTF-8 bytes and delta events of its text, tool arguments and thinking,
    and whether its end came. Billed when the upstream's usage never arrives (see keys/estimate.py)."""

    __slots__ = ("bytes", "ended", "pieces")

    def __init__(self) -> None:
        self.bytes = 0
        self.pieces = 0
        self.ended = False


def _complete_usage(entry: LedgerEntry, chat: ChatRequest, response: ChatResponse | None, tally: _Tally) -> None:
    """Estimate the usage the upstream did not report (none at all, or cut short by a hang-up); the row says so."""
    if response is not None:
        size, pieces = response_text_bytes(response)
        complete = True
    else:
        size, pieces, complete = tally.bytes, tally.pieces, tally.ended and entry.status == 200
    usage = completed_usage(entry.usage, chat, output_bytes=size, output_pieces=pieces, complete=complete)
    if usage is not None:
        entry.usage, entry.usage_estimated = usage, True


def _render(
    renderer: StreamRenderer,
    events: list[StreamEvent],
    entry: LedgerEntry,
    streamed: list[str] | None,
    tally: _Tally,
) -> bytes:
    """A batch of events as one piece of the client's stream (one socket write instead of one per event);
    ``streamed`` collects the answer's text when evidence may sample it."""
    for event in events:
        if isinstance(event, TextDelta | ThinkingDelta):
            text = event.text
            tally.pieces += 1
            tally.bytes += len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
            if streamed is not None and isinstance(event, TextDelta):
                streamed.append(text)
        elif isinstance(event, ToolCallDelta):
            tally.pieces += 1
            tally.bytes += len(event.arguments)
        elif isinstance(event, StreamEnd | StreamStart):
            entry.usage = event.usage
            tally.ended |= isinstance(event, StreamEnd)
    return b"".join([renderer.event(event) for event in events])


async def _read_json(request: web.Request, max_bytes: int) -> object:
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"request body of {request.content_length} bytes exceeds the limit of {max_bytes}")
    try:
        body = await request.read()  # the application's client_max_size enforces the limit while reading
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body exceeds the limit of {max_bytes} bytes") from None
    except web.RequestPayloadError:  # e.g. content-encoding: gzip over a body that is not gzip
        raise InvalidRequest("the request body could not be decoded (check content-encoding)") from None
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        body = _decoded(body, encoding, max_bytes)
    if not body:
        raise InvalidRequest("the request body is empty; expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None


def _decoded(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """A gzip or deflate request body, decoded, and never past ``max_bytes`` (a small bomb stays small). Other
    encodings (br, zstd: their libraries are not among tierwise's dependencies) are refused with 415."""
    if encoding in ("gzip", "x-gzip", "deflate"):
        for wbits in (47, -15) if encoding == "deflate" else (31,):  # zlib or raw deflate; gzip
            decoder = zlib.decompressobj(wbits)
            try:
                decoded = decoder.decompress(body, max_bytes + 1)
            except zlib.error:
                continue
            if len(decoded) > max_bytes or decoder.unconsumed_tail:
                raise PayloadTooLarge(f"the request body decodes to more than the limit of {max_bytes} bytes")
            return decoded
        raise InvalidRequest(f"the request body could not be decoded as content-encoding {encoding}")
    raise UnsupportedEncoding(
        f"content-encoding {encoding!r} is not supported by this gateway; send the body uncompressed, or "
        "with gzip or deflate"
    )


def _redacted(err: TierwiseError, redactor: Redactor) -> TierwiseError:
    """``err`` without our upstream keys in its message: some upstreams quote the key they were sent."""
    err.message = redactor.redact(err.message)
    return err


def _redact_entry(entry: LedgerEntry, redactor: Redactor) -> None:
    if entry.error:
        entry.error = redactor.redact(entry.error)
    for attempt in entry.attempts:
        if attempt.error:
            attempt.error = redactor.redact(attempt.error)


def _few_messages(body: object, limits: ServerSettings) -> object:
    for key in ("messages", "input"):  # Chat Completions and Messages, Responses
        items = body.get(key) if isinstance(body, dict) else None
        if isinstance(items, list) and len(items) > limits.max_messages:
            raise InvalidRequest(
                f"'{key}' has {len(items)} items; this gateway accepts at most {limits.max_messages}", param=key
            )
    return body


def _tierwise_headers(request: web.Request) -> dict[str, str]:
    """The x-tierwise-* headers, lower-cased, with undecodable bytes replaced: aiohttp keeps them as lone
    surrogates, which neither JSON error bodies nor the ledger can encode."""
    return {
        name.lower(): value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        for name, value in request.headers.items()
        if name.lower().startswith("x-tierwise-") or name.lower() in SESSION_HEADERS
    }


def _explain(entry: LedgerEntry) -> dict[str, str]:
    reason = entry.reasons
    first_choice = entry.attempts[0].model if entry.attempts else entry.model
    if entry.model and first_choice != entry.model and "cascade:" not in reason:
        reason += f"; {first_choice} failed, fell back to {entry.model}"
    reason = reason.encode("ascii", "replace").decode("ascii")
    return {
        "x-tierwise-request-id": entry.request_id,
        "x-tierwise-model": entry.model or "none",
        "x-tierwise-tier": entry.tier or "none",
        "x-tierwise-reason": reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 3] + "...",
        "x-tierwise-attempts": str(len(entry.attempts)),
        **_session_switch(entry),
    }


def _session_switch(entry: LedgerEntry) -> dict[str, str]:
    if entry.session_switch is None:
        return {}
    switch = entry.session_switch
    if entry.forfeited_cache_tokens:
        switch += f"; forfeits {entry.forfeited_cache_tokens} cached prompt tokens"
    switch = switch.encode("ascii", "replace").decode("ascii")
    return {"x-tierwise-session-switch": switch if len(switch) <= _REASON_MAX else switch[: _REASON_MAX - 3] + "..."}
