"""Build the router a configuration asks for."""

from __future__ import annotations

from tierwise.config.settings import Settings
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.decision import Router
from tierwise.routing.rules import RulesRouter
from tierwise.routing.sticky import StickyRouter


def build_router(settings: Settings) -> Router:
    rules = RulesRouter(settings, KeywordTaskClassifier())
    router: Router = rules
    if settings.routing.policy == "learned":
        from tierwise.routing.learned import LearnedRouter

        router = LearnedRouter(settings, rules)
    elif settings.routing.policy == "cascade":
        from tierwise.routing.cascade import CascadeRouter

        router = CascadeRouter(settings, rules)
    return StickyRouter(router, settings) if settings.routing.sticky_sessions else router
