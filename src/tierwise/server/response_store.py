"""A small, bounded, in-memory store of finished Responses conversations, for ``previous_response_id``.

Each answer with ``store`` not false is kept under its response id with the conversation that led to it, for
``ttl_s`` seconds, readable only by the caller (gateway key) that created it. The oldest entries go first when
the store holds more than ``max_entries`` or about ``max_chars`` characters of new content. It lives in one
gateway process: with several workers, a client that relies on ``previous_response_id`` should send the full
input instead (Codex and the Agents SDK by default do, with ``store: false``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tierwise.errors import NotFound
from tierwise.types import ChatResponse, Message, Part, TextPart, ThinkingPart, ToolCallPart, ToolResultPart


@dataclass(frozen=True, slots=True)
class _Stored:
    caller: str | None
    expires: float
    messages: tuple[Message, ...]
    chars: int


def _chars(parts: tuple[Part, ...]) -> int:
    total = 0
    for part in parts:
        if isinstance(part, TextPart | ThinkingPart):
            total += len(part.text)
        elif isinstance(part, ToolCallPart):
            total += len(part.arguments) + len(part.name)
        elif isinstance(part, ToolResultPart):
            total += _chars(part.content)
        else:
            total += 1024  # images and documents: counted by reference, their data is shared with the request
    return total


class ResponseStore:
    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_chars: int = 64 * 1024 * 1024,
        ttl_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, _Stored] = OrderedDict()
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._ttl_s = ttl_s
        self._clock = clock
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def history(self, response_id: str, caller: str | None) -> tuple[Message, ...]:
        """The conversation up to and including the answer ``response_id``; 404 when it is unknown, expired or
        another caller's."""
        stored = self._entries.get(response_id)
        if stored is None or stored.caller != caller or stored.expires <= self._clock():
            raise NotFound(f"Previous response with id '{response_id}' not found.", param="previous_response_id")
        self._entries.move_to_end(response_id)
        return stored.messages

    def put(
        self, response_id: str, caller: str | None, conversation: tuple[Message, ...], response: ChatResponse
    ) -> None:
        answer = Message(role="assistant", parts=response.parts)
        # Only what this turn added is counted: earlier messages are the same objects as in the entry before.
        chars = _chars(answer.parts) + sum(_chars(m.parts) for m in conversation[-2:])
        self._entries[response_id] = _Stored(caller, self._clock() + self._ttl_s, (*conversation, answer), chars)
        self._chars += chars
        now = self._clock()
        while self._entries and (
            len(self._entries) > self._max_entries
            or self._chars > self._max_chars
            or next(iter(self._entries.values())).expires <= now
        ):
            _, dropped = self._entries.popitem(last=False)
            self._chars -= dropped.chars


def joined(history: tuple[Message, ...], new: tuple[Message, ...]) -> tuple[Message, ...]:
    """``history`` followed by ``new``, with the seam merged when both sides there have the same role."""
    if history and new and history[-1].role == new[0].role:
        seam = Message(role=new[0].role, parts=history[-1].parts + new[0].parts)
        return (*history[:-1], seam, *new[1:])
    return (*history, *new)
