"""The ledger file's migrations: a new file gets them all, an old file is upgraded in place, keeping its rows."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from tierwise.ledger.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from tierwise.ledger.store import connect

# The schema tierwise 0.1 wrote (user_version 1), as it was, with one row of its time.
V1_ROW = (
    "r-old", 1.0, "openai", "auto", 0, "rules", "default", "m", "m-up", "p", "why", 200, None,
    10, 5, 0, 0, 0, "0.01", "0.05", 12.5, None, 1, "[]", None, None,
)  # fmt: skip


def columns(connection: sqlite3.Connection) -> list[str]:
    return [row[1] for row in connection.execute("PRAGMA table_info(requests)")]


def test_a_new_file_gets_every_migration(tmp_path: Path) -> None:
    with closing(connect(tmp_path / "new.db")) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
        assert "usage_estimated" in columns(connection)


def test_a_version_1_file_is_upgraded_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as old:
        old.executescript(MIGRATIONS[0])
        old.execute(f"INSERT INTO requests VALUES ({', '.join('?' * len(V1_ROW))})", V1_ROW)
        old.execute("PRAGMA user_version=1")
        old.commit()
    with closing(connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        row = connection.execute("SELECT request_id, cost_usd, usage_estimated FROM requests").fetchall()
    assert row == [("r-old", "0.01", 0)]


@pytest.mark.parametrize("start", [0, 1])
def test_processes_opening_a_file_at_once_apply_each_migration_once(tmp_path: Path, start: int) -> None:
    path = tmp_path / "race.db"
    if start:
        with closing(sqlite3.connect(path)) as old:
            old.executescript(MIGRATIONS[0])
            old.execute("PRAGMA user_version=1")
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_it() -> None:
        try:
            with closing(sqlite3.connect(path, timeout=30)) as connection:
                barrier.wait()
                migrate(connection)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with closing(sqlite3.connect(path)) as connection:
        assert columns(connection).count("usage_estimated") == 1
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
