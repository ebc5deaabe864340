"""How long the query layer takes on a ledger of a given size (the console's views and `tierwise report`).

    uv run python scripts/bench_report.py --rows 100000 [--json OUT]

Writes a ledger of ROWS synthetic requests spread over 30 days (with the real ledger writer, into a temporary
SQLite file), then times each query over the last 24 hours, 7 days and 30 days: the overview (what the Overview
page and the savings need), tiers over time, sessions, keys, and the whole report (what `report --json` and
/console/api/report compute).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.keys.store import KeyLimits, KeyStore
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.ledger.store import Ledger
from tierwise.query import (
    QueryContext,
    SqliteSource,
    build_report,
    keys_usage,
    overview,
    parse_period,
    sessions,
    tier_timeline,
)
from tierwise.types import Usage

_TIERS = (("speed", "claude-haiku-4-5"), ("default", "claude-sonnet-4-6"), ("escalation", "claude-opus-4-7"))


def write_ledger(path: Path, rows: int, now: float) -> None:
    settings = parse_settings(default_config_text(), source="default", environ={})
    store = KeyStore(path)
    keys = [store.create(f"team-{n}", KeyLimits(daily_budget=Decimal(50))).record.key_id for n in range(10)]
    ledger = Ledger(path, models=settings.models, baseline="claude-opus-4-7")
    rng = random.Random(7)
    for i in range(rows):
        tier, model = _TIERS[rng.choices((0, 1, 2), weights=(3, 6, 1))[0]]
        ledger.record(
            LedgerEntry(
                request_id=f"r{i}", started_at=now - rng.random() * 30 * 86_400, api="openai",
                requested_model="auto", policy="rules", tier=tier, model=model, reasons="no rule matched",
                status=200 if rng.random() > 0.02 else 502, session=f"s{i // 5}" if i % 3 == 0 else None,
                key_id=keys[i % 10],
                usage=Usage(input_tokens=rng.randint(50, 4000), output_tokens=rng.randint(10, 800)),
                attempts=[Attempt(model=model, status=200, latency_ms=100.0)],
            )
        )  # fmt: skip
    ledger.close()


def timed(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return round((time.perf_counter() - started) * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", help="write the timings here too")
    args = parser.parse_args()
    now = time.time()
    context = QueryContext.from_settings(parse_settings(default_config_text(), source="default", environ={}))
    results: dict[str, object] = {"rows": args.rows, "ms": {}}
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "tierwise.db"
        started = time.perf_counter()
        write_ledger(path, args.rows, now)
        results["write_s"] = round(time.perf_counter() - started, 1)
        source = SqliteSource(path)
        for label in ("24h", "7d", "30d"):
            period = parse_period(label, now=now)
            results["ms"][label] = {  # type: ignore[index]
                "overview": timed(lambda period=period: overview(source, period, context)),
                "tiers_over_time": timed(lambda period=period: tier_timeline(source, period)),
                "sessions": timed(lambda period=period: sessions(source, period)),
                "keys": timed(lambda period=period: keys_usage(source, period, now=now)),
                "report": timed(lambda period=period: build_report(source, period, context, now=now)),
            }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
