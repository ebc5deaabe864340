"""Savings and quality with evidence in the ledger: judged quality beside each saving, shadow answers' real
token counts in the counterfactual, the cost-quality curve, and the evidence loop's own calls kept apart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.query.evidence_rows import Judged, write_evidence
from tests.query.known_traffic import KNOWN, ROUTED, SETTINGS, T0, entry, write_known_ledger
from tierwise.evidence.stats import ratio_of_means
from tierwise.ledger.store import Ledger
from tierwise.pricing import PriceBook
from tierwise.query import Period, QueryContext, SqliteSource, build_report, overview, request_detail
from tierwise.types import Usage

CONTEXT = QueryContext.from_settings(SETTINGS)
SONNET, OPUS, HAIKU = "claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5"
JUDGED: list[Judged] = [
    ("r-speed", "speed", HAIKU, "default", SONNET, 0.8, 1.0, 0.1),
    ("r-x1", "speed", HAIKU, "default", SONNET, 1.0, 1.0, 0.1),
    ("r-default", "default", SONNET, "escalation", OPUS, 0.9, 1.0, 0.2),
    ("r-s1-a", "default", SONNET, "escalation", OPUS, 1.0, 1.0, 0.25),
    ("r-x2", "default", SONNET, "escalation", OPUS, 0.5, 1.0, 0.3),
    ("r-x3", "default", SONNET, "escalation", OPUS, 1.0, 0.9, 0.22),
    ("r-x4", "default", SONNET, "escalation", OPUS, 0.7, 0.8, 0.28),
    ("r-x5", "default", SONNET, "escalation", OPUS, 1.0, 1.0, 0.21),
]
ESCALATION_PAIRS = [j for j in JUDGED if j[3] == "escalation"]


@pytest.fixture
def source(tmp_path: Path) -> SqliteSource:
    path = write_known_ledger(tmp_path / "tierwise.db")
    write_evidence(path, JUDGED, at=T0 + 10)
    ledger = Ledger(path, models=SETTINGS.models, baseline=OPUS)  # a shadow call, as the evidence loop records it
    ledger.record(entry("shadow-r-default", 20, model=OPUS, tier="escalation", policy="shadow", traffic="shadow"))
    ledger.close()
    return SqliteSource(path)


def test_judged_quality_stands_beside_each_saving(source: SqliteSource) -> None:
    baseline, premium = overview(source, Period(), CONTEXT).savings
    # Against the baseline (a default-tier model): the pairs whose stronger side is the default tier.
    assert baseline.quality.n == 2 and baseline.quality.mean == pytest.approx(1.8 / 2.0)
    assert baseline.quality.low is None and "too few for an interval" in baseline.quality.text
    expected = ratio_of_means([j[5] for j in ESCALATION_PAIRS], [j[6] for j in ESCALATION_PAIRS])
    assert expected is not None
    assert premium.quality.n == len(ESCALATION_PAIRS)
    assert (premium.quality.mean, premium.quality.low, premium.quality.high) == pytest.approx(
        (expected.ratio, expected.low, expected.high)
    )
    shown = premium.as_dict()["quality"]
    assert shown["interval_95"] == [round(expected.low, 4), round(expected.high, 4)]
    assert f"n={len(ESCALATION_PAIRS)}" in shown["text"]


def test_counterfactuals_use_the_shadow_answers_real_token_counts(source: SqliteSource) -> None:
    baseline, premium = overview(source, Period(), CONTEXT).savings
    book = PriceBook()
    shadowed = {"r-default", "r-s1-a"}  # routed requests with an Opus shadow answer of 900 in / 300 out
    expected = Decimal(0)
    for item in KNOWN:
        if item.request_id in ROUTED:
            usage = Usage(input_tokens=900, output_tokens=300) if item.request_id in shadowed else item.usage
            cost = book.cost(SETTINGS.models[OPUS], usage)
            assert cost is not None
            expected += cost
    assert premium.from_shadow == 2 and premium.counterfactual == expected
    assert baseline.from_shadow == 1  # r-speed has a Sonnet shadow answer


def test_the_evidence_loops_own_calls_are_kept_apart(source: SqliteSource) -> None:
    summary = overview(source, Period(), CONTEXT)
    assert summary.total.requests == len(KNOWN)
    assert summary.evidence_calls.requests == 1 and summary.evidence_calls.spend > 0


def test_the_curve_runs_from_always_cheaper_to_always_stronger(source: SqliteSource) -> None:
    curve = build_report(source, Period(), CONTEXT, now=T0).curve
    assert (curve.cheap_tier, curve.strong_tier, curve.n) == ("default", "escalation", len(ESCALATION_PAIRS))
    first, last = curve.points[0], curve.points[-1]
    assert first.label == "always default" and first.relative_cost == pytest.approx(0.2)
    assert last.label == "always escalation" and (last.relative_cost, last.quality) == pytest.approx((1.0, 1.0))
    costs = [p.relative_cost for p in curve.points]
    assert costs == sorted(costs) and len(curve.points) > 2
    assert curve.operating_point is not None and curve.operating_point.label == "as served"
    assert curve.operating_point.relative_cost == pytest.approx(0.2)  # every one of them was served on default


def test_a_request_shows_its_comparison_and_verdict(source: SqliteSource) -> None:
    detail = request_detail(source, "r-default", CONTEXT)
    assert detail is not None
    (comparison,) = detail.as_dict()["comparisons"]
    assert comparison["shadow_model"] == OPUS and comparison["shadow_tier"] == "escalation"
    assert (comparison["served_score"], comparison["shadow_score"], comparison["verdict"]) == (
        0.9,
        1.0,
        "shadow better",
    )
    assert (comparison["shadow_input_tokens"], comparison["shadow_output_tokens"]) == (900, 300)
