"""OpenAI Chat Completions requests that tierwise sends upstream; re-exported by ``wire.openai_chat``."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from tierwise.errors import InvalidRequest
from tierwise.types import (
    ChatRequest,
    DocumentPart,
    ImagePart,
    Part,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from tierwise.wire._foreign import check_foreign

# Extension keys build_upstream_request never copies as they are: the ChatRequest's own values win.
_NOT_COPIED = frozenset({"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"})


def _image_part(part: ImagePart) -> dict[str, Any]:
    image: dict[str, Any] = {"url": part.url if part.url else f"data:{part.media_type};base64,{part.data}"}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _file_part(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:  # a plain-text document: its text is what the model reads
        return {"type": "text", "text": part.text}
    if part.url is not None:
        raise InvalidRequest(
            "a document given by URL cannot be sent to this model (Chat Completions takes files inline)"
        )
    file: dict[str, Any] = {}
    if part.data is not None:
        file["file_data"] = f"data:{part.media_type or 'application/pdf'};base64,{part.data}"
    else:
        file["file_id"] = part.file_id
    filename = part.filename if part.filename is not None else part.title
    if filename is not None:
        file["filename"] = filename
    return {"type": "file", "file": file}


def _text_content(texts: list[str]) -> str | list[dict[str, str]]:
    # A plain string where one text will do: the widest-supported shape (Ollama, older vLLM).
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": t} for t in texts] if texts else ""


def _user_messages(parts: tuple[Part, ...], out: list[dict[str, Any]]) -> None:
    content: list[dict[str, Any]] = []
    result_images: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ToolResultPart):
            texts = [p.text for p in part.content if isinstance(p, TextPart)]
            # An OpenAI tool message holds text only; its images follow in the user message of the same turn.
            result_images.extend(_image_part(p) for p in part.content if isinstance(p, ImagePart))
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": _text_content(texts)})
        elif isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append(_image_part(part))
        elif isinstance(part, DocumentPart):
            content.append(_file_part(part))
    content = result_images + content
    if not content:
        if not out or out[-1]["role"] != "tool":
            out.append({"role": "user", "content": ""})
        return
    if len(content) == 1 and content[0]["type"] == "text":
        out.append({"role": "user", "content": content[0]["text"]})
    else:
        out.append({"role": "user", "content": content})


def _assistant_message(parts: tuple[Part, ...]) -> dict[str, Any]:
    texts = [p.text for p in parts if isinstance(p, TextPart)]
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in parts
        if isinstance(p, ToolCallPart)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": _text_content(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_choice_value(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def build_upstream_request(
    request: ChatRequest,
    *,
    upstream_model: str,
    default_max_tokens: int | None = None,
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None,
) -> bytes:
    """The JSON body for an OpenAI-compatible upstream, with only what the client sent.

    ``default_max_tokens`` is ignored: OpenAI-compatible servers do not require a limit. ``max_tokens_field``
    names the output limit for upstreams that need one name (OpenAI's reasoning models reject ``max_tokens``,
    Ollama knows only ``max_tokens``); by default it is the name the client used, else ``max_tokens``.
    """
    extensions = request.extensions.get("openai") or {}
    check_foreign(request.extensions.get("anthropic") or {}, source="anthropic", target_model=upstream_model)
    if request.top_k is not None:
        raise InvalidRequest(
            f"'top_k' cannot be honoured by {upstream_model} (Chat Completions has no top_k); remove it", param="top_k"
        )
    messages: list[dict[str, Any]] = [{"role": "system", "content": p.text} for p in request.system]
    for message in request.messages:
        if message.role == "user":
            _user_messages(message.parts, messages)
        elif message.role == "system":  # an instruction given mid-conversation stays in its place
            texts = [p.text for p in message.parts if isinstance(p, TextPart)]
            messages.append({"role": "system", "content": _text_content(texts)})
        else:
            messages.append(_assistant_message(message.parts))
    body: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if request.max_tokens is not None:
        field = max_tokens_field or ("max_completion_tokens" if "max_completion_tokens" in extensions else "max_tokens")
        body[field] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.reasoning_effort is not None:
        # Anthropic's "max" is above OpenAI's top value: its nearest neighbour is "xhigh".
        body["reasoning_effort"] = "xhigh" if request.reasoning_effort == "max" else request.reasoning_effort
    if request.response_format is not None:
        body["response_format"] = _response_format_value(request.response_format)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.user is not None:
        body["user"] = request.user
    if request.tools:
        body["tools"] = [{"type": "function", "function": _function(tool)} for tool in request.tools]
        # OpenAI rejects tool_choice and parallel_tool_calls without tools.
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice_value(request.tool_choice)
            if request.tool_choice.parallel is not None:
                body["parallel_tool_calls"] = request.tool_choice.parallel
    if request.stream:
        # Always ask for usage: the ledger needs it; the renderer hides it from a client that did not ask.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for key, value in extensions.items():
        if key not in _NOT_COPIED:
            body[key] = value
    return orjson.dumps(body)


def _function(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return function


def _response_format_value(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.kind != "json_schema":
        return {"type": fmt.kind}
    spec: dict[str, Any] = {"name": fmt.name or "response"}
    if fmt.description is not None:
        spec["description"] = fmt.description
    if fmt.schema is not None:
        spec["schema"] = fmt.schema
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}
