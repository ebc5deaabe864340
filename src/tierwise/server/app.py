"""The aiohttp application: routes, error shapes for everything outside the chat endpoints, start and stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from aiohttp import web

from tierwise.config.settings import Settings
from tierwise.console.server import Console
from tierwise.errors import ConfigError, InvalidRequest, NotFound, TierwiseError
from tierwise.server.chat import GATEWAY, ChatEndpoint
from tierwise.server.gateway import Gateway, WorkerPlace
from tierwise.server.messages import MessagesEndpoint, count_tokens
from tierwise.server.reload import on_sighup
from tierwise.server.responses import ResponsesEndpoint
from tierwise.wire.format import wire_for

EXIT_CODE = web.AppKey("exit_code", list[int])  # one item, set by shutdown
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(settings: Settings, *, worker: WorkerPlace | None = None) -> web.Application:
    app = web.Application(client_max_size=settings.server.max_body_bytes, middlewares=[_api_shaped_errors])
    app.router.add_post("/v1/chat/completions", ChatEndpoint("openai"))
    app.router.add_post("/v1/messages", MessagesEndpoint())
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_post("/v1/responses", ResponsesEndpoint())
    app.router.add_get("/v1/models", _list_models)
    app.router.add_get("/v1/models/{model_id:.+}", _get_model)
    app.router.add_get("/", _root)  # HEAD / too: clients probe the base URL before their first call
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    Console(settings).add_routes(app)
    app.router.add_get("/metrics", _metrics)

    app[EXIT_CODE] = [0]

    async def start(app: web.Application) -> None:
        app[GATEWAY] = Gateway.start(settings, worker=worker)
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_sighup, app)

    async def stop(app: web.Application) -> None:
        if not await app[GATEWAY].close():
            app[EXIT_CODE][0] = 1

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


def _is_anthropic(request: web.Request) -> bool:
    return request.path.startswith("/v1/messages") or "anthropic-version" in request.headers


@web.middleware
async def _api_shaped_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405/413 become error bodies of the API the client speaks."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        err: TierwiseError
        if exc.status == 404:
            err = NotFound(f"no route for {request.method} {request.path}")
        else:
            err = InvalidRequest(exc.reason, status=exc.status)  # keep aiohttp's status (405, 413, ...)
        status, body = wire_for("anthropic" if _is_anthropic(request) else "openai").render_error(err)
        return web.Response(status=status, body=body, content_type="application/json")


_ROUTED = ("auto", "tier/speed", "tier/default", "tier/escalation")


def _model_object(name: str, anthropic: bool) -> dict[str, object]:
    if anthropic:
        return {"type": "model", "id": name, "display_name": name, "created_at": "2025-01-01T00:00:00Z"}
    return {"id": name, "object": "model", "created": 0, "owned_by": "tierwise"}


async def _list_models(request: web.Request) -> web.Response:
    settings = request.app[GATEWAY].settings
    names = [*_ROUTED, *settings.models]
    anthropic = _is_anthropic(request)
    data = [_model_object(name, anthropic) for name in names]
    if anthropic:
        payload: dict[str, object] = {"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]}
    else:
        payload = {"object": "list", "data": data}
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def _get_model(request: web.Request) -> web.Response:
    """A name the gateway answers to: the routed names, a configured alias, or an id one of the model patterns
    routes (so a client that checks its default model before using it finds it)."""
    settings = request.app[GATEWAY].settings
    name = request.match_info["model_id"]
    anthropic = _is_anthropic(request)
    if name not in _ROUTED and name not in settings.models and settings.routing.pattern_for(name) is None:
        status, body = wire_for("anthropic" if anthropic else "openai").render_error(
            NotFound(f"model '{name}' is not configured and matches no model pattern", param="model")
        )
        return web.Response(status=status, body=body, content_type="application/json")
    return web.Response(body=orjson.dumps(_model_object(name, anthropic)), content_type="application/json")


async def _root(request: web.Request) -> web.Response:
    return web.json_response({"name": "tierwise", "status": "ok"})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    usable = [m.alias for m in gateway.settings.models.values() if not m.provider.missing_key]
    ready = gateway.ledger.healthy and bool(usable)
    body = {"status": "ready" if ready else "not ready", "ledger": gateway.ledger.healthy, "usable_models": usable}
    return web.json_response(body, status=200 if ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    page = gateway.telemetry.render(gateway.circuit_states(), gateway.ledger.pending)
    if page is None:
        raise web.HTTPNotFound()
    return web.Response(body=page, headers={"content-type": "text/plain; version=0.0.4; charset=utf-8"})


def serve(settings: Settings, *, host: str, port: int, worker: WorkerPlace | None = None) -> int:
    """Run until SIGINT/SIGTERM; the ledger is flushed on the way out. ``worker``: one of ``--workers N``.

    Returns the exit code: 0, or 1 when the ledger could not write every row before exiting (they were spilled
    to a file, see docs/RELIABILITY.md)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # not on every platform; asyncio's loop works, a little slower
        pass
    # A hang-up before the reload handler is in place (start-up) must not kill the gateway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    prefix = "tierwise: " if worker is None else f"tierwise[{worker.index}]: "
    if worker is None or worker.index == 0:
        for note in settings.warnings():
            print(f"tierwise: warning: {note}", file=sys.stderr)
        tiers = ", ".join(f"{tier}={'/'.join(models) or '-'}" for tier, models in settings.tiers.items())
        print(f"tierwise: config {settings.source}; policy {settings.routing.policy}; {tiers}", file=sys.stderr)
        print(f"tierwise: ledger {Path(settings.ledger_path).resolve()}", file=sys.stderr)
    app = build_app(settings, worker=worker)
    web.run_app(
        app,
        sock=_listen(host, port, reuse_port=worker is not None),
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=30.0,
        # aiohttp closes a connection whose handler is still waiting for a complete request head after this
        # long (from the connection's start or its previous response): the header-read timeout, and the idle
        # keep-alive timeout too.
        keepalive_timeout=settings.server.header_timeout_s,
        max_field_size=64 * 1024,  # aiohttp's 8 KiB would answer a long header in plain text, not an API error
        # Request bodies are decoded by the chat endpoints (server/chat.py), within the body limit: aiohttp's own
        # decoding has no size limit and answers encodings it lacks in plain text, before any handler runs.
        auto_decompress=False,
        print=lambda line: print(f"{prefix}{line.strip()}", file=sys.stderr, flush=True),
    )
    return app[EXIT_CODE][0]


def _listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """The listening socket, bound before anything else starts: a port in use is one line, not a traceback."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=1024, reuse_port=reuse_port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
