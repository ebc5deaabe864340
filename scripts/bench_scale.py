"""Measure scale-out: throughput with 1 and N gateway workers, and what the Redis-backed key check adds.

    eval "$(bash scripts/services.sh)"                      # Redis for part 2
    uv run python scripts/bench_scale.py                     # the figures in docs/PERFORMANCE.md

Part 1 starts the fake upstreams and `tierwise serve --workers W` (shipped config, memory state, SQLite ledger)
for each W, drives non-streamed Anthropic Messages requests with a raw aiohttp client at a fixed concurrency,
and reports requests per second and the gateway's CPU per request (all its processes, from /proc).

Part 2 starts one worker with a gateway key that has a daily budget and an RPM limit, once with
`state.backend: memory` and once with `state.backend: redis`, and sends requests one at a time: the difference
in latency is the Redis round trip of the atomic reserve (settling is written in the background). It also
times `RedisKeyState.reserve` alone.

Everything shares this machine's cores (load generator, fake upstream, gateway, Redis): see the notes printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_gateway import KEY, anthropic_body, drive, pct, wait_http  # noqa: E402
from tests.gateway_process import free_port  # noqa: E402


def tree_cpu_seconds(pid: int) -> float:
    """CPU (user + system) of ``pid`` and its children, living ones read from /proc."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def start_upstreams(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    anthropic_port, openai_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.upstreams", "--anthropic-port", str(anthropic_port),
         "--openai-port", str(openai_port), "--anthropic-key", KEY, "--openai-key", KEY],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{anthropic_port}/v1/models")
    return process, anthropic_port


def start_gateway(
    env: dict[str, str], anthropic_port: int, workdir: Path, *args: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    gateway_env = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{anthropic_port}", "ANTHROPIC_API_KEY": KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "tierwise.cli", "serve", "--port", str(port), *args],
        cwd=workdir, env=gateway_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/healthz")
    time.sleep(1.0)  # every worker up
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(60)


def throughput(env: dict[str, str], anthropic_port: int, workers: int, requests: int, concurrency: int) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="tierwise-scale-"))
    gateway, port = start_gateway(env, anthropic_port, workdir, "--workers", str(workers))
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    url = f"http://127.0.0.1:{port}/v1/messages"
    body = anthropic_body(False)
    try:
        asyncio.run(drive(url, body, headers, 500, concurrency))  # warm every worker
        cpu = tree_cpu_seconds(gateway.pid)
        started = time.perf_counter()
        latencies = asyncio.run(drive(url, body, headers, requests, concurrency))
        elapsed = time.perf_counter() - started
        cpu = tree_cpu_seconds(gateway.pid) - cpu
    finally:
        stop(gateway)
    return (
        f"| {workers} | {requests / elapsed:,.0f} req/s | {pct(latencies, 0.5):.2f} ms | {pct(latencies, 0.99):.2f} ms "
        f"| {cpu / requests * 1000:.2f} ms |"
    )


def keyed_latency(
    env: dict[str, str], anthropic_port: int, backend: str, redis_url: str | None, requests: int
) -> list[float]:
    from tierwise.config.loader import default_config_text
    from tierwise.keys import KeyLimits, KeyStore

    workdir = Path(tempfile.mkdtemp(prefix="tierwise-keyed-"))
    new = KeyStore(workdir / "tierwise.db").create(
        "bench", KeyLimits(daily_budget=Decimal(1000), requests_per_minute=1_000_000)
    )
    config = workdir / "tierwise.yaml"
    state = f"\nstate:\n  backend: redis\n  url: {redis_url}\n" if backend == "redis" else ""
    config.write_text(default_config_text() + state)
    gateway, port = start_gateway(env, anthropic_port, workdir, "--workers", "1", "--config", str(config))
    headers = {"x-api-key": new.key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    url = f"http://127.0.0.1:{port}/v1/messages"
    try:
        asyncio.run(drive(url, anthropic_body(False), headers, 300, 1))
        return asyncio.run(drive(url, anthropic_body(False), headers, requests, 1))
    finally:
        stop(gateway)


async def reserve_alone(redis_url: str, count: int) -> list[float]:
    from tierwise.state import Quota
    from tierwise.state.redis_store import RedisKeyState

    state = RedisKeyState(redis_url)
    quota = Quota(key_id="tw-bench", daily_budget=Decimal(10**6), requests_per_minute=10**9)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await state.reserve(quota, day=1, month=1, cost=Decimal("0.001"), tokens=100, now=0.0)
        times.append((time.perf_counter() - started) * 1000)
    await state.close()
    return times


def observer_costs(count: int = 20000) -> dict[str, float]:
    """Microseconds per ledger row each telemetry observer costs the ledger's writer thread (never the request)."""
    from tierwise.ledger.entry import Attempt, LedgerEntry
    from tierwise.telemetry.access_log import AccessLog
    from tierwise.telemetry.metrics import Metrics
    from tierwise.types import Usage

    entry = LedgerEntry(
        request_id="twr_0", started_at=time.time(), api="anthropic", status=200, policy="rules", tier="default",
        model="claude-sonnet-4-6", usage=Usage(input_tokens=110, output_tokens=100, cache_read_tokens=20),
        latency_ms=12.5, ttft_ms=3.2, attempts=[Attempt(model="claude-sonnet-4-6", status=200)],
    )  # fmt: skip
    rows = [(entry, Decimal("0.0018"))] * 100
    costs = {}
    metrics = Metrics({"claude-sonnet-4-6": "default"})
    log = AccessLog(os.devnull)
    for name, observer in (("metrics", metrics), ("access log", log)):
        started = time.perf_counter()
        for _ in range(count // 100):
            observer.observe_batch(rows)
        costs[name] = (time.perf_counter() - started) / count * 1e6
    log.close()
    started = time.perf_counter()
    for _ in range(100):
        metrics.render({})
    costs["render /metrics (one scrape)"] = (time.perf_counter() - started) / 100 * 1e6
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sequential", type=int, default=1500, help="requests one at a time, per state backend")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    upstreams, anthropic_port = start_upstreams(env)
    load_before = os.getloadavg()[0]
    try:
        rows = [throughput(env, anthropic_port, w, args.requests, args.concurrency) for w in args.workers]
        redis_url = os.environ.get("TIERWISE_TEST_REDIS_URL")
        keyed = {"memory": keyed_latency(env, anthropic_port, "memory", None, args.sequential)}
        if redis_url:
            keyed["redis"] = keyed_latency(env, anthropic_port, "redis", redis_url, args.sequential)
            alone = asyncio.run(reserve_alone(redis_url, 2000))
    finally:
        stop(upstreams)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print(f"\nnon-streamed Anthropic Messages, {args.requests} requests at concurrency {args.concurrency}\n")
    print("| workers | throughput | p50 | p99 | gateway CPU per request |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)
    print(f"\none request at a time through a key with a budget and an RPM limit ({args.sequential} requests)\n")
    print("| state backend | p50 | p99 | mean |")
    print("|---|---|---|---|")
    for backend, values in keyed.items():
        mean = sum(values) / len(values)
        print(f"| {backend} | {pct(values, 0.5):.2f} ms | {pct(values, 0.99):.2f} ms | {mean:.2f} ms |")
    print("\ntelemetry on the ledger's writer thread (not the request path), microseconds per row:")
    for name, micros in observer_costs().items():
        print(f"  {name}: {micros:.1f} µs")
    if "redis" in keyed:
        print(f"\nRedisKeyState.reserve alone (Lua script, one round trip): p50 {pct(alone, 0.5):.3f} ms, "
              f"p99 {pct(alone, 0.99):.3f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
