"""OpenAI Chat Completions streams: rendering ours as ``chat.completion.chunk`` frames, parsing an upstream's."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

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
from tierwise.wire._openai_response import (
    FINISH_REASONS,
    error_from_payload,
    error_object,
    new_tool_call_id,
    parse_usage,
    stop_reason,
    tool_arguments,
    usage_object,
)
from tierwise.wire.sse import SseEvent, encode_event

_DONE = b"data: [DONE]\n\n"


class StreamRenderer:
    """Internal stream events -> the frames OpenAI itself sends, byte for byte in shape.

    Every chunk repeats the same id, created and model, so their JSON prefix is built once at StreamStart and
    only the delta is serialised per event.
    """

    __slots__ = ("_head", "_include_usage", "_tail", "_tools")

    def __init__(self, *, include_usage: bool) -> None:
        self._include_usage = include_usage
        # OpenAI puts "usage": null on every chunk but the last when the client asked for usage.
        self._tail = b',"usage":null}' if include_usage else b"}"
        self._tools: dict[int, int] = {}  # block index -> OpenAI tool_calls[].index
        self._head = b""
        self._start("chatcmpl-" + uuid.uuid4().hex, "")  # replaced at StreamStart

    def _start(self, response_id: str, model: str) -> None:
        self._head = b"".join(
            (
                b'{"id":',
                orjson.dumps(response_id),
                b',"object":"chat.completion.chunk","created":',
                str(int(time.time())).encode(),
                b',"model":',
                orjson.dumps(model),
                b',"choices":',
            )
        )

    def _chunk(self, delta: Any, finish_reason: bytes = b"null") -> bytes:
        return encode_event(
            self._head
            + b'[{"index":0,"delta":'
            + orjson.dumps(delta)
            + b',"logprobs":null,"finish_reason":'
            + finish_reason
            + b"}]"
            + self._tail
        )

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, TextDelta):
            return self._chunk({"content": ev.text}) if ev.text else b""
        if isinstance(ev, ToolCallDelta):
            if not ev.arguments:
                return b""
            call = {"index": self._tools[ev.index], "function": {"arguments": ev.arguments}}
            return self._chunk({"tool_calls": [call]})
        if isinstance(ev, ToolCallStart):
            number = self._tools[ev.index] = len(self._tools)
            call = {
                "index": number,
                "id": ev.id,
                "type": "function",
                "function": {"name": ev.name, "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]})
        if isinstance(ev, StreamStart):
            self._start(ev.id, ev.model)
            return self._chunk({"role": "assistant", "content": "", "refusal": None})
        if isinstance(ev, StreamEnd):
            finish = b'"' + FINISH_REASONS.get(ev.stop_reason, "stop").encode() + b'"'
            frames = self._chunk({}, finish)
            if self._include_usage:
                frames += encode_event(self._head + b"[]," + b'"usage":' + orjson.dumps(usage_object(ev.usage)) + b"}")
            return frames
        # TextStart and BlockStop have no OpenAI counterpart; thinking has no place in an OpenAI message.
        return b""

    def error(self, err: TierwiseError) -> bytes:
        return encode_event(orjson.dumps(error_object(err)))

    def done(self) -> bytes:
        return _DONE


_BlockKind = Literal["text", "thinking", "tool"]


class UpstreamStreamParser:
    """An OpenAI-compatible server's chunks -> internal stream events, in the order types.py documents.

    OpenAI has no block boundaries: a block ends when a different kind of content (or another tool call) starts,
    or at finish_reason. StreamEnd waits for [DONE] because the usage chunk comes after finish_reason.
    """

    __slots__ = (
        "_done",
        "_finish",
        "_last_tool",
        "_next",
        "_open",
        "_open_kind",
        "_refused",
        "_started",
        "_tools",
        "_usage",
    )

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._next = 0  # the next block index
        self._open: int | None = None
        self._open_kind: _BlockKind | None = None
        self._tools: dict[object, int] = {}  # upstream tool call key -> block index
        self._last_tool: object = None
        self._finish: str | None = None
        self._refused = False
        self._usage = Usage()

    def feed(self, event: SseEvent) -> list[StreamEvent]:
        data = event.data
        if self._done or not data:
            return []
        if data == "[DONE]":
            return self._end()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamConnectionError("upstream sent a stream chunk that is not JSON") from None
        if not isinstance(chunk, dict):
            raise UpstreamConnectionError("upstream sent a stream chunk that is not a JSON object")
        if chunk.get("error"):
            raise error_from_payload(chunk)
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(StreamStart(id=str(chunk.get("id") or ""), model=str(chunk.get("model") or "")))
        usage = chunk.get("usage")
        if usage:
            self._usage = parse_usage(usage)  # cumulative where a server repeats it: the last one wins
        choices = chunk.get("choices")
        if choices and isinstance(choices, list) and isinstance(choices[0], dict):
            choice = choices[0]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, out)
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self._finish = finish
                self._close(out)
        return out

    def finish(self) -> list[StreamEvent]:
        """At the end of the byte stream: StreamEnd if the upstream finished without sending [DONE]."""
        return [] if self._done else self._end()

    def _end(self) -> list[StreamEvent]:
        if self._finish is None:
            raise UpstreamConnectionError("upstream stream ended early")
        out: list[StreamEvent] = []
        self._close(out)
        self._done = True
        reason = stop_reason(self._finish, has_tool_calls=bool(self._tools), refused=self._refused)
        out.append(StreamEnd(stop_reason=reason, usage=self._usage))
        return out

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(index=self._open))
            self._open = self._open_kind = None

    def _open_block(self, kind: _BlockKind, out: list[StreamEvent]) -> int:
        self._close(out)
        index = self._open = self._next
        self._open_kind = kind
        self._next += 1
        return index

    def _delta(self, delta: dict[str, Any], out: list[StreamEvent]) -> None:
        # Thinking first: servers that stream reasoning send it before the answer.
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            if self._open_kind == "thinking" and self._open is not None:
                index = self._open
            else:
                index = self._open_block("thinking", out)
                out.append(ThinkingStart(index=index))
            out.append(ThinkingDelta(index=index, text=reasoning))
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                self._refused = self._refused or key == "refusal"
                if self._open_kind == "text" and self._open is not None:
                    index = self._open
                else:
                    index = self._open_block("text", out)
                    out.append(TextStart(index=index))
                out.append(TextDelta(index=index, text=text))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for position, call in enumerate(calls):
                if isinstance(call, dict):
                    self._tool_call(call, position, out)

    def _tool_call(self, call: dict[str, Any], position: int, out: list[StreamEvent]) -> None:
        key: object = call.get("index")
        call_id = call.get("id")
        if not isinstance(key, int):
            # Servers that omit the index send each call whole: tell them apart by id, or by position.
            if isinstance(call_id, str) and call_id:
                key = ("id", call_id)
            elif position == 0 and self._last_tool is not None:
                key = self._last_tool
            else:
                key = ("new", self._next)
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        index = self._tools.get(key)
        if index is None:
            index = self._tools[key] = self._open_block("tool", out)
            name = function.get("name")
            out.append(
                ToolCallStart(
                    index=index,
                    id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
                    name=name if isinstance(name, str) else "",
                )
            )
        self._last_tool = key
        # A fragment for a call whose block already closed (interleaved calls, which no known server sends)
        # keeps its own index rather than being lost.
        arguments = tool_arguments(function.get("arguments"))
        if arguments:
            out.append(ToolCallDelta(index=index, arguments=arguments))
