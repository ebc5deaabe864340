"""The evidence package's parts on their own: intervals, the cut the loop picks, judges, tiers, retention."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import numpy as np
import pytest

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.config.settings import RoutingTarget
from tierwise.evidence.judges import AgreementJudge, Candidate, Case, equivalent
from tierwise.evidence.loop import NOTHING_ESCALATED, choose
from tierwise.evidence.records import Answer, Comparison, Sample
from tierwise.evidence.shadow import shadow_tier
from tierwise.evidence.stats import ratio_of_means
from tierwise.evidence.store import LedgerEvidenceStore


def comparison(i: int, cheap: float, strong: float, *, at: float = 0.0) -> Comparison:
    return Comparison(
        sample_id=f"s{i}", created_at=at + i, judge="test", cheap_tier="default", cheap_model="a", cheap_score=cheap,
        cheap_cost_usd=1.0, strong_tier="escalation", strong_model="b", strong_score=strong, strong_cost_usd=4.0,
        served="cheap", shadow_answer=Answer(text="x"), shadow_input_tokens=10, shadow_output_tokens=5,
        shadow_request_id=f"tws_{i}",
    )  # fmt: skip


def test_ratio_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    covered = 0
    for _ in range(400):
        strong = [float(rng.random() < 0.8) for _ in range(200)]
        cheap = [s if rng.random() < 0.9 else 1.0 - s for s in strong]  # truth: 0.8*0.9 + 0.2*0.1 = 0.74 / 0.8
        found = ratio_of_means(cheap, strong)
        assert found is not None and found.low <= found.ratio <= found.high
        covered += found.low <= 0.74 / 0.8 <= found.high
    assert 0.91 <= covered / 400 <= 0.99
    assert ratio_of_means([1.0] * 4, [1.0] * 4) is None  # too few pairs to say anything
    assert ratio_of_means([0.0] * 9, [0.0] * 9) is None  # the stronger tier never scored


def test_the_loop_escalates_exactly_what_its_lower_bound_needs() -> None:
    # the cheap tier fails on the prompts scored highest; the scores rank them perfectly
    n = 400
    cheap = [0.0 if i < 100 else 1.0 for i in range(n)]
    comparisons = [comparison(i, cheap[i], 1.0) for i in range(n)]
    scores = np.array([1.0 - i / n for i in range(n)])
    everything = choose(scores, comparisons, RoutingTarget(quality=1.0), 0.95)
    assert everything.escalated_share == 0.25 and everything.low >= 1.0 - 1e-9  # exactly the 100 failures
    lax = choose(scores, comparisons, RoutingTarget(quality=0.5), 0.95)
    assert lax.threshold == NOTHING_ESCALATED and lax.escalated_share == 0.0 and lax.low >= 0.5
    middle = choose(scores, comparisons, RoutingTarget(quality=0.9), 0.95)
    assert 0.0 < middle.escalated_share < 0.25 and middle.low >= 0.9
    assert middle.estimate > middle.low  # an estimate above the bound that had to meet the target
    budget = choose(scores, comparisons, RoutingTarget(cost=0.5), 0.95)
    assert budget.cost_share is not None and budget.cost_share <= 0.5
    # with random scores the same target needs more escalation than with a perfect ranking
    shuffled = np.array(random.Random(3).sample(list(scores), n))
    assert choose(shuffled, comparisons, RoutingTarget(quality=0.9), 0.95).escalated_share > middle.escalated_share


def test_agreement_judge_compares_final_answers_json_and_tool_calls() -> None:
    assert equivalent(Answer(text="so the answer is \\boxed{42}"), Answer(text="The answer is 42."))
    assert not equivalent(Answer(text="The answer is 41"), Answer(text="The answer is 42"))
    assert equivalent(Answer(text='{"a": 1, "b": [2]}'), Answer(text='{"b": [2], "a": 1}'))
    assert equivalent(
        Answer(text="", tool_calls=(("get", '{"x": 1, "y": 2}'),)),
        Answer(text="ok", tool_calls=(("get", '{"y":2,"x":1}'),)),
    )
    assert not equivalent(Answer(text="", tool_calls=(("get", "{}"),)), Answer(text="", tool_calls=(("put", "{}"),)))
    case = Case(
        api="openai", body={}, prompt="p",
        candidates=(
            Candidate(model="a", tier="default", answer=Answer(text="The answer is (C)")),
            Candidate(model="b", tier="escalation", answer=Answer(text="answer: C")),
        ),
    )  # fmt: skip
    assert asyncio.run(AgreementJudge().score(case)) == (1.0, 1.0)


def test_shadow_tiers_go_up_from_cheap_tiers_and_down_from_the_top() -> None:
    settings = parse_settings(default_config_text(), source="default", environ={})
    assert shadow_tier(settings, "speed") == "default"
    assert shadow_tier(settings, "default") == "escalation"
    assert shadow_tier(settings, "escalation") == "default"


def test_retention_keeps_the_newest_rows_and_drops_old_ones(tmp_path: Path) -> None:
    store = LedgerEvidenceStore(tmp_path / "tierwise.db")
    now = time.time()
    for i in range(10):
        store.add_sample(
            Sample(
                sample_id=f"s{i}", request_id=f"r{i}", created_at=now - 100 + i, api="openai", key_id=None,
                policy="rules", tier="default", model="a", score=None, prompt="p", request_body="{}",
                answer=Answer(text="t"), input_tokens=1, output_tokens=1,
            )
        )  # fmt: skip
        store.add_comparison(comparison(i, 1.0, 1.0, at=now - 100))
    assert store.prune(max_rows=6, before=now - 98) == 4  # two too old, then two more beyond the newest six
    kept = [s.sample_id for s in store.samples()]
    assert kept == [f"s{i}" for i in range(4, 10)]
    assert [c.sample_id for c in store.comparisons()] == kept  # comparisons go with their samples
    store.close()


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_sample_rates_by_key_override_rates_by_tier(rate: float) -> None:
    settings = parse_settings(
        default_config_text()
        + f"\nevidence:\n  sample_rate: 0.5\n  tier_rates: {{speed: 0.1}}\n  key_rates: {{k1: {rate}}}\n",
        source="test",
        environ={},
    )
    assert settings.evidence.rate("speed", None) == 0.1
    assert settings.evidence.rate("default", "k2") == 0.5
    assert settings.evidence.rate("speed", "k1") == rate


def test_a_target_needs_the_learned_policy_and_evidence() -> None:
    from tierwise.errors import ConfigError

    base = default_config_text()
    with_target = base.replace("  cascade:\n", "  target: {quality: 0.97}\n  cascade:\n", 1)
    learned = with_target.replace("policy: rules ", "policy: learned ")
    with pytest.raises(ConfigError, match=r"set evidence\.enabled: true"):
        parse_settings(learned, source="t", environ={})
    switched_on = with_target.replace("  enabled: false ", "  enabled: true ")
    with pytest.raises(ConfigError, match=r"set routing\.policy: learned"):
        parse_settings(switched_on, source="t", environ={})
    both = learned.replace("  enabled: false ", "  enabled: true ")
    assert parse_settings(both, source="t", environ={}).routing.target is not None
    shipped = parse_settings(base, source="t", environ={})
    assert not shipped.evidence.enabled and shipped.routing.target is None  # shipped: off


def test_the_evidence_scorer_embeds_once_and_scores_as_the_prior_does() -> None:
    from tierwise.brain.artifact import load_router
    from tierwise.evidence.scorer import fit_scorer

    prior = load_router()
    assert prior.embedder is not None
    prompts = [f"Compute {i} * {i + 3} and explain the steps" for i in range(30)]
    for prompt in prompts[:5]:
        embedding = prior.embedder.encode([prompt]).astype(np.float32)[0]
        assert prior.score_embedded(prompt, embedding) == pytest.approx(prior.score(prompt))
    gains = [float(i % 3 == 0) for i in range(30)]
    scorer, loo = fit_scorer(prior, prompts, [1.0 - g for g in gains], [1.0] * 30)
    assert len(loo) == 30 and scorer.n == 30 and 0 < scorer.prior_weight < 1
    assert all(0.0 <= scorer.score(p) <= 1.0 for p in prompts[:5])
