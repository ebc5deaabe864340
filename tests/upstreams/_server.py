"""What every fake upstream shares: request recording, the fault pipeline, SSE delivery, a runner."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import orjson
from aiohttp import web

from ._faults import FAULT_KINDS, Fault, FaultKind, FaultPlan, KeyEcho, parse_markers
from ._replies import IdMaker

Handler = Callable[[web.Request, dict[str, Any], Fault | None], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One request as the upstream received it; ``headers`` keys are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeUpstream:
    """Base of the fake providers; subclasses add routes, validation and the wire format."""

    name: ClassVar[str]
    api_prefix: ClassVar[str]
    overload_status: ClassVar[int]

    def __init__(
        self,
        *,
        api_key: str,
        models: Sequence[str] | None = None,
        failure_rate: float = 0.0,
        seed: int = 0,
        fault_kinds: Sequence[FaultKind] = FAULT_KINDS,
        fault_delay: float = 2.0,
        fault_retry_after: float = 0.05,
        chunk_chars: int = 12,
        stream_delay: float = 0.0,
        chars_per_input_token: int = 4,
    ) -> None:
        self.api_key = api_key
        self.models = tuple(models) if models is not None else None
        self.chunk_chars = chunk_chars
        self.stream_delay = stream_delay
        # 1: every prompt character is a token, as real tokenizers count CJK text (the default: four a token)
        self.chars_per_input_token = chars_per_input_token
        self.requests: list[RecordedRequest] = []
        self.faults = FaultPlan(
            failure_rate=failure_rate,
            seed=seed,
            kinds=fault_kinds,
            statuses=(429, self.overload_status),
            delay=fault_delay,
            retry_after=fault_retry_after,
        )
        self.ids = IdMaker()
        self._prompt_cache: set[bytes] = set()
        self.origin: str | None = None

    # -- public API ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL an official SDK takes (``base_url=``, ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``)."""
        if self.origin is None:
            raise RuntimeError(f"fake {self.name} is not running")
        return self.origin + self.api_prefix

    def inject(
        self,
        *,
        kind: FaultKind = "status",
        status: int | None = None,
        retry_after: float | None = None,
        delay: float = 5.0,
        after_events: int = 3,
        times: int = 1,
        location: str | None = None,
        echo: KeyEcho = "full",
        size: int = 0,
    ) -> None:
        """Make the next ``times`` requests fail this way (after authentication, before validation; a redirect
        comes before authentication)."""
        code = status if status is not None else {"redirect": 307, "quote_key": 401}.get(kind, self.overload_status)
        if kind == "status" and code == 429 and retry_after is None:
            retry_after = 1.0
        fault = Fault(
            kind=kind,
            status=code,
            retry_after=retry_after,
            delay=delay,
            after_events=after_events,
            location=location,
            echo=echo,
            size=size,
        )
        self.faults.inject(fault, times=times)

    def reset(self) -> None:
        """Forget requests, pending faults, the prompt cache and the id counter."""
        self.requests.clear()
        self.faults.reset()
        self.ids.reset()
        self._prompt_cache.clear()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    # -- for subclasses -----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def authenticate(self, request: web.Request) -> web.Response | None:
        raise NotImplementedError

    def validate(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        raise NotImplementedError

    def marker_text(self, body: dict[str, Any]) -> str:
        raise NotImplementedError

    def status_error(self, status: int, *, retry_after: float | None = None) -> web.Response:
        raise NotImplementedError

    def error(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
        """The API's error body with ``message``."""
        raise NotImplementedError

    def invalid_json(self) -> web.Response:
        raise NotImplementedError

    def not_found(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    def record(self, request: web.Request, body: Any) -> None:
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.requests.append(RecordedRequest(method=request.method, path=request.path, headers=headers, body=body))

    def input_tokens(self, chars: int) -> int:
        return -(-chars // self.chars_per_input_token)

    def cache_hit(self, prefix: bytes) -> bool:
        """Whether this prompt prefix was seen before (and remember it now)."""
        key = hashlib.blake2b(prefix, digest_size=16).digest()
        seen = key in self._prompt_cache
        self._prompt_cache.add(key)
        return seen

    async def pipeline(self, request: web.Request, answer: Handler) -> web.StreamResponse:
        """Record, authenticate, apply faults and validation in the order a real API does, then answer."""
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.record(request, body)
        fault = self.faults.take_injected()
        if fault is not None and fault.kind == "redirect":
            return web.Response(status=fault.status, headers={"location": fault.location or "/"})
        if fault is not None and fault.kind == "quote_key":
            return self.error(fault.status, f"Incorrect API key provided: {_echo(request, fault.echo)}")
        if (denied := self.authenticate(request)) is not None:
            return denied
        if fault is not None and fault.kind in ("huge_body", "gzip_bomb", "long_sse_line"):
            return await oversized(request, fault)
        if fault is None or fault.kind not in ("status", "reset"):
            if not isinstance(body, dict):
                return self.invalid_json()
            if (problem := self.validate(request, body)) is not None:
                return problem
        if fault is None:
            scopes = (self.name, str(body.get("model")))  # type: ignore[union-attr]
            fault = parse_markers(self.marker_text(body), scopes=scopes) or self.faults.roll()  # type: ignore[arg-type]
        if fault is not None:
            if fault.kind == "status":
                return self.status_error(fault.status, retry_after=fault.retry_after)
            if fault.kind == "reset":
                return reset_connection(request)
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay)
                fault = None
        try:
            return await answer(request, body, fault)  # type: ignore[arg-type]
        except ConnectionResetError:
            raise _Dropped from None  # the client gave up (e.g. timed out during a stall): not our error

    async def send_json(
        self, request: web.Request, payload: Any, headers: dict[str, str], fault: Fault | None
    ) -> web.StreamResponse:
        if fault is not None and fault.kind == "no_usage" and isinstance(payload, dict):
            payload = {k: v for k, v in payload.items() if k != "usage"}
        data = orjson.dumps(payload)
        if fault is not None and fault.kind == "mid_stream_drop":
            # Announce the whole body, send half, hang up: the client sees a truncated response.
            response = web.StreamResponse(status=200, headers={**headers, "content-type": "application/json"})
            response.content_length = len(data)
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            return hang_up(request, response)
        if fault is not None and fault.kind == "mid_stream_error":
            return self.status_error(self.overload_status)
        return web.Response(body=data, headers=headers, content_type="application/json")

    async def send_events(
        self,
        request: web.Request,
        events: list[bytes],
        headers: dict[str, str],
        fault: Fault | None,
        error_event: bytes,
    ) -> web.StreamResponse:
        """Deliver SSE ``events``; a mid-stream fault cuts in after ``fault.after_events`` of them."""
        response = web.StreamResponse(
            status=200,
            headers={**headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
        )
        await response.prepare(request)
        if fault is not None and fault.kind == "no_usage":
            events = [event for event in map(_without_usage, events) if event]
        if fault is not None and fault.kind in ("mid_stream_drop", "mid_stream_error"):
            events = events[: fault.after_events]
            if fault.kind == "mid_stream_error":
                events = [*events, error_event]
        if self.stream_delay > 0:
            for event in events:
                await response.write(event)
                await asyncio.sleep(self.stream_delay)
        else:
            await response.write(b"".join(events))
        if fault is not None and fault.kind == "mid_stream_drop":
            return hang_up(request, response)
        await response.write_eof()
        return response

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.record(request, None)
        return self.not_found(request)


_MB = 1024 * 1024


async def oversized(request: web.Request, fault: Fault) -> web.StreamResponse:
    """An answer far larger than any real one, produced piece by piece (the fake never holds it whole)."""
    try:
        if fault.kind == "long_sse_line":
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            await response.write(b"data: ")
            await _write_repeated(response, b"a" * (64 * 1024), fault.size)
            await response.write(b"\n\n")
        elif fault.kind == "gzip_bomb":
            bomb = _gzip_bomb(fault.size)
            response = web.StreamResponse(headers={"content-type": "application/json", "content-encoding": "gzip"})
            response.content_length = len(bomb)
            await response.prepare(request)
            await response.write(bomb)
        else:
            response = web.StreamResponse(headers={"content-type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'{"id": "huge", "pad": "')
            await _write_repeated(response, b"a" * _MB, fault.size)
            await response.write(b'"}')
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        raise _Dropped from None  # the gateway gave up on it, as it should
    return response


async def _write_repeated(response: web.StreamResponse, piece: bytes, size: int) -> None:
    for _ in range(max(1, size // len(piece))):
        await response.write(piece)


_BOMBS: dict[int, bytes] = {}


def _gzip_bomb(size: int) -> bytes:
    """``{"pad": "`` + ``size`` spaces + ``"}``, gzipped (about 4 KB per MB), made once per size."""
    if size not in _BOMBS:
        packer = zlib.compressobj(1, zlib.DEFLATED, 31)
        block = b" " * _MB
        parts = [packer.compress(b'{"pad": "')]
        parts += [packer.compress(block) for _ in range(max(1, size // _MB))]
        parts += [packer.compress(b'"}'), packer.flush()]
        _BOMBS[size] = b"".join(parts)
    return _BOMBS[size]


def _without_usage(event: bytes) -> bytes:
    """An SSE event with every ``usage`` removed; empty for an event that carried nothing else (OpenAI's last)."""
    head, _, data = event.rpartition(b"data: ")
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:  # [DONE]
        return event
    payload.pop("usage", None)
    if isinstance(payload.get("message"), dict):
        payload["message"].pop("usage", None)
    if payload.get("choices") == []:
        return b""
    return head + b"data: " + orjson.dumps(payload) + b"\n\n"


def _echo(request: web.Request, how: KeyEcho) -> str:
    """The key the caller sent, quoted back as a careless upstream or proxy might."""
    key = request.headers.get("x-api-key") or request.headers.get("authorization", "").partition(" ")[2]
    if how == "prefix20":
        return key[:20] + "..."
    if how == "suffix12":
        return "..." + key[-12:]
    if how == "base64":
        return base64.b64encode(key.encode()).decode()
    if how == "basic":
        return "Basic " + base64.b64encode(b"user:" + key.encode()).decode()
    return key


def sse(data: bytes, event: str | None = None) -> bytes:
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def reset_connection(request: web.Request) -> web.Response:
    """Drop the connection with a TCP RST before anything of the response is sent."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise _Dropped


def hang_up(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Close the connection after what was written is flushed, leaving the body incomplete."""
    if request.transport is not None:
        request.transport.close()
    raise _Dropped


class _Dropped(asyncio.CancelledError):
    """Ends a handler whose connection we closed on purpose; aiohttp treats it as a client disconnect."""


# -- running -------------------------------------------------------------------------------------------

Upstream = TypeVar("Upstream", bound=FakeUpstream)


class ServerThread:
    """Runs one fake upstream's app on its own event loop in a daemon thread."""

    def __init__(self, upstream: FakeUpstream, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = upstream
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"fake-{upstream.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError(f"fake {self.upstream.name} failed to start") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self.upstream.origin = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = await start_runner(self.upstream, host=self._host, port=self._port)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()


async def start_runner(upstream: FakeUpstream, *, host: str, port: int) -> web.AppRunner:
    """Serve ``upstream`` on the current loop; sets ``upstream.origin`` to the bound address."""
    runner = web.AppRunner(upstream.make_app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    upstream.origin = f"http://{bound_host}:{bound_port}"
    return runner


@contextlib.contextmanager
def running(upstream: Upstream, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[Upstream]:
    """Serve ``upstream`` on a free port (or ``port``) in a background thread for the block's duration."""
    thread = ServerThread(upstream, host=host, port=port)
    thread.start()
    try:
        yield upstream
    finally:
        thread.stop()
