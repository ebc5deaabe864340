"""A local server that speaks Anthropic's Messages wire protocol, with deterministic answers."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from ._faults import Fault
from ._replies import Reply, ToolSpec, count_tokens, plan_reply, split_text, truncate
from ._server import FakeUpstream, running, sse

DEFAULT_MODELS = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    429: "This request would exceed the rate limit for your organization of 50 requests per minute. For details, "
    "refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. "
    "Please reduce the prompt length or the maximum tokens requested, or try again later.",
    500: "Internal server error",
    504: "Request timed out",
    529: "Overloaded",
}


class FakeAnthropic(FakeUpstream):
    """``POST /v1/messages``, ``POST /v1/messages/count_tokens`` and ``GET /v1/models`` as Anthropic serves them."""

    name = "anthropic"
    api_prefix = ""
    overload_status = 529

    def __init__(self, *, api_key: str = "sk-ant-test", **options: Any) -> None:
        super().__init__(api_key=api_key, **options)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)

    # -- errors ---------------------------------------------------------------------------------------

    def error(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
        request_id = self.ids.make("req_011C", 20)
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
        return web.Response(
            status=status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers={**self.base_headers(request_id), **(headers or {})},
        )

    def status_error(self, status: int, *, retry_after: float | None = None) -> web.Response:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = _seconds(retry_after)
        if status == 429:
            reset = (datetime.now(UTC) + timedelta(seconds=retry_after or 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            headers.update(
                {
                    "anthropic-ratelimit-requests-limit": "50",
                    "anthropic-ratelimit-requests-remaining": "0",
                    "anthropic-ratelimit-requests-reset": reset,
                    "anthropic-ratelimit-tokens-limit": "100000",
                    "anthropic-ratelimit-tokens-remaining": "100000",
                    "anthropic-ratelimit-tokens-reset": reset,
                }
            )
        return self.error(status, ERROR_MESSAGES.get(status, f"Upstream error {status}"), headers=headers)

    def invalid_json(self) -> web.Response:
        return self.error(400, "There was an issue with your request body: it is not valid JSON.")

    def not_found(self, request: web.Request) -> web.Response:
        return self.error(404, "Not Found")

    def base_headers(self, request_id: str | None = None) -> dict[str, str]:
        return {
            "request-id": request_id or self.ids.make("req_011C", 20),
            "anthropic-organization-id": "00000000-0000-4000-8000-000000000000",
        }

    # -- request checks ----------------------------------------------------------------------------

    def authenticate(self, request: web.Request) -> web.Response | None:
        # SDK 2.x sends the API key as `Authorization: Bearer`; older clients and curl use `x-api-key`.
        key = request.headers.get("x-api-key")
        if key is None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else None
        if not key:
            return self.error(401, "x-api-key header is required")
        if key != self.api_key:
            return self.error(401, "invalid x-api-key")
        return None

    def validate(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        counting = request.path.endswith("/count_tokens")
        message = _check_body(body, self.models, counting=counting)
        if message is None:
            return None
        status = 404 if message.startswith("model: ") and "Field" not in message else 400
        return self.error(status, message)

    def marker_text(self, body: dict[str, Any]) -> str:
        last = body["messages"][-1]
        return _text(last.get("content")) if last.get("role") == "user" else ""

    # -- answers -------------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        self.record(request, None)
        if (denied := self.authenticate(request)) is not None:
            return denied
        models = self.models or DEFAULT_MODELS
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
        payload = {"data": data, "has_more": False, "first_id": models[0], "last_id": models[-1]}
        return web.Response(body=orjson.dumps(payload), content_type="application/json", headers=self.base_headers())

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        async def answer(request: web.Request, body: dict[str, Any], fault: Fault | None) -> web.StreamResponse:
            total = count_tokens(sum(len(text) for text, _ in _pieces(body)))
            return await self.send_json(request, {"input_tokens": total}, self.base_headers(), fault)

        return await self.pipeline(request, answer)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self.pipeline(request, self._answer)

    async def _answer(self, request: web.Request, body: dict[str, Any], fault: Fault | None) -> web.StreamResponse:
        reply = _reply_for(body)
        text, cut = truncate(reply.text, body["max_tokens"])
        blocks: list[dict[str, Any]] = []
        if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            thinking = f"Let me think about: {_last_user_text(body)}"
            signature = base64.b64encode(hashlib.sha256(thinking.encode()).digest() * 2).decode()
            blocks.append({"type": "thinking", "thinking": thinking, "signature": signature})
        if text:
            blocks.append({"type": "text", "text": text})
        for call in reply.tool_calls:
            tool_id = self.ids.make("toolu_01", 22)
            blocks.append({"type": "tool_use", "id": tool_id, "name": call.name, "input": call.arguments})
        stop_reason = "tool_use" if reply.tool_calls else ("max_tokens" if cut else "end_turn")
        usage = self._usage(body, blocks)
        message = {
            "id": self.ids.make("msg_01", 22),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        request_id = self.ids.make("req_011C", 20)
        headers = self.base_headers(request_id)
        if not body.get("stream"):
            return await self.send_json(request, message, headers, fault)
        events = [sse(orjson.dumps(data), name) for name, data in _events(message, self.chunk_chars)]
        error = {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": request_id,
        }
        return await self.send_events(request, events, headers, fault, sse(orjson.dumps(error), "error"))

    def _usage(self, body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
        pieces = _pieces(body)
        total = self.input_tokens(sum(len(text) for text, _ in pieces))
        marked = [i for i, (_, cached) in enumerate(pieces) if cached]
        created = read = created_1h = 0
        if marked:
            prefix = pieces[: marked[-1] + 1]
            prefix_tokens = min(total, count_tokens(sum(len(text) for text, _ in prefix)))
            if self.cache_hit(orjson.dumps([body["model"], [text for text, _ in prefix]])):
                read = prefix_tokens
            else:
                created = prefix_tokens
                # Breakpoints with ttl "1h" write what precedes them for an hour (they must come first).
                long_lived = [i for i, ttl in enumerate(_ttls(body)) if ttl == "1h"]
                if long_lived:
                    head = pieces[: long_lived[-1] + 1]
                    created_1h = min(created, count_tokens(sum(len(text) for text, _ in head)))
        output_chars = 0
        for block in blocks:
            if block["type"] == "tool_use":
                output_chars += len(block["name"]) + len(orjson.dumps(block["input"]))
            else:
                output_chars += len(block.get("text") or block.get("thinking") or "")
        return {
            "input_tokens": total - created - read,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": created - created_1h,
                "ephemeral_1h_input_tokens": created_1h,
            },
            "output_tokens": max(1, count_tokens(output_chars)),
            "service_tier": "standard",
        }


def _events(message: dict[str, Any], size: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events of ``message`` in the order the API sends them."""
    usage = message["usage"]
    start_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
    started = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    started["usage"] = {**usage, "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": started}
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            start = {**block, "input": {}}
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
        if index == 0:
            yield "ping", {"type": "ping"}
        for delta in _deltas(block, size):
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    final_usage = {**start_usage, "output_tokens": usage["output_tokens"]}
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}
    yield "message_stop", {"type": "message_stop"}


def _deltas(block: dict[str, Any], size: int) -> Iterator[dict[str, Any]]:
    if block["type"] == "text":
        for piece in split_text(block["text"], size):
            yield {"type": "text_delta", "text": piece}
    elif block["type"] == "thinking":
        for piece in split_text(block["thinking"], size):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block["signature"]}
    else:
        yield {"type": "input_json_delta", "partial_json": ""}
        for piece in split_text(orjson.dumps(block["input"]).decode(), max(1, size // 2)):
            yield {"type": "input_json_delta", "partial_json": piece}


def _reply_for(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]
    tool_results: list[str] = []
    if last.get("role") == "user" and isinstance(last.get("content"), list):
        tool_results = [_text(b.get("content")) for b in last["content"] if b.get("type") == "tool_result"]
    tools = [
        ToolSpec(name=t["name"], schema=t.get("input_schema") or {})
        for t in body.get("tools") or []
        if "input_schema" in t
    ]
    choice = body.get("tool_choice") or {}
    forced = {"any": "required", "none": "none", "tool": choice.get("name")}.get(choice.get("type", "auto"))
    fmt = (body.get("output_config") or {}).get("format") or {}
    return plan_reply(
        model=body["model"],
        user_text=_last_user_text(body),
        tool_results=tool_results,
        tools=tools,
        tool_choice=forced,
        parallel_allowed=not choice.get("disable_parallel_tool_use", False),
        output_schema=fmt.get("schema") if fmt.get("type") == "json_schema" else None,
    )


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message.get("role") == "user" and (text := _text(message.get("content"))):
            return text
    return ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _pieces(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt as (text, carries cache_control) pieces in cache order: tools, system, messages."""
    pieces = [(orjson.dumps(t).decode(), "cache_control" in t) for t in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        pieces.append((system, False))
    elif isinstance(system, list):
        pieces += [(b.get("text", ""), "cache_control" in b) for b in system]
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            pieces.append((content, False))
            continue
        for block in content:
            kind = block.get("type")
            if kind == "tool_use":
                text = block.get("name", "") + orjson.dumps(block.get("input")).decode()
            elif kind == "tool_result":
                text = _text(block.get("content"))
            elif kind == "thinking":
                text = block.get("thinking", "")
            else:
                text = block.get("text", "")
            pieces.append((text, "cache_control" in block))
    return pieces


def _ttls(body: dict[str, Any]) -> list[str | None]:
    """The cache_control ttl of each piece of ``_pieces`` (None where there is no breakpoint)."""
    blocks: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str):
        blocks.append({})
    elif isinstance(system, list):
        blocks += system
    for message in body["messages"]:
        content = message.get("content")
        blocks += [{}] if isinstance(content, str) else content
    ttls: list[str | None] = []
    for block in blocks:
        control = block.get("cache_control") if isinstance(block, dict) else None
        ttls.append(control.get("ttl", "5m") if isinstance(control, dict) else None)
    return ttls


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_body(body: dict[str, Any], models: tuple[str, ...] | None, *, counting: bool) -> str | None:
    """Anthropic's message for a malformed body, or None."""
    for field in ("model", "messages") if counting else ("model", "max_tokens", "messages"):
        if field not in body:
            return f"{field}: Field required"
    if models is not None and body["model"] not in models:
        return f"model: {body['model']}"
    if not counting:
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return "max_tokens: Input should be greater than or equal to 1"
        limit = OUTPUT_LIMITS.get(body["model"])
        if limit is not None and max_tokens > limit:
            return (
                f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output tokens "
                f"for {body['model']}"
            )
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 1:
        return "temperature: Input should be less than or equal to 1"
    return _check_messages(body["messages"]) or _check_tools(body, counting=counting)


# The output limits of the current models, which the real API enforces with a 400.
OUTPUT_LIMITS = {"claude-haiku-4-5": 64000, "claude-sonnet-4-6": 64000, "claude-opus-4-7": 128000}


def _check_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous_tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if i == 0 and role != "user":
            return 'messages: first message must use the "user" role'
        if i > 0 and messages[i - 1].get("role") == role:
            return (
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        content = message.get("content")
        if not content and not (role == "assistant" and i == len(messages) - 1):
            return (
                f"messages.{i}: all messages must have non-empty content "
                "except for the optional final assistant message"
            )
        blocks = content if isinstance(content, list) else []
        result_ids = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        for j, block in enumerate(blocks):
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in previous_tool_ids:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message."
                )
        missing = [t for t in previous_tool_ids if t not in result_ids]
        if missing:
            return (
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(sorted(missing))}. Each `tool_use` block must have a corresponding `tool_result` "
                "block in the next message."
            )
        previous_tool_ids = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    if previous_tool_ids:
        return (
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks immediately "
            f"after: {', '.join(sorted(previous_tool_ids))}. Each `tool_use` block must have a corresponding "
            "`tool_result` block in the next message."
        )
    return None


def _check_tools(body: dict[str, Any], *, counting: bool) -> str | None:
    names = []
    for i, tool in enumerate(body.get("tools") or []):
        if not tool.get("name"):
            return f"tools.{i}.custom.name: Field required"
        if tool.get("type", "custom") == "custom" and "input_schema" not in tool:
            return f"tools.{i}.custom.input_schema: Field required"
        names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if choice.get("type") not in ("auto", "any", "tool", "none"):
            return (
                f"tool_choice: Input tag '{choice.get('type')}' found using 'type' does not match any of the "
                "expected tags: 'auto', 'any', 'tool', 'none'"
            )
        if choice["type"] == "tool" and choice.get("name") not in names:
            return f"tool_choice.tool.name: Tool '{choice.get('name')}' not found in tools"
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if not counting and body["max_tokens"] <= budget:
            return (
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
            )
        if choice is not None and choice.get("type") in ("any", "tool"):
            return "Thinking may not be enabled when tool_choice forces tool use."
    return None


@contextlib.contextmanager
def run_fake_anthropic(
    *, host: str = "127.0.0.1", port: int = 0, api_key: str = "sk-ant-test", **options: Any
) -> Iterator[FakeAnthropic]:
    """Serve a :class:`FakeAnthropic` in a background thread; ``server.url`` is the bare origin."""
    with running(FakeAnthropic(api_key=api_key, **options), host=host, port=port) as server:
        yield server
