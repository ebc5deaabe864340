"""Strategies on small hand-made tables whose routing is known."""

from pathlib import Path

import numpy as np
import pytest

from tierwise.brain.cascade import Cascade, GatedCascade
from tierwise.brain.evaluation import evaluate_pair
from tierwise.brain.labels import Pair
from tierwise.brain.strategies import Oracle, RandomMix, Task, average_ranks
from tierwise.brain.table import load_table
from tierwise.brain.training import fit_irt

PAIR = Pair(weak="tiny", strong="big")


def test_irt_orders_models_and_prompts() -> None:
    # model 0 solves 1 prompt, model 1 solves 2, model 2 all 3; prompt 2 is the hardest
    scores = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    ability, difficulty = fit_irt(scores)
    assert ability[0] < ability[1] < ability[2]
    assert difficulty[0] < difficulty[1] < difficulty[2]


def test_average_ranks_share_ties() -> None:
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [0.75, 0.125, 0.75, 0.375]
    assert len(set(average_ranks(np.zeros(5)))) == 1


def test_cascade_escalates_disagreements_and_pays_for_the_check(toy_folder: Path) -> None:
    table = load_table(toy_folder)
    report = evaluate_pair(table, PAIR, [Cascade(), RandomMix(), Oracle()])
    cascade = {s.name: s for s in report.strategies}["cascade"]
    # the cheap answers disagree exactly on the hard quarter: full PGR at 25% of calls
    assert cascade.cpt80 == pytest.approx(0.2)
    assert cascade.curve.quality.max() == pytest.approx(1.0)
    # every call pays tiny + checker (30 + 15 micro-USD), escalations big (2000) on top; 98% of big's quality
    # lies 0.92 of the way from no escalation (quality 0.75) to the whole hard quarter (quality 1)
    assert cascade.cost_at_98 == pytest.approx((30 + 15 + 0.92 * 0.25 * 2000) / 2000)
    assert cascade.details["checkers"] == "checker"


def test_gated_cascade_starts_from_checking_everything(toy_folder: Path) -> None:
    table = load_table(toy_folder)
    routing = GatedCascade(prior=RandomMix()).route(Task(train=(table,), test=table, pair=PAIR))
    assert routing.kept is not None
    # below the threshold: tiny answers, checker checks, big answers the quarter where they disagree
    assert routing.kept.strong_calls.mean() == pytest.approx(0.25)
    assert routing.kept.quality.mean() == pytest.approx(1.0)
