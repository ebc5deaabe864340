"""OpenAI Responses streams: rendering ours as typed events, parsing an upstream's.

Each output item is announced (``response.output_item.added``), filled by its deltas and closed
(``response.output_item.done``), in the order OpenAI documents; every event carries a ``sequence_number``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from tierwise.errors import TierwiseError, UpstreamConnectionError, UpstreamStatusError
from tierwise.types import (
    BlockStop,
    ChatRequest,
    ChatResponse,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    TextStart,
    ThinkingDelta,
    ThinkingPart,
    ThinkingStart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
)
from tierwise.wire._openai_response import error_object, new_tool_call_id
from tierwise.wire._responses_response import (
    message_item,
    new_id,
    parse_upstream_error,
    parse_usage,
    reasoning_item,
    response_object,
    status_of,
    stop_reason_of,
)
from tierwise.wire._responses_tools import TOOLS_KEY, call_item, custom_input, flat_name, openai_reasoning
from tierwise.wire.sse import SseEvent, encode_event

_ERROR_CODES = {"rate_limit": "rate_limit_exceeded"}


class _Block:
    __slots__ = ("encrypted", "item", "kind", "output_index", "signature", "summary_open", "text")

    def __init__(self, kind: str, output_index: int, item: dict[str, Any]) -> None:
        self.kind = kind
        self.output_index = output_index
        self.item = item
        self.text: list[str] = []
        self.signature: str | None = None
        self.encrypted: str | None = None
        self.summary_open = False


class StreamRenderer:
    """Internal stream events -> Responses SSE events. Keeps the finished answer in ``result`` (for the
    response store) once StreamEnd has passed."""

    def __init__(
        self, *, include_usage: bool = True, request: ChatRequest | None = None, response_id: str | None = None
    ) -> None:
        self._request = request
        extensions = (request.extensions.get("responses") if request is not None else None) or {}
        self._tools: dict[str, Any] | None = extensions.get(TOOLS_KEY)
        self.response_id = response_id or new_id("resp")
        self._created = int(time.time())
        self._model = ""
        self._seq = 0
        self._blocks: dict[int, _Block] = {}
        self._output: list[dict[str, Any]] = []
        self._parts: list[TextPart | ToolCallPart | ThinkingPart] = []
        self.result: ChatResponse | None = None

    def _emit(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload["type"] = kind
        payload["sequence_number"] = self._seq
        self._seq += 1
        return encode_event(orjson.dumps(payload), kind)

    def _response(self, status: str, usage: Usage | None, **extra: Any) -> dict[str, Any]:
        return response_object(
            self._request,
            response_id=self.response_id,
            created_at=self._created,
            model=self._model,
            status=status,
            output=list(self._output),
            usage=usage,
            **extra,
        )

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, TextDelta):
            block = self._blocks[ev.index]
            block.text.append(ev.text)
            return self._emit(
                "response.output_text.delta",
                {**self._where(block), "content_index": 0, "delta": ev.text, "logprobs": []},
            )
        if isinstance(ev, ToolCallDelta):
            block = self._blocks[ev.index]
            block.text.append(ev.arguments)
            if block.item["type"] == "custom_tool_call":
                return b""  # the input is inside JSON fragments: sent whole when the call ends
            return self._emit("response.function_call_arguments.delta", {**self._where(block), "delta": ev.arguments})
        if isinstance(ev, ThinkingDelta):
            return self._thinking(ev)
        if isinstance(ev, TextStart):
            item = message_item(new_id("msg"), [], status="in_progress")
            block = self._open(ev.index, "text", item)
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            return self._added(block) + self._emit(
                "response.content_part.added", {**self._where(block), "content_index": 0, "part": part}
            )
        if isinstance(ev, ToolCallStart):
            item = call_item(ev.name, ev.id, "", self._tools, new_id("fc"))
            if item["type"] == "function_call":
                item["status"] = "in_progress"
            block = self._open(ev.index, "tool", item)
            block.signature = ev.name  # the flat name, for the internal record
            return self._added(block)
        if isinstance(ev, ThinkingStart):
            return self._added(
                self._open(ev.index, "thinking", {"id": new_id("rs"), "type": "reasoning", "summary": []})
            )
        if isinstance(ev, BlockStop):
            return self._close(self._blocks.pop(ev.index))
        if isinstance(ev, StreamStart):
            self._model = ev.model
            created = self._response("in_progress", None)
            return self._emit("response.created", {"response": created}) + self._emit(
                "response.in_progress", {"response": created}
            )
        return self._end(ev)

    def _where(self, block: _Block) -> dict[str, Any]:
        return {"item_id": block.item["id"], "output_index": block.output_index}

    def _open(self, index: int, kind: str, item: dict[str, Any]) -> _Block:
        block = self._blocks[index] = _Block(kind, len(self._output), item)
        self._output.append(item)
        return block

    def _added(self, block: _Block) -> bytes:
        return self._emit("response.output_item.added", {"output_index": block.output_index, "item": dict(block.item)})

    def _thinking(self, ev: ThinkingDelta) -> bytes:
        block = self._blocks[ev.index]
        if ev.signature:
            block.signature = ev.signature
        if ev.encrypted:
            block.encrypted = ev.encrypted
        if not ev.text:
            return b""
        frames = b""
        if not block.summary_open:
            block.summary_open = True
            frames = self._emit(
                "response.reasoning_summary_part.added",
                {**self._where(block), "summary_index": 0, "part": {"type": "summary_text", "text": ""}},
            )
        block.text.append(ev.text)
        return frames + self._emit(
            "response.reasoning_summary_text.delta", {**self._where(block), "summary_index": 0, "delta": ev.text}
        )

    def _close(self, block: _Block) -> bytes:
        text = "".join(block.text)
        where = self._where(block)
        frames = b""
        if block.kind == "text":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            frames = self._emit(
                "response.output_text.done", {**where, "content_index": 0, "text": text, "logprobs": []}
            )
            frames += self._emit("response.content_part.done", {**where, "content_index": 0, "part": part})
            block.item.update(status="completed", content=[part])
            self._parts.append(TextPart(text=text))
        elif block.kind == "tool":
            call = ToolCallPart(id=block.item["call_id"], name=block.signature or "", arguments=text)
            self._parts.append(call)
            if block.item["type"] == "custom_tool_call":
                value = custom_input(text)
                frames = self._emit("response.custom_tool_call_input.delta", {**where, "delta": value})
                frames += self._emit("response.custom_tool_call_input.done", {**where, "input": value})
                block.item["input"] = value
            else:
                frames = self._emit("response.function_call_arguments.done", {**where, "arguments": text})
                block.item.update(status="completed", arguments=text)
        else:
            thinking = ThinkingPart(text=text, signature=block.signature, encrypted=block.encrypted)
            self._parts.append(thinking)
            if block.summary_open:
                frames = self._emit("response.reasoning_summary_text.done", {**where, "summary_index": 0, "text": text})
                part = {"type": "summary_text", "text": text}
                frames += self._emit(
                    "response.reasoning_summary_part.done", {**where, "summary_index": 0, "part": part}
                )
            block.item.clear()
            block.item.update(reasoning_item(where["item_id"], thinking))
        return frames + self._emit(
            "response.output_item.done", {"output_index": block.output_index, "item": dict(block.item)}
        )

    def _end(self, ev: StreamEnd) -> bytes:
        status, incomplete = status_of(ev.stop_reason)
        if ev.stop_reason == "refusal":  # known only now: the text already sent becomes the refusal it was
            for item in self._output:
                if item["type"] == "message":
                    texts = [c["text"] for c in item["content"]]
                    item.update(message_item(item["id"], texts, status="completed", refusal=True))
        elif status == "incomplete":
            for item in self._output:
                if item["type"] == "message":
                    item["status"] = "incomplete"
        self.result = ChatResponse(
            id=self.response_id, model=self._model, parts=tuple(self._parts), stop_reason=ev.stop_reason, usage=ev.usage
        )
        final = self._response(status, ev.usage, incomplete_details=incomplete)
        return self._emit("response.completed" if status == "completed" else "response.incomplete", {"response": final})

    def error(self, err: TierwiseError) -> bytes:
        detail = error_object(err)["error"]
        code = _ERROR_CODES.get(err.error_kind, "server_error")
        frames = self._emit("error", {"code": detail["code"] or code, "message": err.message, "param": err.param})
        failed = self._response("failed", None, error={"code": code, "message": err.message})
        return frames + self._emit("response.failed", {"response": failed})

    def done(self) -> bytes:
        return b""  # the Responses API ends with response.completed; there is no [DONE]


class UpstreamStreamParser:
    """A Responses server's events -> internal stream events, in the order types.py documents."""

    def __init__(self) -> None:
        self._blocks: dict[int, int] = {}  # output_index -> block index
        self._kinds: dict[int, str] = {}  # block index -> item type
        self._sent: set[int] = set()  # blocks that received argument deltas
        self._next = 0
        self._started = False
        self._ended = False
        self._refused = False
        self._has_calls = False

    def feed(self, event: SseEvent) -> list[StreamEvent]:
        if self._ended or not event.data or event.data == "[DONE]":
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamConnectionError("upstream sent a stream event that is not JSON") from None
        if not isinstance(data, dict):
            raise UpstreamConnectionError("upstream sent a stream event that is not a JSON object")
        kind = data.get("type")
        out: list[StreamEvent] = []
        if kind in ("response.created", "response.in_progress"):
            if not self._started:
                self._started = True
                response = data.get("response") or {}
                out.append(StreamStart(id=str(response.get("id") or ""), model=str(response.get("model") or "")))
        elif kind == "response.output_item.added":
            self._added(data, out)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._refused = self._refused or kind == "response.refusal.delta"
            index = self._block(data)
            if index is not None and isinstance(data.get("delta"), str) and data["delta"]:
                out.append(TextDelta(index=index, text=data["delta"]))
        elif kind == "response.function_call_arguments.delta":
            index = self._block(data)
            if index is not None and isinstance(data.get("delta"), str) and data["delta"]:
                self._sent.add(index)
                out.append(ToolCallDelta(index=index, arguments=data["delta"]))
        elif kind == "response.reasoning_summary_text.delta":
            index = self._block(data)
            if index is not None and isinstance(data.get("delta"), str) and data["delta"]:
                out.append(ThinkingDelta(index=index, text=data["delta"]))
        elif kind == "response.output_item.done":
            self._done(data, out)
        elif kind in ("response.completed", "response.incomplete"):
            self._ended = True
            response = data.get("response") or {}
            reason = stop_reason_of(
                response.get("status"),
                response.get("incomplete_details"),
                has_calls=self._has_calls,
                refused=self._refused,
            )
            out.append(StreamEnd(stop_reason=reason, usage=parse_usage(response.get("usage"))))
        elif kind in ("response.failed", "error"):
            raise _stream_error(data)
        return out

    def finish(self) -> list[StreamEvent]:
        if not self._ended:
            raise UpstreamConnectionError("upstream stream ended early")
        return []

    def _block(self, data: dict[str, Any]) -> int | None:
        index = data.get("output_index")
        return self._blocks.get(index) if isinstance(index, int) else None

    def _added(self, data: dict[str, Any], out: list[StreamEvent]) -> None:
        item = data.get("item")
        position = data.get("output_index")
        if not isinstance(item, dict) or not isinstance(position, int):
            return
        kind = item.get("type")
        index = self._next
        if kind == "message":
            out.append(TextStart(index=index))
        elif kind in ("function_call", "custom_tool_call"):
            self._has_calls = True
            call_id = item.get("call_id")
            namespace = item.get("namespace")
            out.append(
                ToolCallStart(
                    index=index,
                    id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
                    name=flat_name(namespace if isinstance(namespace, str) else None, str(item.get("name") or "")),
                )
            )
        elif kind == "reasoning":
            out.append(ThinkingStart(index=index))
        else:
            return  # items of built-in tools: never asked for
        self._next += 1
        self._blocks[position] = index
        self._kinds[index] = str(kind)

    def _done(self, data: dict[str, Any], out: list[StreamEvent]) -> None:
        index = self._block(data)
        if index is None:
            return
        item = data.get("item")
        item = item if isinstance(item, dict) else {}
        kind = self._kinds[index]
        if kind == "reasoning" and (carried := openai_reasoning(item.get("id"), item.get("encrypted_content"))):
            out.append(ThinkingDelta(index=index, encrypted=carried))
        elif kind == "custom_tool_call":
            out.append(
                ToolCallDelta(index=index, arguments=orjson.dumps({"input": str(item.get("input") or "")}).decode())
            )
        elif kind == "function_call" and index not in self._sent and isinstance(item.get("arguments"), str):
            out.append(ToolCallDelta(index=index, arguments=item["arguments"]))
        out.append(BlockStop(index=index))


def _stream_error(data: dict[str, Any]) -> UpstreamStatusError:
    response = data.get("response")
    error = data if data.get("type") == "error" else (response.get("error") if isinstance(response, dict) else None)
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    status = 429 if code == "rate_limit_exceeded" else 500
    payload = {"error": {"message": error.get("message") or "upstream response failed", "code": code}}
    return parse_upstream_error(status, orjson.dumps(payload), {})
