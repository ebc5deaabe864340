"""What making a ledger row durable costs the request path: ``Ledger.record`` (JSON line + one ``write()`` to the
journal + queue append) beside the bare queue append it replaced, measured in the same run.

    uv run python scripts/bench_ledger_record.py [--entries 50000]

The writer thread runs meanwhile (as in the gateway), so the figures include its competition for the GIL.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from tierwise.config.loader import load_settings
from tierwise.ledger import journal
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.ledger.store import Ledger
from tierwise.types import Usage


def entry(i: int) -> LedgerEntry:
    """A typical row: a routed, answered request with one attempt."""
    return LedgerEntry(
        request_id=f"twr_{i:024x}",
        started_at=time.time(),
        api="anthropic",
        requested_model="auto",
        stream=bool(i % 2),
        policy="rules",
        tier="default",
        model="claude-sonnet-4-6",
        upstream_model="claude-sonnet-4-6",
        provider="anthropic",
        reasons="rules: no rule matched; default tier",
        status=200,
        usage=Usage(input_tokens=1200, output_tokens=240, cache_read_tokens=800),
        latency_ms=812.5,
        ttft_ms=310.2,
        attempts=[Attempt(model="claude-sonnet-4-6", status=200, latency_ms=811.9)],
        session="s-1234",
        key_id="tw-0a1b2c3d",
    )


def per_call_us(call: Callable[[LedgerEntry], object], entries: list[LedgerEntry]) -> list[float]:
    samples = []
    clock = time.perf_counter_ns
    for item in entries:
        started = clock()
        call(item)
        samples.append((clock() - started) / 1000)
    return samples


def describe(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    return f"| {name} | {statistics.fmean(samples):.2f} | {p50:.2f} | {p99:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=50_000)
    args = parser.parse_args()
    settings = load_settings(None, environ={})
    rows = [entry(i) for i in range(args.entries)]
    with tempfile.TemporaryDirectory() as directory:
        ledger = Ledger(Path(directory) / "bench.db", models=settings.models, baseline="claude-opus-4-7")
        queue: deque[LedgerEntry] = deque()
        print("| step | mean µs | p50 µs | p99 µs |")
        print("|---|---|---|---|")
        print(describe("queue append only (before: `deque.append`)", per_call_us(queue.append, rows)))
        print(describe("JSON line of the entry (`journal.encode`)", per_call_us(journal.encode, rows)))
        print(describe("`Ledger.record` (encode + lock + write() + append)", per_call_us(ledger.record, rows)))
        started = time.monotonic()
        assert ledger.close()
        print(f"\n{args.entries} rows flushed to SQLite {time.monotonic() - started:.2f}s after the last record")


if __name__ == "__main__":
    main()
