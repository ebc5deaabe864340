"""Anthropic Messages streams, both directions; re-exported by ``wire.anthropic_messages``."""

from __future__ import annotations

from typing import Any

import orjson

from tierwise.errors import TierwiseError, UpstreamConnectionError
from tierwise.types import (
    BlockStop,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from tierwise.wire import sse
from tierwise.wire._anthropic_response import (
    error_from_event,
    malformed,
    render_error,
    stop_reason_from_anthropic,
    stop_reason_to_anthropic,
    usage_from_anthropic,
    usage_to_anthropic,
)

_MESSAGE_STOP = sse.encode_event(b'{"type":"message_stop"}', event="message_stop")


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return sse.encode_event(orjson.dumps(payload), event=event)


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return _frame("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def _block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return _frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


class StreamRenderer:
    """Internal stream events -> the SSE frames Anthropic sends. Internal block indexes are Anthropic's."""

    __slots__ = ()

    def __init__(self, *, include_usage: bool) -> None:
        del include_usage  # Anthropic streams always carry usage

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, TextDelta):
            return _block_delta(ev.index, {"type": "text_delta", "text": ev.text})
        if isinstance(ev, ToolCallDelta):
            return _block_delta(ev.index, {"type": "input_json_delta", "partial_json": ev.arguments})
        if isinstance(ev, ThinkingDelta):
            out = b""
            if ev.text:
                out = _block_delta(ev.index, {"type": "thinking_delta", "thinking": ev.text})
            if ev.signature is not None:
                out += _block_delta(ev.index, {"type": "signature_delta", "signature": ev.signature})
            return out
        if isinstance(ev, BlockStop):
            return _frame("content_block_stop", {"type": "content_block_stop", "index": ev.index})
        if isinstance(ev, TextStart):
            return _block_start(ev.index, {"type": "text", "text": ""})
        if isinstance(ev, ToolCallStart):
            return _block_start(ev.index, {"type": "tool_use", "id": ev.id, "name": ev.name, "input": {}})
        if isinstance(ev, ThinkingStart):
            return _block_start(ev.index, {"type": "thinking", "thinking": "", "signature": ""})
        if isinstance(ev, StreamStart):
            message: dict[str, Any] = {
                "id": ev.id,
                "type": "message",
                "role": "assistant",
                "model": ev.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage_to_anthropic(ev.usage),
            }
            return _frame("message_start", {"type": "message_start", "message": message})
        # StreamEnd
        delta = {"stop_reason": stop_reason_to_anthropic(ev.stop_reason), "stop_sequence": ev.stop_sequence}
        return (
            _frame("message_delta", {"type": "message_delta", "delta": delta, "usage": usage_to_anthropic(ev.usage)})
            + _MESSAGE_STOP
        )

    def error(self, err: TierwiseError) -> bytes:
        return sse.encode_event(render_error(err)[1], event="error")

    def done(self) -> bytes:
        return b""  # message_stop was sent for StreamEnd


class UpstreamStreamParser:
    """An Anthropic upstream's SSE events -> internal stream events, in the order types.py promises.

    Blocks with no internal form (redacted thinking, server tool use and results) are skipped, so the internal
    indexes are renumbered to stay contiguous.
    """

    __slots__ = ("_blocks", "_ended", "_next_index", "_start_usage", "_stop_reason", "_stop_sequence", "_usage")

    def __init__(self) -> None:
        self._blocks: dict[int, tuple[int, str]] = {}  # upstream index -> (internal index, block type)
        self._next_index = 0
        self._start_usage: dict[str, Any] | None = None  # None until message_start
        self._usage: dict[str, Any] = {}
        self._stop_reason: Any = None
        self._stop_sequence: Any = None
        self._ended = False

    def feed(self, event: sse.SseEvent) -> list[StreamEvent]:
        if event.event == "ping" or self._ended:
            return []
        if event.event == "error":
            raise error_from_event(event.data.encode())
        try:
            data = orjson.loads(event.data)
            kind = data["type"]
            if kind == "error":
                raise error_from_event(event.data.encode())
            if self._start_usage is None and kind != "message_start" and kind != "ping":
                raise malformed(f"stream event {kind!r} before message_start")
            return self._handle(kind, data)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise malformed(f"unreadable stream event {event.data[:200]!r}") from None

    def finish(self) -> list[StreamEvent]:
        if not self._ended:
            raise UpstreamConnectionError("upstream stream ended early")
        return []

    def _handle(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        if kind == "content_block_delta":
            block = self._blocks.get(data["index"])
            if block is None:
                return []
            index, block_type = block
            delta = data["delta"]
            delta_type = delta["type"]
            if delta_type == "text_delta" and block_type == "text":
                return [TextDelta(index=index, text=delta["text"])]
            if delta_type == "input_json_delta" and block_type == "tool_use":
                return [ToolCallDelta(index=index, arguments=delta["partial_json"])]
            if delta_type == "thinking_delta" and block_type == "thinking":
                return [ThinkingDelta(index=index, text=delta["thinking"])]
            if delta_type == "signature_delta" and block_type == "thinking":
                return [ThinkingDelta(index=index, signature=delta["signature"])]
            return []  # citations_delta and the like
        if kind == "content_block_start":
            return self._block_start(data["index"], data["content_block"])
        if kind == "content_block_stop":
            block = self._blocks.get(data["index"])
            return [] if block is None else [BlockStop(index=block[0])]
        if kind == "message_start":
            message = data["message"]
            self._start_usage = message.get("usage") or {}
            return [
                StreamStart(id=message["id"], model=message["model"], usage=usage_from_anthropic(self._start_usage))
            ]
        if kind == "message_delta":
            delta = data.get("delta") or {}
            self._stop_reason = delta.get("stop_reason")
            self._stop_sequence = delta.get("stop_sequence")
            # Counts are cumulative; a null means "not reported here", never zero.
            self._usage.update((k, v) for k, v in (data.get("usage") or {}).items() if v is not None)
            return []
        if kind == "message_stop":
            self._ended = True
            stop_sequence = self._stop_sequence if isinstance(self._stop_sequence, str) else None
            return [
                StreamEnd(
                    stop_reason=stop_reason_from_anthropic(self._stop_reason),
                    stop_sequence=stop_sequence,
                    usage=self._final_usage(),
                )
            ]
        return []  # ping, and event types added after this was written

    def _block_start(self, upstream_index: int, block: dict[str, Any]) -> list[StreamEvent]:
        block_type = block["type"]
        index = self._next_index
        events: list[StreamEvent]
        if block_type == "text":
            events = [TextStart(index=index)]
            if block.get("text"):
                events.append(TextDelta(index=index, text=block["text"]))
        elif block_type == "tool_use":
            events = [ToolCallStart(index=index, id=block["id"], name=block["name"])]
            if block.get("input"):  # servers that send the whole input here rather than as deltas
                events.append(ToolCallDelta(index=index, arguments=orjson.dumps(block["input"]).decode()))
        elif block_type == "thinking":
            events = [ThinkingStart(index=index)]
            if block.get("thinking") or block.get("signature"):
                events.append(
                    ThinkingDelta(
                        index=index, text=block.get("thinking") or "", signature=block.get("signature") or None
                    )
                )
        else:
            return []
        self._blocks[upstream_index] = (index, block_type)
        self._next_index += 1
        return events

    def _final_usage(self) -> Usage:
        merged = dict(self._start_usage or {})
        merged.update(self._usage)
        return usage_from_anthropic(merged)
