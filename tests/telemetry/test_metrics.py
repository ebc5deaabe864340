"""The in-process metrics: what one entry adds, how workers' totals merge, and the text format."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.telemetry.prometheus import parse_metrics, total
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.telemetry.metrics import Metrics, MetricsShare
from tierwise.types import Usage

TIERS = {"small": "speed", "mid": "default", "big": "escalation"}


def entry(**fields: object) -> LedgerEntry:
    base: dict[str, object] = {"request_id": "r", "started_at": 0.0, "api": "openai", "status": 200}
    return LedgerEntry(**{**base, **fields})  # type: ignore[arg-type]


def test_one_escalated_fallback_and_one_budget_rejection() -> None:
    metrics = Metrics(TIERS)
    metrics.observe(
        entry(
            policy="rules",
            tier="default",
            model="big",
            usage=Usage(input_tokens=10, output_tokens=5, cache_read_tokens=3),
            latency_ms=120.0,
            attempts=[Attempt(model="mid", status=503), Attempt(model="big", status=200)],
        ),
        Decimal("0.25"),
    )
    metrics.observe(entry(status=429, error_kind="BudgetExceeded", latency_ms=0.3), None)
    samples = parse_metrics(metrics.render({}).decode())
    assert total(samples, "tierwise_requests_total") == 2
    assert total(samples, "tierwise_requests_total", model="big", tier="default", code="200") == 1
    assert total(samples, "tierwise_tokens_total", kind="cache_read") == 3
    assert total(samples, "tierwise_cost_usd_total", model="big") == 0.25
    assert total(samples, "tierwise_fallbacks_total", tier="default") == 1
    assert total(samples, "tierwise_escalations_total", from_tier="default", to_tier="escalation") == 1
    assert total(samples, "tierwise_budget_rejections_total") == 1
    assert total(samples, "tierwise_rate_limit_rejections_total") == 0
    assert total(samples, "tierwise_request_errors_total", kind="BudgetExceeded") == 1
    # 0.3 ms falls in the first bucket, 120 ms in the 0.25 s one; buckets are cumulative.
    assert (
        samples[("tierwise_request_duration_seconds_bucket", (("api", "openai"), ("le", "0.005"), ("stream", "false")))]
        == 1
    )
    assert (
        samples[("tierwise_request_duration_seconds_bucket", (("api", "openai"), ("le", "0.25"), ("stream", "false")))]
        == 2
    )
    assert (
        samples[("tierwise_request_duration_seconds_bucket", (("api", "openai"), ("le", "+Inf"), ("stream", "false")))]
        == 2
    )


def test_workers_totals_merge_through_their_snapshot_files(tmp_path: Path) -> None:
    first, second = Metrics(TIERS), Metrics(TIERS)
    for metrics, count in ((first, 2), (second, 3)):
        for _ in range(count):
            metrics.observe(entry(model="mid", tier="default", latency_ms=5.0, usage=Usage(input_tokens=7)), None)
    share = MetricsShare(second, str(tmp_path), index=1, interval_s=3600)
    share.close()  # writes its file once more on the way out
    (tmp_path / "worker-2.json").write_text("{half a file")  # a torn or foreign file is skipped
    mine = MetricsShare(first, str(tmp_path), index=0, interval_s=3600)
    samples = parse_metrics(first.merged(mine.others()).render({}).decode())
    mine.close()
    assert total(samples, "tierwise_requests_total") == 5
    assert total(samples, "tierwise_tokens_total", kind="input") == 35
    assert total(samples, "tierwise_request_duration_seconds_count") == 5


def test_label_values_are_escaped() -> None:
    metrics = Metrics({'we"ird\\alias': "speed"})
    metrics.observe(entry(model='we"ird\\alias', tier="speed"), None)
    text = metrics.render({}).decode()
    assert 'model="we\\"ird\\\\alias"' in text
    assert total(parse_metrics(text), "tierwise_requests_total") == 1


def test_optional_backends_are_not_imported_when_not_configured() -> None:
    code = (
        "import asyncio, sys\n"
        "from tierwise.config.loader import load_settings\n"
        "from tierwise.server.app import build_app\n"
        "from tierwise.server.gateway import Gateway\n"
        "from tierwise.telemetry import Telemetry\n"
        "t = Telemetry.start(load_settings())\n"
        "assert not [m for m in sys.modules if m.startswith(('opentelemetry', 'redis', 'psycopg'))], 'imported'\n"
        "assert t.metrics is not None and len(t.observers) == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)
