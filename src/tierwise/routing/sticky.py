"""Session stickiness: a conversation never silently drops to a weaker tier mid-way.

Wraps any Router. A conversation is named by the ``x-tierwise-session`` header or, failing that, by its
opening (system prompt and first user turn), which clients resend with every turn. Moving up is allowed and
said in the reasons; moving down is refused and the conversation stays on its tier, also said.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import replace

from tierwise.config.settings import Settings
from tierwise.routing.candidates import decide_in_tier
from tierwise.routing.decision import TIERS, RouteInput, Router, RoutingDecision, Tier

_RANK = {tier: rank for rank, tier in enumerate(TIERS)}


class StickyRouter:
    def __init__(self, inner: Router, settings: Settings, *, capacity: int = 100_000, ttl_s: float = 6 * 3600) -> None:
        self.name = inner.name
        self._inner = inner
        self._settings = settings
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._tiers: OrderedDict[object, tuple[Tier, float]] = OrderedDict()

    def decide(self, route_input: RouteInput) -> RoutingDecision:
        decision = self._inner.decide(route_input)
        name = route_input.session or route_input.conversation
        if name is None or decision.tier is None or decision.policy == "direct":
            return decision
        key = (route_input.caller, name)
        now = time.monotonic()
        previous = self._tiers.get(key)
        if previous is not None and now - previous[1] > self._ttl_s:
            previous = None
        if previous is not None and route_input.explicit_tier is None:
            held, tier = previous[0], decision.tier
            if _RANK[tier] < _RANK[held]:
                reasons = [f"session stays on {held} (would have been {decision.tier}: {decision.reason})"]
                # Held on its tier: a plain call there (a cascade would pay the premium tier twice).
                decision = decide_in_tier(self._settings, held, reasons, route_input, policy="sticky")
            elif _RANK[tier] > _RANK[held]:
                decision = _with_reason(decision, f"session moved up from {held} to {decision.tier}")
        self._remember(key, decision.tier, now)
        return decision

    def _remember(self, key: object, tier: Tier | None, now: float) -> None:
        if tier is None:
            return
        self._tiers[key] = (tier, now)
        self._tiers.move_to_end(key)
        if len(self._tiers) > self._capacity:
            self._tiers.popitem(last=False)


def _with_reason(decision: RoutingDecision, reason: str) -> RoutingDecision:
    return replace(decision, reasons=(*decision.reasons, reason))
