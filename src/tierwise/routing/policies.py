"""Build the router a configuration asks for."""

from __future__ import annotations

from tierwise.config.settings import Settings
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.decision import Router
from tierwise.routing.rules import RulesRouter
from tierwise.routing.sessions import SessionRouter, SessionStore
from tierwise.routing.tuning import Tuning


def build_router(settings: Settings, *, tuning: Tuning | None = None) -> Router:
    """The configured policy, wrapped in session stickiness when that is on. ``tuning``: the operating point
    the evidence loop keeps (the learned policy with a ``routing.target``)."""
    return with_sessions(build_policy(settings, tuning=tuning), settings)


def with_sessions(policy: Router, settings: Settings, *, store: SessionStore | None = None) -> Router:
    """``store``: the sessions to carry on (a reloaded gateway keeps its predecessor's)."""
    return SessionRouter(policy, settings, store) if settings.routing.sticky_sessions else policy


def build_policy(settings: Settings, *, tuning: Tuning | None = None) -> Router:
    """The configured policy alone: what a request would get without its session's history."""
    rules = RulesRouter(settings, KeywordTaskClassifier())
    router: Router = rules
    if settings.routing.policy == "learned":
        from tierwise.routing.learned import LearnedRouter

        router = LearnedRouter(settings, rules, tuning=tuning)
    elif settings.routing.policy == "cascade":
        from tierwise.routing.cascade import CascadeRouter

        router = CascadeRouter(settings, rules)
    return router
