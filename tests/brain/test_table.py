from pathlib import Path

import numpy as np
import pytest

from tierwise.brain.labels import Pair, needs_strong
from tierwise.brain.table import TableFormatError, load_table


def test_loads_scores_costs_and_answers(toy_folder: Path) -> None:
    table = load_table(toy_folder)
    assert len(table) == 80 and table.models == ("tiny", "checker", "big")
    # cost = (100 input tokens * 5 + 100 output tokens * 15) / 1e6
    assert table.costs[0, 2] == pytest.approx(0.002)
    assert table.scores[:, 2].mean() == 1.0 and table.scores[:, 0].mean() == 0.75
    assert table.answers[0] == ("w0", "c0", "0")
    assert table.model_index("BIG") == 2


def test_recorded_cost_wins_over_prices(toy_folder: Path) -> None:
    lines = (toy_folder / "outcomes.csv").read_text().splitlines()
    lines[1] = "0,tiny,0,100,0.5,w0"
    (toy_folder / "outcomes.csv").write_text("\n".join(lines) + "\n")
    assert load_table(toy_folder).costs[0, 0] == 0.5


def test_missing_outcome_is_named(toy_folder: Path) -> None:
    lines = (toy_folder / "outcomes.csv").read_text().splitlines()
    (toy_folder / "outcomes.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(TableFormatError, match="prompt '79' and model 'big'"):
        load_table(toy_folder)


def test_labels_for_a_pair_and_without_one(toy_folder: Path) -> None:
    table = load_table(toy_folder)
    pair_labels = needs_strong(table, Pair(weak="tiny", strong="big"))
    assert pair_labels.tolist() == [1.0 if i % 4 == 0 else 0.0 for i in range(80)]
    # without the pair: cheap half = {checker}, premium half = {tiny, big} by mean cost; on hard prompts
    # big beats checker and tiny does not: a share of 1 in 2 (cheap, premium) pairs
    generic = needs_strong(table, Pair(weak="nope", strong="nada"))
    assert np.allclose(generic, [0.5 if i % 4 == 0 else 0.0 for i in range(80)])
