"""Rules routing: explicit tiers, rules in order, context and capability filtering, named models."""

from __future__ import annotations

import pytest

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.config.settings import Settings
from tierwise.errors import InvalidRequest, NotFound, PayloadTooLarge
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.decision import RouteInput
from tierwise.routing.features import route_input
from tierwise.routing.rules import RulesRouter
from tierwise.types import ChatRequest, ImagePart, Message, TextPart, ToolSpec


@pytest.fixture(scope="module")
def settings() -> Settings:
    return parse_settings(default_config_text(), source="default", environ={})


@pytest.fixture(scope="module")
def router(settings: Settings) -> RulesRouter:
    return RulesRouter(settings, KeywordTaskClassifier())


def ask(prompt: str, **fields: object) -> RouteInput:
    fields.setdefault("estimated_tokens", len(prompt) // 4)
    return RouteInput(requested_model=str(fields.pop("model", "auto")), prompt=prompt, **fields)  # type: ignore[arg-type]


def test_no_rule_goes_to_default_tier_with_fallbacks(router: RulesRouter) -> None:
    decision = router.decide(ask("Tell me about the history of the Hanseatic League"))
    assert (decision.model, decision.tier) == ("claude-sonnet-4-6", "default")
    assert decision.fallbacks == ("gpt-5.1", "gpt-4.1")
    assert decision.reason == "no rule matched: default tier"


def test_realtime_latency_selects_speed(router: RulesRouter) -> None:
    decision = router.decide(ask("Tell me about the Hanseatic League", latency="realtime"))
    assert decision.tier == "speed" and "realtime" in decision.reason


def test_task_rules(router: RulesRouter) -> None:
    assert router.decide(ask("Translate 'good night' into German")).tier == "speed"
    hard = router.decide(ask("Prove that the square root of 2 is irrational."))
    assert hard.tier == "escalation" and "hard-reasoning" in hard.reason
    # A light task over the rule's size limit is not sent to the speed tier.
    assert router.decide(ask("Translate this: " + "word " * 20000)).tier == "default"


def test_explicit_tier_wins_over_rules(router: RulesRouter) -> None:
    decision = router.decide(ask("Prove that 2 is prime", explicit_tier="speed"))
    assert decision.tier == "speed" and decision.reason == "tier speed requested"


def test_context_window_skips_models_and_says_so(router: RulesRouter) -> None:
    # Windows from the genai-prices data: Sonnet 4.6 and GPT-4.1 1M, GPT-5.1 400K.
    decision = router.decide(ask("long", estimated_tokens=500_000))
    assert decision.model == "claude-sonnet-4-6" and decision.fallbacks == ("gpt-4.1",)
    assert "skipped gpt-5.1 context 400k" in decision.reason
    speed = router.decide(ask("long", estimated_tokens=300_000, explicit_tier="speed"))
    assert speed.model == "gpt-5-mini" and "skipped claude-haiku-4-5 context 200k" in speed.reason


def test_too_long_for_the_tier_moves_to_another_tier(router: RulesRouter) -> None:
    decision = router.decide(ask("long", estimated_tokens=600_000, latency="realtime"))
    assert decision.model == "claude-sonnet-4-6" and decision.tier == "default"
    assert "moved to default" in decision.reason


def test_max_tokens_above_a_models_limit_does_not_unfit_it(router: RulesRouter) -> None:
    # Dispatch caps max_tokens at the output limit, so only the limit has to fit in the window.
    decision = router.decide(ask("long", estimated_tokens=120_000, max_output_tokens=1_000_000, explicit_tier="speed"))
    assert decision.model == "claude-haiku-4-5"


def test_too_long_for_everything_is_a_clear_error(router: RulesRouter) -> None:
    # The client's to fix: a 413 naming the largest context window, not a 503 its SDK would retry.
    with pytest.raises(PayloadTooLarge, match="largest context window"):
        router.decide(ask("huge", estimated_tokens=5_000_000))


def test_capabilities_filter_models(router: RulesRouter) -> None:
    decision = router.decide(ask("plan", estimated_tokens=500_000, needs_thinking=True))
    assert decision.model == "claude-sonnet-4-6" and decision.fallbacks == ()  # gpt-4.1 fits but cannot think
    assert "gpt-4.1 lacks thinking" in decision.reason


def test_named_model_is_used_as_is(router: RulesRouter) -> None:
    decision = router.decide(ask("hi", model="gpt-5-mini"))
    assert (decision.model, decision.policy, decision.fallbacks) == ("gpt-5-mini", "direct", ())
    with pytest.raises(NotFound, match="model 'llama-3' is not configured and matches no model pattern"):
        router.decide(ask("hi", model="llama-3"))


@pytest.mark.parametrize(
    ("model", "tier"),
    [
        ("claude-opus-5-5", "escalation"),  # Claude Code 2.1's default main model
        ("claude-haiku-4-5-20251001", "speed"),  # its background model
        ("claude-sonnet-4-6[1m]", "default"),
        ("us.anthropic.claude-opus-4-7-v1:0", "escalation"),
        ("gpt-5.3-codex", "default"),  # Codex's default
        ("gpt-5.1-codex-mini", "speed"),
        ("o3", "escalation"),
        ("o4-mini", "speed"),
        ("gpt-5.2-pro", "escalation"),
    ],
)
def test_unknown_ids_of_known_families_route_by_pattern(
    settings: Settings, router: RulesRouter, model: str, tier: str
) -> None:
    decision = router.decide(ask("hello there", model=model))
    assert decision.tier == tier and decision.policy == "rules"
    assert f"model '{model}' matches pattern" in decision.reason
    assert decision.model == settings.tiers[decision.tier][0]


def test_a_pattern_may_leave_the_tier_to_the_policy() -> None:
    text = default_config_text().replace("tier: escalation}      # Claude Code", "tier: auto}      # Claude Code")
    settings = parse_settings(text, source="t", environ={})
    decision = RulesRouter(settings, KeywordTaskClassifier()).decide(ask("translate this", model="claude-opus-5-5"))
    assert decision.tier == "speed" and "rule 'light task'" in decision.reason
    router = RulesRouter(settings, KeywordTaskClassifier())
    assert router.decide(ask("hi", model="claude-opus-9", explicit_tier="default")).tier == "default"


def test_route_input_reads_request_and_headers() -> None:
    request = ChatRequest(
        model="tier/escalation",
        system=(TextPart(text="be brief"),),
        messages=(
            Message(role="user", parts=(TextPart(text="first question"),)),
            Message(role="assistant", parts=(TextPart(text="answer"),)),
            Message(role="user", parts=(TextPart(text="look"), ImagePart(url="http://x/y.png"))),
        ),
        tools=(ToolSpec(name="search"),),
        max_tokens=100,
    )
    features = route_input(request, {"x-tierwise-latency": " Realtime ", "x-tierwise-session": "s1"})
    assert features.explicit_tier == "escalation" and features.latency == "realtime"
    assert features.prompt == "look" and features.needs_vision and features.needs_tools
    assert features.max_output_tokens == 100 and features.session == "s1"
    assert features.estimated_tokens > 1600 and features.conversation is not None
    with pytest.raises(InvalidRequest, match="unknown tier 'turbo'"):
        route_input(ChatRequest(model="tier/turbo", messages=request.messages), {})


HARD_PROMPTS_WITH_LIGHT_KEYWORDS = (
    "Classify each of the following contract clauses by legal risk (indemnity, limitation of liability, IP "
    "assignment, non-compete), explain your reasoning, and flag the clauses that conflict with each other.\n"
    "1. The Supplier shall indemnify the Customer against all losses arising from ...\n"
    "2. Neither party's aggregate liability shall exceed the fees paid in the twelve months ...",
    "Translate this licence agreement into German, keeping the defined terms and clause numbering, and note "
    "where German law would read a clause differently: 'Section 4.2: The Licensee may not sublicense ...'",
    "Extract every function call from the module below, build its call graph and tell me which functions are "
    "unreachable from main():\n```python\ndef main():\n    load()\n    run()\n\ndef load(): ...\n```",
    "Hey, can you prove that every planar graph is 5-colourable, and show where the argument fails for 4?",
    "Hey team, our Postgres primary failed over twice last night and two services kept writing to the old "
    "primary. Walk me through a root-cause analysis and a plan to prevent split-brain.",
)


@pytest.mark.parametrize("prompt", HARD_PROMPTS_WITH_LIGHT_KEYWORDS)
def test_a_keyword_alone_never_sends_a_hard_prompt_to_speed(router: RulesRouter, prompt: str) -> None:
    decision = router.decide(ask(prompt))
    assert decision.tier != "speed", decision.reason


@pytest.mark.parametrize(
    "prompt",
    [
        "Translate 'good night' into German",
        "Classify the sentiment of this review: 'Arrived broken, very disappointed.'",
        "Extract the email address from: 'write to ana@example.org by Friday'",
        "Hey, how are you?",
    ],
)
def test_short_simple_light_tasks_still_go_to_speed(router: RulesRouter, prompt: str) -> None:
    assert router.decide(ask(prompt)).tier == "speed"
