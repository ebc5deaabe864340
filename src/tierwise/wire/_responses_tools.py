"""Responses tools and reasoning items in terms of the internal types, and back.

Internal tools are flat function tools, so a namespaced tool is named ``namespace__name`` (the spelling Codex
itself uses for nested tools) and a freeform ``custom`` tool takes one string argument, ``input``. The table of
what each flat name was (kept in the request's extensions under ``TOOLS_KEY``) turns calls back into the
client's own shape: ``function_call`` or ``custom_tool_call``, with their ``namespace``.

Anthropic's signed thinking travels through a Responses client as a reasoning item whose ``encrypted_content``
is a token of ours holding the thinking text and its signature, so that the next turn can hand Anthropic its own
block back. Reasoning encrypted by anyone else cannot be read by another provider and is left out.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from tierwise.errors import InvalidRequest
from tierwise.types import ThinkingPart, ToolChoice, ToolSpec

TOOLS_KEY = "__tools__"  # extensions["responses"][TOOLS_KEY]: flat name -> {"kind", "namespace", "name", "raw"}
SEPARATOR = "__"
_THINKING_TOKEN = "tierwise.anthropic."
_OPENAI_TOKEN = "tierwise.openai."  # an OpenAI reasoning item's id and ciphertext, under an item id of ours
_BUILT_IN = {
    "web_search": "web_search",
    "web_search_preview": "web_search",
    "web_search_2025_08_26": "web_search",
    "web_search_preview_2025_03_11": "web_search",
    "file_search": "file_search",
    "computer": "computer_use",
    "computer_use": "computer_use",
    "computer_use_preview": "computer_use",
    "code_interpreter": "code_interpreter",
    "image_generation": "image_generation",
    "mcp": "mcp",
    "local_shell": "local_shell",
    "shell": "shell",
    "apply_patch": "apply_patch",
    "tool_search": "tool_search",
}


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def flat_name(namespace: str | None, name: str) -> str:
    return f"{namespace}{SEPARATOR}{name}" if namespace else name


def _custom_parameters() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's input, as free text."}},
        "required": ["input"],
        "additionalProperties": False,
    }


def _custom_description(tool: dict[str, Any]) -> str | None:
    description = tool.get("description")
    text = description if isinstance(description, str) else ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        # A grammar cannot be enforced by other providers: the model is told it instead.
        syntax = fmt.get("syntax") if isinstance(fmt.get("syntax"), str) else "grammar"
        text += f"\n\nThe input must match this {syntax} grammar:\n{fmt['definition']}"
    return text or None


class ToolTable:
    """The tools of one request, in order, by flat name."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self._specs: list[ToolSpec] = []

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(self._specs)

    def add_all(self, raw: object, where: str) -> None:
        if raw is None:
            return
        if not isinstance(raw, list):
            raise _bad("'tools' must be an array", where)
        for i, tool in enumerate(raw):
            self._add(tool, f"{where}[{i}]", None, None)

    def _add(self, tool: object, where: str, namespace: str | None, about: object) -> None:
        if not isinstance(tool, dict):
            raise _bad("each tool must be an object", where)
        kind = tool.get("type")
        if kind == "namespace" and namespace is None:
            name = tool.get("name")
            tools = tool.get("tools")
            if not isinstance(name, str) or not name or not isinstance(tools, list):
                raise _bad("a namespace tool needs a string 'name' and an array 'tools'", where)
            for j, inner in enumerate(tools):
                self._add(inner, f"{where}.tools[{j}]", name, tool.get("description"))
            return
        if kind not in ("function", "custom"):
            built_in = _BUILT_IN.get(str(kind))
            if built_in is not None:
                raise _bad(
                    f"the built-in tool '{built_in}' cannot be run by this gateway; remove it from the request "
                    '(Codex: web_search = "disabled")',
                    f"{where}.type",
                )
            raise _bad(f"tools of type {kind!r} are not supported; use 'function' or 'custom'", f"{where}.type")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _bad("a tool needs a non-empty string 'name'", f"{where}.name")
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad("'description' must be a string", f"{where}.description")
        if kind == "function":
            parameters = tool.get("parameters")
            if parameters is not None and not isinstance(parameters, dict):
                raise _bad("'parameters' must be a JSON schema object", f"{where}.parameters")
            strict = tool.get("strict")
            if strict is not None and not isinstance(strict, bool):
                raise _bad("'strict' must be a boolean", f"{where}.strict")
            spec = ToolSpec(
                name=flat_name(namespace, name), description=description, parameters=parameters or {}, strict=strict
            )
        else:
            spec = ToolSpec(
                name=flat_name(namespace, name),
                description=_custom_description(tool),
                parameters=_custom_parameters(),
            )
        if spec.name in self.entries:
            raise _bad(f"tool name '{spec.name}' is given twice", f"{where}.name")
        self.entries[spec.name] = {"kind": kind, "namespace": namespace, "name": name, "raw": tool}
        if namespace is not None:
            self.entries[spec.name]["namespace_description"] = about if isinstance(about, str) else ""
        self._specs.append(spec)


def parse_tool_choice(raw: object, parallel: bool | None, table: ToolTable) -> ToolChoice | None:
    if raw is None:
        return None if parallel is None else ToolChoice(mode="auto", parallel=parallel)
    if raw in ("auto", "none", "required"):
        return ToolChoice(mode=raw, parallel=parallel)
    if isinstance(raw, dict):
        kind = raw.get("type")
        name = raw.get("name")
        if kind in ("function", "custom") and isinstance(name, str) and name:
            if name not in table.entries:
                # A namespaced tool may be named without its namespace when the name is unique.
                matches = [flat for flat, entry in table.entries.items() if entry["name"] == name]
                if len(matches) != 1:
                    raise _bad(f"tool_choice names '{name}', which is not among the tools", "tool_choice")
                name = matches[0]
            return ToolChoice(mode="tool", name=name, parallel=parallel)
        if isinstance(kind, str) and kind in _BUILT_IN:
            raise _bad(
                f"tool_choice names the built-in tool '{_BUILT_IN[kind]}', which this gateway cannot run", "tool_choice"
            )
        if kind == "allowed_tools":
            raise _bad("tool_choice 'allowed_tools' is not supported; send only the allowed tools", "tool_choice")
    raise _bad("'tool_choice' must be 'auto', 'none', 'required' or {'type': 'function', 'name': ...}", "tool_choice")


def call_arguments(item: dict[str, Any], where: str) -> str:
    """The JSON arguments of a function_call or custom_tool_call input item."""
    if item.get("type") == "custom_tool_call":
        value = item.get("input")
        if not isinstance(value, str):
            raise _bad("a custom_tool_call needs a string 'input'", f"{where}.input")
        return orjson.dumps({"input": value}).decode()
    arguments = item.get("arguments", "")
    if not isinstance(arguments, str):
        raise _bad("function_call 'arguments' must be a JSON string", f"{where}.arguments")
    return arguments


def call_item(flat: str, call_id: str, arguments: str, tools: dict[str, Any] | None, item_id: str) -> dict[str, Any]:
    """The output item for a call of the flat tool ``flat``, in the shape the client declared the tool in."""
    entry = (tools or {}).get(flat)
    if entry is None:
        return {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": flat,
            "arguments": arguments,
        }
    item: dict[str, Any]
    if entry["kind"] == "custom":
        item = {"id": item_id, "type": "custom_tool_call", "call_id": call_id}
        item["name"], item["input"] = entry["name"], custom_input(arguments)
    else:
        item = {"id": item_id, "type": "function_call", "status": "completed", "call_id": call_id}
        item["name"], item["arguments"] = entry["name"], arguments
    if entry["namespace"]:
        item["namespace"] = entry["namespace"]
    return item


def is_custom(flat: str, tools: dict[str, Any] | None) -> bool:
    entry = (tools or {}).get(flat)
    return entry is not None and entry["kind"] == "custom"


def custom_input(arguments: str) -> str:
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return arguments


# --- reasoning items ----------------------------------------------------------------------------------------


def thinking_token(part: ThinkingPart) -> str | None:
    """Our encrypted_content for reasoning: Anthropic's signed thinking block, or OpenAI's reasoning item (whose
    own id cannot be the item's id: streams announce the item before its id is known). None when there is
    nothing to replay."""
    if part.encrypted is not None:
        return _OPENAI_TOKEN + base64.urlsafe_b64encode(part.encrypted.encode()).decode()
    if part.redacted is not None:
        payload: dict[str, str] = {"r": part.redacted}
    elif part.signature:
        payload = {"s": part.signature, "t": part.text}
    else:
        return None
    return _THINKING_TOKEN + base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


def openai_reasoning(item_id: object, encrypted: object) -> str | None:
    """The ``ThinkingPart.encrypted`` of an OpenAI reasoning item: its id and ciphertext, kept together."""
    if isinstance(item_id, str) and item_id and isinstance(encrypted, str) and encrypted:
        return f"{item_id}:{encrypted}"
    return None


def openai_reasoning_item(part: ThinkingPart) -> dict[str, Any] | None:
    """The reasoning item an OpenAI Responses upstream gave, to hand back to it (None when it gave none)."""
    if part.encrypted is None:
        return None
    item_id, _, encrypted = part.encrypted.partition(":")
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": encrypted}


def thinking(item: dict[str, Any], where: str) -> ThinkingPart | None:
    """The thinking a reasoning input item carries: Anthropic's, in our token, or OpenAI's ciphertext (replayable
    to a Responses upstream only); None when there is nothing to replay."""
    encrypted = item.get("encrypted_content")
    if isinstance(encrypted, str) and encrypted.startswith(_OPENAI_TOKEN):
        try:
            carried = base64.urlsafe_b64decode(encrypted[len(_OPENAI_TOKEN) :]).decode()
        except (binascii.Error, ValueError):
            raise _bad("a reasoning item's encrypted_content is damaged", f"{where}.encrypted_content") from None
        return ThinkingPart(text=summary_text(item), encrypted=carried)
    if not isinstance(encrypted, str) or not encrypted.startswith(_THINKING_TOKEN):
        # Reasoning straight from OpenAI (a client that talked to it before): its own id and ciphertext.
        raw = openai_reasoning(item.get("id"), encrypted)
        return ThinkingPart(text=summary_text(item), encrypted=raw) if raw else None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(encrypted[len(_THINKING_TOKEN) :]))
    except (binascii.Error, ValueError):
        raise _bad("a reasoning item's encrypted_content is damaged", f"{where}.encrypted_content") from None
    if isinstance(payload, dict) and isinstance(payload.get("r"), str):
        return ThinkingPart(redacted=payload["r"])
    if isinstance(payload, dict) and isinstance(payload.get("s"), str) and isinstance(payload.get("t"), str):
        return ThinkingPart(text=payload["t"], signature=payload["s"])
    raise _bad("a reasoning item's encrypted_content is damaged", f"{where}.encrypted_content")


def summary_text(item: dict[str, Any]) -> str:
    summary = item.get("summary")
    if not isinstance(summary, list):
        return ""
    return "\n\n".join(s["text"] for s in summary if isinstance(s, dict) and isinstance(s.get("text"), str))
