"""OpenAI Responses bodies that are not requests: response objects and errors, in both directions."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from tierwise.errors import UpstreamConnectionError
from tierwise.types import ChatRequest, ChatResponse, StopReason, TextPart, ThinkingPart, ToolCallPart, Usage

# The Responses API shares OpenAI's error envelope, both ways.
from tierwise.wire._openai_response import (
    error_from_payload,
    new_tool_call_id,
    parse_upstream_error,
    render_error,
)
from tierwise.wire._responses_tools import (
    TOOLS_KEY,
    call_item,
    flat_name,
    openai_reasoning,
    summary_text,
    thinking_token,
)

__all__ = [
    "output_items",
    "parse_upstream_error",
    "parse_upstream_response",
    "parse_usage",
    "render_error",
    "render_response",
    "response_object",
    "usage_object",
]

# Internal stop reason -> (status, incomplete_details.reason).
_INCOMPLETE: dict[str | None, str] = {"max_tokens": "max_output_tokens", "content_filter": "content_filter"}
# Request fields a response object repeats, with the value it shows when the client did not send them.
_ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": None,
    "service_tier": None,
    "store": True,
    "temperature": None,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def status_of(stop_reason: StopReason | None) -> tuple[str, dict[str, str] | None]:
    reason = _INCOMPLETE.get(stop_reason)
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def response_object(
    request: ChatRequest | None,
    *,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    incomplete_details: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sent = (request.extensions.get("responses") if request is not None else None) or {}
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "model": model,
        "output": output,
    }
    for key, default in _ECHOED.items():
        value = sent.get(key)
        body[key] = default if value is None else value
    body["usage"] = usage_object(usage) if usage is not None else None
    return body


def message_item(item_id: str, texts: list[str], *, status: str, refusal: bool = False) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "refusal", "refusal": text}
        if refusal
        else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        for text in texts
    ]
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def reasoning_item(item_id: str, part: ThinkingPart) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if part.text:
        item["summary"] = [{"type": "summary_text", "text": part.text}]
    token = thinking_token(part)
    if token is not None:
        item["encrypted_content"] = token
    return item


def output_items(response: ChatResponse, request: ChatRequest | None) -> list[dict[str, Any]]:
    tools = (request.extensions.get("responses") or {}).get(TOOLS_KEY) if request is not None else None
    status, _ = status_of(response.stop_reason)
    refusal = response.stop_reason == "refusal"
    items: list[dict[str, Any]] = []
    texts: list[str] = []
    for part in response.parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
            continue
        if texts:
            items.append(message_item(new_id("msg"), texts, status=status, refusal=refusal))
            texts = []
        if isinstance(part, ToolCallPart):
            items.append(call_item(part.name, part.id, part.arguments, tools, new_id("fc")))
        else:
            items.append(reasoning_item(new_id("rs"), part))
    if texts:
        items.append(message_item(new_id("msg"), texts, status=status, refusal=refusal))
    return items


def render_response(
    response: ChatResponse, *, request: ChatRequest | None = None, response_id: str | None = None
) -> bytes:
    """A ``response`` object; ``request`` supplies the fields it repeats and the tools' own shapes."""
    status, incomplete = status_of(response.stop_reason)
    body = response_object(
        request,
        response_id=response_id or new_id("resp"),
        created_at=int(time.time()),
        model=response.model,
        status=status,
        output=output_items(response, request),
        usage=response.usage,
        incomplete_details=incomplete,
    )
    return orjson.dumps(body)


# --- tierwise as the client -------------------------------------------------------------------------------


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: object) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    inputs = raw.get("input_tokens_details")
    outputs = raw.get("output_tokens_details")
    inputs = inputs if isinstance(inputs, dict) else {}
    outputs = outputs if isinstance(outputs, dict) else {}
    return Usage(
        input_tokens=_count(raw.get("input_tokens")),
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_tokens=_count(inputs.get("cached_tokens")),
        cache_write_tokens=_count(inputs.get("cache_write_tokens")),
        reasoning_tokens=_count(outputs.get("reasoning_tokens")),
    )


def item_parts(item: dict[str, Any]) -> tuple[list[TextPart | ToolCallPart | ThinkingPart], bool]:
    """The internal parts of one output item, and whether it was a refusal."""
    kind = item.get("type")
    if kind == "message":
        parts: list[TextPart | ToolCallPart | ThinkingPart] = []
        refused = False
        for block in item.get("content") or ():
            if not isinstance(block, dict):
                continue
            if block.get("type") == "refusal" and isinstance(block.get("refusal"), str):
                parts.append(TextPart(text=block["refusal"]))
                refused = True
            elif isinstance(block.get("text"), str) and block["text"]:
                parts.append(TextPart(text=block["text"]))
        return parts, refused
    if kind in ("function_call", "custom_tool_call"):
        name = item.get("name")
        if not isinstance(name, str):
            raise UpstreamConnectionError("upstream returned a tool call without a name")
        namespace = item.get("namespace")
        call_id = item.get("call_id")
        if kind == "custom_tool_call":
            arguments = orjson.dumps({"input": str(item.get("input") or "")}).decode()
        else:
            raw = item.get("arguments")
            arguments = raw if isinstance(raw, str) else orjson.dumps(raw or {}).decode()
        call = ToolCallPart(
            id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
            name=flat_name(namespace if isinstance(namespace, str) else None, name),
            arguments=arguments,
        )
        return [call], False
    if kind == "reasoning":
        # OpenAI's encrypted reasoning is kept for a Responses upstream; no other provider can read it.
        text = summary_text(item)
        carried = openai_reasoning(item.get("id"), item.get("encrypted_content"))
        return ([ThinkingPart(text=text, encrypted=carried)] if text or carried else []), False
    return [], False  # built-in tool calls cannot have been asked for: tierwise sends no built-in tools


def stop_reason_of(status: object, incomplete: object, *, has_calls: bool, refused: bool) -> StopReason:
    if refused:
        return "refusal"
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        return "content_filter" if reason == "content_filter" else "max_tokens"
    return "tool_use" if has_calls else "end_turn"


def parse_upstream_response(body: bytes) -> ChatResponse:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamConnectionError("upstream returned a response that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamConnectionError("upstream returned a response that is not a JSON object")
    if data.get("error"):
        raise error_from_payload(data)
    output = data.get("output")
    if not isinstance(output, list):
        raise UpstreamConnectionError("upstream returned a response without output")
    parts: list[TextPart | ToolCallPart | ThinkingPart] = []
    refused = False
    for item in output:
        if isinstance(item, dict):
            found, refusal = item_parts(item)
            parts.extend(found)
            refused = refused or refusal
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return ChatResponse(
        id=str(data.get("id") or ""),
        model=str(data.get("model") or ""),
        parts=tuple(parts),
        stop_reason=stop_reason_of(
            data.get("status"), data.get("incomplete_details"), has_calls=has_calls, refused=refused
        ),
        usage=parse_usage(data.get("usage")),
    )
