"""Soak test: the real gateway, fake upstreams that fail 10% of the time in every way, a raw aiohttp client.

    uv run python scripts/soak.py --requests 20000 --concurrency 64

Starts both fake upstreams in this process (random faults: 429 with retry-after, 500, 529/503, stalls past
the gateway's first-token timeout, connection resets, mid-stream drops and mid-stream errors), starts
``tierwise serve`` as a child process with two gateway keys (one of them with a small daily budget), drives it
with mixed streaming and non-streaming requests on both APIs and all tiers, then stops it with SIGTERM and
checks: no 500, every answer in its API's shape, no connection dropped by the gateway, one ledger row per
request, the capped key's spend within its budget plus one request, memory flat, exit code 0.
Prints a summary table; exits 1 if a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake upstreams live in the test package

from tests.gateway_process import GatewayProcess  # noqa: E402
from tests.upstreams import FAULT_KINDS, FakeAnthropic, FakeOpenAI, Fault, running  # noqa: E402
from tests.upstreams._faults import FaultPlan  # noqa: E402

from tierwise.keys import KeyLimits, KeyStore  # noqa: E402

OPENAI_KEY = "sk-soak-openai-upstream"
ANTHROPIC_KEY = "sk-ant-soak-upstream"
MODELS = ("auto", "tier/speed", "tier/default", "tier/escalation")
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
FIRST_TOKEN_TIMEOUT_S = 0.5  # the gateway's, per provider; a stall fault lasts longer
STALL_S = 1.0
BUDGET_USD = Decimal("0.05")  # the capped key's daily budget


class CountingPlan(FaultPlan):
    """The fakes' random fault plan, counting what it hands out by kind (and status)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.counts: Counter[str] = Counter()

    def roll(self) -> Fault | None:
        fault = super().roll()
        if fault is not None:
            with self._lock:
                self.counts[f"status {fault.status}" if fault.kind == "status" else fault.kind] += 1
        return fault


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # by status, plus in-stream errors
    problems: Counter[str] = field(default_factory=Counter)  # anything that fails the soak
    sent: int = 0
    examples: list[str] = field(default_factory=list)

    def problem(self, kind: str, detail: str) -> None:
        self.problems[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {detail[:300]}")


def request_body(api: str, rng: random.Random, i: int) -> tuple[bytes, bool]:
    stream = rng.random() < 0.5
    words = " ".join(rng.choice(("alpha", "beta", "gamma", "delta", "why", "how", "code")) for _ in range(8))
    body: dict[str, object] = {
        "model": rng.choice(MODELS),
        "messages": [{"role": "user", "content": f"soak {i}: {words}"}],
        "stream": stream,
        "max_tokens": rng.randint(8, 40),
    }
    if api == "openai" and stream:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode(), stream


def check_body(api: str, status: int, data: bytes, stream: bool, tally: Tally) -> str:
    """The outcome's name; records a problem when the answer is not in its API's shape."""
    text = data.decode("utf-8", "replace")
    if "Traceback" in text:
        tally.problem("traceback in body", text)
    if status == 200 and stream:
        if b"event: error" in data or b'"error"' in data:
            return "200 (in-stream error)"
        if api == "openai" and b"data: [DONE]" not in data:
            tally.problem("stream not finished", text[-200:])
        if api == "anthropic" and b"event: message_stop" not in data:
            tally.problem("stream not finished", text[-200:])
        return "200"
    try:
        body = json.loads(data)
    except ValueError:
        tally.problem("body not JSON", text)
        return str(status)
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        shaped = isinstance(error, dict) and isinstance(error.get("message"), str)
        shaped = shaped and (set(body) == {"error"} if api == "openai" else body.get("type") == "error")
        if not shaped:
            tally.problem("error body in the wrong shape", text)
        if status == 429 and isinstance(error, dict) and "budget" in str(error.get("type", "")) + error["message"]:
            return "429 (budget)"
    elif (api == "openai" and body.get("object") != "chat.completion") or (
        api == "anthropic" and body.get("type") != "message"
    ):
        tally.problem("success body in the wrong shape", text)
    return str(status)


async def one(
    client: aiohttp.ClientSession, url: str, api: str, key: str, body: bytes, stream: bool, tally: Tally
) -> None:
    headers = {"content-type": "application/json"}
    if api == "anthropic":
        headers |= {"anthropic-version": "2023-06-01", "x-api-key": key}
    else:
        headers["authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    try:
        async with client.post(url + PATHS[api], data=body, headers=headers) as response:
            data = await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # the gateway dropped us: never acceptable
        tally.problem("connection failed", f"{type(exc).__name__}: {exc}")
        tally.outcomes[f"no answer ({type(exc).__name__})"] += 1
        return
    tally.latencies_ms.append((time.perf_counter() - started) * 1000.0)
    if status == 500:
        tally.problem("HTTP 500", data.decode("utf-8", "replace"))
    elif status > 500 and status not in (502, 503, 504):
        tally.problem(f"HTTP {status}", data.decode("utf-8", "replace"))
    tally.outcomes[check_body(api, status, data, stream, tally)] += 1


async def drive(
    url: str, keys: Sequence[str], capped: str, total: int, concurrency: int, deadline: float, seed: int
) -> Tally:
    tally = Tally()
    rng = random.Random(seed)
    queue: asyncio.Queue[tuple[str, str, bytes, bool] | None] = asyncio.Queue(maxsize=concurrency * 4)

    async def produce() -> None:
        for i in range(total):
            if time.monotonic() > deadline:
                break
            api = rng.choice(("openai", "anthropic"))
            key = capped if rng.random() < 0.25 else rng.choice(keys)
            body, stream = request_body(api, rng, i)
            await queue.put((api, key, body, stream))
        for _ in range(concurrency):
            await queue.put(None)

    async def work(client: aiohttp.ClientSession) -> None:
        while (item := await queue.get()) is not None:
            tally.sent += 1
            await one(client, url, *item, tally)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        await asyncio.gather(produce(), *(work(client) for _ in range(concurrency)))
    return tally


async def sample_rss(pid: int, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        samples.append((time.monotonic() - started, kb * 1024))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def soak_config(workdir: Path) -> Path:
    """The shipped config with short first-token timeouts, so that a stall fault is a real timeout."""
    text = (ROOT / "src" / "tierwise" / "config" / "default.yaml").read_text()
    timeouts = f"\n    timeouts: {{connect: 2, first_token: {FIRST_TOKEN_TIMEOUT_S}, total: 30}}"
    for env in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        line = f"    api_key_env: {env}"
        assert text.count(line) == 1, f"default.yaml changed: {line!r}"
        text = text.replace(line, line + timeouts)
    config = workdir / "soak.yaml"
    config.write_text(text)
    return config


def create_keys(ledger: Path) -> tuple[list[str], str]:
    """Two keys without limits and one with a small daily budget, straight into the ledger file."""
    store = KeyStore(ledger)
    keys = [store.create(f"soak-{i}").key for i in range(2)]
    return keys, store.create("soak-capped", KeyLimits(daily_budget=BUDGET_USD)).key


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--failure-rate", type=float, default=0.1, help="share of upstream calls given a fault")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop sending new requests after this")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    plans: dict[str, CountingPlan] = {}
    fakes: list[FakeOpenAI | FakeAnthropic] = []
    for fake in (FakeOpenAI(api_key=OPENAI_KEY), FakeAnthropic(api_key=ANTHROPIC_KEY)):
        fake.faults = plans[fake.name] = CountingPlan(
            failure_rate=args.failure_rate,
            seed=args.seed + len(plans),
            kinds=FAULT_KINDS,
            statuses=(429, 500, fake.overload_status),
            delay=STALL_S,
            retry_after=0.05,
        )
        fakes.append(fake)
    with tempfile.TemporaryDirectory(prefix="tierwise-soak-") as tmp, running(fakes[0]) as oa, running(fakes[1]) as an:
        workdir = Path(tmp)
        config = soak_config(workdir)
        keys, capped = create_keys(workdir / "tierwise.db")  # the shipped config's ledger.path
        env = {
            "OPENAI_BASE_URL": oa.url,
            "OPENAI_API_KEY": OPENAI_KEY,
            "ANTHROPIC_BASE_URL": an.url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        }
        gateway = GatewayProcess(workdir, env=env, config=config)
        for fake in fakes:
            fake.reset()
        rss: list[tuple[float, int]] = []
        started = time.monotonic()

        async def run() -> Tally:
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(gateway.process.pid, rss, stop))
            try:
                return await drive(
                    gateway.url, keys, capped, args.requests, args.concurrency, started + args.max_seconds, args.seed
                )
            finally:
                stop.set()
                await sampler

        tally = asyncio.run(run())
        elapsed = time.monotonic() - started
        gateway.process.send_signal(signal.SIGTERM)
        try:
            exit_code = gateway.process.wait(60)
        except subprocess.TimeoutExpired:
            gateway.process.kill()
            exit_code = gateway.process.wait()
        gateway.stop()
        with sqlite3.connect(gateway.ledger_path) as connection:
            row_count = connection.execute("SELECT count(*) FROM requests").fetchone()[0]
            ledger_500 = connection.execute("SELECT count(*) FROM requests WHERE status = 500").fetchone()[0]
            key_ids = dict(connection.execute("SELECT name, key_id FROM gateway_keys").fetchall())
            capped_costs = [
                Decimal(cost)
                for (cost,) in connection.execute(
                    "SELECT cost_usd FROM requests WHERE key_id = ? AND cost_usd IS NOT NULL", (key_ids["soak-capped"],)
                )
            ]
        log = gateway.log()
        upstream_calls = {name: len(fake.requests) for name, fake in zip(("openai", "anthropic"), fakes, strict=True)}

    faults: Counter[str] = Counter()
    for plan in plans.values():
        faults.update(plan.counts)
    capped_spend = sum(capped_costs, Decimal(0))
    biggest = max(capped_costs, default=Decimal(0))
    steady = rss[min(len(rss) - 1, max(1, len(rss) // 10))][1] if rss else 0
    peak = max((r for _, r in rss), default=0)
    end = rss[-1][1] if rss else 0
    checks = {
        "all requests sent": tally.sent == args.requests,
        "no HTTP 500 (client side)": tally.problems["HTTP 500"] == 0,
        "no HTTP 500 (ledger)": ledger_500 == 0,
        "every answer in its API's shape": not any(k for k in tally.problems if "shape" in k or "JSON" in k),
        "no traceback in any body": tally.problems["traceback in body"] == 0,
        "no connection dropped by the gateway": tally.problems["connection failed"] == 0,
        "ledger rows == requests sent": row_count == tally.sent,
        "capped key spend <= budget + one request": capped_spend <= BUDGET_USD + biggest,
        "memory flat (end <= steady + max(64 MiB, 50%))": end - steady <= max(64 * 2**20, steady // 2),
        "gateway exit code 0 after SIGTERM": exit_code == 0,
        "no upstream key in the gateway's output": OPENAI_KEY not in log and ANTHROPIC_KEY not in log,
    }
    figures = {
        "requests": args.requests,
        "sent": tally.sent,
        "concurrency": args.concurrency,
        "failure_rate": args.failure_rate,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(tally.sent / elapsed, 1) if elapsed else 0,
        "upstream_calls": upstream_calls,
        "faults_injected": dict(sorted(faults.items())),
        "outcomes": dict(sorted(tally.outcomes.items())),
        "problems": dict(tally.problems),
        "problem_examples": tally.examples,
        "ledger_rows": row_count,
        "rows_lost": tally.sent - row_count,
        "latency_ms": {
            "p50": round(percentile(tally.latencies_ms, 0.5), 1),
            "p99": round(percentile(tally.latencies_ms, 0.99), 1),
        },
        "rss": {"steady": steady, "peak": peak, "end": end, "samples": len(rss)},
        "capped_key": {
            "budget_usd": str(BUDGET_USD),
            "spend_usd": str(capped_spend),
            "largest_request_usd": str(biggest),
        },
        "exit_code": exit_code,
        "checks": checks,
    }
    print_summary(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if all(checks.values()) else 1


def print_summary(f: dict) -> None:  # type: ignore[type-arg]
    rows: list[tuple[str, str]] = [
        ("requests sent", f"{f['sent']} of {f['requests']} (concurrency {f['concurrency']})"),
        ("duration", f"{f['seconds']} s ({f['requests_per_s']} req/s)"),
        ("upstream calls", ", ".join(f"{k} {v}" for k, v in f["upstream_calls"].items())),
        ("faults injected", f"{sum(f['faults_injected'].values())} (rate {f['failure_rate']})"),
        *((f"  {kind}", str(n)) for kind, n in f["faults_injected"].items()),
        ("outcomes", ""),
        *((f"  {kind}", str(n)) for kind, n in f["outcomes"].items()),
        ("ledger rows", f"{f['ledger_rows']} (lost {f['rows_lost']})"),
        ("latency p50 / p99", f"{f['latency_ms']['p50']} / {f['latency_ms']['p99']} ms"),
        ("gateway RSS steady / peak / end", " / ".join(mib(f["rss"][k]) for k in ("steady", "peak", "end"))),
        ("capped key spend", f"${f['capped_key']['spend_usd']} of ${f['capped_key']['budget_usd']} budget"),
        ("gateway exit code", str(f["exit_code"])),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print()
    for check, ok in f["checks"].items():
        print(f"[{'ok' if ok else 'FAIL'}] {check}")
    for example in f["problem_examples"]:
        print(f"  e.g. {example}")


if __name__ == "__main__":
    sys.exit(main())
