"""The access log: one JSON line per request, written by the ledger's writer thread (never on the request path).

Off unless ``telemetry.access_log`` names a file (or ``-`` for standard error). Carries no prompt text and no
gateway key, only the key's public id.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

import orjson

from tierwise.ledger.entry import LedgerEntry


class AccessLog:
    def __init__(self, target: str) -> None:
        self.target = target
        self._stream: IO[bytes] = sys.stderr.buffer if target == "-" else open(target, "ab")  # noqa: SIM115

    def observe_batch(self, rows: Iterable[tuple[LedgerEntry, Decimal | None]]) -> None:
        lines = [orjson.dumps(access_record(entry, cost)) + b"\n" for entry, cost in rows]
        if lines:
            self._stream.write(b"".join(lines))
            self._stream.flush()

    def close(self) -> None:
        if self.target != "-":
            self._stream.close()


def access_record(e: LedgerEntry, cost: Decimal | None) -> dict[str, object]:
    u = e.usage
    return {
        "time": datetime.fromtimestamp(e.started_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": e.request_id,
        "api": e.api,
        "status": e.status,
        "error_kind": e.error_kind,
        "stream": e.stream,
        "requested_model": e.requested_model,
        "policy": e.policy,
        "tier": e.tier,
        "model": e.model,
        "provider": e.provider,
        "attempts": len(e.attempts),
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "cost_usd": None if cost is None else format(cost, "f"),
        "latency_ms": round(e.latency_ms, 3),
        "ttft_ms": None if e.ttft_ms is None else round(e.ttft_ms, 3),
        "key_id": e.key_id,
        "session": e.session,
    }
