"""Two gateway replicas sharing one Redis and one ledger, under concurrent load: a key's budget and its RPM
limit hold across them, a revocation reaches both, and an unreachable Redis fails closed."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess, free_port
from tests.state.conftest import redis_url
from tests.telemetry.prometheus import parse_metrics
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text, load_settings
from tierwise.keys import KeyLimits, KeyStore
from tierwise.keys.prices import model_rates

ONE = ("--workers", "1")  # one process per replica: "one request over per replica" is then exact
BODY = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hello there"}]}


def replica_config(tmp_path: Path, redis: str) -> Path:
    config = tmp_path / "tierwise.yaml"
    text = default_config_text().replace("  path: tierwise.db", f"  path: {tmp_path / 'shared.db'}")
    config.write_text(text + f"\nstate:\n  backend: redis\n  url: {redis}\n")
    return config


@pytest.fixture
def replicas(tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI) -> Iterator[list[GatewayProcess]]:
    redis = redis_url()
    config = replica_config(tmp_path, redis)
    KeyStore(tmp_path / "shared.db").prepare()
    started: list[GatewayProcess] = []
    try:
        for name in ("a", "b"):
            workdir = tmp_path / name
            workdir.mkdir()
            started.append(
                GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config, extra_args=ONE)
            )
        yield started
    finally:
        for gateway in started:
            gateway.stop()


def restart_with_keys(replicas: list[GatewayProcess], tmp_path: Path, fake_anthropic: FakeAnthropic,
                      fake_openai: FakeOpenAI) -> list[GatewayProcess]:  # fmt: skip
    """A gateway begins to require keys at start-up: restart the replicas once the key exists."""
    config = replica_config(tmp_path, redis_url())
    for gateway in replicas:
        gateway.stop()
    fresh = []
    for gateway in replicas:
        fresh.append(
            GatewayProcess(
                gateway.workdir, env=upstream_env(fake_anthropic, fake_openai), config=config, extra_args=ONE
            )
        )
    replicas[:] = fresh
    return fresh


def post(url: str, key: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(
        url + "/v1/messages",
        data=json.dumps(BODY).encode(),
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def send(url: str, key: str) -> int:
    return post(url, key)[0]


def load(replicas: list[GatewayProcess], key: str, count: int, workers: int = 16) -> list[int]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda i: send(replicas[i % len(replicas)].url, key), range(count)))


def rows(tmp_path: Path) -> list[tuple[int, str | None]]:
    import sqlite3

    with sqlite3.connect(tmp_path / "shared.db") as connection:
        return connection.execute("SELECT status, cost_usd FROM requests").fetchall()


def test_a_budget_holds_across_replicas(
    tmp_path: Path, replicas: list[GatewayProcess], fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    budget = Decimal("0.0015")
    new = KeyStore(tmp_path / "shared.db").create("shared", KeyLimits(daily_budget=budget))
    restart_with_keys(replicas, tmp_path, fake_anthropic, fake_openai)
    statuses = load(replicas, new.key, 120, workers=4)
    for gateway in replicas:
        gateway.stop()  # flush both ledgers' writers
    assert statuses.count(200) > 0 and statuses.count(429) > 0
    assert set(statuses) == {200, 429}
    costs = [Decimal(cost) for status, cost in rows(tmp_path) if status == 200 and cost is not None]
    assert len(costs) == statuses.count(200)
    # Each replica may admit one request with some budget left: at most one request's reservation over, per
    # replica. A request here reserves at most 100 input tokens and its 50 output tokens at Haiku's prices.
    most = model_rates(load_settings().models)["claude-haiku-4-5"].most(100, 50)
    assert sum(costs) <= budget + 2 * most < 2 * budget  # two separate budgets would have allowed twice as much
    assert sum(costs) > budget / 2  # and the budget was used, not refused early


def test_an_rpm_limit_holds_across_replicas(
    tmp_path: Path, replicas: list[GatewayProcess], fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    new = KeyStore(tmp_path / "shared.db").create("shared", KeyLimits(requests_per_minute=30))
    restart_with_keys(replicas, tmp_path, fake_anthropic, fake_openai)
    started = time.monotonic()
    statuses = load(replicas, new.key, 90)
    elapsed = time.monotonic() - started
    # The window starts full (30) and refills at 30 a minute; one process each would have let 60 through.
    assert 30 <= statuses.count(200) <= 30 + int(elapsed * 30 / 60) + 1
    assert statuses.count(429) == 90 - statuses.count(200)


def test_a_revocation_reaches_every_replica(
    tmp_path: Path, replicas: list[GatewayProcess], fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    new = KeyStore(tmp_path / "shared.db").create("shared", KeyLimits())
    restart_with_keys(replicas, tmp_path, fake_anthropic, fake_openai)
    assert [send(gateway.url, new.key) for gateway in replicas] == [200, 200]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tierwise.cli",
            "keys",
            "revoke",
            new.record.key_id,
            "--ledger",
            str(tmp_path / "shared.db"),
        ],
        check=True,
        capture_output=True,
    )
    revoked_at = time.monotonic()
    pending = set(range(len(replicas)))
    while pending and time.monotonic() - revoked_at < 10:
        pending = {i for i in pending if send(replicas[i].url, new.key) != 401}
        time.sleep(0.05)
    assert not pending
    assert time.monotonic() - revoked_at < 3.0  # refreshed every second (with slack for a loaded machine)


def test_an_unreachable_redis_refuses_limited_keys_and_lets_unlimited_ones_through(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    limited = KeyStore(tmp_path / "shared.db").create("limited", KeyLimits(daily_budget=Decimal(5)))
    unlimited = KeyStore(tmp_path / "shared.db").create("unlimited", KeyLimits())
    config = replica_config(tmp_path, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), config=config)
    try:
        status, body = post(gateway.url, limited.key)
        assert status == 503
        assert body["error"]["type"] == "overloaded_error"
        assert "shared state (Redis) is unreachable" in body["error"]["message"]
        assert send(gateway.url, unlimited.key) == 200  # nothing to count, nothing to check
    finally:
        gateway.stop()
    assert (503, None) in rows(tmp_path)


def circuit(url: str, model: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        samples = parse_metrics(response.read().decode())
    return samples.get(("tierwise_circuit_state", (("model", model),)), -1.0)


def test_a_circuit_opened_on_one_replica_opens_on_the_other(replicas: list[GatewayProcess]) -> None:
    a, b = replicas
    body = {**BODY, "messages": [{"role": "user", "content": "[[fail:500]] please"}]}
    request = urllib.request.Request(
        a.url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    assert circuit(b.url, "claude-haiku-4-5") == 0
    deadline = time.monotonic() + 20
    while circuit(a.url, "claude-haiku-4-5") != 2 and time.monotonic() < deadline:
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=30).close()
    assert circuit(a.url, "claude-haiku-4-5") == 2  # open on A, from A's own failures
    deadline = time.monotonic() + 5
    while circuit(b.url, "claude-haiku-4-5") != 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert circuit(b.url, "claude-haiku-4-5") == 2  # and on B, which never called the model


def ask_in_session(url: str, session: str, headers: dict[str, str] | None = None) -> tuple[str, str]:
    body = {"model": "auto", "max_tokens": 30, "messages": [{"role": "user", "content": "how are plants grown"}]}
    request = urllib.request.Request(
        url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={
            "x-api-key": "k",
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            "x-tierwise-session": session,
            **(headers or {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["x-tierwise-tier"], response.headers["x-tierwise-reason"]


def test_a_session_started_on_one_replica_continues_on_another(replicas: list[GatewayProcess]) -> None:
    a, b = replicas
    assert ask_in_session(b.url, "fresh")[0] == "default"  # what this prompt gets without a session's history
    # Concurrent sessions, each moved up to the escalation tier on A, then continued on B.
    sessions = [f"s{i}" for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda s: ask_in_session(a.url, s, {"x-tierwise-tier": "escalation"}), sessions))
    assert {tier for tier, _ in first} == {"escalation"}
    deadline = time.monotonic() + 5
    while True:  # the lanes reach B over the Redis bus within milliseconds
        with ThreadPoolExecutor(8) as pool:
            later = list(pool.map(lambda s: ask_in_session(b.url, s), sessions))
        if {tier for tier, _ in later} == {"escalation"} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert {tier for tier, _ in later} == {"escalation"}
    assert all("session stays on escalation" in reason for _, reason in later)
