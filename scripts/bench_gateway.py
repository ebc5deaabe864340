"""Measure what the gateway adds: latency (p50/p99) over calling the upstream directly, and memory under many
concurrent streams.

Starts the fake upstreams (tests/upstreams) and the real `tierwise serve` as separate processes on loopback,
then drives both paths with a raw aiohttp client (the SDKs would dominate the timings).

    uv run python scripts/bench_gateway.py                     # the figures in docs/PERFORMANCE.md
    uv run python scripts/bench_gateway.py --requests 2000 --concurrency 32

All three processes share this machine's cores, so absolute figures include contention; the difference
between the direct and the gateway path is what the gateway costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway_process import free_port  # noqa: E402

KEY = "sk-bench"
PROMPT = "Summarise the following note in one line: " + "the meeting moved to Thursday because of the holiday. " * 8


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as exc:
            if "HTTP Error" in str(exc):
                return  # the server answers (a 404 counts)
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def anthropic_body(stream: bool) -> bytes:
    return json.dumps(
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 256,
            "stream": stream,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    ).encode()


async def drive(url: str, body: bytes, headers: dict[str, str], n: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"status {response.status}: {await response.text()}")
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def hold_streams(url: str, headers: dict[str, str], count: int, pid: int) -> tuple[int, int]:
    """Open ``count`` slow streams at once through the gateway; the gateway's RSS before and at the peak."""
    before = rss_kib(pid)
    peak = before
    body = anthropic_body(True)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            async with session.post(url, data=body, headers=headers) as response:
                async for _ in response.content.iter_any():
                    pass

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        while not all(task.done() for task in tasks):
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
    return before, peak


def start_stack(env: dict[str, str], workdir: Path, stream_delay: float) -> tuple[subprocess.Popen[bytes], ...]:
    """Fake upstreams and a gateway pointed at them; returns (upstreams, gateway, anthropic_port, gateway_port)."""
    anthropic_port, openai_port, gateway_port = free_port(), free_port(), free_port()
    upstreams = subprocess.Popen(
        [sys.executable, "-m", "tests.upstreams", "--anthropic-port", str(anthropic_port),
         "--openai-port", str(openai_port), "--anthropic-key", KEY, "--openai-key", KEY,
         "--stream-delay", str(stream_delay)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    gateway_env = {
        **env,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{anthropic_port}",
        "ANTHROPIC_API_KEY": KEY,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{openai_port}/v1",
        "OPENAI_API_KEY": KEY,
    }
    gateway = subprocess.Popen(
        [sys.executable, "-m", "tierwise.cli", "serve", "--port", str(gateway_port)],
        cwd=workdir, env=gateway_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{anthropic_port}/v1/models")
    wait_http(f"http://127.0.0.1:{gateway_port}/healthz")
    return upstreams, gateway, anthropic_port, gateway_port  # type: ignore[return-value]


def stop_stack(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--streams", type=int, default=500, help="concurrent slow streams for the memory check")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tierwise-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    upstreams, gateway, anthropic_port, gateway_port = start_stack(env, workdir, stream_delay=0.0)
    try:
        direct_url = f"http://127.0.0.1:{anthropic_port}/v1/messages"
        gateway_url = f"http://127.0.0.1:{gateway_port}/v1/messages"
        rows = []
        for stream in (False, True):
            body = anthropic_body(stream)
            asyncio.run(drive(gateway_url, body, headers, 300, args.concurrency))  # warm both paths
            asyncio.run(drive(direct_url, body, headers, 300, args.concurrency))
            direct = asyncio.run(drive(direct_url, body, headers, args.requests, args.concurrency))
            cpu_before = cpu_seconds(gateway.pid)
            routed = asyncio.run(drive(gateway_url, body, headers, args.requests, args.concurrency))
            cpu_per_request = (cpu_seconds(gateway.pid) - cpu_before) / args.requests * 1000
            rows.append((stream, direct, routed, cpu_per_request))
    finally:
        stop_stack(gateway, upstreams)
    # Memory: the fake paces its events (20 ms apart), so every stream stays open for about a second at once.
    upstreams, gateway, _, gateway_port = start_stack(env, Path(tempfile.mkdtemp()), stream_delay=0.02)
    try:
        gateway_url = f"http://127.0.0.1:{gateway_port}/v1/messages"
        asyncio.run(drive(gateway_url, anthropic_body(True), headers, 50, 8))  # warm
        before, peak = asyncio.run(hold_streams(gateway_url, headers, args.streams, gateway.pid))
    finally:
        stop_stack(gateway, upstreams)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"requests per path: {args.requests}, concurrency {args.concurrency}, Anthropic Messages in and out\n")
    print(
        "| call | direct p50 | direct p99 | via gateway p50 | via gateway p99 | added p50 | added p99 "
        "| gateway CPU per request |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for stream, direct, routed, cpu in rows:
        d50, d99, r50, r99 = pct(direct, 0.5), pct(direct, 0.99), pct(routed, 0.5), pct(routed, 0.99)
        label = "streaming" if stream else "non-streaming"
        print(
            f"| {label} | {d50:.2f} ms | {d99:.2f} ms | {r50:.2f} ms | {r99:.2f} ms | "
            f"{r50 - d50:.2f} ms | {r99 - d99:.2f} ms | {cpu:.2f} ms |"
        )
    mean_direct = statistics.fmean(rows[0][1])
    mean_routed = statistics.fmean(rows[0][2])
    print(f"\nmean added (non-streaming): {mean_routed - mean_direct:.2f} ms")
    print(f"gateway RSS: {before / 1024:.1f} MiB idle -> {peak / 1024:.1f} MiB peak with {args.streams} open streams")
    return 0


if __name__ == "__main__":
    sys.exit(main())
