"""Operational signals a conversation shows about itself: the agent is stuck or being corrected.

Each signal is a level (a count that grows while the trouble goes on); sessions act when a level reaches its
configured threshold and again each time it grows past the level they last acted on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tierwise.types import ChatRequest, Message, TextPart, ToolCallPart, ToolResultPart

# A user turn that tells the model it got something wrong. Looked for at the start of short, human-written turns
# only: a pasted log or a reminder the client injected says nothing about the model.
_CORRECTION = re.compile(
    r"^\W*(no|nope|wrong|that'?s (not|wrong|incorrect)|this is (not|wrong)|not what i (asked|meant|wanted)|"
    r"you (didn'?t|did not|broke|misunderstood|forgot|ignored)|it (still|didn'?t|doesn'?t|does not) (work|fail)|"
    r"still (broken|failing|not working|wrong)|incorrect|try again|stop)\b",
    re.IGNORECASE,
)
_CORRECTION_HEAD = 300
_INJECTED = "<system-reminder>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    tool_errors: int = 0  # failed tool results in a row, ending with the latest
    repeated_calls: int = 0  # the latest tool call, made this many times in a row (same name and arguments)
    corrections: int = 0  # user turns that correct the model, over the conversation

    def levels(self) -> tuple[tuple[str, int], ...]:
        return (
            ("tool_errors", self.tool_errors),
            ("repeated_calls", self.repeated_calls),
            ("corrections", self.corrections),
        )


def read_signals(request: ChatRequest) -> Signals:
    return Signals(
        tool_errors=_failed_results_in_a_row(request.messages),
        repeated_calls=_same_call_in_a_row(request.messages),
        corrections=sum(1 for message in request.messages if _corrects(message)),
    )


def _failed_results_in_a_row(messages: tuple[Message, ...]) -> int:
    run = 0
    for message in reversed(messages):
        for part in reversed(message.parts):
            if isinstance(part, ToolResultPart):
                if not part.is_error:
                    return run
                run += 1
    return run


def _same_call_in_a_row(messages: tuple[Message, ...]) -> int:
    latest: tuple[str, str] | None = None
    run = 0
    for message in reversed(messages):
        if message.role != "assistant":
            continue
        calls = [(p.name, p.arguments) for p in message.parts if isinstance(p, ToolCallPart)]
        if not calls:
            if latest is None:
                continue  # a plain answer after the calls: still counting back from the latest call
            return run
        for call in reversed(calls):
            if latest is None:
                latest = call
            elif call != latest:
                return run
            run += 1
    return run


def _corrects(message: Message) -> bool:
    if message.role != "user" or any(isinstance(p, ToolResultPart) for p in message.parts):
        return False
    for part in message.parts:
        if isinstance(part, TextPart) and not part.text.lstrip().startswith(_INJECTED):
            return _CORRECTION.search(part.text[:_CORRECTION_HEAD]) is not None
    return False
