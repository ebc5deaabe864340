"""The OpenAI Chat Completions wire format: requests in both directions here, responses, errors and streams in
the private modules re-exported below.

Choices made once for this format:
- Content the internal types cannot hold (input_audio parts, custom tools, the legacy ``functions`` API, ``n``
  above 1) is rejected with a clear 400 rather than dropped. ``file`` parts (PDFs as base64 data URLs or file
  ids) become documents.
- Top-level fields tierwise does not model are kept unchanged in ``extensions["openai"]`` and forwarded only to
  an OpenAI-compatible upstream. One of them is a marker as well: ``max_completion_tokens`` (the client's name
  for the output limit, reused upstream).
- Anthropic fields reach an OpenAI-compatible upstream translated (thinking budgets become a reasoning_effort in
  ``providers.adapt``; output_config.format becomes response_format; documents become file parts) or refused
  with a 400 naming them (``top_k``, server tools, ``_foreign`` lists the rest).
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
    Thinking,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from tierwise.wire._openai_request import build_upstream_request
from tierwise.wire._openai_response import (
    parse_upstream_error,
    parse_upstream_response,
    render_error,
    render_response,
)
from tierwise.wire._openai_stream import StreamRenderer, UpstreamStreamParser

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

UPSTREAM_PATH = "/chat/completions"

# Top-level request fields translated into ChatRequest fields; every other field goes to extensions["openai"].
_MODELLED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "response_format",
        "seed",
        "user",
    }
)
_UNSUPPORTED_PARTS = {"input_audio": "audio input"}


def request_headers(request: ChatRequest) -> dict[str, str]:
    """Nothing per request: Chat Completions has no beta header (Anthropic's betas are not forwarded here)."""
    return {}


def upstream_headers(api_key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = "Bearer " + api_key
    return headers


# --- inbound: tierwise is the server ----------------------------------------------------------------------


def _bad(message: str, param: str | None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _optional_number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"'{key}' must be a number", key)
    if not low <= value <= high:
        raise _bad(f"'{key}' must be between {low:g} and {high:g}, got {value}", key)
    return float(value)


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{key}' must be an integer", key)
    if value < 1:
        raise _bad(f"'{key}' must be at least 1, got {value}", key)
    return value


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _bad(f"'{key}' must be a string", key)


def _optional_bool(mapping: dict[str, Any], key: str, param: str) -> bool | None:
    value = mapping.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _bad(f"'{param}' must be a boolean", param)


def _image(part: dict[str, Any], where: str) -> ImagePart:
    image = part.get("image_url")
    if isinstance(image, str):  # lenient: a bare URL string, as some clients send
        image = {"url": image}
    if not isinstance(image, dict) or not isinstance(image.get("url"), str):
        raise _bad("an image_url part needs 'image_url': {'url': string}", f"{where}.image_url")
    url: str = image["url"]
    detail = image.get("detail")
    if detail is not None and not isinstance(detail, str):
        raise _bad("'detail' must be a string", f"{where}.image_url.detail")
    if not url.startswith("data:"):
        return ImagePart(url=url, detail=detail)
    header, comma, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if not comma or encoding != "base64" or not media_type:
        raise _bad("an image data URL must look like data:<media type>;base64,<data>", f"{where}.image_url.url")
    return ImagePart(media_type=media_type, data=data, detail=detail)


def _file(part: dict[str, Any], where: str) -> DocumentPart:
    file = part.get("file")
    if not isinstance(file, dict):
        raise _bad("a file part needs 'file': {'file_data' or 'file_id', 'filename'}", f"{where}.file")
    for key in ("file_data", "file_id", "filename"):
        if file.get(key) is not None and not isinstance(file[key], str):
            raise _bad(f"'{key}' must be a string", f"{where}.file.{key}")
    data, file_id, filename = file.get("file_data"), file.get("file_id"), file.get("filename")
    if data is None:
        if file_id is None:
            raise _bad("a file part needs 'file_data' (a base64 data URL) or 'file_id'", f"{where}.file")
        return DocumentPart(file_id=file_id, filename=filename)
    media_type = "application/pdf"
    if data.startswith("data:"):
        header, comma, data = data[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not comma or encoding != "base64" or not media_type:
            raise _bad("'file_data' must look like data:<media type>;base64,<data>", f"{where}.file.file_data")
    return DocumentPart(media_type=media_type, data=data, filename=filename)


def _content(content: object, where: str, allowed: tuple[str, ...]) -> tuple[TextPart | ImagePart | DocumentPart, ...]:
    """A message's content: a string or an array of parts of the ``allowed`` types."""
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
        if kind not in allowed:
            what = _UNSUPPORTED_PARTS.get(kind)
            if what and "image_url" in allowed:
                raise _bad(f"{what} ('{kind}' parts) is not supported by this gateway", f"{here}.type")
            raise _bad(f"content part type '{kind}' is not allowed here; expected {' or '.join(allowed)}", here)
        if kind == "image_url":
            parts.append(_image(part, here))
            continue
        if kind == "file":
            parts.append(_file(part, here))
            continue
        text = part.get(kind)  # {"type": "text", "text": ...} or {"type": "refusal", "refusal": ...}
        if not isinstance(text, str):
            raise _bad(f"a {kind} part needs a string '{kind}'", f"{here}.{kind}")
        parts.append(TextPart(text=text))
    return tuple(parts)


def _texts(content: object, where: str) -> tuple[TextPart, ...]:
    return tuple(p for p in _content(content, where, ("text",)) if isinstance(p, TextPart))


def _tool_calls(raw: object, where: str) -> list[ToolCallPart]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("'tool_calls' must be an array", f"{where}.tool_calls")
    calls = []
    for j, call in enumerate(raw):
        here = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict):
            raise _bad("a tool call must be an object", here)
        if call.get("type", "function") != "function":
            raise _bad(f"tool calls of type '{call.get('type')}' are not supported", f"{here}.type")
        function = call.get("function")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise _bad("a tool call needs a string 'id'", f"{here}.id")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _bad("a tool call needs 'function': {'name': string, 'arguments': string}", f"{here}.function")
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            raise _bad("tool call 'arguments' must be a JSON string", f"{here}.function.arguments")
        calls.append(ToolCallPart(id=call_id, name=function["name"], arguments=arguments))
    return calls


def _add_user(messages: list[Message], parts: tuple[Part, ...]) -> None:
    # Tool results go in one user turn right after the assistant's calls (Anthropic requires it), followed by
    # whatever the client said in the same turn.
    last = messages[-1] if messages else None
    if last is not None and last.role == "user" and last.parts and isinstance(last.parts[-1], ToolResultPart):
        messages[-1] = Message(role="user", parts=last.parts + parts)
    else:
        messages.append(Message(role="user", parts=parts))


def _messages(raw: list[Any]) -> tuple[tuple[TextPart, ...], tuple[Message, ...]]:
    system: list[TextPart] = []
    messages: list[Message] = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad("each message must be an object", where)
        role = message.get("role")
        if role == "user":
            if "content" not in message or message["content"] is None:
                raise _bad("a user message needs 'content'", f"{where}.content")
            _add_user(messages, _content(message["content"], where, ("text", "image_url", "file")))
        elif role == "assistant":
            content = message.get("content")
            parts: list[Part] = []
            if content is not None:
                # Empty text beside tool calls (content: "") carries nothing, and Anthropic rejects empty blocks.
                texts = _content(content, where, ("text", "refusal"))
                parts.extend(p for p in texts if isinstance(p, TextPart) and p.text)
            parts.extend(_tool_calls(message.get("tool_calls"), where))
            if message.get("function_call") is not None:
                raise _bad("the legacy 'function_call' is not supported; use 'tool_calls'", f"{where}.function_call")
            messages.append(Message(role="assistant", parts=tuple(parts)))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _bad("a tool message needs a string 'tool_call_id'", f"{where}.tool_call_id")
            result = ToolResultPart(tool_call_id=call_id, content=_texts(message.get("content"), where))
            _add_user(messages, (result,))
        elif role in ("system", "developer"):
            system.extend(_texts(message.get("content"), where))
        elif role == "function":
            raise _bad("the legacy 'function' role is not supported; use 'tool' messages", f"{where}.role")
        else:
            raise _bad(f"unknown role {role!r}; expected system, developer, user, assistant or tool", f"{where}.role")
    return tuple(system), tuple(messages)


def _tools(raw: object) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _bad("'tools' must be an array", "tools")
    tools = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _bad("each tool must be an object", where)
        if tool.get("type") != "function":
            raise _bad(f"tools of type {tool.get('type')!r} are not supported; use 'function'", f"{where}.type")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise _bad("a function tool needs a 'function' object", f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise _bad("a function tool needs a non-empty string 'name'", f"{where}.function.name")
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad("'description' must be a string", f"{where}.function.description")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _bad("'parameters' must be a JSON schema object", f"{where}.function.parameters")
        strict = _optional_bool(function, "strict", f"{where}.function.strict")
        tools.append(ToolSpec(name=name, description=description, parameters=parameters or {}, strict=strict))
    return tuple(tools)


def _tool_choice(raw: object, parallel: bool | None) -> ToolChoice | None:
    if raw is None:
        # parallel_tool_calls alone means the default choice, "auto", with that parallelism.
        return None if parallel is None else ToolChoice(mode="auto", parallel=parallel)
    if raw in ("auto", "none", "required"):
        return ToolChoice(mode=raw, parallel=parallel)
    if isinstance(raw, dict) and raw.get("type") == "function":
        function = raw.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str) and function["name"]:
            return ToolChoice(mode="tool", name=function["name"], parallel=parallel)
    raise _bad(
        "'tool_choice' must be 'auto', 'none', 'required' or {'type': 'function', 'function': {'name': ...}}",
        "tool_choice",
    )


def _stop(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise _bad("'stop' must be a string or an array of strings", "stop")


def _effort(raw: object) -> Effort | None:
    if raw is None:
        return None
    for effort in EFFORTS:
        if raw == effort:
            return effort
    raise _bad(f"'reasoning_effort' must be one of {', '.join(EFFORTS)}; got {raw!r}", "reasoning_effort")


def _seed(raw: object) -> int | None:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int)):
        raise _bad("'seed' must be an integer", "seed")
    return raw


def _response_format(raw: object) -> ResponseFormat | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text" or kind == "json_object":
        return ResponseFormat(kind=kind)
    if kind != "json_schema" or not isinstance(raw, dict):
        raise _bad("'response_format' must be {'type': 'text' | 'json_object' | 'json_schema', ...}", "response_format")
    spec = raw.get("json_schema")
    if not isinstance(spec, dict):
        raise _bad(
            "a json_schema response_format needs 'json_schema': {'name', 'schema'}", "response_format.json_schema"
        )
    name, schema, description = spec.get("name"), spec.get("schema"), spec.get("description")
    if not isinstance(name, str) or not name:
        raise _bad("'name' must be a non-empty string", "response_format.json_schema.name")
    if schema is not None and not isinstance(schema, dict):
        raise _bad("'schema' must be a JSON schema object", "response_format.json_schema.schema")
    if description is not None and not isinstance(description, str):
        raise _bad("'description' must be a string", "response_format.json_schema.description")
    strict = _optional_bool(spec, "strict", "response_format.json_schema.strict")
    return ResponseFormat(kind="json_schema", name=name, schema=schema, strict=strict, description=description)


def parse_request(body: object) -> ChatRequest:
    """Validate a decoded Chat Completions request body; anything wrong raises InvalidRequest naming the field."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' must be a non-empty string", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise _bad("'messages' must be an array of messages", "messages")
    if not raw_messages:
        raise _bad("'messages' must contain at least one message", "messages")
    if body.get("functions") is not None or body.get("function_call") is not None:
        key = "functions" if body.get("functions") is not None else "function_call"
        raise _bad(f"the legacy '{key}' is not supported; use 'tools' and 'tool_choice'", key)
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("only n=1 is supported: the gateway returns a single choice", "n")

    extensions = {k: v for k, v in body.items() if k not in _MODELLED}
    system, messages = _messages(raw_messages)
    tools = _tools(body.get("tools"))
    parallel = _optional_bool(body, "parallel_tool_calls", "parallel_tool_calls")
    if parallel is not None and not tools and body.get("tool_choice") is None:
        extensions["parallel_tool_calls"], parallel = parallel, None  # meaningless without tools: relay as is
    max_tokens = _optional_int(body, "max_tokens")
    max_completion_tokens = _optional_int(body, "max_completion_tokens")
    if max_completion_tokens is not None:  # the newer name wins when a client sends both
        extensions["max_completion_tokens"] = max_completion_tokens
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise _bad("'stream_options' must be an object", "stream_options")
    include_usage = _optional_bool(stream_options or {}, "include_usage", "stream_options.include_usage")
    effort = _effort(body.get("reasoning_effort"))
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), parallel),
        max_tokens=max_completion_tokens if max_completion_tokens is not None else max_tokens,
        temperature=_optional_number(body, "temperature", 0.0, 2.0),
        top_p=_optional_number(body, "top_p", 0.0, 1.0),
        stop=_stop(body.get("stop")),
        stream=bool(_optional_bool(body, "stream", "stream")),
        stream_usage=bool(include_usage),
        reasoning_effort=effort,
        # A reasoning model always reasons: in Anthropic's terms, adaptive thinking at that effort.
        thinking=Thinking(mode="adaptive") if effort not in (None, "none", "minimal") else None,
        response_format=_response_format(body.get("response_format")),
        seed=_seed(body.get("seed")),
        user=_optional_str(body, "user"),
        extensions={"openai": extensions} if extensions else {},
    )
