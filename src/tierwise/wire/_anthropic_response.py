"""Anthropic Messages responses and errors, both directions; re-exported by ``wire.anthropic_messages``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tierwise.errors import TierwiseError, UpstreamConnectionError, UpstreamStatusError
from tierwise.types import ChatResponse, StopReason, TextPart, ThinkingPart, ToolCallPart, Usage
from tierwise.wire.retry_after import retry_after

# Anthropic error type -> (neutral kind, the status Anthropic sends it with).
_ERROR_TYPES: dict[str, tuple[str, int]] = {
    "invalid_request_error": ("invalid_request", 400),
    "authentication_error": ("authentication", 401),
    "billing_error": ("permission", 402),
    "permission_error": ("permission", 403),
    "not_found_error": ("not_found", 404),
    "request_too_large": ("request_too_large", 413),
    "rate_limit_error": ("rate_limit", 429),
    "api_error": ("api_error", 500),
    "timeout_error": ("timeout", 504),
    "overloaded_error": ("overloaded", 529),
}
_KIND_BY_STATUS = {400: "invalid_request", 401: "authentication", 403: "permission", 404: "not_found"}
_KIND_BY_STATUS |= {413: "request_too_large", 429: "rate_limit", 503: "overloaded", 504: "timeout", 529: "overloaded"}

# Neutral kind -> Anthropic error type, for the errors we send to clients.
_ERROR_TYPE_OF_KIND = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limit": "rate_limit_error",
    "budget_exceeded": "rate_limit_error",
    "api_error": "api_error",
    "overloaded": "overloaded_error",
    "timeout": "timeout_error",
}

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "model_context_window_exceeded": "max_tokens",  # the same for a caller: output cut short by a limit
}


def malformed(what: str) -> UpstreamConnectionError:
    return UpstreamConnectionError(f"malformed response from the Anthropic upstream: {what}")


# --- Usage and stop reasons ------------------------------------------------------------------------------


def usage_from_anthropic(raw: Mapping[str, Any]) -> Usage:
    """Anthropic counts uncached input apart from cache reads and writes; internal input counts them all."""
    cache_write = raw.get("cache_creation_input_tokens") or 0
    cache_read = raw.get("cache_read_input_tokens") or 0
    details = raw.get("output_tokens_details")
    # cache_creation splits the writes by lifetime; without it every write is a five-minute one.
    by_ttl = raw.get("cache_creation")
    write_1h = by_ttl.get("ephemeral_1h_input_tokens") if isinstance(by_ttl, dict) else 0
    write_1h = write_1h if type(write_1h) is int and write_1h > 0 else 0
    return Usage(
        input_tokens=(raw.get("input_tokens") or 0) + cache_write + cache_read,
        output_tokens=raw.get("output_tokens") or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(write_1h, cache_write),
        reasoning_tokens=(details.get("thinking_tokens") or 0) if isinstance(details, dict) else 0,
    )


def usage_to_anthropic(usage: Usage) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "input_tokens": max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.cache_write_tokens:
        rendered["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    if usage.reasoning_tokens:
        rendered["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return rendered


def stop_reason_from_anthropic(value: object) -> StopReason | None:
    return _STOP_REASONS.get(value) if isinstance(value, str) else None


def stop_reason_to_anthropic(value: StopReason | None) -> str | None:
    return "refusal" if value == "content_filter" else value


# --- Responses -------------------------------------------------------------------------------------------


def render_response(response: ChatResponse) -> bytes:
    content: list[dict[str, Any]] = []
    for part in response.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCallPart):
            content.append({"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)})
        elif part.redacted is not None:
            content.append({"type": "redacted_thinking", "data": part.redacted})
        else:
            content.append({"type": "thinking", "thinking": part.text, "signature": part.signature or ""})
    return orjson.dumps(
        {
            "id": response.id,
            "type": "message",
            "role": "assistant",
            "model": response.model,
            "content": content,
            "stop_reason": stop_reason_to_anthropic(response.stop_reason),
            "stop_sequence": response.stop_sequence,
            "usage": usage_to_anthropic(response.usage),
        }
    )


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic requires; ``{}`` for empty or non-object JSON.

    Models behind other APIs occasionally emit broken JSON; an empty input lets the client's tool report the
    problem back to the model instead of the whole response failing.
    """
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_upstream_response(body: bytes) -> ChatResponse:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise malformed(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise malformed("the body is not a JSON object")
    if data.get("type") == "error":
        raise error_from_event(body)
    try:
        parts: list[TextPart | ToolCallPart | ThinkingPart] = []
        for block in data["content"]:
            kind = block["type"]
            if kind == "text":
                parts.append(TextPart(text=block["text"]))
            elif kind == "tool_use":
                parts.append(
                    ToolCallPart(id=block["id"], name=block["name"], arguments=orjson.dumps(block["input"]).decode())
                )
            elif kind == "thinking":
                parts.append(ThinkingPart(text=block["thinking"], signature=block.get("signature")))
            elif kind == "redacted_thinking":
                parts.append(ThinkingPart(redacted=block["data"]))
            # Server tool blocks (server_tool_use, web_search_tool_result, ...) have no internal form: skipped.
        response_id, model, usage = data["id"], data["model"], data.get("usage") or {}
        if not isinstance(response_id, str) or not isinstance(model, str) or not isinstance(usage, dict):
            raise TypeError
        stop_sequence = data.get("stop_sequence")
        return ChatResponse(
            id=response_id,
            model=model,
            parts=tuple(parts),
            stop_reason=stop_reason_from_anthropic(data.get("stop_reason")),
            stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
            usage=usage_from_anthropic(usage),
        )
    except (KeyError, TypeError) as exc:
        raise malformed(f"missing or mistyped field {exc}" if isinstance(exc, KeyError) else "mistyped field") from None


# --- Errors ----------------------------------------------------------------------------------------------


def render_error(err: TierwiseError) -> tuple[int, bytes]:
    status = err.http_status
    error_type = _ERROR_TYPE_OF_KIND.get(err.error_kind)
    if error_type is None:
        error_type = "invalid_request_error" if 400 <= status < 500 else "api_error"
    return status, orjson.dumps({"type": "error", "error": {"type": error_type, "message": err.message}})


def parse_upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamStatusError:
    error_type: str | None = None
    message: str | None = None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("type"), str):
            error_type = error["type"]
        if isinstance(error.get("message"), str):
            message = error["message"]
    if message is None:
        # A proxy's HTML page or plain text: show its start, never the whole of it.
        text = body[:300].decode("utf-8", "replace").strip()
        message = f"upstream returned HTTP {status}" + (f": {text}" if text else "")
    kind = _ERROR_TYPES[error_type][0] if error_type in _ERROR_TYPES else _KIND_BY_STATUS.get(status, "api_error")
    return UpstreamStatusError(message, upstream_status=status, kind=kind, retry_after_s=retry_after(headers))


def error_from_event(data: bytes) -> UpstreamStatusError:
    """The error an in-band ``error`` payload stands for, with the status Anthropic gives its type."""
    try:
        payload = orjson.loads(data)
        error_type = payload["error"]["type"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        error_type = None
    status = _ERROR_TYPES[error_type][1] if error_type in _ERROR_TYPES else 500
    return parse_upstream_error(status, data, {})
