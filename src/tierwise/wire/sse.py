"""Server-sent events: an incremental decoder for upstream streams and an encoder for ours."""

from __future__ import annotations

from dataclasses import dataclass

from tierwise.errors import UpstreamError


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str | None  # the ``event:`` name, None when the stream sends data lines only (OpenAI)
    data: str


DEFAULT_MAX_LINE = 4 * 1024 * 1024


class SseDecoder:
    """Feed it raw byte chunks as they arrive; it returns the complete events seen so far.

    Handles events split across chunks, CRLF or LF line ends, multi-line data and comment lines. Linear in
    the bytes fed: a line that spans many chunks is kept as a list of pieces and joined once, when its end
    arrives (never re-copied or re-scanned per chunk). A line, or an event's data, longer than ``max_line``
    bytes raises ``UpstreamError``: an upstream cannot make the gateway hold an unbounded line.
    """

    __slots__ = ("_data", "_data_size", "_event", "_max_line", "_pieces", "_pieces_size")

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._max_line = max_line
        self._pieces: list[bytes] = []  # the unfinished line
        self._pieces_size = 0
        self._event: str | None = None
        self._data: list[str] = []
        self._data_size = 0

    def feed(self, chunk: bytes) -> list[SseEvent]:
        if self._pieces:
            if b"\n" not in chunk:  # the line goes on: keep the piece, look at nothing twice
                self._keep(chunk)
                return []
            buffer = b"".join([*self._pieces, chunk])
            self._pieces, self._pieces_size = [], 0
        else:
            buffer = chunk
        events: list[SseEvent] = []
        start = 0
        # Scan with an offset and keep the unfinished tail once per chunk: slicing the buffer per line would
        # copy it again for every line of a large read.
        while (newline := buffer.find(b"\n", start)) >= 0:
            if newline - start > self._max_line:
                self._too_long()
            line = (
                buffer[start : newline - 1] if newline > start and buffer[newline - 1] == 13 else buffer[start:newline]
            )
            start = newline + 1
            if not line:
                if self._data or self._event is not None:
                    events.append(SseEvent(self._event, "\n".join(self._data)))
                self._event, self._data, self._data_size = None, [], 0
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            # A server that sends bytes that are not UTF-8 gets them replaced, not a crash of the stream.
            if name == b"data":
                self._data_size += len(value)
                if self._data_size > self._max_line:  # one event of endless short data lines
                    self._too_long()
                self._data.append(value.decode("utf-8", "replace"))
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
        if start < len(buffer):
            self._keep(buffer[start:] if start else buffer)
        return events

    def _keep(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self._pieces_size += len(piece)
        if self._pieces_size > self._max_line:
            self._too_long()

    def _too_long(self) -> None:
        self._pieces, self._pieces_size, self._data, self._data_size = [], 0, [], 0
        raise UpstreamError(f"the upstream sent a server-sent event line over {self._max_line:,} bytes")

    def close(self) -> list[SseEvent]:
        """The event left unterminated when the stream ended, if any."""
        tail = self.feed(b"\n\n") if self._pieces or self._data else []
        return tail


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` is already-serialised JSON (never holds a newline)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
