"""The keys table: a key is shown once at creation, only its hash is kept, and it can be listed and revoked."""

from __future__ import annotations

import dataclasses
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from tierwise.errors import InvalidRequest, NotFound
from tierwise.keys import KeyLimits, KeyStore, has_keys


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # the database and its WAL


def test_create_shows_the_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "tierwise.db"
    store = KeyStore(path)
    new = store.create("ci", KeyLimits(daily_budget=Decimal("2.5"), requests_per_minute=60, tiers=frozenset({"speed"})))
    key_id, secret = new.key[:11], new.key[12:]
    assert key_id == new.record.key_id and key_id.startswith("tw-") and len(key_id) == 11
    assert len(secret) >= 43  # 256 random bits
    assert new.record.key_sha256 == hashlib.sha256(new.key.encode()).hexdigest()

    stored = file_bytes(path)
    assert new.key.encode() not in stored and secret.encode() not in stored
    assert new.record.key_sha256.encode() in stored

    (listed,) = store.list()
    assert listed == new.record
    assert "key" not in {f.name for f in dataclasses.fields(listed)}  # no field of a record could hold the key
    assert listed.limits.daily_budget == Decimal("2.5") and listed.limits.tiers == frozenset({"speed"})


def test_keys_are_distinct_and_listed_oldest_first(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "tierwise.db")
    first = store.create("a", now=1000.0)
    second = store.create("b", now=2000.0)
    assert first.key != second.key and first.record.key_id != second.record.key_id
    assert [r.name for r in store.list()] == ["a", "b"]


def test_revoke_marks_the_key_and_keeps_it_listed(tmp_path: Path) -> None:
    path = tmp_path / "tierwise.db"
    store = KeyStore(path)
    new = store.create("ci")
    assert has_keys(path)
    revoked = store.revoke(new.record.key_id, now=5000.0)
    assert revoked.revoked and revoked.revoked_at == 5000.0
    assert [r.revoked for r in store.list()] == [True]
    assert has_keys(path)  # a revoked key still means the gateway checks keys
    with pytest.raises(InvalidRequest, match="already revoked"):
        store.revoke(new.record.key_id)
    with pytest.raises(NotFound):
        store.revoke("tw-00000000")


def test_no_file_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    assert KeyStore(path).list() == [] and not has_keys(path)
    assert not path.exists()  # listing does not create the file


def test_limits_are_validated() -> None:
    with pytest.raises(InvalidRequest, match="daily budget"):
        KeyLimits(daily_budget=Decimal(0))
    with pytest.raises(InvalidRequest, match="requests per minute"):
        KeyLimits(requests_per_minute=-1)
    with pytest.raises(InvalidRequest, match="unknown tier"):
        KeyLimits(tiers=frozenset({"turbo"}))  # type: ignore[arg-type]
