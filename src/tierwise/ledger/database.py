"""Where the ledger lives (a SQLite file or a PostgreSQL database) and one way to talk to either.

Everything that reads the ledger or the keys table (``report``, ``keys``, the console, the evidence store)
writes its SQL once, with ``?`` placeholders, and runs it through ``Database.connect()``: a DB-API connection
whose rows answer both ``row[0]`` and ``row["column"]``, on either backend. Keep the SQL portable (no
``INSERT OR REPLACE``, no ``PRAGMA``); where the backends differ, branch on ``connection.backend``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from tierwise.config.settings import Settings

Backend = Literal["sqlite", "postgres"]


class Connection(Protocol):
    """The part of DB-API that tierwise uses, with ``?`` placeholders on both backends."""

    backend: Backend

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Connection: ...
    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Database:
    backend: Backend
    target: str  # the SQLite file's path, or the PostgreSQL URL (which may hold a password: never printed)

    @classmethod
    def of(cls, settings: Settings) -> Database:
        if settings.ledger.backend == "postgres":
            assert settings.ledger.url is not None
            return cls(backend="postgres", target=settings.ledger.url)
        return cls(backend="sqlite", target=settings.ledger_path)

    @classmethod
    def sqlite(cls, path: str | Path) -> Database:
        return cls(backend="sqlite", target=str(path))

    @property
    def where(self) -> str:
        """For messages: the file, or the database URL without its password."""
        if self.backend == "sqlite":
            return self.target
        from tierwise.ledger.postgres import redacted_url

        return redacted_url(self.target)

    def exists(self) -> bool:
        """Whether there is anything to read (a SQLite file that is absent holds nothing, and is not created)."""
        return self.backend == "postgres" or Path(self.target).exists()

    def connect(self, *, readonly: bool = False) -> Connection:
        """A new connection with the schema in place (created or migrated) unless ``readonly``."""
        if self.backend == "postgres":
            from tierwise.ledger.postgres import connect_postgres

            return connect_postgres(self.target, migrate=not readonly)
        if readonly:
            if not Path(self.target).exists():
                raise FileNotFoundError(f"no ledger at {self.target}")
            raw = sqlite3.connect(f"file:{self.target}?mode=ro", uri=True, timeout=30)
        else:
            from tierwise.ledger.store import connect

            raw = connect(self.target)
        raw.row_factory = sqlite3.Row
        return _SqliteConnection(raw)


def connect_readonly(settings: Settings) -> Connection:
    """The seam for readers of the ledger (report, console, evidence): a read-only connection to either backend."""
    return Database.of(settings).connect(readonly=True)


class _SqliteConnection:
    """sqlite3's connection as it is (``?`` is its own paramstyle), with the backend's name."""

    backend: Backend = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> sqlite3.Cursor:
        return self.raw.executemany(sql, rows)

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _SqliteConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.raw.commit()
        else:
            self.raw.rollback()
