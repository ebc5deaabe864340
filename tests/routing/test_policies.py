"""Learned, cascade and session policies on top of the rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.config.settings import LearnedSettings, Settings
from tierwise.routing.cascade import CascadeRouter
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.decision import RouteInput
from tierwise.routing.learned import LearnedRouter
from tierwise.routing.rules import RulesRouter
from tierwise.routing.sessions import SessionRouter


class LengthScorer:
    """A real PromptScorer: longer prompts are 'harder'. Enough to test the policy arithmetic."""

    def score(self, prompt: str) -> float:
        return min(len(prompt) / 100.0, 1.0)

    def describe(self) -> str:
        return "length scorer"


@pytest.fixture(scope="module")
def settings() -> Settings:
    base = parse_settings(default_config_text(), source="default", environ={})
    return replace(base, routing=replace(base.routing, learned=LearnedSettings(threshold=0.5)))


def ask(prompt: str, **fields: object) -> RouteInput:
    return RouteInput(requested_model="auto", prompt=prompt, estimated_tokens=len(prompt) // 4, **fields)  # type: ignore[arg-type]


def test_learned_threshold_splits_weak_and_strong(settings: Settings) -> None:
    router = LearnedRouter(settings, RulesRouter(settings, KeywordTaskClassifier()), LengthScorer())
    easy = router.decide(ask("short question about birds"))
    assert easy.tier == "default" and easy.score == pytest.approx(0.26)
    assert easy.reason == "length scorer: score 0.26 < threshold 0.50"
    hard = router.decide(ask("a much longer question about birds " * 3))
    assert hard.tier == "escalation" and ">= threshold 0.50" in hard.reason
    # Rules still come first: realtime traffic goes to the speed tier whatever the score.
    assert router.decide(ask("a much longer question about birds " * 3, latency="realtime")).tier == "speed"


def test_cascade_goes_straight_to_strong_when_the_prior_is_confident(settings: Settings) -> None:
    router = CascadeRouter(settings, RulesRouter(settings, KeywordTaskClassifier()), LengthScorer())
    checked = router.decide(ask("what is 6 times 7"))
    assert checked.policy == "cascade" and checked.tier == "default"
    assert "speed checks" in checked.reason
    direct = router.decide(ask("x" * 90))
    assert direct.policy == "learned" and direct.tier == "escalation"


def test_sticky_session_never_drops_silently(settings: Settings) -> None:
    router = SessionRouter(RulesRouter(settings, KeywordTaskClassifier()), settings)
    first = router.decide(ask("Prove that there are infinitely many primes", session="s-1"))
    assert first.tier == "escalation"
    second = router.decide(ask("And what about twin primes then?", session="s-1"))
    assert second.tier == "escalation" and second.model == "claude-opus-4-7"
    assert second.reason.startswith("session stays on escalation (would have been default")
    other = router.decide(ask("And what about twin primes then?", session="s-2"))
    assert other.tier == "default"


def test_sticky_session_moves_up_visibly_and_explicit_tier_overrides(settings: Settings) -> None:
    router = SessionRouter(RulesRouter(settings, KeywordTaskClassifier()), settings)
    router.decide(ask("Translate 'cat' into French", conversation="42"))
    up = router.decide(ask("Now design an algorithm to translate any sentence", conversation="42"))
    assert up.tier == "escalation" and "session moved up from speed to escalation" in up.reason
    asked = router.decide(ask("short follow-up", conversation="42", explicit_tier="speed"))
    assert asked.tier == "speed"  # the client asked for it: that is visible, not silent


def test_a_conversation_held_on_a_tier_is_not_cascaded_there(settings: Settings) -> None:
    router = SessionRouter(
        CascadeRouter(settings, RulesRouter(settings, KeywordTaskClassifier()), LengthScorer()), settings
    )
    router.decide(ask("Prove that there are infinitely many primes", session="c-1"))  # a rule: escalation
    held = router.decide(ask("And what about twin primes then?", session="c-1"))
    assert held.tier == "escalation" and held.policy == "sticky" and not held.cascade


def test_cascade_is_not_planned_for_streams_or_tool_calls(settings: Settings) -> None:
    router = CascadeRouter(settings, RulesRouter(settings, KeywordTaskClassifier()), LengthScorer())
    assert router.decide(ask("what is 6 times 7")).cascade
    streamed = router.decide(ask("what is 6 times 7", stream=True))
    assert not streamed.cascade and "no answer check (streaming)" in streamed.reason
    assert not router.decide(ask("what is 6 times 7", needs_tools=True)).cascade


def test_sessions_of_different_callers_do_not_share_a_tier(settings: Settings) -> None:
    router = SessionRouter(RulesRouter(settings, KeywordTaskClassifier()), settings)
    router.decide(ask("Prove that there are infinitely many primes", session="shared", caller="key-a"))
    assert router.decide(ask("And what about twin primes then?", session="shared", caller="key-b")).tier == "default"
    assert router.decide(ask("And what about twin primes then?", session="shared", caller="key-a")).tier == "escalation"


def test_decisions_carry_the_escalations_dispatch_may_use(settings: Settings) -> None:
    decision = RulesRouter(settings, KeywordTaskClassifier()).decide(ask("Describe the water cycle"))
    assert decision.fallbacks == ("gpt-5.1", "gpt-4.1")
    assert decision.escalations == ("claude-opus-4-7", "gpt-5.2")
    off = replace(settings, reliability=replace(settings.reliability, fallback_to_next_tier=False))
    assert RulesRouter(off, KeywordTaskClassifier()).decide(ask("Describe the water cycle")).escalations == ()
