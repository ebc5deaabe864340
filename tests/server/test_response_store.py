"""The response store behind previous_response_id: per caller, expiring, bounded."""

from __future__ import annotations

import pytest

from tierwise.errors import NotFound
from tierwise.server.response_store import ResponseStore, joined
from tierwise.types import ChatResponse, Message, TextPart, ToolCallPart, ToolResultPart


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def user(text: str) -> Message:
    return Message(role="user", parts=(TextPart(text=text),))


def answer(text: str) -> ChatResponse:
    return ChatResponse(id="x", model="m", parts=(TextPart(text=text),), stop_reason="end_turn")


def test_history_is_the_conversation_and_its_answer() -> None:
    store = ResponseStore()
    store.put("resp_1", "key_a", (user("hi"),), answer("hello"))
    assert store.history("resp_1", "key_a") == (user("hi"), Message(role="assistant", parts=(TextPart(text="hello"),)))


def test_another_callers_response_is_not_found() -> None:
    store = ResponseStore()
    store.put("resp_1", "key_a", (user("hi"),), answer("hello"))
    with pytest.raises(NotFound) as caught:
        store.history("resp_1", "key_b")
    assert caught.value.param == "previous_response_id" and "resp_1" in caught.value.message
    with pytest.raises(NotFound):
        store.history("resp_1", None)


def test_entries_expire() -> None:
    clock = Clock()
    store = ResponseStore(ttl_s=60, clock=clock)
    store.put("resp_1", None, (user("hi"),), answer("hello"))
    clock.now += 59
    assert store.history("resp_1", None)
    clock.now += 2
    with pytest.raises(NotFound):
        store.history("resp_1", None)
    store.put("resp_2", None, (user("again"),), answer("hello"))
    assert len(store) == 1  # the expired one was dropped on the way in


def test_the_oldest_go_first_past_the_bounds() -> None:
    store = ResponseStore(max_entries=3)
    for i in range(5):
        store.put(f"resp_{i}", None, (user(str(i)),), answer("a"))
    assert len(store) == 3
    with pytest.raises(NotFound):
        store.history("resp_0", None)
    assert store.history("resp_4", None)
    by_size = ResponseStore(max_chars=1000)
    by_size.put("big", None, (user("x" * 800),), answer("y" * 100))
    by_size.put("bigger", None, (user("x" * 800),), answer("y" * 100))
    assert len(by_size) == 1 and by_size.history("bigger", None)


def test_joined_merges_the_seam() -> None:
    call = Message(role="assistant", parts=(ToolCallPart(id="c", name="f", arguments="{}"),))
    result = Message(role="user", parts=(ToolResultPart(tool_call_id="c", content=(TextPart(text="ok"),)),))
    assert joined((user("q"), call), (result,)) == (user("q"), call, result)
    assert joined((user("q"),), (user("more"),)) == (
        Message(role="user", parts=(TextPart(text="q"), TextPart(text="more"))),
    )
