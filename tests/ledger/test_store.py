"""The ledger writes one row per recorded entry, off the caller's thread, and loses none on close."""

from __future__ import annotations

import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.ledger.store import Ledger
from tierwise.types import Usage

SETTINGS = parse_settings(default_config_text(), source="default", environ={})


def make_ledger(path: Path) -> Ledger:
    return Ledger(path, models=SETTINGS.models, baseline="claude-opus-4-7")


def entry(i: int, **fields: object) -> LedgerEntry:
    values: dict[str, object] = {
        "request_id": f"r{i}",
        "started_at": 1_700_000_000.0 + i,
        "api": "openai",
        "requested_model": "auto",
        "model": "claude-sonnet-4-6",
        "tier": "default",
        "status": 200,
        "usage": Usage(input_tokens=1000, output_tokens=100),
    }
    values.update(fields)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM requests").fetchone()[0])


def test_close_flushes_every_recorded_entry_from_many_threads(tmp_path: Path) -> None:
    ledger = make_ledger(tmp_path / "l.db")

    def produce(offset: int) -> None:
        for i in range(500):
            ledger.record(entry(offset + i))

    threads = [threading.Thread(target=produce, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()
    assert count(tmp_path / "l.db") == 2000
    assert ledger.written == 2000


def test_costs_are_decimal_text_with_the_premium_baseline(tmp_path: Path) -> None:
    ledger = make_ledger(tmp_path / "l.db")
    ledger.record(entry(1, attempts=[Attempt(model="claude-sonnet-4-6", status=200, latency_ms=12.5)]))
    ledger.close()
    with sqlite3.connect(tmp_path / "l.db") as connection:
        cost, baseline, attempts = connection.execute(
            "SELECT cost_usd, baseline_cost_usd, attempts FROM requests"
        ).fetchone()
    # Sonnet 4.6: $3 in / $15 out per million; Opus 4.7: $5 / $25 (genai-prices data).
    assert Decimal(cost) == Decimal("0.0045")
    assert Decimal(baseline) == Decimal("0.0075")
    assert attempts == 1


def test_an_entry_whose_details_cannot_be_priced_still_gets_its_row(tmp_path: Path) -> None:
    ledger = make_ledger(tmp_path / "l.db")
    ledger.record(entry(1, usage=Usage(input_tokens="lots", output_tokens=1)))  # type: ignore[arg-type]
    ledger.record(entry(2))
    ledger.close()
    with sqlite3.connect(tmp_path / "l.db") as connection:
        rows = connection.execute("SELECT request_id, status, error FROM requests ORDER BY request_id").fetchall()
    assert rows[0][0] == "r1" and rows[0][1] == 200 and "could not record" in rows[0][2]
    assert rows[1] == ("r2", 200, None)


def test_a_locked_database_delays_rows_but_loses_none(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    ledger = make_ledger(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    for i in range(50):
        ledger.record(entry(i))
    time.sleep(0.5)  # the writer is waiting on the lock
    blocker.execute("COMMIT")
    blocker.close()
    ledger.close()
    assert count(path) == 50
