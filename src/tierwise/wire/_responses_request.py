"""OpenAI Responses requests that tierwise sends upstream; re-exported by ``wire.responses``.

A client that spoke Responses gets its own tool declarations (namespaces, custom tools) and advisory fields back
upstream as it sent them. A client that spoke another API gets its request translated; Chat Completions fields
with a Responses equivalent are renamed, those without one are refused.
"""

from __future__ import annotations

from typing import Any

import orjson

from tierwise.errors import InvalidRequest
from tierwise.types import (
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from tierwise.wire._foreign import check_foreign
from tierwise.wire._responses_tools import TOOLS_KEY, custom_input, openai_reasoning_item

# Advisory Responses fields a client's request carries upstream unchanged.
_FORWARDED = (
    "metadata",
    "include",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "service_tier",
    "truncation",
    "client_metadata",
)
# Chat Completions fields with the same meaning under the same name in the Responses API.
_CHAT_SAME = ("metadata", "prompt_cache_key", "prompt_cache_retention", "safety_identifier", "service_tier")
# Chat Completions fields that tierwise translates elsewhere or that carry no meaning upstream.
_CHAT_HANDLED = frozenset(
    {"tools", "parallel_tool_calls", "store", "response_format", "verbosity", "n", "max_completion_tokens"}
)


def _image(part: ImagePart) -> dict[str, Any]:
    url = part.url if part.url else f"data:{part.media_type};base64,{part.data}"
    return {"type": "input_image", "image_url": url, "detail": part.detail or "auto"}


def _file(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:  # a plain-text document: its text is what the model reads
        return {"type": "input_text", "text": part.text}
    file: dict[str, Any] = {"type": "input_file"}
    if part.url is not None:
        file["file_url"] = part.url
    elif part.data is not None:
        file["file_data"] = f"data:{part.media_type or 'application/pdf'};base64,{part.data}"
    else:
        file["file_id"] = part.file_id
    filename = part.filename if part.filename is not None else part.title
    if filename is not None:
        file["filename"] = filename
    return file


def _text_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.kind != "json_schema":
        return {"type": fmt.kind}
    rendered: dict[str, Any] = {"type": "json_schema", "name": fmt.name or "response", "schema": fmt.schema or {}}
    if fmt.description is not None:
        rendered["description"] = fmt.description
    if fmt.strict is not None:
        rendered["strict"] = fmt.strict
    return rendered


def _result_output(part: ToolResultPart) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in part.content):
        return "".join(p.text for p in part.content if isinstance(p, TextPart))
    return [{"type": "input_text", "text": p.text} if isinstance(p, TextPart) else _image(p) for p in part.content]


class _Input:
    def __init__(self, tools: dict[str, Any] | None) -> None:
        self.items: list[dict[str, Any]] = []
        self._tools = tools or {}
        self._custom_calls: set[str] = set()

    def user(self, message: Message) -> None:
        content: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                kind = "custom_tool_call_output" if part.tool_call_id in self._custom_calls else "function_call_output"
                self.items.append({"type": kind, "call_id": part.tool_call_id, "output": _result_output(part)})
            elif isinstance(part, TextPart):
                content.append({"type": "input_text", "text": part.text})
            elif isinstance(part, ImagePart):
                content.append(_image(part))
            elif isinstance(part, DocumentPart):
                content.append(_file(part))
        if content:
            self.items.append({"type": "message", "role": "user", "content": content})

    def assistant(self, message: Message) -> None:
        for part in message.parts:
            if isinstance(part, TextPart) and part.text:
                self.items.append({"type": "message", "role": "assistant", "content": part.text})
            elif isinstance(part, ToolCallPart):
                self.items.append(self._call(part))
            elif isinstance(part, ThinkingPart) and (item := openai_reasoning_item(part)) is not None:
                self.items.append(item)  # OpenAI reads only reasoning it encrypted itself; others' is left out

    def _call(self, part: ToolCallPart) -> dict[str, Any]:
        entry = self._tools.get(part.name)
        item: dict[str, Any]
        if entry is not None and entry["kind"] == "custom":
            self._custom_calls.add(part.id)
            item = {"type": "custom_tool_call", "call_id": part.id, "name": entry["name"]}
            item["input"] = custom_input(part.arguments)
        else:
            name = entry["name"] if entry is not None else part.name
            item = {"type": "function_call", "call_id": part.id, "name": name, "arguments": part.arguments}
        if entry is not None and entry["namespace"]:
            item["namespace"] = entry["namespace"]
        return item


def _tools(request: ChatRequest, table: dict[str, Any] | None) -> list[dict[str, Any]]:
    if table is None:
        # Responses function tools are strict unless told otherwise; other APIs' tools never were.
        return [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters or {"type": "object", "properties": {}},
                "strict": bool(t.strict),
            }
            for t in request.tools
        ]
    tools: list[dict[str, Any]] = []
    namespaces: dict[str, dict[str, Any]] = {}
    for entry in table.values():
        namespace = entry["namespace"]
        if namespace is None:
            tools.append(entry["raw"])
            continue
        group = namespaces.get(namespace)
        if group is None:
            group = namespaces[namespace] = {
                "type": "namespace",
                "name": namespace,
                "description": entry.get("namespace_description") or "",
                "tools": [],
            }
            tools.append(group)
        group["tools"].append(entry["raw"])
    return tools


def _tool_choice(choice: ToolChoice, table: dict[str, Any] | None) -> str | dict[str, Any]:
    if choice.mode != "tool":
        return choice.mode
    entry = (table or {}).get(choice.name or "")
    if entry is None:
        return {"type": "function", "name": choice.name}
    return {"type": entry["kind"], "name": entry["name"]}


def _from_chat(chat: dict[str, Any], body: dict[str, Any], target_model: str) -> None:
    """A Chat Completions client's own fields, renamed where the Responses API has them; the rest are ignored
    when they do not change the answer, else refused (``_foreign``)."""
    rest: dict[str, Any] = {}
    for key, value in chat.items():
        if key in _CHAT_SAME:
            body[key] = value
        elif key == "verbosity" and value is not None:
            body.setdefault("text", {})["verbosity"] = value
        elif key not in _CHAT_HANDLED:
            rest[key] = value
    check_foreign(rest, source="openai", target_model=target_model)


def build_upstream_request(
    request: ChatRequest,
    *,
    upstream_model: str,
    default_max_tokens: int | None = None,
    max_tokens_field: str | None = None,
) -> bytes:
    """The JSON body for a Responses upstream. ``default_max_tokens`` and ``max_tokens_field`` do not apply:
    the Responses API has one name for the output limit and does not require it."""
    sent: dict[str, Any] = request.extensions.get("responses") or {}
    table: dict[str, Any] | None = sent.get(TOOLS_KEY)
    conversation = _Input(table)
    for message in request.messages:
        if message.role == "user":
            conversation.user(message)
        elif message.role == "system":  # an instruction given mid-conversation stays in its place
            texts = [p.text for p in message.parts if isinstance(p, TextPart)]
            conversation.items.append({"type": "message", "role": "developer", "content": "\n\n".join(texts)})
        else:
            conversation.assistant(message)
    body: dict[str, Any] = {"model": upstream_model, "input": conversation.items}
    if request.system:
        body["instructions"] = "\n\n".join(p.text for p in request.system)
    if request.tools:
        body["tools"] = _tools(request, table)
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice, table)
            if request.tool_choice.parallel is not None:
                body["parallel_tool_calls"] = request.tool_choice.parallel
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    reasoning = dict(sent.get("reasoning") or {})
    if request.reasoning_effort is not None:
        reasoning["effort"] = request.reasoning_effort
    if reasoning:
        body["reasoning"] = reasoning
    text = dict(sent.get("text") or {})
    text.pop("format", None)
    if request.response_format is not None:
        text["format"] = _text_format(request.response_format)
    if text:
        body["text"] = text
    for value, name in ((request.seed, "seed"), (request.top_k, "top_k"), (request.stop or None, "stop")):
        if value is not None:
            raise InvalidRequest(
                f"'{name}' cannot be honoured by {upstream_model} (the Responses API has no {name}); remove it",
                param=name,
            )
    if request.user is not None:
        body["user"] = request.user
    for key in _FORWARDED:
        if sent.get(key) is not None:
            body[key] = sent[key]
    if request.stream:
        body["stream"] = True
        if sent.get("stream_options") is not None:
            body["stream_options"] = sent["stream_options"]
    _from_chat(request.extensions.get("openai") or {}, body, upstream_model)
    # Anthropic fields reach a Responses model by the same rules as a Chat Completions one (docs/TRANSLATION.md).
    check_foreign(request.extensions.get("anthropic") or {}, source="anthropic", target_model=upstream_model)
    body["store"] = False  # the gateway keeps what previous_response_id needs; the upstream keeps nothing
    return orjson.dumps(body)
