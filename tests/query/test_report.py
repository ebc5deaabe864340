"""The query layer over a known ledger: savings count only what routing decided, against a stated baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.query.known_traffic import KNOWN, ROUTED, SETTINGS, T0, write_known_ledger
from tierwise.errors import ConfigError, InvalidRequest
from tierwise.pricing import PriceBook
from tierwise.query import (
    NO_EVIDENCE,
    Period,
    QueryContext,
    SqliteSource,
    build_report,
    overview,
    parse_period,
    request_detail,
    sessions,
    tier_timeline,
)

CONTEXT = QueryContext.from_settings(SETTINGS)


@pytest.fixture
def source(tmp_path: Path) -> SqliteSource:
    return SqliteSource(write_known_ledger(tmp_path / "tierwise.db"))


def priced(alias: str, request_ids: tuple[str, ...]) -> Decimal:
    book = PriceBook()
    total = Decimal(0)
    for item in KNOWN:
        if item.request_id in request_ids:
            cost = book.cost(SETTINGS.models[alias], item.usage)
            assert cost is not None
            total += cost
    return total


def spent(request_ids: tuple[str, ...]) -> Decimal:
    book = PriceBook()
    total = Decimal(0)
    for item in KNOWN:
        if item.request_id in request_ids and item.model:
            cost = book.cost(SETTINGS.models[item.model], item.usage)
            assert cost is not None
            total += cost
    return total


def test_the_baseline_is_the_default_tiers_first_model_and_escalation_the_second_line() -> None:
    assert CONTEXT.baseline == "claude-sonnet-4-6"
    assert CONTEXT.premium == "claude-opus-4-7"
    assert "without routing" in CONTEXT.baseline_source
    chosen = QueryContext.from_settings(SETTINGS, baseline="gpt-5.1")
    assert chosen.baseline == "gpt-5.1" and "--baseline" in chosen.baseline_source
    with pytest.raises(ConfigError, match="not a configured model"):
        QueryContext.from_settings(SETTINGS, baseline="nope")


def test_savings_count_only_requests_that_routing_decided(source: SqliteSource) -> None:
    summary = overview(source, Period(), CONTEXT)
    baseline, premium = summary.savings
    assert (baseline.name, baseline.against, premium.name, premium.against) == (
        "baseline", "claude-sonnet-4-6", "all-escalation", "claude-opus-4-7",
    )  # fmt: skip
    assert baseline.requests == premium.requests == len(ROUTED)
    assert baseline.spend == premium.spend == spent(ROUTED)
    assert baseline.counterfactual == priced("claude-sonnet-4-6", ROUTED)
    assert premium.counterfactual == priced("claude-opus-4-7", ROUTED)
    # Opus answered two routed turns of the session: against Sonnet those cost more, not less.
    assert baseline.saved == priced("claude-sonnet-4-6", ROUTED) - spent(ROUTED)
    assert premium.saved > baseline.saved
    for line in (baseline, premium):
        assert line.quality.n == 0 and line.quality.text == NO_EVIDENCE
        assert line.as_dict()["quality"]["interval_95"] is None


def test_requests_routing_did_not_decide_are_shown_apart(source: SqliteSource) -> None:
    routes = overview(source, Period(), CONTEXT).routes
    counts = {name: tally.requests for name, tally in routes.items()}
    assert counts == {"routed": 5, "explicit": 2, "direct": 1, "fallback": 1, "failed": 1, "refused": 1}
    assert routes["direct"].spend == spent(("r-direct",))
    assert routes["fallback"].spend == spent(("r-fallback",))
    summary = overview(source, Period(), CONTEXT).as_dict()
    assert summary["requests"] == len(KNOWN) and summary["errors"] == 2
    assert Decimal(summary["spend_usd"]) == spent(tuple(item.request_id for item in KNOWN)).quantize(Decimal("1e-6"))


def test_a_period_narrows_every_figure(source: SqliteSource) -> None:
    first_hour = Period(since=T0, until=T0 + 3600)
    assert overview(source, first_hour, CONTEXT).total.requests == 8
    later = parse_period(since=str(T0 + 3600))
    assert overview(source, later, CONTEXT).total.requests == 3
    with pytest.raises(InvalidRequest, match="not a period"):
        parse_period("seven days")
    with pytest.raises(InvalidRequest, match="ends before it starts"):
        parse_period(since="2026-12-02", until="2026-12-01")


def test_sessions_show_each_switch_with_its_reason(source: SqliteSource) -> None:
    (only,) = sessions(source, Period())
    assert (only.session, only.key_id, only.requests) == ("s1", "tw-00000001", 3)
    assert only.tiers == ("default", "escalation")
    (switch,) = only.switches
    assert (switch.request_id, switch.from_tier, switch.to_tier) == ("r-s1-b", "default", "escalation")
    assert "session moved up" in switch.reason


def test_tiers_over_time_in_hourly_buckets(source: SqliteSource) -> None:
    timeline = tier_timeline(source, Period())
    assert timeline.step_s == 3600 and len(timeline.buckets) == 2
    first, second = timeline.buckets
    assert first.requests == 8 and first.fallbacks == 1 and first.errors == 2
    assert first.tier_requests == {"speed": 2, "default": 5, "escalation": 1}
    assert second.tier_requests == {"default": 1, "escalation": 2} and second.escalations == 1


def test_request_drill_down_has_decision_attempts_and_costs(source: SqliteSource) -> None:
    detail = request_detail(source, "r-fallback", CONTEXT)
    assert detail is not None
    shown = detail.as_dict()
    assert shown["route"] == "fallback" and shown["reasons"] == ["no rule matched: default tier"]
    assert [a["status"] for a in shown["attempts"]] == [503, 200]
    assert shown["baseline"] == "claude-sonnet-4-6" and Decimal(shown["baseline_cost_usd"]) > 0
    assert shown["comparisons"] == []
    assert request_detail(source, "nope", CONTEXT) is None


def test_report_json_from_the_command(tmp_path: Path) -> None:
    path = write_known_ledger(tmp_path / "tierwise.db")
    out = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "report", "--ledger", str(path), "--json", "--since", str(T0 + 3600)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    shown = json.loads(out.stdout)
    direct = build_report(SqliteSource(path), parse_period(since=str(T0 + 3600)), CONTEXT, now=T0 + 4000).as_dict()
    for name in ("requests", "spend_usd", "savings", "routes", "tiers_over_time", "sessions", "baseline"):
        assert shown[name] == direct[name], name
    assert shown["requests"] == 3
    text = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "report", "--ledger", str(path), "--baseline", "gpt-5.1"],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    assert "vs baseline" in text and "gpt-5.1" in text and NO_EVIDENCE in text


def test_html_report_is_one_self_contained_file_with_plots(tmp_path: Path) -> None:
    path = write_known_ledger(tmp_path / "tierwise.db")
    html_file = tmp_path / "report.html"
    subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "report", "--ledger", str(path), "--html", str(html_file)],
        capture_output=True, check=True,
    )  # fmt: skip
    html = html_file.read_text()
    assert html.count("<svg") == 2  # spend by tier over time; cost against quality
    assert 'aria-label="spend by tier over time"' in html and 'aria-label="cost against quality"' in html
    for outside in ("http://", "https://", "<link", "<script", "<img"):
        assert outside not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert NO_EVIDENCE in html and "claude-sonnet-4-6" in html
