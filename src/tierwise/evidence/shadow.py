"""Shadow calls: the same request asked of another tier after the client has its answer, within a daily USD
cap. The next stronger tier shadows a cheaper answer; the next cheaper tier shadows the escalation tier's."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from tierwise.config.settings import Settings
from tierwise.errors import TierwiseError
from tierwise.evidence.records import Answer
from tierwise.ledger.entry import LedgerEntry
from tierwise.ledger.store import Ledger
from tierwise.pricing import PriceBook
from tierwise.providers.dispatch import Dispatcher
from tierwise.routing.candidates import decide_in_tier
from tierwise.routing.decision import TIERS, RouteInput, Tier
from tierwise.types import ChatRequest, ChatResponse, TextPart, ToolCallPart, Usage

DAY_S = 86_400.0


def shadow_tier(settings: Settings, served: str) -> Tier | None:
    """The tier that shadows ``served``: the next stronger one with models, or the next cheaper for the top."""
    if served not in TIERS:
        return None
    rank = TIERS.index(served)
    order = [*TIERS[rank + 1 :], *reversed(TIERS[:rank])] if rank < len(TIERS) - 1 else list(reversed(TIERS[:rank]))
    return next((tier for tier in order if settings.tiers.get(tier)), None)


def answer_of(response: ChatResponse) -> Answer:
    text = "".join(part.text for part in response.parts if isinstance(part, TextPart))
    calls = tuple((part.name, part.arguments) for part in response.parts if isinstance(part, ToolCallPart))
    return Answer(text=text, tool_calls=calls)


class ShadowCaller:
    """Counts its own spend per UTC day (starting from what the ledger already holds for today)."""

    def __init__(
        self,
        settings: Settings,
        dispatcher: Dispatcher,
        ledger: Ledger,
        *,
        redact: Callable[[str], str],
        spent_today: Decimal = Decimal(0),
    ) -> None:
        self._settings = settings
        self._redact = redact
        self._dispatcher = dispatcher
        self._ledger = ledger
        self._prices = PriceBook()
        self._cap = settings.evidence.shadow_usd_per_day
        self._day = int(time.time() // DAY_S)
        self.spent = spent_today
        self.skipped_for_budget = 0

    def cost(self, alias: str | None, usage: Usage) -> Decimal | None:
        model = self._settings.models.get(alias or "")
        return self._prices.cost(model, usage) if model is not None else None

    def within_budget(self) -> bool:
        today = int(time.time() // DAY_S)
        if today != self._day:
            self._day, self.spent = today, Decimal(0)
        if self.spent >= self._cap:
            self.skipped_for_budget += 1
            return False
        return True

    async def call(
        self, request: ChatRequest, route_input: RouteInput, tier: Tier, *, of: LedgerEntry, traffic: str = "shadow"
    ) -> tuple[LedgerEntry, ChatResponse] | None:
        """The shadow answer and its ledger entry (recorded either way); None when the tier cannot take it or
        every attempt failed."""
        try:
            decision = decide_in_tier(
                self._settings, tier, [f"{traffic} of {of.request_id}"], route_input, policy=traffic
            )
        except TierwiseError:
            return None
        if decision.tier != tier:
            return None
        decision = replace(decision, escalations=())  # never the served tier again
        entry = LedgerEntry(
            request_id="tws_" + secrets.token_hex(12),
            started_at=time.time(),
            api=of.api,
            requested_model=f"tier/{tier}",
            policy=traffic,
            tier=tier,
            reasons=decision.reason,
            key_id=of.key_id,
            traffic=traffic,
        )
        started = time.perf_counter()
        try:
            response = await self._dispatcher.complete(
                replace(request, stream=False, stream_usage=False), decision, entry
            )
        except TierwiseError as err:
            entry.status, entry.error = err.http_status, self._redact(err.message)
            return None
        else:
            entry.status, entry.usage = 200, response.usage
            cost = self.cost(entry.model, response.usage)
            if cost is not None:
                self.spent += cost
            return entry, response
        finally:
            entry.latency_ms = (time.perf_counter() - started) * 1000.0
            self._ledger.record(entry)
