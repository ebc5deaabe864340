"""The Anthropic Messages endpoints: ``/v1/messages`` (whose headers carry part of the request) and
``/v1/messages/count_tokens``.

Claude Code calls ``/v1/messages?beta=true``; the query string names no feature (the ``anthropic-beta`` header
does), so the route matches it like any other query. The client's ``anthropic-version`` is accepted whatever it
is and not forwarded (see ``ANTHROPIC_VERSION``); its ``anthropic-beta`` list travels with the request
(``ChatRequest.betas``) to Anthropic upstreams.
"""

from __future__ import annotations

from dataclasses import replace

import orjson
from aiohttp import web

from tierwise.errors import TierwiseError, UpstreamError
from tierwise.providers.counting import count_upstream
from tierwise.routing.features import route_input
from tierwise.server.chat import GATEWAY, ChatEndpoint, _read_json, _redacted, _tierwise_headers, nested_too_deeply
from tierwise.tokens import ENCODING, count_input_tokens
from tierwise.types import ChatRequest
from tierwise.wire import anthropic_messages

TOKEN_COUNT_HEADER = "x-tierwise-token-count"


def _parse(body: object, request: web.Request) -> ChatRequest:
    chat = anthropic_messages.parse_request(body)
    betas = anthropic_messages.parse_betas(",".join(request.headers.getall("anthropic-beta", [])))
    return replace(chat, betas=betas) if betas else chat


class MessagesEndpoint(ChatEndpoint):
    def __init__(self) -> None:
        super().__init__("anthropic")

    def parse(self, body: object, request: web.Request, caller: str | None) -> ChatRequest:
        return _parse(body, request)


async def count_tokens(request: web.Request) -> web.Response:
    """The routed model's own count when it is an Anthropic model; otherwise a local o200k count, marked as an
    estimate in ``x-tierwise-token-count`` (the body keeps Anthropic's shape either way)."""
    gateway = request.app[GATEWAY]
    try:
        grant = gateway.guard.authenticate(request.headers)
        body = await _read_json(request, gateway.settings.server.max_body_bytes)
        if isinstance(body, dict) and "max_tokens" not in body:
            body = {**body, "max_tokens": 1}  # the count endpoint takes no output limit; the parser wants one
        chat = _parse(body, request)
        features = route_input(chat, _tierwise_headers(request), caller=grant.key_id)
        decision = gateway.policy.decide(features)  # the policy alone: counting does not move a session
        model = gateway.settings.models[decision.model]
        headers = {"x-tierwise-model": model.alias, "x-tierwise-tier": decision.tier or "none"}
        counted: int | None = None
        if model.provider.api == "anthropic" and not model.provider.missing_key:
            try:
                counted = await count_upstream(gateway.session, model, chat)
                headers[TOKEN_COUNT_HEADER] = f"exact; counted by {model.alias}"
            except UpstreamError as err:
                if not err.retryable:  # the request's own fault: the client should see it
                    raise
        if counted is None:
            counted = count_input_tokens(chat)
            headers[TOKEN_COUNT_HEADER] = f"estimate; {ENCODING} tokenizer, {model.alias} may count differently"
        return web.Response(
            body=orjson.dumps({"input_tokens": counted}), content_type="application/json", headers=headers
        )
    except (RecursionError, orjson.JSONEncodeError) as exc:
        too_deep = nested_too_deeply(exc)
        if too_deep is None:
            raise
        status, payload = anthropic_messages.render_error(too_deep)
    except TierwiseError as err:
        status, payload = anthropic_messages.render_error(_redacted(err, gateway.redactor))
    return web.Response(status=status, body=payload, content_type="application/json")
