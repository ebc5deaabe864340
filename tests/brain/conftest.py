"""Small hand-made outcome folders in the shared/data format, for fast tests of the routing brain."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

MODELS = (("tiny", 0.1, 0.2), ("checker", 0.05, 0.1), ("big", 5.0, 15.0))


def write_folder(root: Path, n: int = 80) -> Path:
    """Prompts mentioning "proof" need the big model; the two cheap ones then disagree and fail."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "prompts.jsonl").open("w") as handle:
        for i in range(n):
            hard = i % 4 == 0
            text = f"{'prove the proof lemma' if hard else 'add the numbers'} {i} please"
            handle.write(json.dumps({"id": str(i), "task": "toy", "prompt": text, "input_tokens": 100}) + "\n")
    with (root / "models.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["model", "input_usd_per_mtok", "output_usd_per_mtok", "price_source"])
        for name, price_in, price_out in MODELS:
            out.writerow([name, price_in, price_out, "test"])
    with (root / "outcomes.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "model", "score", "output_tokens", "cost_usd", "answer"])
        for i in range(n):
            hard = i % 4 == 0
            out.writerow([i, "tiny", 0 if hard else 1, 100, "", f"w{i}" if hard else str(i)])
            out.writerow([i, "checker", 0 if hard else 1, 100, "", f"c{i}" if hard else str(i)])
            out.writerow([i, "big", 1, 100, "", str(i)])
    return root


@pytest.fixture
def toy_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "toy")
