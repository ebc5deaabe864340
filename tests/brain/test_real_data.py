"""The real outcome tables of ../shared/data load as documented, and the headline result holds on one of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR
from tierwise.brain.table import load_table
from tierwise.cli import main

pytestmark = pytest.mark.skipif(not DATA_DIR.is_dir(), reason="../shared/data is not beside the checkout")

# Prompt and model counts as FORMAT.md states them.
EXPECTED = {
    "zeroeval-code-reasoning": (800, 21),
    "zeroeval-math-hard": (721, 19),
    "mmlu-pro": (12002, 8),
    "alpaca-eval": (805, 6),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_set_loads_complete(name: str) -> None:
    table = load_table(DATA_DIR / name)
    prompts, models = EXPECTED[name]
    assert (len(table), len(table.models)) == (prompts, models)
    assert table.scores.shape == table.costs.shape == (prompts, models)
    assert ((table.scores >= 0) & (table.scores <= 1)).all()
    assert (table.costs > 0).all()


def test_cascade_beats_the_tfidf_baseline_on_code_reasoning(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    args = [
        "eval", str(DATA_DIR / "zeroeval-code-reasoning"),
        "--weak", "claude-3-haiku-20240307", "--strong", "claude-3-5-sonnet-20240620",
        "--strategy", "tfidf-lr", "--strategy", "cascade", "--json", str(out), "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    figures = json.loads(out.read_text())["strategies"]
    assert figures["cascade"]["apgr"] > 0.65 > figures["tfidf-lr"]["apgr"]
    assert figures["cascade"]["cpt50"] <= 0.35
