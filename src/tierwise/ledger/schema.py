"""The ledger file's schema as a numbered list of migrations; an existing file is upgraded in place on open.

To change the schema, APPEND one entry to ``MIGRATIONS`` (never edit, reorder or remove one that has landed):
its number is its position, and ``PRAGMA user_version`` records how many a file has had. New columns must be
nullable or carry a DEFAULT, so rows written by an older tierwise still fit.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: the requests table, one row per request (the schema of tierwise 0.1)
    """
    CREATE TABLE IF NOT EXISTS requests (
        request_id TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        api TEXT NOT NULL,
        requested_model TEXT NOT NULL,
        stream INTEGER NOT NULL,
        policy TEXT,
        tier TEXT,
        model TEXT,
        upstream_model TEXT,
        provider TEXT,
        reasons TEXT NOT NULL,
        status INTEGER NOT NULL,
        error TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_usd TEXT,
        baseline_cost_usd TEXT,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        attempts INTEGER NOT NULL,
        attempts_detail TEXT NOT NULL,
        session TEXT,
        key_id TEXT
    );
    CREATE INDEX IF NOT EXISTS requests_started_at ON requests (started_at);
    """,
    # 2: 1 when the token counts are the gateway's estimate (the upstream sent no usage, or the client hung up
    # before it came), 0 when the upstream reported them
    "ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;",
    # 3: evidence from live traffic (tierwise.evidence): whose call a row is ('client', or 'shadow' / 'judge' for
    # the evidence loop's own calls); sampled requests; judged comparisons with a shadow answer; routing changes
    """
    ALTER TABLE requests ADD COLUMN traffic TEXT NOT NULL DEFAULT 'client';
    CREATE TABLE IF NOT EXISTS evidence_samples (
        sample_id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        api TEXT NOT NULL,
        key_id TEXT,
        policy TEXT,
        tier TEXT NOT NULL,
        model TEXT NOT NULL,
        score REAL,
        prompt TEXT NOT NULL,
        request_body TEXT NOT NULL,
        answer_text TEXT NOT NULL,
        tool_calls TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS evidence_samples_created_at ON evidence_samples (created_at);
    CREATE TABLE IF NOT EXISTS evidence_comparisons (
        sample_id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        judge TEXT NOT NULL,
        cheap_tier TEXT NOT NULL,
        cheap_model TEXT NOT NULL,
        cheap_score REAL NOT NULL,
        cheap_cost_usd REAL,
        strong_tier TEXT NOT NULL,
        strong_model TEXT NOT NULL,
        strong_score REAL NOT NULL,
        strong_cost_usd REAL,
        served TEXT NOT NULL,
        shadow_text TEXT NOT NULL,
        shadow_tool_calls TEXT NOT NULL,
        shadow_input_tokens INTEGER NOT NULL,
        shadow_output_tokens INTEGER NOT NULL,
        shadow_request_id TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS evidence_comparisons_created_at ON evidence_comparisons (created_at);
    CREATE TABLE IF NOT EXISTS routing_changes (
        changed_at REAL NOT NULL,
        action TEXT NOT NULL,
        weak_tier TEXT NOT NULL,
        strong_tier TEXT NOT NULL,
        threshold REAL,
        evidence_until REAL NOT NULL,
        target TEXT NOT NULL,
        estimate REAL,
        lower_bound REAL,
        upper_bound REAL,
        n INTEGER NOT NULL,
        escalated_share REAL,
        reason TEXT NOT NULL
    );
    """,
    # 4: the part of cache_write_tokens written with the one-hour lifetime (priced higher than five-minute writes)
    "ALTER TABLE requests ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;",
    # 5: agent sessions: what the session switched on this request (tier or effort) and why; the previous
    # turn's prompt-cache tokens the switch's new model reads afresh, and what that costs over a cache read
    """
    ALTER TABLE requests ADD COLUMN session_switch TEXT;
    ALTER TABLE requests ADD COLUMN forfeited_cache_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN forfeited_cache_usd TEXT;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(connection: sqlite3.Connection) -> int:
    """Apply the migrations this file has not had yet, each in one transaction with its version; returns the
    version. Several processes may open the same file at once: the version is read again under the write lock,
    so each migration runs once. A file from a newer tierwise is left as it is."""
    if schema_version(connection) >= SCHEMA_VERSION:
        return schema_version(connection)
    for number, migration in enumerate(MIGRATIONS, start=1):
        if connection.in_transaction:
            connection.commit()
        connection.execute("BEGIN IMMEDIATE")  # waits (the connection's busy timeout) for any other writer
        try:
            if schema_version(connection) < number:
                for statement in _statements(migration):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version={number}")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    return schema_version(connection)


def _statements(script: str) -> list[str]:
    """The statements of ``script`` one by one (``executescript`` would commit the open transaction first)."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n\t;"):
                statements.append(current.strip())
            current = ""
    return statements
