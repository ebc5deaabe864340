"""The Anthropic Messages wire format, both directions: client requests are parsed here; upstream requests,
responses, errors and streams live in private modules re-exported below.

Choices made once for this format:
- Content blocks the internal types cannot hold (search_result, server tool results, ...) are rejected
  with a clear 400 instead of being dropped or moved out of their place in the conversation.
- Server tools (a ``tools`` entry with a ``type`` other than ``custom``) and top-level fields tierwise does not model
  are kept unchanged in ``extensions["anthropic"]`` and forwarded only to an Anthropic upstream.
"""

from __future__ import annotations

from typing import Any

import orjson

from tierwise.errors import InvalidRequest
from tierwise.types import (
    ChatRequest,
    DocumentPart,
    Effort,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    Thinking,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from tierwise.wire._anthropic_request import build_upstream_request, upstream_betas
from tierwise.wire._anthropic_response import (
    parse_upstream_error,
    parse_upstream_response,
    render_error,
    render_response,
)
from tierwise.wire._anthropic_stream import StreamRenderer, UpstreamStreamParser

__all__ = [
    "ANTHROPIC_VERSION",
    "UPSTREAM_PATH",
    "StreamRenderer",
    "UpstreamStreamParser",
    "build_upstream_request",
    "parse_betas",
    "parse_request",
    "parse_upstream_error",
    "parse_upstream_response",
    "render_error",
    "render_response",
    "request_headers",
    "upstream_betas",
    "upstream_headers",
]

UPSTREAM_PATH = "/v1/messages"
# The version sent upstream, whatever the client sent: the one whose request and response shapes these
# translators are written against. Clients' own versions (SDKs send newer dates) are accepted and not forwarded;
# features beyond it travel as betas (``anthropic-beta``), which are forwarded.
ANTHROPIC_VERSION = "2023-06-01"

# Top-level request fields translated into ChatRequest fields; every other field goes to extensions["anthropic"].
_MODELLED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "output_config",
        "output_format",
    }
)
_SUPPORTED_BLOCKS = "text, image, document, tool_use, tool_result, thinking, redacted_thinking"
_EFFORTS = ("low", "medium", "high", "xhigh", "max")


def parse_betas(header: str | None) -> tuple[str, ...]:
    """The beta names of an ``anthropic-beta`` header (comma-separated; the header may also be repeated and
    joined by the caller), in order, without blanks or repeats."""
    if not header:
        return ()
    return tuple(dict.fromkeys(name.strip() for name in header.split(",") if name.strip()))


def request_headers(request: ChatRequest) -> dict[str, str]:
    betas = upstream_betas(request)
    return {"anthropic-beta": betas} if betas else {}


def upstream_headers(api_key: str | None) -> dict[str, str]:
    headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


# --- Inbound: the client speaks Anthropic ---------------------------------------------------------------


def parse_request(body: object) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: a non-empty string is required", param="model")
    max_tokens = body.get("max_tokens")
    if type(max_tokens) is not int or max_tokens < 1:
        raise InvalidRequest("max_tokens: a positive integer is required", param="max_tokens")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise InvalidRequest("messages: a non-empty array is required", param="messages")

    extensions: dict[str, Any] = {k: v for k, v in body.items() if k not in _MODELLED}
    tools, server_tools = _parse_tools(body.get("tools"))
    if server_tools:
        extensions["tools"] = server_tools
    thinking = _parse_thinking(body.get("thinking"), extensions)
    effort, response_format = _parse_output_config(body.get("output_config"), extensions)
    if body.get("output_format") is not None:  # the structured-outputs beta's name for output_config.format
        if response_format is not None:
            raise InvalidRequest(
                "output_format: give output_config.format or output_format, not both", param="output_format"
            )
        response_format = _parse_format(body["output_format"], "output_format")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata: must be an object", param="metadata")
    user = metadata.get("user_id") if metadata else None
    if user is not None and not isinstance(user, str):
        raise InvalidRequest("metadata.user_id: must be a string", param="metadata.user_id")
    stream = body.get("stream", False)
    if type(stream) is not bool:
        raise InvalidRequest("stream: must be a boolean", param="stream")

    return ChatRequest(
        model=model,
        messages=tuple(_parse_message(m, f"messages.{i}") for i, m in enumerate(raw_messages)),
        system=_parse_system(body.get("system")),
        tools=tools,
        tool_choice=_parse_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=_top_k(body.get("top_k")),
        stop=_parse_stop(body.get("stop_sequences")),
        stream=stream,
        thinking=thinking,
        reasoning_effort=effort,
        response_format=response_format,
        user=user,
        extensions={"anthropic": extensions} if extensions else {},
    )


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if type(value) not in (int, float):
        raise InvalidRequest(f"{key}: must be a number", param=key)
    return float(value)


def _top_k(value: object) -> int | None:
    if value is not None and (type(value) is not int or value < 0):
        raise InvalidRequest("top_k: must be a non-negative integer", param="top_k")
    return value


def _parse_stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise InvalidRequest("stop_sequences: must be an array of strings", param="stop_sequences")
    return tuple(value)


def _cache_control(block: dict[str, Any], param: str) -> dict[str, Any] | None:
    value = block.get("cache_control")
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest("cache_control: must be an object", param=f"{param}.cache_control")
    return value


def _string(block: dict[str, Any], key: str, param: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{param}.{key}: a string is required", param=f"{param}.{key}")
    return value


def _parse_system(value: object) -> tuple[TextPart, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (TextPart(text=value),) if value else ()
    if not isinstance(value, list):
        raise InvalidRequest("system: must be a string or an array of text blocks", param="system")
    parts = []
    for i, block in enumerate(value):
        param = f"system.{i}"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"{param}: system blocks must be text blocks", param=param)
        parts.append(TextPart(text=_string(block, "text", param), cache_control=_cache_control(block, param)))
    return tuple(parts)


def _parse_message(raw: object, param: str) -> Message:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{param}: must be an object", param=param)
    role = raw.get("role")
    if role == "system":
        return Message(role="system", parts=_parse_system_message(raw.get("content"), param))
    if role != "user" and role != "assistant":
        raise InvalidRequest(
            f"{param}.role: must be 'user', 'assistant' or 'system', got {role!r}", param=f"{param}.role"
        )
    content = raw.get("content")
    if isinstance(content, str):
        return Message(role=role, parts=(TextPart(text=content),))
    if not isinstance(content, list):
        raise InvalidRequest(
            f"{param}.content: must be a string or an array of content blocks", param=f"{param}.content"
        )
    parts = tuple(_parse_block(b, role, f"{param}.content.{i}") for i, b in enumerate(content))
    return Message(role=role, parts=parts)


def _parse_system_message(content: object, param: str) -> tuple[TextPart, ...]:
    """A system message inside ``messages`` (an instruction given mid-conversation): text only."""
    if isinstance(content, str):
        if not content:
            raise InvalidRequest(f"{param}.content: a system message needs text", param=f"{param}.content")
        return (TextPart(text=content),)
    if not isinstance(content, list) or not content:
        raise InvalidRequest(
            f"{param}.content: a system message must be a string or an array of text blocks", param=f"{param}.content"
        )
    parts = []
    for i, block in enumerate(content):
        where = f"{param}.content.{i}"
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else None
            raise InvalidRequest(f"{where}: system messages hold text blocks only, got {kind!r}", param=f"{where}.type")
        parts.append(TextPart(text=_string(block, "text", where), cache_control=_cache_control(block, where)))
    return tuple(parts)


def _parse_block(block: object, role: str, param: str) -> Part:
    if not isinstance(block, dict):
        raise InvalidRequest(f"{param}: a content block must be an object", param=param)
    kind = block.get("type")
    if kind == "text":
        return TextPart(text=_string(block, "text", param), cache_control=_cache_control(block, param))
    if kind == "image":
        return _parse_image(block, param)
    if kind == "document":
        return _parse_document(block, param)
    if kind == "tool_use":
        if role != "assistant":
            raise InvalidRequest(f"{param}: tool_use blocks belong in assistant messages", param=param)
        raw_input = block.get("input")
        if not isinstance(raw_input, dict):
            raise InvalidRequest(f"{param}.input: must be an object", param=f"{param}.input")
        return ToolCallPart(
            id=_string(block, "id", param),
            name=_string(block, "name", param),
            arguments=orjson.dumps(raw_input).decode(),
            cache_control=_cache_control(block, param),
        )
    if kind == "tool_result":
        if role != "user":
            raise InvalidRequest(f"{param}: tool_result blocks belong in user messages", param=param)
        return _parse_tool_result(block, param)
    if kind == "thinking" or kind == "redacted_thinking":
        if role != "assistant":
            raise InvalidRequest(f"{param}: {kind} blocks belong in assistant messages", param=param)
        if kind == "redacted_thinking":
            return ThinkingPart(redacted=_string(block, "data", param))
        return ThinkingPart(text=_string(block, "thinking", param), signature=_string(block, "signature", param))
    raise InvalidRequest(
        f"{param}: content block type {kind!r} is not supported by this gateway (supported: {_SUPPORTED_BLOCKS})",
        param=f"{param}.type",
    )


def _parse_image(block: dict[str, Any], param: str) -> ImagePart:
    source = block.get("source")
    cache_control = _cache_control(block, param)
    if isinstance(source, dict):
        kind = source.get("type")
        if kind == "base64":
            return ImagePart(
                media_type=_string(source, "media_type", f"{param}.source"),
                data=_string(source, "data", f"{param}.source"),
                cache_control=cache_control,
            )
        if kind == "url":
            return ImagePart(url=_string(source, "url", f"{param}.source"), cache_control=cache_control)
    raise InvalidRequest(
        f"{param}.source: an image source must be {{type: base64, media_type, data}} or {{type: url, url}}",
        param=f"{param}.source",
    )


def _parse_document(block: dict[str, Any], param: str) -> DocumentPart:
    where = f"{param}.source"
    source = block.get("source")
    if not isinstance(source, dict):
        source = {}
    for key in ("title", "context"):
        if block.get(key) is not None and not isinstance(block[key], str):
            raise InvalidRequest(f"{param}.{key}: must be a string", param=f"{param}.{key}")
    citations = block.get("citations")
    enabled = citations.get("enabled") if isinstance(citations, dict) else None
    if citations is not None and type(enabled) is not bool:
        raise InvalidRequest(f"{param}.citations: must be {{enabled: boolean}}", param=f"{param}.citations")
    common: dict[str, Any] = {
        "title": block.get("title"),
        "context": block.get("context"),
        "citations": enabled,
        "cache_control": _cache_control(block, param),
    }
    kind = source.get("type")
    if kind == "base64":
        media_type = _string(source, "media_type", where)
        return DocumentPart(media_type=media_type, data=_string(source, "data", where), **common)
    if kind == "text":
        return DocumentPart(media_type="text/plain", text=_string(source, "data", where), **common)
    if kind == "url":
        return DocumentPart(media_type="application/pdf", url=_string(source, "url", where), **common)
    if kind == "file":
        return DocumentPart(file_id=_string(source, "file_id", where), **common)
    raise InvalidRequest(
        f"{where}: a document source must be {{type: base64, media_type, data}}, {{type: text, data}}, "
        "{type: url, url} or {type: file, file_id}",
        param=where,
    )


def _parse_tool_result(block: dict[str, Any], param: str) -> ToolResultPart:
    content = block.get("content")
    parts: tuple[TextPart | ImagePart, ...]
    if content is None:
        parts = ()
    elif isinstance(content, str):
        parts = (TextPart(text=content),)
    elif isinstance(content, list):
        items: list[TextPart | ImagePart] = []
        for i, item in enumerate(content):
            item_param = f"{param}.content.{i}"
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "text":
                items.append(
                    TextPart(text=_string(item, "text", item_param), cache_control=_cache_control(item, item_param))
                )
            elif kind == "image":
                items.append(_parse_image(item, item_param))
            else:
                raise InvalidRequest(
                    f"{item_param}: tool_result content must be text or image blocks, got {kind!r}", param=item_param
                )
        parts = tuple(items)
    else:
        raise InvalidRequest(f"{param}.content: must be a string or an array", param=f"{param}.content")
    is_error = block.get("is_error", False)
    if type(is_error) is not bool:
        raise InvalidRequest(f"{param}.is_error: must be a boolean", param=f"{param}.is_error")
    return ToolResultPart(
        tool_call_id=_string(block, "tool_use_id", param),
        content=parts,
        is_error=is_error,
        cache_control=_cache_control(block, param),
    )


def _parse_tools(value: object) -> tuple[tuple[ToolSpec, ...], list[Any]]:
    if value is None:
        return (), []
    if not isinstance(value, list):
        raise InvalidRequest("tools: must be an array", param="tools")
    tools, server_tools = [], []
    for i, tool in enumerate(value):
        param = f"tools.{i}"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"{param}: a tool must be an object", param=param)
        if tool.get("type") not in (None, "custom"):
            server_tools.append(tool)  # web_search_..., bash_..., etc.: run by Anthropic, forwarded unchanged
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{param}.name: a non-empty string is required", param=f"{param}.name")
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise InvalidRequest(f"{param}.description: must be a string", param=f"{param}.description")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(
                f"{param}.input_schema: a JSON schema object is required", param=f"{param}.input_schema"
            )
        strict = tool.get("strict")
        if strict is not None and type(strict) is not bool:
            raise InvalidRequest(f"{param}.strict: must be a boolean", param=f"{param}.strict")
        tools.append(
            ToolSpec(
                name=name,
                description=description,
                parameters=schema,
                strict=strict,
                cache_control=_cache_control(tool, param),
            )
        )
    return tuple(tools), server_tools


def _parse_tool_choice(value: object) -> ToolChoice | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("tool_choice: must be an object", param="tool_choice")
    kind = value.get("type")
    disable = value.get("disable_parallel_tool_use")
    if disable is not None and type(disable) is not bool:
        raise InvalidRequest(
            "tool_choice.disable_parallel_tool_use: must be a boolean", param="tool_choice.disable_parallel_tool_use"
        )
    parallel = None if disable is None else not disable
    if kind == "auto" or kind == "none":
        return ToolChoice(mode=kind, parallel=parallel)
    if kind == "any":
        return ToolChoice(mode="required", parallel=parallel)
    if kind == "tool":
        return ToolChoice(mode="tool", name=_string(value, "name", "tool_choice"), parallel=parallel)
    raise InvalidRequest(
        f"tool_choice.type: must be one of auto, any, tool, none; got {kind!r}", param="tool_choice.type"
    )


def _parse_thinking(value: object, extensions: dict[str, Any]) -> Thinking | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidRequest("thinking: must be an object with a type", param="thinking")
    mode = value["type"]
    if mode not in ("enabled", "adaptive", "disabled"):
        raise InvalidRequest(
            f"thinking.type: must be enabled, adaptive or disabled; got {mode!r}", param="thinking.type"
        )
    display = value.get("display")
    if display is not None and not isinstance(display, str):
        raise InvalidRequest("thinking.display: must be a string", param="thinking.display")
    if value.keys() - {"type", "budget_tokens", "display"}:
        extensions["thinking"] = value  # newer keys: kept whole so that an Anthropic upstream sees all of it
    if mode != "enabled":
        return Thinking(mode=mode, display=display)
    budget = value.get("budget_tokens")
    if type(budget) is not int or budget < 1:
        raise InvalidRequest("thinking.budget_tokens: a positive integer is required", param="thinking.budget_tokens")
    return Thinking(mode="enabled", budget_tokens=budget, display=display)


def _parse_output_config(value: object, extensions: dict[str, Any]) -> tuple[Effort | None, ResponseFormat | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise InvalidRequest("output_config: must be an object", param="output_config")
    effort = value.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise InvalidRequest(
            f"output_config.effort: must be one of {', '.join(_EFFORTS)}; got {effort!r}", param="output_config.effort"
        )
    fmt = value.get("format")
    rest = {k: v for k, v in value.items() if k not in ("effort", "format")}
    if rest:
        extensions["output_config"] = rest  # keys tierwise does not model: for an Anthropic upstream only
    return effort, None if fmt is None else _parse_format(fmt, "output_config.format")


def _parse_format(value: object, param: str) -> ResponseFormat:
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise InvalidRequest(f"{param}: must be {{type: json_schema, schema: {{...}}}}", param=param)
    schema = value.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{param}.schema: a JSON schema object is required", param=f"{param}.schema")
    return ResponseFormat(kind="json_schema", schema=schema)
