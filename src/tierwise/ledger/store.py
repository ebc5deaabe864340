"""The cost ledger: one row per request (SQLite, or PostgreSQL), durable as the request is answered.

``record`` (on the request path) appends the entry to the journal (``journal.py``: one ``write()`` of one JSON
line, a few microseconds) and to an in-memory queue. A writer thread prices the queued entries and writes them
to the database in batches every 50 ms, then deletes the journal segment they came from. Entries the database
refuses (locked, disk full) stay queued and journaled and are tried again every round, never dropped; the
queue holds at most ``MAX_PENDING`` entries, beyond which new ones live in the journal only and are read back
from it once the database takes rows again. At start-up, journal segments left by a process that died or could
not flush are replayed into the database. See docs/RELIABILITY.md for what each failure can cost.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from tierwise.config.settings import ModelSettings
from tierwise.errors import LedgerError
from tierwise.ledger import journal
from tierwise.ledger.entry import LedgerEntry
from tierwise.ledger.schema import migrate
from tierwise.pricing import PriceBook

_PER_MTOK = Decimal(1_000_000)

_BATCH = 512
_FLUSH_INTERVAL_S = 0.05
MAX_PENDING = 50_000  # entries held in memory while the database refuses them; past it, the journal alone
_BUSY_TIMEOUT_S = 5.0  # one write attempt waits this long for another process's lock, then the round ends
_STALL_S = 2.0  # a write attempt running this long makes the ledger unhealthy (/readyz 503) while it lasts
_SHUTDOWN_S = 10.0  # how long a closing ledger keeps trying a refusing database before it spills


class RowObserver(Protocol):
    """Told about every row once it is written, on the writer thread (metrics, access log, traces)."""

    def observe_batch(self, rows: Iterable[tuple[LedgerEntry, Decimal | None]]) -> None: ...


def connect(path: str | Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    migrate(connection)
    return connection


class SqliteRows:
    """The writer's connection to the SQLite file."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)  # the database refused: the batch is kept for later
    # A fault of one row's values: the batch is written row by row instead.
    row_errors: tuple[type[Exception], ...] = (
        sqlite3.IntegrityError,
        sqlite3.InterfaceError,
        sqlite3.DataError,
        sqlite3.ProgrammingError,
    )

    def __init__(self, path: str, timeout: float) -> None:
        self.connection = connect(path, timeout=timeout)

    def insert(self, rows: list[dict[str, object]]) -> None:
        """One transaction; raises one of ``errors`` when the database refuses it."""
        with self.connection:
            for sql, values in _insert(rows):
                self.connection.executemany(sql, values)

    def close(self) -> None:
        self.connection.close()


class PostgresRows:
    """The writer's connection to PostgreSQL (the ``postgres`` extra): the same rows, upserted by request id. A
    lost connection is opened again for the next batch."""

    def __init__(self, url: str, timeout: float, *, lazy: bool = False) -> None:
        """``lazy``: a server that cannot be reached now is tried again by the first ``insert``."""
        import psycopg

        from tierwise.ledger import postgres

        self._postgres = postgres
        self.url = url
        self.errors: tuple[type[Exception], ...] = (psycopg.Error, OSError)
        self.row_errors: tuple[type[Exception], ...] = (psycopg.DataError, psycopg.IntegrityError)
        self._connection: postgres.PostgresConnection | None = None
        try:
            self._connection = postgres.connect_postgres(url)
        except self.errors:
            if not lazy:
                raise

    def insert(self, rows: list[dict[str, object]]) -> None:
        if self._connection is None or self._connection.raw.closed:
            self._connection = self._postgres.connect_postgres(self.url)
        with self._connection:
            for columns, values in _groups(rows):
                self._connection.executemany(self._postgres.upsert(columns), values)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


Rows = SqliteRows | PostgresRows


class Ledger:
    """Owns the journal and the writer thread. ``models`` prices each row; ``baseline`` is the model every row
    is compared with (the escalation tier's first model: what running everything on the premium tier would
    cost)."""

    def __init__(
        self,
        path: str | Path,
        *,
        models: dict[str, ModelSettings],
        baseline: str | None,
        observers: Sequence[RowObserver] = (),
        max_pending: int = MAX_PENDING,
        postgres_url: str | None = None,
    ) -> None:
        """``postgres_url``: rows go to PostgreSQL; ``path`` then only places the journal (beside it)."""
        self.path = str(path)
        self._postgres_url = postgres_url
        self._observers = tuple(observers)
        self._models = models
        self._baseline = models.get(baseline) if baseline else None
        self._prices = PriceBook()
        self._max_pending = max_pending
        self._lock = threading.Lock()  # record() against the writer's sealing of a segment
        self._pending: deque[LedgerEntry] = deque()
        self._overflow = 0  # entries in the journal only (the queue was full), since the last seal
        self._closed = False
        self._journal_error: OSError | None = None
        self._lost = 0  # neither journaled nor queued: counted, said on stderr at close
        self._stopping = threading.Event()
        self._written = 0
        self._failed: Exception | None = None
        self._writing_since: float | None = None
        self._unwritten = 0  # entries handed over and not yet in the database
        self._spilled: list[str] = []
        errors = self._database_errors()
        try:  # fail at start-up, not on the first request, if the database is unusable
            with closing(self._open(30.0)) as connection:
                self.replayed = self._replay(connection)
            self._journal = journal.Journal(journal.journal_dir(self.path))
        except errors as exc:
            raise LedgerError(f"cannot open the ledger {self.where}: {str(exc).strip()}") from None
        except OSError as exc:
            raise LedgerError(f"cannot open the ledger journal beside {Path(self.path).resolve()}: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="tierwise-ledger", daemon=True)
        self._thread.start()

    @property
    def where(self) -> str:
        """The database, for messages (a PostgreSQL URL without its password)."""
        if self._postgres_url is None:
            return str(Path(self.path).resolve())
        from tierwise.ledger.postgres import redacted_url

        return redacted_url(self._postgres_url)

    def _open(self, timeout: float, *, lazy: bool = False) -> Rows:
        if self._postgres_url is not None:
            return PostgresRows(self._postgres_url, timeout, lazy=lazy)
        return SqliteRows(self.path, timeout)

    def _database_errors(self) -> tuple[type[Exception], ...]:
        if self._postgres_url is None:
            return (sqlite3.Error,)
        import psycopg

        return (psycopg.Error, OSError)

    @property
    def healthy(self) -> bool:
        """Whether rows are being written: False while the database refuses them, a write has hung for
        ``_STALL_S``, the journal cannot be written, or the writer thread is gone."""
        since = self._writing_since
        stalled = since is not None and time.monotonic() - since > _STALL_S
        return self._thread.is_alive() and self._failed is None and self._journal_error is None and not stalled

    @property
    def written(self) -> int:
        return self._written

    def record(self, entry: LedgerEntry) -> None:
        """On the request path: one JSON encoding and one ``write()``, under a lock the writer holds only to
        seal a segment. Never raises."""
        try:
            line = journal.encode(entry)
        except Exception:  # an entry that cannot be encoded is still queued (the database row is what counts)
            line = None
        with self._lock:
            if self._closed:  # too late: the writer has finished
                self._lost += 1
                return
            journaled = False
            if line is not None and self._journal_error is None:
                try:
                    self._journal.append(line)
                    journaled = True
                except OSError as exc:
                    self._journal_error = exc
            self._unwritten += 1
            if len(self._pending) < self._max_pending:
                self._pending.append(entry)
            elif journaled:
                self._overflow += 1
            else:
                self._lost += 1
                self._unwritten -= 1

    def close(self, timeout: float | None = _SHUTDOWN_S + 20.0) -> bool:
        """Write everything recorded so far, then stop the writer; whether every row reached the database.
        When some could not, they are left in the journal (or a spill file) and stderr says where."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        complete = self._unwritten == 0 and self._lost == 0 and not self._thread.is_alive()
        for note in self._spilled:
            print(f"tierwise: ledger: {note}", file=sys.stderr, flush=True)
        if self._lost:
            print(
                f"tierwise: ledger: {self._lost} rows were LOST: neither the journal nor memory could hold them "
                f"({self._journal_error})",
                file=sys.stderr,
                flush=True,
            )
        return complete

    # --- the writer thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        # The writer wakes on a timer rather than per row: under load one transaction carries many rows, and
        # the request path never pays for waking another thread.
        queued: deque[LedgerEntry] = deque()  # taken from _pending, not yet written
        sealed: list[journal.Segment] = []  # segments whose entries are all taken, awaiting their rows
        overflow = 0  # entries of the sealed segments that never entered memory
        deadline: float | None = None
        with closing(self._open(_BUSY_TIMEOUT_S, lazy=True)) as connection:
            while True:
                stopping = self._stopping.wait(_FLUSH_INTERVAL_S)
                if stopping and deadline is None:
                    deadline = time.monotonic() + _SHUTDOWN_S
                with self._lock:
                    segment = self._journal.seal()
                    queued.extend(self._pending)
                    self._pending.clear()
                    overflow += self._overflow
                    self._overflow = 0
                    if stopping:
                        self._journal.close()
                        self._closed = True
                if segment is not None:
                    journal.sync(segment)  # the batched fsync: power-safe from here
                    sealed.append(segment)
                while queued:
                    batch = [queued.popleft() for _ in range(min(_BATCH, len(queued)))]
                    if not self._write(connection, batch):
                        queued.extendleft(reversed(batch))
                        break
                    self._unwritten -= len(batch)
                if not queued and sealed and (not overflow or self._replay_segments(connection, sealed)):
                    for done in sealed:
                        journal.discard(done)
                    sealed.clear()
                    with self._lock:
                        self._unwritten -= overflow
                    overflow = 0
                if stopping and ((not queued and not sealed) or time.monotonic() > (deadline or 0)):
                    self._spill(queued, sealed, overflow)
                    return
                if stopping:
                    time.sleep(0.2)

    def _replay_segments(self, connection: Rows, segments: list[journal.Segment]) -> bool:
        """Write every entry of these segments (some never entered memory); whether all were written."""
        for segment in segments:
            batch: list[LedgerEntry] = []
            for entry in journal.read_entries(segment):
                if entry is not None:
                    batch.append(entry)
                if len(batch) >= _BATCH:
                    if not self._write(connection, batch, observe=False):
                        return False
                    batch = []
            if batch and not self._write(connection, batch, observe=False):
                return False
        return True

    def _replay(self, connection: Rows) -> int:
        """At start-up: the journal segments nobody holds, into the database, then removed. Raises
        the database's error when it refuses them (the gateway then does not start; nothing is lost)."""
        replayed = 0
        for segment in journal.orphans(journal.journal_dir(self.path)):
            try:
                batch: list[LedgerEntry] = []
                for entry in journal.read_entries(segment):
                    if entry is not None:
                        batch.append(entry)
                    if len(batch) >= _BATCH:
                        self._insert_or_raise(connection, batch)
                        replayed += len(batch)
                        batch = []
                self._insert_or_raise(connection, batch)
                replayed += len(batch)
            except BaseException:
                journal.release(segment)
                raise
            journal.discard(segment)
        if replayed:
            print(f"tierwise: ledger: {replayed} rows replayed from the journal of an earlier run", file=sys.stderr)
        return replayed

    def _insert_or_raise(self, connection: Rows, batch: list[LedgerEntry]) -> None:
        connection.insert([self._safe_row(entry) for entry in batch])

    def _spill(self, queued: deque[LedgerEntry], sealed: list[journal.Segment], overflow: int) -> None:
        """The database did not take everything before shutdown: leave the journal for the next start, and put
        what is only in memory (the journal could not be written) into a spill file it will replay too."""
        unsaved = list(queued)
        for segment in sealed:
            journal.release(segment)
        if not queued and not sealed:
            return
        count = len(unsaved) + overflow
        where = journal.journal_dir(self.path)
        reason = f"the database refused them ({self._failed})" if self._failed else "the writer ran out of time"
        if self._journal_error is None:
            self._spilled.append(
                f"{count} rows could not be written to {self.where} before exit: {reason}. "
                f"They are kept in {where} and will be written when the gateway next starts with this ledger."
            )
            return
        target = where / f"spill-{time.strftime('%Y%m%dT%H%M%S')}-{id(self):x}{journal.SUFFIX}"
        try:
            target.write_bytes(b"".join(journal.encode(entry) for entry in unsaved))
        except OSError:
            fallback = Path("/tmp") / target.name
            try:
                fallback.write_bytes(b"".join(journal.encode(entry) for entry in unsaved))
            except OSError as exc:
                self._lost += len(unsaved)
                self._spilled.append(f"{len(unsaved)} rows could not be written or spilled ({exc}): lost")
                return
            self._spilled.append(
                f"{len(unsaved)} rows could not be written to {self.path} ({reason}) nor journaled; spilled to "
                f"{fallback}: move it into {where} to have it replayed at the next start"
            )
            return
        self._spilled.append(
            f"{len(unsaved)} rows could not be written to {self.path} ({reason}); spilled to {target}, "
            "replayed at the next start"
        )

    def _safe_row(self, entry: LedgerEntry) -> dict[str, object]:
        try:
            return self._row(entry)
        except Exception as exc:  # a bug in pricing or encoding must not cost the request its row
            return _bare_row(entry, f"ledger could not record the details: {type(exc).__name__}")

    def _write(self, connection: Rows, batch: list[LedgerEntry], *, observe: bool = True) -> bool:
        """Whether the batch was written; False only when the database itself refused (locked, disk full).

        Never raises: the writer thread must outlive any bad row or disk. A row whose details cannot be
        recorded is still written, with what is certain about it and the reason in its error column.
        """
        rows = [self._safe_row(entry) for entry in batch]
        self._writing_since = time.monotonic()
        try:
            connection.insert(rows)
        except connection.row_errors:
            self._write_one_by_one(connection, batch, rows)  # a row-specific fault: the others still go in
        except connection.errors as exc:
            self._failed = exc
            return False
        finally:
            self._writing_since = None
        self._written += len(rows)
        self._failed = None
        if self._observers and observe:
            priced = [(entry, _cost_of(row)) for entry, row in zip(batch, rows, strict=True)]
            for observer in self._observers:
                try:
                    observer.observe_batch(priced)
                except Exception:  # an observer's fault (a full log disk) must not stop the ledger
                    continue
        return True

    def _write_one_by_one(self, connection: Rows, batch: list[LedgerEntry], rows: list[dict[str, object]]) -> None:
        for entry, row in zip(batch, rows, strict=True):
            for attempt in (row, _bare_row(entry, "ledger could not store the details of this row")):
                try:
                    connection.insert([attempt])
                    break
                except connection.row_errors:
                    continue

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
            "cache_write_1h_tokens": u.cache_write_1h_tokens,
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
            "session_switch": e.session_switch,
            "forfeited_cache_tokens": e.forfeited_cache_tokens,
            "forfeited_cache_usd": _decimal_text(self._forfeited_cost(model, e.forfeited_cache_tokens)),
        }

    def _forfeited_cost(self, model: ModelSettings | None, tokens: int) -> Decimal | None:
        """What ``tokens`` cost as fresh input on ``model`` beyond what reading them from its cache would."""
        rates = self._prices.rates(model) if model is not None and tokens else None
        if rates is None:
            return None
        return tokens * (rates.input - rates.cache_read) / _PER_MTOK


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


def _groups(rows: list[dict[str, object]]) -> Iterator[tuple[tuple[str, ...], list[tuple[object, ...]]]]:
    """Rows by their columns, for one INSERT per group (full rows, and the rare bare ones)."""
    groups: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
    yield from groups.items()


def _insert(rows: list[dict[str, object]]) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """One INSERT per group of rows with the same columns (full rows, and the rare bare ones)."""
    for columns, values in _groups(rows):
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
