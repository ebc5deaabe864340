"""The cost ledger: one SQLite row per request, written by a background thread in batches.

The request path only appends to a deque; pricing and disk I/O happen on the writer thread, which flushes
every 50 ms. ``close()`` drains what is pending, so nothing handed to ``record`` before shutdown is lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from tierwise.config.settings import ModelSettings
from tierwise.errors import LedgerError
from tierwise.ledger.entry import LedgerEntry
from tierwise.ledger.schema import migrate
from tierwise.pricing import PriceBook

_BATCH = 512
_FLUSH_INTERVAL_S = 0.05
_SHUTDOWN_RETRIES = 25  # at 0.2 s apart: how long a closing ledger keeps trying a refusing database


class RowObserver(Protocol):
    """Told about every row once it is written, on the writer thread (metrics, access log, traces)."""

    def observe_batch(self, rows: Iterable[tuple[LedgerEntry, Decimal | None]]) -> None: ...


def connect(path: str | Path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    migrate(connection)
    return connection


class Ledger:
    """Owns the writer thread. ``models`` prices each row; ``baseline`` is the model every row is compared
    with (the escalation tier's first model: what running everything on the premium tier would cost)."""

    def __init__(
        self,
        path: str | Path,
        *,
        models: dict[str, ModelSettings],
        baseline: str | None,
        observers: Sequence[RowObserver] = (),
    ) -> None:
        self.path = str(path)
        self._observers = tuple(observers)
        self._models = models
        self._baseline = models.get(baseline) if baseline else None
        self._prices = PriceBook()
        self._pending: deque[LedgerEntry] = deque()
        self._stopping = threading.Event()
        self._written = 0
        self._failed: Exception | None = None
        try:  # fail at start-up, not on the first request, if the file is unusable
            connect(self.path).close()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger {Path(self.path).resolve()}: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="tierwise-ledger", daemon=True)
        self._thread.start()

    @property
    def healthy(self) -> bool:
        return self._thread.is_alive() and self._failed is None

    @property
    def written(self) -> int:
        return self._written

    def record(self, entry: LedgerEntry) -> None:
        """Cheap and non-blocking: one deque append (atomic under the GIL), no cross-thread wake-up."""
        self._pending.append(entry)

    def close(self, timeout: float | None = 30.0) -> bool:
        """Write everything recorded so far, then stop the writer; whether every row was written."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._pending

    def _run(self) -> None:
        # The writer wakes on a timer rather than per row: under load one transaction carries many rows, and
        # the request path never pays for waking another thread.
        with closing(connect(self.path)) as connection:
            failures_while_stopping = 0
            while True:
                stopping = self._stopping.wait(_FLUSH_INTERVAL_S if failures_while_stopping == 0 else 0.2)
                while self._pending:
                    batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
                    if not self._write(connection, batch):
                        # Keep the rows, in order, for the next round: a full disk or a long lock loses nothing.
                        self._pending.extendleft(reversed(batch))
                        break
                if stopping:
                    if not self._pending:
                        return
                    failures_while_stopping += 1
                    if failures_while_stopping > _SHUTDOWN_RETRIES:
                        return

    def _write(self, connection: sqlite3.Connection, batch: list[LedgerEntry]) -> bool:
        """Whether the batch was written; False only when the database itself refused (locked, disk full).

        Never raises: the writer thread must outlive any bad row or disk. A row whose details cannot be
        recorded is still written, with what is certain about it and the reason in its error column.
        """
        rows = []
        for entry in batch:
            try:
                rows.append(self._row(entry))
            except Exception as exc:  # a bug in pricing or encoding must not cost the request its row
                rows.append(_bare_row(entry, f"ledger could not record the details: {type(exc).__name__}"))
        try:
            with connection:
                for sql, values in _insert(rows):
                    connection.executemany(sql, values)
        except sqlite3.Error as exc:
            self._failed = exc
            return False
        self._written += len(rows)
        self._failed = None
        if self._observers:
            priced = [(entry, _cost_of(row)) for entry, row in zip(batch, rows, strict=True)]
            for observer in self._observers:
                try:
                    observer.observe_batch(priced)
                except Exception:  # an observer's fault (a full log disk) must not stop the ledger
                    continue
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _row(self, e: LedgerEntry) -> dict[str, object]:
        return {column: _encodable(value) for column, value in self._values(e).items()}

    def _values(self, e: LedgerEntry) -> dict[str, object]:
        """The row of ``e``, by column; a column added by a migration (``ledger/schema.py``) gets its line here."""
        model = self._models.get(e.model) if e.model else None
        cost = self._prices.cost(model, e.usage) if model is not None else None
        for alias, usage in e.side_calls:
            side_model = self._models.get(alias)
            side_cost = self._prices.cost(side_model, usage) if side_model is not None else None
            if side_cost is not None:
                cost = side_cost if cost is None else cost + side_cost
        baseline = self._prices.cost(self._baseline, e.usage) if self._baseline is not None else None
        u = e.usage
        attempts = [
            {"model": a.model, "status": a.status, "error": a.error, "latency_ms": round(a.latency_ms, 3)}
            for a in e.attempts
        ]
        return {
            "request_id": e.request_id,
            "started_at": e.started_at,
            "api": e.api,
            "requested_model": e.requested_model,
            "stream": int(e.stream),
            "policy": e.policy,
            "tier": e.tier,
            "model": e.model,
            "upstream_model": e.upstream_model,
            "provider": e.provider,
            "reasons": e.reasons,
            "status": e.status,
            "error": e.error,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "cost_usd": _decimal_text(cost),
            "baseline_cost_usd": _decimal_text(baseline),
            "latency_ms": round(e.latency_ms, 3),
            "ttft_ms": round(e.ttft_ms, 3) if e.ttft_ms is not None else None,
            "attempts": len(e.attempts),
            "attempts_detail": json.dumps(attempts),
            "session": e.session,
            "key_id": e.key_id,
            "usage_estimated": int(e.usage_estimated),
            "traffic": e.traffic,
        }


def _encodable(value: object) -> object:
    """Text SQLite can store: a lone surrogate (from an undecodable header, say) would fail the whole batch
    and stop the writer."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _bare_row(e: LedgerEntry, error: str) -> dict[str, object]:
    """The certain part of a row (ids, time, status), for an entry whose other details failed to encode."""
    return {
        "request_id": str(e.request_id), "started_at": float(e.started_at), "api": str(e.api), "requested_model": "",
        "stream": 0, "reasons": "", "status": int(e.status), "error": error, "input_tokens": 0, "output_tokens": 0,
        "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0, "latency_ms": 0.0, "attempts": 0,
        "attempts_detail": "[]", "traffic": str(e.traffic),
    }  # fmt: skip


def _insert(rows: list[dict[str, object]]) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """One INSERT per group of rows with the same columns (full rows, and the rare bare ones)."""
    groups: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
    for columns, values in groups.items():
        yield f"INSERT OR REPLACE INTO requests ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values


def _cost_of(row: dict[str, object]) -> Decimal | None:
    cost = row.get("cost_usd")
    return Decimal(cost) if isinstance(cost, str) else None


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@contextmanager
def read_only(path: str | Path) -> Iterator[sqlite3.Connection]:
    if not Path(path).exists():
        raise FileNotFoundError(f"no ledger at {path}")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()
