"""Benchmark the static embedder: load time and single-threaded encode latency by prompt length.

    uv run python scripts/bench_embedding.py [--data ../shared/data] [--repeats 300]

Prompts of about 100, 2,000 and 8,000 tokens are cut from real prompts in <data>/*/prompts.jsonl,
concatenated; token counts are the embedder's own (WordPiece). Prints a markdown table.
"""

from __future__ import annotations

import os

# Single-threaded, as one request on a small serving box; set before numpy and tokenizers load.
for _var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tierwise.brain.embedding import StaticEmbedder  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SIZES = (100, 2_000, 8_000)


def corpus(data: Path) -> str:
    prompts = []
    for path in sorted(data.glob("*/prompts.jsonl")):
        with path.open() as f:
            prompts += [json.loads(line)["prompt"] for line in f]
    return "\n\n".join(prompts)


def prompt_of(text: str, n_tokens: int, full: StaticEmbedder, start: int) -> str:
    """A slice of `text` from `start` holding about n_tokens tokens."""
    piece = text[start : start + n_tokens * 8]
    ids = full._tokenizer.encode(piece, add_special_tokens=False)
    end = ids.offsets[min(n_tokens, len(ids.offsets)) - 1][1]
    return piece[:end]


def timings_ms(encode: Callable[[list[str]], object], prompts: list[str], repeats: int) -> list[float]:
    """Wall time of encode([prompt]) per call, cycling through prompts so that no cache flatters it."""
    for prompt in prompts[:10]:
        encode([prompt])
    out = []
    for i in range(repeats):
        prompt = prompts[i % len(prompts)]
        t0 = time.perf_counter()
        encode([prompt])
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    loads = []
    for _ in range(20):
        t0 = time.perf_counter()
        StaticEmbedder.load()
        loads.append((time.perf_counter() - t0) * 1e3)
    embedder = StaticEmbedder.load()
    full = StaticEmbedder.load(max_tokens=None)
    text = corpus(args.data)
    rng = np.random.default_rng(0)

    print(f"CPU: {platform.processor() or platform.machine()}, single thread; dim {embedder.dim}")
    print(f"load (tokenizer.json + embeddings.npy): median {statistics.median(loads):.1f} ms\n")
    print("| prompt tokens | tokens kept | encode p50 (ms) | encode p99 (ms) | untruncated p50 (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for size in SIZES:
        starts = rng.integers(0, len(text) - size * 8, size=16)
        prompts = [prompt_of(text, size, full, int(s)) for s in starts]
        n_tokens = statistics.median(len(full.token_ids(p)) for p in prompts)
        kept = statistics.median(len(embedder.token_ids(p)) for p in prompts)
        times = timings_ms(embedder.encode, prompts, args.repeats)
        untruncated = timings_ms(full.encode, prompts, max(args.repeats // 5, 20))
        p50, p99 = np.percentile(times, [50, 99])
        slow = statistics.median(untruncated)
        print(f"| {n_tokens:,.0f} | {kept:.0f} | {p50:.2f} | {p99:.2f} | {slow:.2f} |")


if __name__ == "__main__":
    main()
