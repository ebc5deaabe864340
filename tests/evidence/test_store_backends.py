"""The evidence store's SQL on both ledger backends: a SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tierwise.evidence.records import Answer, RoutingChange, Sample
from tierwise.evidence.store import LedgerEvidenceStore
from tierwise.ledger.database import Database

from .test_parts import comparison


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database.sqlite(tmp_path / "tierwise.db")
        return
    import psycopg

    from tests.state.conftest import postgres_url

    admin = postgres_url()
    name = "tierwise_evidence_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield Database(backend="postgres", target=urlunsplit(urlsplit(admin)._replace(path="/" + name)))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_samples_comparisons_changes_spend_and_retention(ledger: Database) -> None:
    store = LedgerEvidenceStore(ledger)
    now = time.time()
    for i in range(5):
        store.add_sample(
            Sample(
                sample_id=f"s{i}", request_id=f"r{i}", created_at=now - 50 + i, api="openai", key_id="k",
                policy="learned", tier="default", model="a", score=0.4, prompt=f"prompt {i}", request_body="{}",
                answer=Answer(text="t", tool_calls=(("get", '{"x": 1}'),)), input_tokens=3, output_tokens=4,
            )
        )  # fmt: skip
        store.add_comparison(comparison(i, 0.0 if i % 2 else 1.0, 1.0, at=now - 50))
    change = RoutingChange(
        changed_at=now, action="apply", weak_tier="default", strong_tier="escalation", threshold=0.5,
        evidence_until=now, target="quality 0.9", estimate=0.95, lower=0.91, upper=0.99, n=5, escalated_share=0.4,
        reason="test",
    )  # fmt: skip
    store.add_change(change)
    with ledger.connect() as connection:
        connection.execute(
            "INSERT INTO requests (request_id, started_at, api, requested_model, stream, reasons, status, "
            "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, latency_ms, "
            "attempts, attempts_detail, cost_usd, traffic) VALUES (?, ?, 'openai', 'tier/escalation', 0, '', 200, "
            "1, 1, 0, 0, 0, 1.0, 1, '[]', '0.25', 'shadow')",
            ("tws_1", now),
        )
    samples = store.samples()
    assert [s.sample_id for s in samples] == [f"s{i}" for i in range(5)]
    assert samples[0].answer.tool_calls == (("get", '{"x": 1}'),) and samples[0].policy == "learned"
    compared = store.comparisons(cheap_tier="default", strong_tier="escalation")
    assert [c.cheap_score for c in compared] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert compared[0].prompt == "prompt 0" and compared[0].served_at == pytest.approx(now - 50)
    assert store.changes() == [change]
    assert store.spend_since("shadow", now - 1) == Decimal("0.25")
    assert store.prune(max_rows=3, before=now - 100) == 2
    assert [c.sample_id for c in store.comparisons()] == ["s2", "s3", "s4"]
    store.close()
