import math

import numpy as np
import pytest

from tierwise.brain.metrics import (
    apgr,
    cost_at_pgr,
    cost_at_quality,
    cost_to_reach,
    cpt,
    frontier,
    frontier_area,
    sweep,
)

# four prompts: the weak model gets 0 and 3 right, the strong one 0, 1 and 2
WEAK = np.array([1.0, 0.0, 0.0, 1.0])
STRONG = np.array([1.0, 1.0, 1.0, 0.0])
ONES, TENS = np.ones(4), np.full(4, 10.0)


def curve(scores: list[float]):
    return sweep(np.array(scores), quality_kept=WEAK, quality_escalated=STRONG, cost_kept=ONES, cost_escalated=TENS)


def test_constant_scores_are_random_mixing_with_apgr_one_half() -> None:
    c = curve([0, 0, 0, 0])
    assert list(c.share) == [0.0, 1.0]
    assert c.quality.tolist() == [0.5, 0.75]
    assert apgr(c) == pytest.approx(0.5)
    assert cpt(c, 0.5) == pytest.approx(0.5)
    assert cpt(c, 0.8) == pytest.approx(0.8)


def test_perfect_order_recovers_the_gap_with_a_quarter_of_the_calls() -> None:
    c = curve([0.1, 0.9, 0.8, 0.0])  # prompts 1 and 2 first, then 0 (no change), then 3 (a loss)
    assert c.share.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert c.quality.tolist() == [0.5, 0.75, 1.0, 1.0, 0.75]
    assert c.pgr.tolist() == [0, 1, 2, 2, 1]
    # trapezoids: 0.125 + 0.375 + 0.5 + 0.375
    assert apgr(c) == pytest.approx(1.375)
    assert cpt(c, 0.5) == pytest.approx(0.125)
    assert cpt(c, 1.0) == pytest.approx(0.25)
    # PGR 1 needs quality 0.75, reached at cost (1*3 + 10)/4 = 3.25 of 10
    assert cost_at_pgr(c, 1.0) == pytest.approx(0.325)
    # 95% of strong quality = 0.7125: a fraction 0.85 of the first step's cost 1 -> 3.25
    assert cost_at_quality(c, 0.95) == pytest.approx((1 + 0.85 * 2.25) / 10)


def test_tied_scores_move_together_and_interpolate() -> None:
    c = curve([1, 1, 0, 0])  # prompts 0 and 1 tie: gain 1 over two prompts
    assert c.share.tolist() == [0, 0.5, 1.0]
    assert c.quality.tolist() == [0.5, 0.75, 0.75]
    assert cpt(c, 0.5) == pytest.approx(0.25)


def test_unreachable_targets_and_a_missing_gap() -> None:
    c = curve([0, 1, 1, 1])
    assert cpt(c, 5.0) is None
    no_gap = sweep(
        np.zeros(2),
        quality_kept=np.ones(2),
        quality_escalated=np.ones(2),
        cost_kept=np.ones(2),
        cost_escalated=np.ones(2),
    )
    assert math.isnan(apgr(no_gap))


def test_frontier_is_the_upper_convex_hull() -> None:
    costs = np.array([1.0, 2.0, 3.0, 4.0, 2.5])
    quality = np.array([0.2, 0.5, 0.6, 0.9, 0.3])
    front = frontier(costs, quality)
    # (3, 0.6) lies below the chord from (2, 0.5) to (4, 0.9); (2.5, 0.3) is dominated
    assert front.cost.tolist() == [1.0, 2.0, 4.0]
    assert cost_to_reach(front, 0.7) == pytest.approx(3.0)
    # a frontier that is the straight line between its ends has area 0.5 on a linear axis; the log axis
    # bends it, so only check the bounds and the ordering
    line = frontier(np.array([1.0, 4.0]), np.array([0.2, 0.9]))
    area_line = frontier_area(line, c_low=1, c_high=4, q_low=0.2, q_high=0.9)
    area_hull = frontier_area(front, c_low=1, c_high=4, q_low=0.2, q_high=0.9)
    assert 0 < area_line < area_hull < 1
