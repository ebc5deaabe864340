"""Where evidence lives: an interface of a few methods, and its SQLite implementation in the ledger file.

The SQL is plain (no SQLite-only clauses, ``?`` placeholders), run through the ledger's database seam, so the
same statements serve a SQLite file and a PostgreSQL ledger. The tables come from the ledger's numbered
migrations (``tierwise.ledger.schema``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from tierwise.evidence.records import Answer, Comparison, RoutingChange, Sample
from tierwise.ledger.database import Connection, Database


class EvidenceStore(Protocol):
    def add_sample(self, sample: Sample) -> None: ...
    def add_comparison(self, comparison: Comparison) -> None: ...
    def add_change(self, change: RoutingChange) -> None: ...
    def samples(self, *, since: float | None = None, until: float | None = None) -> list[Sample]: ...
    def comparisons(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        cheap_tier: str | None = None,
        strong_tier: str | None = None,
    ) -> list[Comparison]: ...
    def changes(self) -> list[RoutingChange]: ...
    def spend_since(self, traffic: str, since: float) -> Decimal: ...
    def prune(self, *, max_rows: int, before: float) -> int: ...
    def close(self) -> None: ...


_SAMPLE_COLUMNS = (
    "sample_id, request_id, created_at, api, key_id, policy, tier, model, score, prompt, request_body, "
    "answer_text, tool_calls, input_tokens, output_tokens"
)
_COMPARISON_COLUMNS = (
    "sample_id, created_at, judge, cheap_tier, cheap_model, cheap_score, cheap_cost_usd, strong_tier, "
    "strong_model, strong_score, strong_cost_usd, served, shadow_text, shadow_tool_calls, shadow_input_tokens, "
    "shadow_output_tokens, shadow_request_id"
)
_CHANGE_COLUMNS = (
    "changed_at, action, weak_tier, strong_tier, threshold, evidence_until, target, estimate, lower_bound, "
    "upper_bound, n, escalated_share, reason"
)


def _placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


class LedgerEvidenceStore:
    """The evidence tables of the ledger database, SQLite or PostgreSQL (``tierwise.ledger.database``). One
    connection, used under a lock: the gateway writes from one background thread, the CLI reads."""

    def __init__(self, ledger: str | Path | Database, *, read_only: bool = False) -> None:
        database = ledger if isinstance(ledger, Database) else Database.sqlite(ledger)
        # Writable SQLite connections may be used from any thread (the gateway writes from its background
        # thread); read-only ones stay in the thread that opened them (the commands and queries do).
        self._connection: Connection = database.connect(readonly=read_only)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _write(self, sql: str, values: Sequence[object]) -> None:
        with self._lock, self._connection:
            self._connection.execute(sql, tuple(values))

    def _read(self, sql: str, values: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._connection.execute(sql, tuple(values)))

    def add_sample(self, s: Sample) -> None:
        self._write(
            f"INSERT INTO evidence_samples ({_SAMPLE_COLUMNS}) VALUES ({_placeholders(_SAMPLE_COLUMNS)})",
            (
                s.sample_id, s.request_id, s.created_at, s.api, s.key_id, s.policy, s.tier, s.model, s.score,
                s.prompt, s.request_body, s.answer.text, _calls_text(s.answer), s.input_tokens, s.output_tokens,
            ),
        )  # fmt: skip

    def add_comparison(self, c: Comparison) -> None:
        self._write(
            f"INSERT INTO evidence_comparisons ({_COMPARISON_COLUMNS}) VALUES ({_placeholders(_COMPARISON_COLUMNS)})",
            (
                c.sample_id, c.created_at, c.judge, c.cheap_tier, c.cheap_model, c.cheap_score, c.cheap_cost_usd,
                c.strong_tier, c.strong_model, c.strong_score, c.strong_cost_usd, c.served, c.shadow_answer.text,
                _calls_text(c.shadow_answer), c.shadow_input_tokens, c.shadow_output_tokens, c.shadow_request_id,
            ),
        )  # fmt: skip

    def add_change(self, c: RoutingChange) -> None:
        self._write(
            f"INSERT INTO routing_changes ({_CHANGE_COLUMNS}) VALUES ({_placeholders(_CHANGE_COLUMNS)})",
            (
                c.changed_at, c.action, c.weak_tier, c.strong_tier, c.threshold, c.evidence_until, c.target,
                c.estimate, c.lower, c.upper, c.n, c.escalated_share, c.reason,
            ),
        )  # fmt: skip

    def samples(self, *, since: float | None = None, until: float | None = None) -> list[Sample]:
        where, values = _window("created_at", since, until)
        rows = self._read(f"SELECT {_SAMPLE_COLUMNS} FROM evidence_samples{where} ORDER BY created_at", values)
        return [
            Sample(
                sample_id=r[0], request_id=r[1], created_at=r[2], api=r[3], key_id=r[4], policy=r[5], tier=r[6],
                model=r[7], score=r[8], prompt=r[9], request_body=r[10], answer=_answer(r[11], r[12]),
                input_tokens=r[13], output_tokens=r[14],
            )
            for r in rows
        ]  # fmt: skip

    def comparisons(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        cheap_tier: str | None = None,
        strong_tier: str | None = None,
    ) -> list[Comparison]:
        where, values = _window("c.created_at", since, until)
        for column, value in (("c.cheap_tier", cheap_tier), ("c.strong_tier", strong_tier)):
            if value is not None:
                where += (" AND " if where else " WHERE ") + f"{column} = ?"
                values.append(value)
        columns = ", ".join(f"c.{name.strip()}" for name in _COMPARISON_COLUMNS.split(","))
        rows = self._read(
            f"SELECT {columns}, s.prompt, s.policy, s.created_at FROM evidence_comparisons c "
            f"JOIN evidence_samples s ON s.sample_id = c.sample_id{where} ORDER BY c.created_at",
            values,
        )
        return [
            Comparison(
                sample_id=r[0], created_at=r[1], judge=r[2], cheap_tier=r[3], cheap_model=r[4], cheap_score=r[5],
                cheap_cost_usd=r[6], strong_tier=r[7], strong_model=r[8], strong_score=r[9], strong_cost_usd=r[10],
                served=r[11], shadow_answer=_answer(r[12], r[13]), shadow_input_tokens=r[14],
                shadow_output_tokens=r[15], shadow_request_id=r[16], prompt=r[17], policy=r[18],
                served_at=r[19],
            )
            for r in rows
        ]  # fmt: skip

    def changes(self) -> list[RoutingChange]:
        rows = self._read(f"SELECT {_CHANGE_COLUMNS} FROM routing_changes ORDER BY changed_at")
        return [
            RoutingChange(
                changed_at=r[0], action=r[1], weak_tier=r[2], strong_tier=r[3], threshold=r[4], evidence_until=r[5],
                target=r[6], estimate=r[7], lower=r[8], upper=r[9], n=r[10], escalated_share=r[11], reason=r[12],
            )
            for r in rows
        ]  # fmt: skip

    def spend_since(self, traffic: str, since: float) -> Decimal:
        rows = self._read(
            "SELECT cost_usd FROM requests WHERE traffic = ? AND started_at >= ? AND cost_usd IS NOT NULL",
            (traffic, since),
        )
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def prune(self, *, max_rows: int, before: float) -> int:
        """Delete samples older than ``before`` and beyond the newest ``max_rows``, with their comparisons."""
        with self._lock, self._connection:
            deleted: int = self._connection.execute(
                "DELETE FROM evidence_samples WHERE created_at < ?", (before,)
            ).rowcount
            deleted += self._connection.execute(
                "DELETE FROM evidence_samples WHERE created_at < (SELECT created_at FROM evidence_samples "
                "ORDER BY created_at DESC LIMIT 1 OFFSET ?)",
                (max_rows - 1,),
            ).rowcount
            if deleted:
                self._connection.execute(
                    "DELETE FROM evidence_comparisons WHERE sample_id NOT IN (SELECT sample_id FROM evidence_samples)"
                )
        return deleted


def _window(column: str, since: float | None, until: float | None) -> tuple[str, list[object]]:
    clauses: list[str] = []
    values: list[object] = []
    if since is not None:
        clauses.append(f"{column} >= ?")
        values.append(since)
    if until is not None:
        clauses.append(f"{column} < ?")
        values.append(until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


def _calls_text(answer: Answer) -> str:
    return json.dumps([{"name": name, "arguments": arguments} for name, arguments in answer.tool_calls])


def _answer(text: str, calls: str | None) -> Answer:
    loaded = json.loads(calls) if calls else []
    return Answer(text=text, tool_calls=tuple((c["name"], c["arguments"]) for c in loaded))
