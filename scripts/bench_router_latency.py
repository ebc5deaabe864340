"""Routing decision latency of a router artifact: load time, then p50/p99 of ``score`` per prompt size.

    uv run python scripts/bench_router_latency.py [--artifact DIR] [--repeats 300]

Prompts of about 100, 2,000 and 8,000 tokens (characters / 4) are cut from real prompts of the shared
outcome tables, each repeat a different slice so that no cache helps. CPU only; no GPU is used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def corpus() -> str:
    texts = []
    for name in ("zeroeval-code-reasoning", "zeroeval-math-hard", "mmlu-pro"):
        with (DATA / name / "prompts.jsonl").open() as handle:
            for i, line in enumerate(handle):
                if i >= 400:
                    break
                texts.append(json.loads(line)["prompt"])
    return "\n\n".join(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", help="router artifact (default: the packaged one)")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    started = time.perf_counter()
    from tierwise.brain import load_router

    imported = time.perf_counter()
    router = load_router(args.artifact)
    loaded = time.perf_counter()
    text = corpus()
    print(
        f"{router.describe()}: import tierwise.brain {1000 * (imported - started):.0f} ms, "
        f"load_router {1000 * (loaded - imported):.0f} ms (static embedder included); "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
        f"Python {platform.python_version()}"
    )
    print(f"{'tokens':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for tokens in (100, 2_000, 8_000):
        chars = tokens * 4
        router.score(text[:chars])  # warm-up
        times = []
        for r in range(args.repeats):
            start = (r * 7919) % (len(text) - chars)
            prompt = text[start : start + chars]
            t0 = time.perf_counter()
            router.score(prompt)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(f"{tokens:>7} {statistics.median(times):8.3f} {p99:8.3f} {times[-1]:8.3f}")


if __name__ == "__main__":
    main()
