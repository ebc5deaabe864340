"""The SSE decoder: events split anywhere, CRLF, comments, and bytes that are not UTF-8."""

from __future__ import annotations

import pytest

from tierwise.errors import UpstreamError
from tierwise.wire.sse import SseDecoder, SseEvent


def test_events_split_at_every_byte_boundary() -> None:
    stream = b'event: a\r\ndata: {"x": 1}\r\n\r\n: comment\ndata: line one\ndata: line two\n\n'
    for cut in range(len(stream) + 1):
        decoder = SseDecoder()
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert events == [SseEvent("a", '{"x": 1}'), SseEvent(None, "line one\nline two")]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal() -> None:
    events = SseDecoder().feed(b"data: caf\xe9 \xff\n\n")
    assert events == [SseEvent(None, "caf\ufffd \ufffd")]


def test_a_large_read_of_many_events_is_decoded_in_one_pass() -> None:
    payload = b"".join(b"data: %d\n\n" % i for i in range(20_000))
    events = SseDecoder().feed(payload)
    assert len(events) == 20_000 and events[-1].data == "19999"


def test_a_line_spanning_hundreds_of_reads_is_decoded_once_it_ends() -> None:
    decoder = SseDecoder(max_line=64 * 1024 * 1024)
    piece = b"a" * 65536
    assert decoder.feed(b"data: ") == []
    for _ in range(480):  # 30 MiB in 64 KiB reads: kept as pieces, joined once at the end
        assert decoder.feed(piece) == []
    [event] = decoder.feed(b"\n\n")
    assert len(event.data) == 480 * 65536


def test_a_line_or_an_event_over_the_limit_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="line over"):
        decoder = SseDecoder(max_line=1000)
        decoder.feed(b"data: ")
        for _ in range(20):
            decoder.feed(b"x" * 100)
    with pytest.raises(UpstreamError, match="line over"):
        SseDecoder(max_line=1000).feed(b"data: " + b"x" * 2000 + b"\n\n")
    with pytest.raises(UpstreamError, match="line over"):  # many short data lines, never a blank one
        SseDecoder(max_line=1000).feed(b"data: xxxxxxxxxx\n" * 200)
