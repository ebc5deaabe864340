"""What a fake model answers: derived only from the request, so tests can predict it exactly."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Reply:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()


def count_tokens(chars: int) -> int:
    """Token counts are characters / 4, rounded up."""
    return (chars + 3) // 4


def plan_reply(
    *,
    model: str,
    user_text: str,
    tool_results: Sequence[str],
    tools: Sequence[ToolSpec],
    tool_choice: str | None,
    parallel_allowed: bool = True,
    output_schema: Mapping[str, Any] | None = None,
) -> Reply:
    """The answer to a request.

    ``tool_choice`` is ``"auto"``/``None``, ``"none"``, ``"required"`` (any tool) or a tool name. With an
    ``output_schema`` (structured output) the text answer is JSON that satisfies it.
    """
    if tool_results:
        return Reply(text=f"[{model}] tool result: " + " | ".join(tool_results))
    chosen = _choose_tools(user_text, tools, tool_choice, parallel_allowed)
    if chosen:
        calls = tuple(ToolCall(name=t.name, arguments=example_arguments(t.schema)) for t in chosen)
        return Reply(text="", tool_calls=calls)
    if output_schema is not None:
        return Reply(text=json.dumps(example_value(output_schema), separators=(",", ":")))
    return Reply(text=f"[{model}] echo: {user_text}")


def _choose_tools(
    text: str, tools: Sequence[ToolSpec], tool_choice: str | None, parallel_allowed: bool
) -> list[ToolSpec]:
    if not tools or tool_choice == "none":
        return []
    lowered = text.lower()
    by_name = {t.name: t for t in tools}
    if tool_choice is not None and tool_choice in by_name:
        first = by_name[tool_choice]
    else:
        named = [t for t in tools if f"call {t.name.lower()}" in lowered]
        if named:
            first = named[0]
        elif tool_choice == "required" or "use a tool" in lowered:
            first = tools[0]
        else:
            return []
    if not (parallel_allowed and "parallel" in lowered):
        return [first]
    others = [t for t in tools if t.name != first.name]
    return [first, others[0] if others else first]


def example_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments that satisfy a JSON schema: strings "x", integers 1, numbers 1.5, booleans true."""
    value = example_value(schema)
    return value if isinstance(value, dict) else {}


def example_value(schema: Mapping[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_value(schema[key][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: example_value(sub) for name, sub in properties.items()}
    if kind == "array":
        return [example_value(schema.get("items") or {})]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "x")


def truncate(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """``text`` cut to ``max_tokens`` tokens, and whether it was cut."""
    if max_tokens is None or count_tokens(len(text)) <= max_tokens:
        return text, False
    return text[: max_tokens * 4], True


def split_text(text: str, size: int) -> Iterator[str]:
    """``text`` in pieces of ``size`` characters (at least one piece, for a stream to carry)."""
    if not text:
        return
    for start in range(0, len(text), max(1, size)):
        yield text[start : start + size]


class IdMaker:
    """Deterministic, realistic-looking ids: ``msg_01…``, ``toolu_01…``, ``call_…``, ``chatcmpl-…``."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def make(self, prefix: str, length: int = 24) -> str:
        n = next(self._counter)
        digits = []
        while n:
            n, rest = divmod(n, len(_ALPHABET))
            digits.append(_ALPHABET[rest])
        return prefix + "".join(reversed(digits)).rjust(length, "0")

    def reset(self) -> None:
        self._counter = itertools.count(1)
