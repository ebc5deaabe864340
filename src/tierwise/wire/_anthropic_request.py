"""Anthropic Messages requests that tierwise sends upstream; re-exported by ``wire.anthropic_messages``."""

from __future__ import annotations

from typing import Any

import orjson

from tierwise.errors import InvalidRequest
from tierwise.types import (
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    TextPart,
    Thinking,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from tierwise.wire._anthropic_response import tool_input
from tierwise.wire._foreign import check_foreign

DEFAULT_MAX_TOKENS = 4096


def build_upstream_request(
    request: ChatRequest,
    *,
    upstream_model: str,
    default_max_tokens: int | None = None,
    max_tokens_field: str | None = None,
) -> bytes:
    check_foreign(request.extensions.get("openai") or {}, source="openai", target_model=upstream_model)
    if request.seed is not None:
        raise InvalidRequest(
            f"'seed' cannot be honoured by {upstream_model} (Anthropic models have no seed); remove it", param="seed"
        )
    fmt = request.response_format
    if fmt is not None and fmt.kind == "json_object":
        raise InvalidRequest(
            f"response_format json_object cannot be honoured by {upstream_model} (Anthropic constrains output to a "
            "schema only); send {'type': 'json_schema', 'json_schema': {'name': ..., 'schema': ...}} instead",
            param="response_format",
        )
    max_tokens = request.max_tokens or default_max_tokens or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": max_tokens,
        "messages": _render_messages(request.messages),
    }
    system = [_text_block(p) for p in request.system if p.text]
    if system:
        body["system"] = system
    extensions = dict(request.extensions.get("anthropic") or {})
    server_tools = extensions.pop("tools", None) or []
    tools = [_tool(t) for t in request.tools] + server_tools
    if tools:
        body["tools"] = tools
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.stream:
        body["stream"] = True
    if request.thinking is not None:
        body["thinking"] = _thinking(request.thinking)
    if request.user is not None:
        body["metadata"] = {"user_id": request.user}
    output_config = dict(extensions.pop("output_config", None) or {})
    effort = _EFFORT.get(request.reasoning_effort) if request.reasoning_effort is not None else None
    if effort is not None:
        output_config["effort"] = effort
    if fmt is not None and fmt.kind == "json_schema":
        output_config["format"] = {"type": "json_schema", "schema": fmt.schema or {}}
    if output_config:
        body["output_config"] = output_config
    body.update(extensions)
    return orjson.dumps(body)


# The internal effort scale onto Anthropic's (low..max): "minimal" is its nearest neighbour "low"; "none" means
# no extra effort, which is Anthropic's default without thinking, so nothing is sent.
_EFFORT: dict[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_EFFORT |= {"xhigh": "xhigh", "max": "max"}


def _thinking(thinking: Thinking) -> dict[str, Any]:
    rendered: dict[str, Any] = {"type": thinking.mode}
    if thinking.mode == "enabled":
        rendered["budget_tokens"] = thinking.budget_tokens
    if thinking.display is not None:
        rendered["display"] = thinking.display
    return rendered


# Beta features the gateway answers for itself and so does not pass on: system messages inside ``messages``
# (the per-turn-control beta) are rewritten below, so no upstream needs the beta for them.
_CONSUMED_BETAS = ("per-turn-control-",)


def upstream_betas(request: ChatRequest) -> str | None:
    """The ``anthropic-beta`` header for an Anthropic upstream: the client's betas, in its order, less those
    whose body features the translation removed; None when there are none."""
    rewrites_system = any(message.role == "system" for message in request.messages)
    kept = [b for b in request.betas if not (rewrites_system and b.startswith(_CONSUMED_BETAS))]
    return ",".join(kept) or None


def _render_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    # Anthropic requires alternating roles, non-empty content and tool results first in their user turn.
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for message in messages:
        role: str = message.role
        if role == "system":
            # An instruction given mid-conversation becomes a marked text block of the user's side, in place:
            # the cached prefix stays intact and every Claude model accepts it (Claude Code's own fallback).
            role, blocks = "user", [_system_reminder(p) for p in message.parts if isinstance(p, TextPart) and p.text]
        else:
            blocks = [b for b in map(_block, message.parts) if b is not None]
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    if turns and turns[-1][0] == "assistant" and turns[-1][1][-1]["type"] == "text":
        # A final assistant turn (a prefill) may not end in whitespace; the model continues from it anyway.
        blocks = turns[-1][1]
        blocks[-1]["text"] = blocks[-1]["text"].rstrip()
        if not blocks[-1]["text"]:
            blocks.pop()
            if not blocks:
                turns.pop()
    for role, blocks in turns:
        if role == "user":
            blocks.sort(key=lambda b: b["type"] != "tool_result")  # stable: keeps each group's order
    return [{"role": role, "content": blocks} for role, blocks in turns]


def _system_reminder(part: TextPart) -> dict[str, Any]:
    text = f"<system-reminder>\n{part.text}\n</system-reminder>"
    return _text_block(TextPart(text=text, cache_control=part.cache_control))


def _text_block(part: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def _block(part: Part) -> dict[str, Any] | None:
    """The content block for one part; None for a part Anthropic would reject and that carries nothing."""
    block: dict[str, Any]
    if isinstance(part, TextPart):
        return _text_block(part) if part.text else None  # Anthropic rejects empty text blocks
    if isinstance(part, ImagePart):
        block = {"type": "image", "source": _image_source(part)}
    elif isinstance(part, DocumentPart):
        block = _document(part)
    elif isinstance(part, ToolCallPart):
        block = {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)}
    elif isinstance(part, ToolResultPart):
        block = {"type": "tool_result", "tool_use_id": part.tool_call_id}
        content = [b for b in map(_block, part.content) if b is not None]
        if content:
            block["content"] = content
        if part.is_error:
            block["is_error"] = True
    elif part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    elif not part.signature:
        # Reasoning from another provider (no signature, or the empty one rendered for it): Anthropic
        # accepts only thinking it signed itself.
        return None
    else:
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def _document(part: DocumentPart) -> dict[str, Any]:
    source: dict[str, Any]
    if part.text is not None:
        source = {"type": "text", "media_type": "text/plain", "data": part.text}
    elif part.data is not None:
        source = {"type": "base64", "media_type": part.media_type or "application/pdf", "data": part.data}
    elif part.url is not None:
        source = {"type": "url", "url": part.url}
    else:
        source = {"type": "file", "file_id": part.file_id}
    block: dict[str, Any] = {"type": "document", "source": source}
    title = part.title if part.title is not None else part.filename
    if title is not None:
        block["title"] = title
    if part.context is not None:
        block["context"] = part.context
    if part.citations is not None:
        block["citations"] = {"enabled": part.citations}
    return block


def _image_source(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
    url = part.url or ""
    if url.startswith("data:"):
        # OpenAI clients inline images as data URLs, which Anthropic accepts only as base64 sources.
        header, _, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0] or "image/png"
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _tool(tool: ToolSpec) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters or {"type": "object", "properties": {}}}
    if tool.description is not None:
        spec["description"] = tool.description
    if tool.strict is not None:
        spec["strict"] = tool.strict
    if tool.cache_control is not None:
        spec["cache_control"] = tool.cache_control
    return spec


def _tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if choice.mode == "none":
        return {"type": "none"}
    rendered: dict[str, Any] = {"type": "any" if choice.mode == "required" else choice.mode}
    if choice.mode == "tool":
        rendered["name"] = choice.name
    if choice.parallel is not None:
        rendered["disable_parallel_tool_use"] = not choice.parallel
    return rendered
