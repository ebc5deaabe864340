"""`tierwise serve --workers N`: N processes answer on one port, their metrics add up, and SIGTERM stops all."""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.telemetry.prometheus import parse_metrics, total
from tests.upstreams import FakeAnthropic, FakeOpenAI


def worker_pids(parent: int) -> set[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children}


def test_two_workers_share_the_port_and_stop_together(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), extra_args=("--workers", "2"))
    try:
        deadline = time.monotonic() + 20
        while len(worker_pids(gateway.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = worker_pids(gateway.process.pid)
        assert len(workers) == 2
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)

        def ask(i: int) -> str:
            reply = client.chat.completions.with_raw_response.create(
                model="tier/speed", messages=[{"role": "user", "content": f"hello {i}"}]
            )
            return reply.headers["x-tierwise-request-id"]

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(ask, range(60)))
        assert len(set(ids)) == 60
        deadline = time.monotonic() + 20  # each worker shares its totals once a second
        while True:
            with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as response:
                samples = parse_metrics(response.read().decode())
            if total(samples, "tierwise_requests_total") >= 60 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert total(samples, "tierwise_requests_total") == 60
        assert total(samples, "tierwise_workers") == 2
    finally:
        code = gateway.stop()
        assert code == 0, gateway.log()[-4000:]  # the workers' last words, should one exit non-zero
    for pid in workers:  # no worker outlives the parent
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text()
    rows = sqlite3.connect(gateway.ledger_path).execute("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM requests")
    assert rows.fetchone() == (60, 60)
    log = gateway.log()
    assert "2 workers on http://127.0.0.1" in log
    assert "tierwise[0]:" in log and "tierwise[1]:" in log
