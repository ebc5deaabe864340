"""Server-sent events: an incremental decoder for upstream streams and an encoder for ours."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str | None  # the ``event:`` name, None when the stream sends data lines only (OpenAI)
    data: str


class SseDecoder:
    """Feed it raw byte chunks as they arrive; it returns the complete events seen so far.

    Handles events split across chunks, CRLF or LF line ends, multi-line data and comment lines.
    """

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[SseEvent] = []
        start = 0
        # Scan with an offset and keep the unfinished tail once per chunk: slicing the buffer per line would
        # copy it again for every line of a large read.
        while (newline := buffer.find(b"\n", start)) >= 0:
            line = (
                buffer[start : newline - 1] if newline > start and buffer[newline - 1] == 13 else buffer[start:newline]
            )
            start = newline + 1
            if not line:
                if self._data or self._event is not None:
                    events.append(SseEvent(self._event, "\n".join(self._data)))
                self._event, self._data = None, []
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            # A server that sends bytes that are not UTF-8 gets them replaced, not a crash of the stream.
            if name == b"data":
                self._data.append(value.decode("utf-8", "replace"))
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
        self._buffer = buffer[start:]
        return events

    def close(self) -> list[SseEvent]:
        """The event left unterminated when the stream ended, if any."""
        tail = self.feed(b"\n\n") if self._buffer or self._data else []
        return tail


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` is already-serialised JSON (never holds a newline)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
