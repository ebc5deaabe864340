"""The SSE decoder: events split anywhere, CRLF, comments, and bytes that are not UTF-8."""

from __future__ import annotations

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
