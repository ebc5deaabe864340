"""OpenAI Chat Completions bodies that are not requests: completions and errors, in both directions."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from tierwise.errors import TierwiseError, UpstreamConnectionError, UpstreamStatusError
from tierwise.types import ChatResponse, StopReason, TextPart, ThinkingPart, ToolCallPart, Usage
from tierwise.wire.retry_after import retry_after

# Internal stop reason -> OpenAI finish_reason. OpenAI cannot say *which* stop sequence matched, nor pause.
FINISH_REASONS: dict[str | None, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    None: "stop",  # finish_reason is required in a chat.completion; an upstream that gave none just stopped
}

STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}

# Neutral error kind -> (OpenAI error type, code), as api.openai.com itself answers: a bad key is an
# invalid_request_error with code invalid_api_key, a spent budget is insufficient_quota, outages are server_error.
_ERROR_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", "permission_denied"),
    "not_found": ("invalid_request_error", None),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "budget_exceeded": ("insufficient_quota", "insufficient_quota"),
    "overloaded": ("server_error", "overloaded"),
    "timeout": ("server_error", "timeout"),
    "api_error": ("server_error", None),
}

# Provider keys quoted back in upstream error messages ("Incorrect API key provided: sk-proj-****MxYA") belong to
# the gateway, not to the client that will read the message.
_SECRET = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*\-]{6,}|\bAIza[A-Za-z0-9_*\-]{8,}")
_MAX_MESSAGE = 1000


# --- tierwise as the server -------------------------------------------------------------------------------


def usage_object(usage: Usage) -> dict[str, Any]:
    prompt_details: dict[str, int] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_write_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def render_response(response: ChatResponse) -> bytes:
    """A ``chat.completion`` body. Thinking parts are dropped: OpenAI's message has no place for them."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for part in response.parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ToolCallPart):
            tool_calls.append(
                {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": part.arguments}}
            )
    message: dict[str, Any] = {
        # OpenAI sends null content beside tool calls, and a string otherwise.
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
        "refusal": None,
    }
    finish_reason = FINISH_REASONS.get(response.stop_reason, "stop")
    if response.stop_reason == "refusal":  # OpenAI's own shape for a refusal: the text in `refusal`, a plain stop
        message["content"], message["refusal"], finish_reason = None, "".join(texts), "stop"
    if tool_calls:
        message["tool_calls"] = tool_calls
    return orjson.dumps(
        {
            "id": response.id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": response.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage_object(response.usage),
        }
    )


def error_object(err: TierwiseError) -> dict[str, Any]:
    kind = err.error_kind
    error_type, code = _ERROR_TYPES.get(kind, ("server_error", None))
    if kind == "not_found" and (err.param == "model" or "model" in err.message.lower()):
        code = "model_not_found"
    return {"error": {"message": err.message, "type": error_type, "param": err.param, "code": code}}


def render_error(err: TierwiseError) -> tuple[int, bytes]:
    """The HTTP status and OpenAI error body for ``err`` (its message only: never a traceback)."""
    return err.http_status, orjson.dumps(error_object(err))


# --- tierwise as the client -------------------------------------------------------------------------------


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: object) -> Usage:
    """Usage from an OpenAI usage object; servers that omit or null a field count it as 0."""
    if not isinstance(raw, dict):
        return Usage()
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    return Usage(
        input_tokens=_count(raw.get("prompt_tokens")),
        output_tokens=_count(raw.get("completion_tokens")),
        cache_read_tokens=_count(prompt_details.get("cached_tokens")),
        cache_write_tokens=_count(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=_count(completion_details.get("reasoning_tokens")),
    )


def new_tool_call_id() -> str:
    """For servers that return a tool call without an id: the Anthropic side cannot do without one."""
    return "call_" + uuid.uuid4().hex[:24]


def tool_arguments(value: object) -> str:
    # Some OpenAI-compatible servers send arguments as an object rather than JSON text.
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def stop_reason(finish_reason: object, *, has_tool_calls: bool, refused: bool) -> StopReason | None:
    if refused:
        return "refusal"
    if not isinstance(finish_reason, str):
        return None
    reason = STOP_REASONS.get(finish_reason, "end_turn")
    # Some servers (Gemini's compatibility layer among them) finish a tool call with "stop"; an Anthropic client
    # only continues its tool loop on tool_use.
    if reason == "end_turn" and has_tool_calls:
        return "tool_use"
    return reason


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"]
        )
    return ""


def parse_upstream_response(body: bytes) -> ChatResponse:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamConnectionError("upstream returned a chat completion that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamConnectionError("upstream returned a chat completion that is not a JSON object")
    if data.get("error"):
        raise error_from_payload(data)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamConnectionError("upstream returned a chat completion without choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise UpstreamConnectionError("upstream returned a chat completion choice without a message")

    parts: list[TextPart | ToolCallPart | ThinkingPart] = []
    # vLLM and DeepSeek say reasoning_content, Ollama and OpenRouter say reasoning.
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(text=reasoning))
    text = _content_text(message.get("content"))
    if text:
        parts.append(TextPart(text=text))
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if refused:
        parts.append(TextPart(text=str(refusal)))
    raw_calls = message.get("tool_calls")
    for call in raw_calls if isinstance(raw_calls, list) else ():
        if not isinstance(call, dict):
            raise UpstreamConnectionError("upstream returned a malformed tool call")
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise UpstreamConnectionError("upstream returned a tool call without a function name")
        call_id = call.get("id")
        parts.append(
            ToolCallPart(
                id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
                name=function["name"],
                arguments=tool_arguments(function.get("arguments")),
            )
        )
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return ChatResponse(
        id=str(data.get("id") or ""),
        model=str(data.get("model") or ""),
        parts=tuple(parts),
        stop_reason=stop_reason(choice.get("finish_reason"), has_tool_calls=has_calls, refused=refused),
        usage=parse_usage(data.get("usage")),
    )


def _kind(status: int) -> str:
    if status in (400, 422):
        return "invalid_request"
    kinds = {401: "authentication", 403: "permission", 404: "not_found", 408: "timeout", 413: "request_too_large"}
    if status in kinds:
        return kinds[status]
    if status == 429:
        return "rate_limit"
    if status in (503, 529):
        return "overloaded"
    if status == 504:
        return "timeout"
    return "api_error" if status >= 500 or status < 400 else "invalid_request"


def _error_fields(body: bytes) -> tuple[str, str | None]:
    """(message, param) from an error body of any of the shapes OpenAI-compatible servers send."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip(), None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # Gemini's compatibility layer wraps the error in a list
    if not isinstance(data, dict):
        return "", None
    error = data.get("error")
    if isinstance(error, str):
        return error, None
    if isinstance(error, dict):
        data = error  # else vLLM's flat {"object": "error", "message": ...} or FastAPI's {"detail": ...}
    message = data.get("message") or data.get("detail") or ""
    param = data.get("param")
    return (message if isinstance(message, str) else str(message)), (param if isinstance(param, str) else None)


def parse_upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamStatusError:
    message, param = _error_fields(body)
    message = _SECRET.sub("[redacted]", message)[:_MAX_MESSAGE] or f"upstream returned HTTP {status}"
    return UpstreamStatusError(
        message, upstream_status=status, kind=_kind(status), retry_after_s=retry_after(headers), param=param
    )


# A mid-stream or 200-status error body has no HTTP status of its own; guess one from its type.
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "requests": 429,
    "tokens": 429,
    "insufficient_quota": 429,
    "overloaded_error": 529,
}


def error_from_payload(data: dict[str, Any]) -> UpstreamStatusError:
    """The error a ``{"error": {...}}`` payload inside a 200 response or a stream stands for."""
    error = data.get("error")
    status = 500
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
            status = code  # OpenRouter puts the HTTP status here
        else:
            status = _STATUS_BY_TYPE.get(str(error.get("type")), 500)
    return parse_upstream_error(status, orjson.dumps(data), {})
