"""The cascade policy's decision: where the learned prior is confident the prompt is hard, go straight to
the strong tier; otherwise answer on the cheap tier and let the dispatcher check that answer."""

from __future__ import annotations

from dataclasses import replace

from tierwise.config.settings import Settings
from tierwise.routing.candidates import decide_in_tier
from tierwise.routing.decision import RouteInput, RoutingDecision
from tierwise.routing.learned import LearnedRouter, PromptScorer
from tierwise.routing.rules import RulesRouter

CASCADE = "cascade"


class CascadeRouter:
    name = CASCADE

    def __init__(self, settings: Settings, rules: RulesRouter, scorer: PromptScorer | None = None) -> None:
        self._settings = settings
        self._rules = rules
        self._prior = LearnedRouter(settings, rules, scorer)

    def decide(self, route_input: RouteInput) -> RoutingDecision:
        claimed = self._rules.claimed(route_input)
        if claimed is not None:
            return claimed
        cascade = self._settings.routing.cascade
        tier, score, reason = self._prior.score(route_input)
        if tier == cascade.strong_tier:
            return decide_in_tier(
                self._settings, tier, [f"cascade prior: {reason}"], route_input, policy="learned", score=score
            )
        if route_input.stream or route_input.needs_tools:  # nothing to compare before the answer is sent
            why = "streaming" if route_input.stream else "tool calls"
            reasons = [f"cascade prior: {reason}; no answer check ({why})"]
            return decide_in_tier(self._settings, tier, reasons, route_input, policy="learned", score=score)
        reasons = [
            f"cascade: {cascade.cheap_tier} answers, {cascade.checker_tier} checks, "
            f"{cascade.strong_tier} on disagreement (prior {score:.2f})"
        ]
        decision = decide_in_tier(self._settings, cascade.cheap_tier, reasons, route_input, policy=CASCADE, score=score)
        return replace(decision, cascade=True)
