"""The OpenAI Responses wire format: client requests are parsed here; upstream requests, responses, errors and
streams live in the private modules re-exported below.

Choices made once for this format:
- Every request field is modelled, kept for a Responses upstream as advice that does not change the answer
  (``store``, ``metadata``, ``include``, ``prompt_cache_key``, ...), or refused with a 400 naming it. Built-in
  tools (web search, file search, computer use, code interpreter, ...) and the items they produce are refused:
  only OpenAI can run them.
- Namespaced tools (``{"type": "namespace"}``, and those of an ``additional_tools`` input item) become plain
  tools named ``namespace__name``; freeform ``custom`` tools become function tools taking one string,
  ``input``. Both are turned back into the client's own shape in the answer (see ``_responses_tools``).
- ``previous_response_id`` is resolved by the server from its response store before this module sees the
  request again (``with_history``); here it is only validated.
"""

from __future__ import annotations

from typing import Any

from tierwise.errors import InvalidRequest
from tierwise.types import (
    EFFORTS,
    ChatRequest,
    DocumentPart,
    Effort,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from tierwise.wire._responses_request import build_upstream_request
from tierwise.wire._responses_response import (
    parse_upstream_error,
    parse_upstream_response,
    render_error,
    render_response,
)
from tierwise.wire._responses_stream import StreamRenderer, UpstreamStreamParser
from tierwise.wire._responses_tools import TOOLS_KEY, ToolTable, call_arguments, flat_name, parse_tool_choice, thinking

# The same key and headers as Chat Completions: one OpenAI account speaks both APIs.
from tierwise.wire.openai_chat import request_headers, upstream_headers

__all__ = [
    "UPSTREAM_PATH",
    "StreamRenderer",
    "UpstreamStreamParser",
    "build_upstream_request",
    "parse_request",
    "parse_upstream_error",
    "parse_upstream_response",
    "render_error",
    "render_response",
    "request_headers",
    "upstream_headers",
]

UPSTREAM_PATH = "/responses"

# Fields that tell the server how to keep or label the call but do not change the answer: forwarded to a
# Responses upstream as they are, and needing nothing from any other upstream.
ADVISORY = frozenset(
    {
        "store",
        "metadata",
        "include",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "truncation",
        "stream_options",
        "client_metadata",  # Codex's own labels
        "previous_response_id",
        "background",  # only false is accepted
    }
)
_MODELLED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "user",
    }
)
# Fields only OpenAI's own servers can carry out (stored prompts and conversations, server-side tool loops).
_REFUSED = {
    "conversation": "server-side conversations are not supported; send the history or use previous_response_id",
    "prompt": "stored prompt templates are not supported; send 'instructions' and 'input'",
    "max_tool_calls": "max_tool_calls limits built-in tool loops, which this gateway does not run",
    "top_logprobs": "log probabilities are not supported by this gateway",
    "context_management": "server-side context management (compaction) is not supported by this gateway",
    "moderation": "moderated responses are not supported by this gateway",
}
_INPUT_ITEMS_REFUSED = {
    "item_reference": "item references need stored items; send the items themselves",
    "web_search_call": "built-in tool 'web_search'",
    "file_search_call": "built-in tool 'file_search'",
    "computer_call": "built-in tool 'computer_use'",
    "computer_call_output": "built-in tool 'computer_use'",
    "code_interpreter_call": "built-in tool 'code_interpreter'",
    "image_generation_call": "built-in tool 'image_generation'",
    "local_shell_call": "built-in tool 'local_shell'",
    "local_shell_call_output": "built-in tool 'local_shell'",
    "shell_call": "built-in tool 'shell'",
    "shell_call_output": "built-in tool 'shell'",
    "apply_patch_call": "built-in tool 'apply_patch'",
    "apply_patch_call_output": "built-in tool 'apply_patch'",
    "mcp_call": "built-in tool 'mcp'",
    "mcp_list_tools": "built-in tool 'mcp'",
    "mcp_approval_request": "built-in tool 'mcp'",
    "mcp_approval_response": "built-in tool 'mcp'",
    "tool_search_call": "built-in tool 'tool_search'",
    "tool_search_output": "built-in tool 'tool_search'",
    "compaction": "server-side compaction",
}


# --- inbound: tierwise is the server ----------------------------------------------------------------------


def _bad(message: str, param: str | None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"'{key}' must be a number between {low:g} and {high:g}", key)
    return float(value)


def _text_of(part: dict[str, Any], key: str, where: str) -> str:
    text = part.get(key)
    if not isinstance(text, str):
        raise _bad(f"a {part.get('type')} part needs a string '{key}'", f"{where}.{key}")
    return text


def _image(part: dict[str, Any], where: str) -> ImagePart:
    url = part.get("image_url")
    if part.get("file_id") is not None or not isinstance(url, str):
        raise _bad("an input_image needs 'image_url' (a URL or data URL); file_id is not supported", where)
    detail = part.get("detail")
    if detail is not None and not isinstance(detail, str):
        raise _bad("'detail' must be a string", f"{where}.detail")
    if not url.startswith("data:"):
        return ImagePart(url=url, detail=detail)
    header, comma, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if not comma or encoding != "base64" or not media_type:
        raise _bad("an image data URL must look like data:<media type>;base64,<data>", f"{where}.image_url")
    return ImagePart(media_type=media_type, data=data, detail=detail)


def _file(part: dict[str, Any], where: str) -> DocumentPart:
    for key in ("file_data", "file_id", "file_url", "filename"):
        if part.get(key) is not None and not isinstance(part[key], str):
            raise _bad(f"'{key}' must be a string", f"{where}.{key}")
    data, filename = part.get("file_data"), part.get("filename")
    if part.get("file_url") is not None:
        return DocumentPart(media_type="application/pdf", url=part["file_url"], filename=filename)
    if data is None:
        if part.get("file_id") is None:
            raise _bad("an input_file needs 'file_data', 'file_url' or 'file_id'", where)
        return DocumentPart(file_id=part["file_id"], filename=filename)
    media_type = "application/pdf"
    if data.startswith("data:"):
        header, comma, data = data[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not comma or encoding != "base64" or not media_type:
            raise _bad("'file_data' must look like data:<media type>;base64,<data>", f"{where}.file_data")
    return DocumentPart(media_type=media_type, data=data, filename=filename)


def _content(content: object, where: str, *, assistant: bool) -> tuple[TextPart | ImagePart | DocumentPart, ...]:
    if isinstance(content, str):
        return (TextPart(text=content),)
    if not isinstance(content, list):
        raise _bad("'content' must be a string or an array of content parts", f"{where}.content")
    parts: list[TextPart | ImagePart | DocumentPart] = []
    for j, part in enumerate(content):
        here = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(part, dict) or not isinstance(kind, str):
            raise _bad("a content part must be an object with a 'type'", here)
        if kind in ("input_text", "output_text", "text"):
            parts.append(TextPart(text=_text_of(part, "text", here)))
        elif kind == "refusal" and assistant:
            parts.append(TextPart(text=_text_of(part, "refusal", here)))
        elif kind == "input_image" and not assistant:
            parts.append(_image(part, here))
        elif kind == "input_file" and not assistant:
            parts.append(_file(part, here))
        elif kind == "input_audio":
            raise _bad("audio input ('input_audio' parts) is not supported by this gateway", f"{here}.type")
        else:
            raise _bad(f"content part type '{kind}' is not allowed here", f"{here}.type")
    return tuple(parts)


class _Conversation:
    """Input items folded into alternating messages: consecutive assistant items (reasoning, text, calls) make
    one assistant message; tool outputs open the user turn that follows them."""

    def __init__(self) -> None:
        self.system: list[TextPart] = []
        self.messages: list[Message] = []

    def add(self, role: str, parts: tuple[Part, ...]) -> None:
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == role and (role == "assistant" or _ends_in_results(last)):
            self.messages[-1] = Message(role=last.role, parts=last.parts + parts)
        else:
            self.messages.append(Message(role="assistant" if role == "assistant" else "user", parts=parts))


def _ends_in_results(message: Message) -> bool:
    return bool(message.parts) and isinstance(message.parts[-1], ToolResultPart)


def _call_id(item: dict[str, Any], where: str) -> str:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise _bad("a tool call item needs a string 'call_id'", f"{where}.call_id")
    return call_id


def _output(raw: object, where: str) -> tuple[TextPart | ImagePart, ...]:
    if isinstance(raw, str):
        return (TextPart(text=raw),) if raw else ()
    parts = _content(raw, where, assistant=False) if isinstance(raw, list) else ()
    if any(isinstance(p, DocumentPart) for p in parts):
        raise _bad("files in a tool output are not supported; put them in a user message", where)
    return tuple(p for p in parts if not isinstance(p, DocumentPart))


def _item(item: object, where: str, out: _Conversation, table: ToolTable) -> None:
    if not isinstance(item, dict):
        raise _bad("each input item must be an object", where)
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            out.system.extend(
                p for p in _content(item.get("content"), where, assistant=False) if isinstance(p, TextPart)
            )
        elif role == "user":
            out.add("user", _content(item.get("content"), where, assistant=False))
        elif role == "assistant":
            texts = _content(item.get("content"), where, assistant=True)
            out.add("assistant", tuple(p for p in texts if isinstance(p, TextPart) and p.text))
        else:
            raise _bad(f"unknown role {role!r}; expected user, assistant, system or developer", f"{where}.role")
    elif kind in ("function_call", "custom_tool_call"):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise _bad("a tool call item needs a string 'name'", f"{where}.name")
        namespace = item.get("namespace")
        flat = flat_name(namespace if isinstance(namespace, str) else None, name)
        arguments = call_arguments(item, where)
        out.add("assistant", (ToolCallPart(id=_call_id(item, where), name=flat, arguments=arguments),))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        if not isinstance(output, str | list):
            raise _bad("'output' must be a string or an array of content parts", f"{where}.output")
        result = ToolResultPart(tool_call_id=_call_id(item, where), content=_output(output, f"{where}.output"))
        out.add("user", (result,))
    elif kind == "reasoning":
        part = thinking(item, where)
        if part is not None:
            out.add("assistant", (part,))
    elif kind == "additional_tools":
        table.add_all(item.get("tools"), f"{where}.tools")
    elif isinstance(kind, str) and kind in _INPUT_ITEMS_REFUSED:
        raise _bad(f"input items of type '{kind}' ({_INPUT_ITEMS_REFUSED[kind]}) are not supported", f"{where}.type")
    else:
        raise _bad(f"unknown input item type {kind!r}", f"{where}.type")


def _reasoning(raw: object) -> Effort | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("'reasoning' must be an object", "reasoning")
    effort = raw.get("effort")
    if effort is None:
        return None
    for known in EFFORTS:
        if effort == known:
            return known
    raise _bad(f"'reasoning.effort' must be one of {', '.join(EFFORTS)}; got {effort!r}", "reasoning.effort")


def _text_format(raw: object) -> ResponseFormat | None:
    """``text.format``; ``text.verbosity`` is advice kept for a Responses upstream."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("'text' must be an object", "text")
    fmt = raw.get("format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("text", "json_object"):
        return ResponseFormat(kind=kind)
    if kind != "json_schema" or not isinstance(fmt, dict):
        raise _bad("'text.format' must be {'type': 'text' | 'json_object' | 'json_schema', ...}", "text.format")
    name, schema, description, strict = fmt.get("name"), fmt.get("schema"), fmt.get("description"), fmt.get("strict")
    if not isinstance(name, str) or not name:
        raise _bad("a json_schema format needs a non-empty string 'name'", "text.format.name")
    if not isinstance(schema, dict):
        raise _bad("a json_schema format needs 'schema', a JSON schema object", "text.format.schema")
    if description is not None and not isinstance(description, str):
        raise _bad("'description' must be a string", "text.format.description")
    if strict is not None and not isinstance(strict, bool):
        raise _bad("'strict' must be a boolean", "text.format.strict")
    return ResponseFormat(kind="json_schema", name=name, schema=schema, strict=strict, description=description)


def parse_request(body: object) -> ChatRequest:
    """Validate a decoded Responses request body; anything wrong raises InvalidRequest naming the field."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' must be a non-empty string", "model")
    for key in body:
        if key in _REFUSED and body[key] not in (None, False, 0):
            raise _bad(_REFUSED[key], key)
        if key not in _MODELLED and key not in ADVISORY and key not in _REFUSED:
            raise _bad(f"unknown or unsupported parameter '{key}'", key)
    if body.get("background"):
        raise _bad("background responses are not supported by this gateway", "background")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise _bad("'previous_response_id' must be a non-empty string", "previous_response_id")
    include = body.get("include")
    if include is not None and not (isinstance(include, list) and all(isinstance(i, str) for i in include)):
        raise _bad("'include' must be an array of strings", "include")
    if include and "message.output_text.logprobs" in include:
        raise _bad("log probabilities are not supported by this gateway", "include")
    metadata = body.get("metadata")
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise _bad("'metadata' must be an object of string values", "metadata")

    conversation = _Conversation()
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise _bad("'instructions' must be a string", "instructions")
        conversation.system.append(TextPart(text=instructions))
    table = ToolTable()
    table.add_all(body.get("tools"), "tools")
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        conversation.add("user", (TextPart(text=raw_input),))
    elif isinstance(raw_input, list):
        for i, item in enumerate(raw_input):
            _item(item, f"input[{i}]", conversation, table)
    elif raw_input is not None or previous is None:
        raise _bad("'input' must be a string or an array of input items", "input")

    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _bad("'parallel_tool_calls' must be a boolean", "parallel_tool_calls")
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise _bad("'max_output_tokens' must be a positive integer", "max_output_tokens")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise _bad("'stream' must be a boolean", "stream")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("'user' must be a string", "user")
    extensions = {k: v for k, v in body.items() if k not in ("model", "input", "stream")}
    extensions[TOOLS_KEY] = table.entries
    return ChatRequest(
        model=model,
        messages=tuple(conversation.messages),
        system=tuple(conversation.system),
        tools=table.specs(),
        tool_choice=parse_tool_choice(body.get("tool_choice"), parallel, table),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        stream=bool(stream),
        stream_usage=True,
        reasoning_effort=_reasoning(body.get("reasoning")),
        response_format=_text_format(body.get("text")),
        user=user,
        extensions={"responses": extensions},
    )
