"""The ledger on a real PostgreSQL: two replicas under concurrent load write exactly one row per request, keys
created and revoked there reach both, and `tierwise report` / `keys list` read it; /metrics agrees with it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.state.conftest import postgres_url, redis_url
from tests.telemetry.prometheus import parse_metrics, total
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text

BODY = {"model": "tier/speed", "max_tokens": 50, "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    admin = postgres_url()
    name = "tierwise_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(admin)
    yield urlunsplit(parts._replace(path="/" + name))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def write_config(tmp_path: Path, database: str) -> Path:
    config = tmp_path / "tierwise.yaml"
    text = default_config_text().replace(
        "  path: tierwise.db", "  backend: postgres\n  url_env: TIERWISE_TEST_LEDGER_URL"
    )
    config.write_text(text + f"\nstate:\n  backend: redis\n  url: {redis_url()}\n")
    return config


def cli(config: Path, database: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", *args, "--config", str(config)],
        env={**_env(), "TIERWISE_TEST_LEDGER_URL": database},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def post(url: str, key: str) -> tuple[int, str | None]:
    request = urllib.request.Request(
        url + "/v1/messages",
        data=json.dumps(BODY).encode(),
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["x-tierwise-request-id"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("x-tierwise-request-id")


def test_two_replicas_one_postgres_ledger(
    tmp_path: Path, database: str, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, database)
    key = cli(config, database, "keys", "create", "team", "--daily-budget", "50").strip()
    env = {**upstream_env(fake_anthropic, fake_openai), "TIERWISE_TEST_LEDGER_URL": database}
    replicas: list[GatewayProcess] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            replicas.append(GatewayProcess(tmp_path / name, env=env, config=config, extra_args=("--workers", "1")))
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: post(replicas[i % 2].url, key), range(200)))
        assert {status for status, _ in answers} == {200}
        assert len(answers) == 200
        metrics = []
        for gateway in replicas:
            deadline = time.monotonic() + 20
            while True:
                with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as response:
                    samples = parse_metrics(response.read().decode())
                if total(samples, "tierwise_requests_total") >= 100 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            metrics.append(samples)

        key_id = key.split("-")[0] + "-" + key.split("-")[1]
        cli(config, database, "keys", "revoke", key_id)
        deadline = time.monotonic() + 10
        pending = {0, 1}
        while pending and time.monotonic() < deadline:
            for i in sorted(pending):
                probe = post(replicas[i].url, key)
                answers.append(probe)  # a probe let in before the revocation arrived is a request too
                if probe[0] == 401:
                    pending.discard(i)
            time.sleep(0.05)
        assert not pending  # the revocation, written to PostgreSQL, reached both replicas
    finally:
        for gateway in replicas:
            assert gateway.stop() == 0

    with psycopg.connect(database) as connection:
        rows = connection.execute(
            "SELECT request_id, status, input_tokens, output_tokens, cost_usd, key_id FROM requests"
        ).fetchall()
    ids = [request_id for status, request_id in answers if status == 200]
    served = [row for row in rows if row[1] == 200]
    assert len(served) >= 200 and sorted(row[0] for row in served) == sorted(ids)  # exactly one row per request
    assert sorted(row[0] for row in rows) == sorted(request_id for _, request_id in answers)  # the 401s too
    assert {row[5] for row in served} == {key_id}

    # Each replica's /metrics counts its own requests; together they match the ledger.
    load_ids = set(ids[:200])  # the load, before the revocation probes
    load_rows = [row for row in served if row[0] in load_ids]
    assert sum(total(m, "tierwise_requests_total", code="200") for m in metrics) == len(load_rows) == 200
    assert sum(total(m, "tierwise_tokens_total", kind="output") for m in metrics) == sum(r[3] for r in load_rows)
    metered = Decimal(str(sum(total(m, "tierwise_cost_usd_total") for m in metrics)))
    assert abs(metered - sum(Decimal(r[4]) for r in load_rows)) < Decimal("1e-9")
    spent = sum(Decimal(row[4]) for row in served)

    report = json.loads(cli(config, database, "report", "--json"))
    assert report["requests"] == len(rows)
    assert Decimal(report["spend_usd"]) == spent.quantize(Decimal("0.000001"))
    assert "@" not in report["ledger"] or ":" not in report["ledger"].split("@")[0].removeprefix("postgresql://")
    listing = json.loads(cli(config, database, "keys", "list", "--json"))
    assert [(k["key_id"], k["status"]) for k in listing] == [(key_id, "revoked")]
    assert Decimal(listing[0]["spent_today_usd"]) == spent.quantize(Decimal("0.000001"))
