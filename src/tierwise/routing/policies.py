"""Build the router a configuration asks for."""

from __future__ import annotations

from tierwise.config.settings import Settings
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.decision import Router
from tierwise.routing.rules import RulesRouter


def build_router(settings: Settings) -> Router:
    rules = RulesRouter(settings, KeywordTaskClassifier())
    if settings.routing.policy == "learned":
        from tierwise.routing.learned import LearnedRouter

        return LearnedRouter(settings, rules)
    return rules
