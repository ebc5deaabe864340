"""The rules policy: an explicit tier, then the configured rules in order, then the default tier."""

from __future__ import annotations

from tierwise.config.settings import Rule, Settings
from tierwise.errors import NotFound
from tierwise.routing.candidates import decide_in_tier, unfit_reason
from tierwise.routing.classifier import TaskClassifier
from tierwise.routing.decision import RouteInput, RoutingDecision, Tier

AUTO = "auto"


class RulesRouter:
    name = "rules"

    def __init__(self, settings: Settings, classifier: TaskClassifier) -> None:
        self._settings = settings
        self._classifier = classifier
        self._uses_task = any(rule.when.task for rule in settings.routing.rules)

    def decide(self, route_input: RouteInput) -> RoutingDecision:
        claimed = self.claimed(route_input)
        if claimed is not None:
            return claimed
        reasons = ["no rule matched: default tier"]
        return decide_in_tier(
            self._settings, self._settings.routing.default_tier, reasons, route_input, policy=self.name
        )

    def claimed(self, route_input: RouteInput) -> RoutingDecision | None:
        """The decision when a named model, an explicit tier or a rule settles it; None leaves it to a policy."""
        direct = self.direct_decision(route_input)
        if direct is not None:
            return direct
        matched = self.match_rules(route_input)
        if matched is None:
            return None
        tier, reasons = matched
        return decide_in_tier(self._settings, tier, reasons, route_input, policy=self.name)

    def direct_decision(self, route_input: RouteInput) -> RoutingDecision | None:
        """A model named by alias is used as it is: no routing, no fallbacks. An unknown id of a known family
        goes to its pattern's tier."""
        requested = route_input.requested_model
        if requested == AUTO or requested.startswith("tier/"):
            return None
        model = self._settings.models.get(requested)
        if model is None:
            return self._pattern_decision(route_input)
        problem = unfit_reason(model, route_input)
        reasons = ["model named by the client"] + ([f"warning: {problem}"] if problem else [])
        return RoutingDecision(
            model=model.alias,
            tier=self._settings.tier_of(model.alias),
            reasons=tuple(reasons),
            policy="direct",
        )

    def _pattern_decision(self, route_input: RouteInput) -> RoutingDecision | None:
        """An id no model is configured under: a model pattern names its tier (None: the policy routes it)."""
        requested = route_input.requested_model
        pattern = self._settings.routing.pattern_for(requested)
        if pattern is None:
            known = ", ".join(["auto", "tier/speed", "tier/default", "tier/escalation", *self._settings.models])
            raise NotFound(
                f"model '{requested}' is not configured and matches no model pattern; use one of: {known}",
                param="model",
            )
        if pattern.tier is None or route_input.explicit_tier is not None:
            return None  # routed like "auto" (or the tier the x-tierwise-tier header asks for)
        reasons = [f"model '{requested}' matches pattern '{pattern.match}': tier {pattern.tier}"]
        return decide_in_tier(self._settings, pattern.tier, reasons, route_input, policy=self.name)

    def match_rules(self, route_input: RouteInput) -> tuple[Tier, list[str]] | None:
        """The tier an explicit request or a matching rule picks, with why; None if nothing matches."""
        if route_input.explicit_tier is not None:
            return route_input.explicit_tier, [f"tier {route_input.explicit_tier} requested"]
        task_reason = ""
        task = route_input.task
        if task is None and self._uses_task:
            label = self._classifier.classify(route_input.prompt)
            task, task_reason = label.task, label.reason
        for rule in self._settings.routing.rules:
            if _matches(rule, route_input, task):
                detail = task_reason if rule.when.task else _describe(rule)
                return rule.tier, [f"rule '{rule.name}'" + (f": {detail}" if detail else "")]
        return None


def _matches(rule: Rule, route_input: RouteInput, task: str | None) -> bool:
    when = rule.when
    if when.latency and route_input.latency not in when.latency:
        return False
    if when.task and task not in when.task:
        return False
    if when.min_tokens is not None and route_input.estimated_tokens < when.min_tokens:
        return False
    if when.max_tokens is not None and route_input.estimated_tokens > when.max_tokens:
        return False
    if when.tools is not None and route_input.needs_tools != when.tools:
        return False
    return when.images is None or route_input.needs_vision == when.images


def _describe(rule: Rule) -> str:
    when = rule.when
    parts = []
    if when.latency:
        parts.append(f"latency {'/'.join(sorted(when.latency))}")
    if when.min_tokens is not None:
        parts.append(f">= {when.min_tokens} tokens")
    if when.max_tokens is not None:
        parts.append(f"<= {when.max_tokens} tokens")
    if when.tools is not None:
        parts.append("tools" if when.tools else "no tools")
    if when.images is not None:
        parts.append("images" if when.images else "no images")
    return ", ".join(parts)
