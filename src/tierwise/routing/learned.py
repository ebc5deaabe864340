"""The learned policy: explicit tiers and matching rules first, then a router trained on outcome data
decides between the weak and the strong tier by comparing its score with a calibrated threshold."""

from __future__ import annotations

from tierwise.config.settings import Settings
from tierwise.errors import ConfigError
from tierwise.routing.candidates import decide_in_tier
from tierwise.routing.decision import RouteInput, RoutingDecision, Tier
from tierwise.routing.rules import RulesRouter
from tierwise.routing.tuning import PromptScorer, Tuning

__all__ = ["LearnedRouter", "PromptScorer", "load_scorer"]


def load_scorer(artifact: str | None) -> PromptScorer:
    from tierwise.brain.artifact import ArtifactError, load_router

    try:
        return load_router(artifact)
    except (ArtifactError, OSError) as exc:
        raise ConfigError(f"routing.learned.artifact: {exc}") from None


class LearnedRouter:
    name = "learned"

    def __init__(
        self,
        settings: Settings,
        rules: RulesRouter,
        scorer: PromptScorer | None = None,
        *,
        tuning: Tuning | None = None,
    ) -> None:
        self._settings = settings
        self._rules = rules
        self._learned = settings.routing.learned
        self._tuning = tuning  # set: the evidence loop owns the operating point
        self._scorer = scorer if scorer is not None or tuning is not None else load_scorer(self._learned.artifact)

    def score(self, route_input: RouteInput) -> tuple[Tier, float, str]:
        """The tier the score picks, the score, and a short reason."""
        scorer, threshold, label = self._scorer, self._learned.threshold, ""
        if self._tuning is not None:
            point = self._tuning.point
            if point.scorer is None:
                return self._settings.routing.default_tier, 0.0, point.label
            scorer, threshold, label = point.scorer, point.threshold, f" ({point.label})"
        assert scorer is not None
        score = scorer.score(route_input.prompt)
        if score >= threshold:
            tier, relation = self._learned.strong_tier, ">="
        else:
            tier, relation = self._learned.weak_tier, "<"
        return tier, score, f"{scorer.describe()}: score {score:.2f} {relation} threshold {threshold:.2f}{label}"

    def decide(self, route_input: RouteInput) -> RoutingDecision:
        claimed = self._rules.claimed(route_input)
        if claimed is not None:
            return claimed
        tier, score, reason = self.score(route_input)
        return decide_in_tier(self._settings, tier, [reason], route_input, policy=self.name, score=score)
