"""Ask an Anthropic upstream to count a request's input tokens (``POST /v1/messages/count_tokens``)."""

from __future__ import annotations

import aiohttp
import orjson

from tierwise.config.settings import ModelSettings
from tierwise.errors import UpstreamConnectionError, UpstreamError, UpstreamTimeout
from tierwise.types import ChatRequest
from tierwise.wire import anthropic_messages

COUNT_PATH = "/v1/messages/count_tokens"
# What the count endpoint accepts of a Messages body; the rest (max_tokens, stream, sampling) it refuses.
_COUNTED_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "context_management", "output_config"}
    | {"mcp_servers"}
)


async def count_upstream(session: aiohttp.ClientSession, model: ModelSettings, request: ChatRequest) -> int:
    """The upstream's own count for ``request`` on ``model``; raises UpstreamError like any upstream call."""
    provider = model.provider
    full = orjson.loads(anthropic_messages.build_upstream_request(request, upstream_model=model.upstream_id))
    body = {key: value for key, value in full.items() if key in _COUNTED_FIELDS}
    headers = {
        **anthropic_messages.upstream_headers(provider.api_key),
        **provider.headers,
        **anthropic_messages.request_headers(request),
    }
    timeout = aiohttp.ClientTimeout(total=provider.timeouts.first_token_s, sock_connect=provider.timeouts.connect_s)
    try:
        async with session.post(
            provider.base_url + COUNT_PATH, data=orjson.dumps(body), headers=headers, timeout=timeout
        ) as response:
            payload = await response.read()
            if response.status >= 400:
                raise anthropic_messages.parse_upstream_error(response.status, payload, response.headers)
    except TimeoutError:
        raise UpstreamTimeout(f"{model.alias}: token count timed out") from None
    except aiohttp.ClientError as exc:
        raise UpstreamConnectionError(f"{model.alias}: token count failed ({type(exc).__name__})") from None
    try:
        counted = orjson.loads(payload)["input_tokens"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise UpstreamError(f"{model.alias}: the token count answer has no input_tokens") from None
    if type(counted) is not int:
        raise UpstreamError(f"{model.alias}: the token count answer has no input_tokens")
    return counted
