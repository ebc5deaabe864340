"""The console's routes on the gateway: HTML views under ``/console``, the same figures as JSON under
``/console/api``. Read-only. Every query and every page render runs on a small thread pool, never on the
event loop, so opening the console does not hold up the requests the gateway is serving."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from html import escape
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from tierwise.config.settings import Settings
from tierwise.console import views
from tierwise.console.auth import COOKIE, MESSAGES, AdminKeys, presented_key
from tierwise.console.html import NAV, page
from tierwise.errors import InvalidRequest
from tierwise.ledger.database import Database
from tierwise.query import (
    Period,
    QueryContext,
    build_report,
    describe,
    ledger_location,
    open_source,
    parse_period,
    recent_requests,
    request_detail,
    session_rows,
    sessions,
)

VIEWS = ("overview", "tiers", "quality", "sessions", "keys", "requests")
DEFAULT_PERIOD = "7d"
# The report keys each view shows (the JSON endpoint of a view returns exactly these).
_VIEW_KEYS: dict[str, tuple[str, ...]] = {
    "overview": ("ledger", "period", "requests", "errors", "input_tokens", "output_tokens", "spend_usd",
                 "unpriced_requests", "routes", "savings", "by_tier", "by_model", "by_policy", "signals", "baseline",
                 "tiers_over_time"),
    "tiers": ("period", "tiers_over_time"),
    "quality": ("period", "cost_quality", "baseline"),
    "sessions": ("period", "sessions"),
    "keys": ("period", "keys"),
}  # fmt: skip
_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Console:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admins = AdminKeys(Database.of(settings))
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tierwise-console")
        self._context: QueryContext | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/console", self._root)
        app.router.add_get("/console/", self._root)
        app.router.add_get("/console/signin", self._signin_form)
        app.router.add_post("/console/signin", self._signin)
        app.router.add_post("/console/signout", self._signout)
        app.router.add_get("/console/api/report", self._guarded(self._api_report, api=True))
        app.router.add_get("/console/api/sessions/{session}", self._guarded(self._api_session, api=True))
        app.router.add_get("/console/api/requests/{request_id}", self._guarded(self._api_request, api=True))
        app.router.add_get("/console/api/{view}", self._guarded(self._api_view, api=True))
        app.router.add_get("/console/sessions/{session}", self._guarded(self._session_page, api=False))
        app.router.add_get("/console/requests/{request_id}", self._guarded(self._request_page, api=False))
        app.router.add_get("/console/{view}", self._guarded(self._view_page, api=False))
        app.on_cleanup.append(self._close)

    async def _close(self, app: web.Application) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def _guarded(self, handler: Handler, *, api: bool) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            key = presented_key(request.headers, request.cookies)
            verdict = await self._run(lambda: self._admins.check(key))
            if verdict != "admin":
                if api:
                    status = 403 if verdict == "not admin" else 401
                    return _json({"error": {"type": "authentication_error", "message": MESSAGES[verdict]}}, status)
                if verdict == "missing":
                    raise web.HTTPSeeOther(f"/console/signin?next={quote(request.path_qs)}", headers=_HEADERS)
                status = 403 if verdict == "not admin" else 401
                return _html(_signin_page(MESSAGES[verdict], request.path_qs), status)
            try:
                return await handler(request)
            except InvalidRequest as err:
                if api:
                    return _json({"error": {"type": "invalid_request_error", "message": err.message}}, 400)
                return _html(page("Error", f"<h1>Not understood</h1><p>{escape(err.message)}</p>", view=None,
                                  period=None), 400)  # fmt: skip

        return guarded

    # --- sign-in ---

    async def _root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/console/overview", headers=_HEADERS)

    async def _signin_form(self, request: web.Request) -> web.StreamResponse:
        return _html(_signin_page("", request.query.get("next", "")), 200)

    async def _signin(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        key = str(form.get("key") or "").strip()
        target = _safe_next(str(form.get("next") or ""))
        verdict = await self._run(lambda: self._admins.check(key))
        if verdict != "admin":
            return _html(_signin_page(MESSAGES[verdict], target), 403 if verdict == "not admin" else 401)
        response = web.HTTPSeeOther(target, headers=_HEADERS)
        response.set_cookie(COOKIE, key, path="/console", httponly=True, samesite="Strict",
                            secure=request.secure, max_age=12 * 3600)  # fmt: skip
        raise response

    async def _signout(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/console/signin", headers=_HEADERS)
        response.del_cookie(COOKIE, path="/console")
        raise response

    # --- views ---

    def _query(self) -> tuple[Any, QueryContext]:
        if self._context is None:
            self._context = QueryContext.from_settings(self._settings)
        return open_source(ledger_location(self._settings)), self._context

    def _report(self, period: Period) -> dict[str, Any]:
        source, context = self._query()
        return build_report(source, period, context).as_dict()

    async def _view_page(self, request: web.Request) -> web.StreamResponse:
        view = request.match_info["view"]
        if view not in VIEWS:
            raise web.HTTPNotFound()
        label, period = _period(request)

        def render() -> str:
            if view == "requests":
                source, _ = self._query()
                rows = [describe(row) for row in recent_requests(source, period)]
                body = views.requests(rows, label=period.label, view_period=label)
            else:
                body = getattr(views, view)(self._report(period), view_period=label)
            return page(dict(NAV)[view], body, view=view, period=label)

        return _html(await self._run(render), 200)

    async def _api_view(self, request: web.Request) -> web.StreamResponse:
        view = request.match_info["view"]
        if view not in VIEWS:
            return _json({"error": {"type": "not_found_error", "message": f"no console view {view!r}"}}, 404)
        _, period = _period(request)

        def answer() -> dict[str, Any]:
            if view == "requests":
                source, _ = self._query()
                return {"period": period.as_dict(), "requests": [describe(r) for r in recent_requests(source, period)]}
            report = self._report(period)
            return {key: report[key] for key in _VIEW_KEYS[view]}

        return _json(await self._run(answer), 200)

    async def _api_report(self, request: web.Request) -> web.StreamResponse:
        _, period = _period(request)
        return _json(await self._run(lambda: self._report(period)), 200)

    def _session(self, request: web.Request) -> tuple[str, str | None, dict[str, Any] | None, list[dict[str, Any]]]:
        session, key_id = request.match_info["session"], request.query.get("key") or None
        source, _ = self._query()
        rows = session_rows(source, session, key_id, Period())
        found = sessions(source, Period(), rows=rows)
        return session, key_id, found[0].as_dict() if found else None, [describe(row) for row in rows]

    async def _session_page(self, request: web.Request) -> web.StreamResponse:
        def render() -> str:
            session, key_id, summary, rows = self._session(request)
            return page(f"Session {session}", views.session_detail(session, key_id, summary, rows),
                        view="sessions", period=None)  # fmt: skip

        return _html(await self._run(render), 200)

    async def _api_session(self, request: web.Request) -> web.StreamResponse:
        session, _, summary, rows = await self._run(lambda: self._session(request))
        if summary is None:
            return _json({"error": {"type": "not_found_error", "message": f"no session {session!r}"}}, 404)
        return _json({"session": summary, "requests": rows}, 200)

    def _detail(self, request: web.Request) -> dict[str, Any] | None:
        source, context = self._query()
        found = request_detail(source, request.match_info["request_id"], context)
        return None if found is None else found.as_dict()

    async def _request_page(self, request: web.Request) -> web.StreamResponse:
        def render() -> tuple[str, int]:
            detail = self._detail(request)
            if detail is None:
                body = f"<h1>No request {escape(request.match_info['request_id'])}</h1>"
                return page("Request", body, view="requests", period=None), 404
            return page(f"Request {detail['request_id']}", views.request_detail(detail), view="requests",
                        period=None), 200  # fmt: skip

        body, status = await self._run(render)
        return _html(body, status)

    async def _api_request(self, request: web.Request) -> web.StreamResponse:
        detail = await self._run(lambda: self._detail(request))
        if detail is None:
            message = f"no request {request.match_info['request_id']!r}"
            return _json({"error": {"type": "not_found_error", "message": message}}, 404)
        return _json({"request": detail}, 200)


def _period(request: web.Request) -> tuple[str | None, Period]:
    """The period asked for (``period``, or ``since``/``until``), and its name for the period links."""
    q = request.query
    if q.get("since") or q.get("until"):
        return None, parse_period(since=q.get("since"), until=q.get("until"))
    label = q.get("period") or DEFAULT_PERIOD
    return label, parse_period(label)


def _safe_next(target: str) -> str:
    """Only a console path: never a redirect to another site."""
    return target if target.startswith("/console/") and not target.startswith("/console//") else "/console/overview"


def _signin_page(error: str, target: str) -> str:
    note = f'<p class="bad">{escape(error)}</p>' if error else ""
    body = (
        '<form class="signin" method="post" action="/console/signin"><h1>Sign in to the console</h1>'
        '<p class="muted">The console is read-only and needs an <b>admin key</b>. Create one on the gateway\'s '
        "host with <code>tierwise keys create NAME --admin</code>.</p>"
        f'{note}<label for="key">Admin key</label><input id="key" name="key" type="password" '
        'autocomplete="current-password" placeholder="tw-..." required>'
        f'<input type="hidden" name="next" value="{escape(_safe_next(target))}">'
        '<button type="submit">Sign in</button></form>'
    )
    return page("Sign in", body, view=None, period=None, links=False)


def _html(body: str, status: int) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _json(payload: dict[str, Any], status: int) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json", headers=_HEADERS)
