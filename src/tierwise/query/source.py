"""Where the query layer reads the ledger: a small seam over one database connection and its SQL dialect.

Queries are written once in portable SQL with ``?`` placeholders; a source turns them into its driver's style.
SQLite and PostgreSQL (the ``postgres`` extra, through ``ledger.postgres``'s ``?``-taking connection) are here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tierwise.config.settings import Settings


class LedgerSource(Protocol):
    """Read-only access to a ledger database. Rows come back as dicts keyed by column name."""

    name: str  # what to show as the ledger's location (a path, or a URL without its password)

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]: ...

    def columns(self, table: str) -> frozenset[str]:
        """The table's column names; empty when the table does not exist."""
        ...


class SqliteSource:
    """A ledger file, opened read-only for each call (safe from any thread, never blocks the writer)."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._columns: dict[str, frozenset[str]] = {}

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not Path(self.name).exists():
            raise FileNotFoundError(f"no ledger at {self.name}")
        with closing(sqlite3.connect(f"file:{self.name}?mode=ro", uri=True, timeout=30)) as connection:
            connection.row_factory = sqlite3.Row
            yield connection

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        with self._connect() as connection:
            connection.row_factory = None
            cursor = connection.execute(sql, tuple(params))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self, table: str) -> frozenset[str]:
        found = self._columns.get(table)
        if found is None:
            with self._connect() as connection:
                # A column list from a query that returns no rows: the same SQL works on any database.
                try:
                    cursor = connection.execute(f"SELECT * FROM {_identifier(table)} WHERE 1 = 0")
                except sqlite3.OperationalError as exc:
                    if "no such table" not in str(exc):
                        raise
                    return frozenset()  # not cached: the table may appear later (a newer writer migrates)
                found = frozenset(d[0] for d in cursor.description)
            self._columns[table] = found
        return found


class PostgresSource:
    """A PostgreSQL ledger, one short read-only connection per call."""

    def __init__(self, url: str) -> None:
        from tierwise.ledger.postgres import redacted_url

        self.url = url
        self.name = redacted_url(url)
        self._columns: dict[str, frozenset[str]] = {}

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        from tierwise.ledger.postgres import connect_postgres

        with closing(connect_postgres(self.url, migrate=False)) as connection:
            cursor = connection.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            connection.rollback()
            return rows

    def columns(self, table: str) -> frozenset[str]:
        found = self._columns.get(table)
        if found is None:
            from tierwise.ledger.postgres import connect_postgres

            with closing(connect_postgres(self.url, migrate=False)) as connection:
                exists = connection.execute("SELECT to_regclass(?)", (table,)).fetchone()
                if exists is None or exists[0] is None:
                    return frozenset()
                cursor = connection.execute(f"SELECT * FROM {_identifier(table)} WHERE 1 = 0")
                found = frozenset(d[0] for d in cursor.description or ())
                connection.rollback()
            self._columns[table] = found
        return found


def ledger_location(settings: Settings) -> str:
    """Where the configuration's ledger lives: its PostgreSQL URL, or its SQLite file."""
    if settings.ledger.backend == "postgres" and settings.ledger.url:
        return settings.ledger.url
    return settings.ledger_path


def open_source(location: str | Path) -> LedgerSource:
    """The ledger at ``location``: a SQLite file path, or a PostgreSQL URL."""
    text = str(location)
    if text.startswith(("postgres://", "postgresql://")):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            from tierwise.errors import ConfigError

            raise ConfigError(
                "reading a PostgreSQL ledger needs the postgres extra (uv sync --extra postgres)"
            ) from None
        return PostgresSource(text)
    return SqliteSource(text)


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    return name
