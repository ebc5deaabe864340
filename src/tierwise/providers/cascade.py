"""Carry out a cascade decision: the cheap tier answers while a second cheap model answers too; when their
final answers differ, the strong tier answers instead. Every call is recorded and paid for in the ledger.

Used for non-streaming requests without tools, where a final answer can be compared before anything is sent.
"""

from __future__ import annotations

import asyncio
import time

from tierwise.brain.agreement import answers_agree, final_answer
from tierwise.config.settings import Settings
from tierwise.ledger.entry import LedgerEntry
from tierwise.providers.dispatch import Dispatcher
from tierwise.routing.candidates import decide_in_tier
from tierwise.routing.decision import RouteInput, RoutingDecision
from tierwise.types import ChatRequest, ChatResponse, TextPart


class CascadeDispatcher:
    def __init__(self, settings: Settings, dispatcher: Dispatcher) -> None:
        self._settings = settings
        self._cascade = settings.routing.cascade
        self._dispatcher = dispatcher

    async def complete(
        self, request: ChatRequest, decision: RoutingDecision, entry: LedgerEntry, route_input: RouteInput
    ) -> ChatResponse:
        checker_decision = decide_in_tier(
            self._settings, self._cascade.checker_tier, [], route_input, policy="cascade-check"
        )
        check_entry = LedgerEntry(request_id=entry.request_id, started_at=time.time(), api=entry.api)
        cheap, check = await asyncio.gather(
            self._dispatcher.complete(request, decision, entry),
            self._dispatcher.complete(request, checker_decision, check_entry),
            return_exceptions=True,
        )
        entry.attempts.extend(check_entry.attempts)
        if isinstance(check, ChatResponse) and check_entry.model:
            entry.side_calls.append((check_entry.model, check.usage))
        if isinstance(cheap, BaseException):
            if not isinstance(cheap, Exception):
                raise cheap
            return await self._escalate(request, route_input, entry, "cheap answer failed")
        if not isinstance(check, ChatResponse):
            entry.reasons += "; cascade: checker failed, cheap answer kept"
            return cheap
        cheap_answer, check_answer = final_answer(_text(cheap)), final_answer(_text(check))
        if answers_agree(cheap_answer, check_answer):
            entry.reasons += f"; cascade: answers agree ({_short(cheap_answer)})"
            return cheap
        if entry.model:
            entry.side_calls.append((entry.model, cheap.usage))
        detail = f"answers differ ({_short(cheap_answer)} vs {_short(check_answer)})"
        return await self._escalate(request, route_input, entry, detail)

    async def _escalate(
        self, request: ChatRequest, route_input: RouteInput, entry: LedgerEntry, why: str
    ) -> ChatResponse:
        strong = decide_in_tier(self._settings, self._cascade.strong_tier, [], route_input, policy="cascade")
        entry.tier = strong.tier
        entry.reasons += f"; cascade: {why}, escalated to {strong.tier}"
        return await self._dispatcher.complete(request, strong, entry)


def _text(response: ChatResponse) -> str:
    return "".join(part.text for part in response.parts if isinstance(part, TextPart))


def _short(answer: str | None) -> str:
    if answer is None:
        return "none"
    return answer if len(answer) <= 24 else answer[:21] + "..."
