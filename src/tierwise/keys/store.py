"""Gateway keys in the ledger's database (SQLite or PostgreSQL): created, listed and revoked; only a key's
SHA-256 is stored.

A key reads ``tw-<8 hex>-<43 url-safe chars>``. Its first part (``tw-<8 hex>``) is the key's id: visible,
stored, written on every ledger row. The whole key, 256 random bits after the id, is shown once at creation.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tierwise.errors import InvalidRequest, NotFound
from tierwise.ledger.database import Connection, Database
from tierwise.routing.decision import TIERS, Tier

KEY_PREFIX = "tw-"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL,
    daily_budget_usd TEXT,
    monthly_budget_usd TEXT,
    requests_per_minute INTEGER,
    tokens_per_minute INTEGER,
    allowed_tiers TEXT
);
"""
_COLUMNS = (
    "key_id, name, key_sha256, created_at, revoked_at, daily_budget_usd, monthly_budget_usd,"
    " requests_per_minute, tokens_per_minute, allowed_tiers, admin"
)
# Added after the table first shipped: a file from then gains the column (0 for its keys) when next opened.
_ADD_ADMIN = "ALTER TABLE gateway_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyLimits:
    """What a key may do; None means no limit (every tier, when ``tiers`` is None)."""

    daily_budget: Decimal | None = None  # USD per UTC day
    monthly_budget: Decimal | None = None  # USD per UTC calendar month
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tiers: frozenset[Tier] | None = None

    def __post_init__(self) -> None:
        for name in ("daily_budget", "monthly_budget", "requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidRequest(f"{name.replace('_', ' ')} must be positive, not {value}")
        if self.tiers is not None and not self.tiers <= set(TIERS):
            unknown = ", ".join(sorted(self.tiers - set(TIERS)))
            raise InvalidRequest(f"unknown tier {unknown}; expected some of {', '.join(TIERS)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRecord:
    key_id: str  # the key's visible prefix
    name: str
    key_sha256: str
    created_at: float
    revoked_at: float | None
    limits: KeyLimits
    admin: bool = False  # opens the console (read-only); not accepted on the API

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewKey:
    """The one moment the full key exists outside its holder's hands: show it, then let it go."""

    key: str
    record: KeyRecord


def hash_key(key: str) -> str:
    # The keys are 256-bit random strings, so a plain SHA-256 cannot be brute-forced; no salt or KDF needed.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


class KeyStore:
    """The ``gateway_keys`` table of the ledger. Opens a connection per call: the CLI's use, not the hot path."""

    def __init__(self, where: str | Path | Database) -> None:
        self.database = where if isinstance(where, Database) else Database.sqlite(where)
        self.path = self.database.where  # for messages (a PostgreSQL URL without its password)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with closing(self.database.connect()) as connection:
            prepare_keys_table(connection)
            yield connection

    def prepare(self) -> None:
        """Create the file and the table if they are missing."""
        with self._connection():
            pass

    def create(
        self, name: str, limits: KeyLimits | None = None, *, now: float | None = None, admin: bool = False
    ) -> NewKey:
        limits = limits or KeyLimits()
        if not name.strip():
            raise InvalidRequest("a key needs a name")
        with self._connection() as connection:
            for _ in range(8):  # the 32-bit id may collide in a large table: draw again
                key_id = KEY_PREFIX + secrets.token_hex(4)
                key = f"{key_id}-{secrets.token_urlsafe(32)}"
                record = KeyRecord(
                    key_id=key_id,
                    name=name.strip(),
                    key_sha256=hash_key(key),
                    created_at=time.time() if now is None else now,
                    revoked_at=None,
                    limits=limits,
                    admin=admin,
                )
                try:
                    with connection:
                        connection.execute(f"INSERT INTO gateway_keys ({_COLUMNS}) VALUES ({_PLACES})", _row(record))
                except _integrity_errors():
                    continue
                return NewKey(key=key, record=record)
        raise RuntimeError("could not draw an unused key id")

    def list(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first. An absent file holds no keys (and is not created)."""
        if not self.database.exists():
            return []
        with self._connection() as connection:
            return read_keys(connection)

    def revoke(self, key_id: str, *, now: float | None = None) -> KeyRecord:
        with self._connection() as connection, connection:
            cursor = connection.execute(
                "UPDATE gateway_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (time.time() if now is None else now, key_id),
            )
            found = [r for r in read_keys(connection) if r.key_id == key_id]
        if not found:
            raise NotFound(f"no gateway key with id {key_id}")
        if cursor.rowcount == 0:
            raise InvalidRequest(f"gateway key {key_id} was already revoked")
        return found[0]


def has_keys(where: str | Path | Database) -> bool:
    """Whether any API key was ever created here. Revoked keys count: revoking the last key must not open the
    gateway. Admin keys do not: they open the console, and creating one must not lock the API."""
    database = where if isinstance(where, Database) else Database.sqlite(where)
    if not database.exists():
        return False
    with closing(database.connect(readonly=database.backend == "sqlite")) as connection:
        if connection.backend == "sqlite":
            exists = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gateway_keys'"
            ).fetchone()
        else:
            found = connection.execute("SELECT to_regclass('gateway_keys')").fetchone()
            exists = None if found is None or found[0] is None else found
        if exists is None:
            return False
        if "admin" not in _column_names(connection):
            return connection.execute("SELECT 1 FROM gateway_keys LIMIT 1").fetchone() is not None
        return connection.execute("SELECT 1 FROM gateway_keys WHERE admin = 0 LIMIT 1").fetchone() is not None


def prepare_keys_table(connection: Connection) -> None:
    """Create the keys table if it is missing, and add the columns later versions brought (either backend)."""
    if connection.backend == "postgres":
        from tierwise.ledger.postgres import translate

        with connection:
            connection.execute(translate(_SCHEMA))
            connection.execute(translate(_ADD_ADMIN))  # ADD COLUMN IF NOT EXISTS
        return
    connection.raw.executescript(_SCHEMA)  # type: ignore[attr-defined]
    if "admin" not in _column_names(connection):
        try:
            with connection:
                connection.execute(_ADD_ADMIN)
        except sqlite3.OperationalError as exc:  # another process added it meanwhile
            if "duplicate column" not in str(exc):
                raise


def _column_names(connection: Connection) -> set[str]:
    # A column list from a query that returns no rows: the same SQL on either backend.
    cursor = connection.execute("SELECT * FROM gateway_keys WHERE 1 = 0")
    return {d[0] for d in cursor.description}


def _integrity_errors() -> tuple[type[Exception], ...]:
    errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    try:
        import psycopg
    except ImportError:
        return errors
    return (*errors, psycopg.errors.UniqueViolation)


def read_keys(connection: Connection) -> list[KeyRecord]:
    rows = connection.execute(f"SELECT {_COLUMNS} FROM gateway_keys ORDER BY created_at, key_id").fetchall()
    return [_record(tuple(row)) for row in rows]


_PLACES = ", ".join("?" * len(_COLUMNS.split(",")))


def _row(r: KeyRecord) -> tuple[object, ...]:
    lim = r.limits
    return (
        r.key_id,
        r.name,
        r.key_sha256,
        r.created_at,
        r.revoked_at,
        None if lim.daily_budget is None else str(lim.daily_budget),
        None if lim.monthly_budget is None else str(lim.monthly_budget),
        lim.requests_per_minute,
        lim.tokens_per_minute,
        None if lim.tiers is None else ",".join(t for t in TIERS if t in lim.tiers),
        int(r.admin),
    )


def _record(row: tuple[object, ...]) -> KeyRecord:
    key_id, name, digest, created, revoked, daily, monthly, rpm, tpm, tiers, admin = row
    assert isinstance(key_id, str) and isinstance(name, str) and isinstance(digest, str)
    assert isinstance(created, int | float) and (revoked is None or isinstance(revoked, int | float))
    assert rpm is None or isinstance(rpm, int)
    assert tpm is None or isinstance(tpm, int)
    return KeyRecord(
        key_id=key_id,
        name=name,
        key_sha256=digest,
        created_at=float(created),
        revoked_at=None if revoked is None else float(revoked),
        limits=KeyLimits(
            daily_budget=None if daily is None else Decimal(str(daily)),
            monthly_budget=None if monthly is None else Decimal(str(monthly)),
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            tiers=None if tiers is None else frozenset(t for t in TIERS if t in str(tiers).split(",")),
        ),
        admin=bool(admin),
    )
