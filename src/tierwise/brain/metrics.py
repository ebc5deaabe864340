"""Routing metrics: quality-cost curves of a threshold sweep, PGR, APGR, CPT and frontier areas.

Definitions (RouteLLM's, made exact):

* A router gives every prompt a score; at threshold ``t`` the prompts scoring ``>= t`` go to the strong
  model. Sweeping ``t`` from above the highest score to below the lowest gives a curve of operating points.
  Prompts with equal scores are escalated together; between two points the curve is the straight line,
  which is the expected outcome of breaking the tie at random.
* ``share`` is the share of *calls* sent to the strong model; ``cost`` is the mean cost of a call.
* PGR (performance gap recovered) = ``(q_router - q_weak) / (q_strong - q_weak)``.
* APGR = area under PGR against ``share`` over ``[0, 1]`` (trapezoids on the exact curve); a router that
  scores every prompt alike (random) has APGR 0.5 exactly.
* CPT(x) = the smallest ``share`` of calls to strong at which PGR reaches ``x`` (first crossing, linear
  between points); ``None`` when never reached.
* cost_at(f) = the smallest mean cost, as a share of always-strong cost, at which quality reaches
  ``f * q_strong``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tierwise.brain.table import FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingCurve:
    """Operating points of one router on one test set, from no escalation to full escalation."""

    share: FloatArray  # share of calls escalated, ascending from 0 to 1
    quality: FloatArray  # mean quality at each point
    cost: FloatArray  # mean cost per call (USD) at each point
    q_weak: float
    q_strong: float
    c_weak: float
    c_strong: float

    @property
    def pgr(self) -> FloatArray:
        gap = self.q_strong - self.q_weak
        if gap <= 0:
            return np.full_like(self.quality, np.nan)
        return (self.quality - self.q_weak) / gap

    @property
    def cost_share(self) -> FloatArray:
        """Mean cost as a share of the always-strong cost."""
        return self.cost / self.c_strong


def sweep(
    scores: FloatArray,
    *,
    quality_kept: FloatArray,
    quality_escalated: FloatArray,
    cost_kept: FloatArray,
    cost_escalated: FloatArray,
    calls_kept: FloatArray | None = None,
    calls_escalated: FloatArray | None = None,
    q_weak: float | None = None,
    q_strong: float | None = None,
    c_weak: float | None = None,
    c_strong: float | None = None,
) -> RoutingCurve:
    """The curve of escalating prompts in descending ``scores`` order, tied scores as one step.

    ``*_kept`` are the per-prompt quality and cost when the prompt is not escalated, ``*_escalated`` when it
    is (for a plain two-model router: the weak and strong model's outcomes; for a cascade the costs include
    the checks). ``calls_*`` count the calls each branch makes to the strong model (default 0 and 1), which
    give ``share``; a curve that starts above share 0 is joined to the always-weak point
    ``(0, q_weak, c_weak)`` by a straight line (random mixing with the weak model). The references default
    to the means of the kept and escalated arrays.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("cannot sweep an empty test set")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    # the last index of every run of equal scores: the curve has a point after each whole run
    ends = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True)) + 1
    dq = np.cumsum((quality_escalated - quality_kept)[order])[ends - 1]
    dc = np.cumsum((cost_escalated - cost_kept)[order])[ends - 1]
    kept_calls = np.zeros(n) if calls_kept is None else calls_kept
    escalated_calls = np.ones(n) if calls_escalated is None else calls_escalated
    dn = np.cumsum((escalated_calls - kept_calls)[order])[ends - 1]
    base_q, base_c, base_n = quality_kept.sum(), cost_kept.sum(), kept_calls.sum()
    share = np.concatenate(([base_n], base_n + dn)) / n
    quality = np.concatenate(([base_q], base_q + dq)) / n
    cost = np.concatenate(([base_c], base_c + dc)) / n
    q_weak = float(quality_kept.mean()) if q_weak is None else q_weak
    c_weak = float(cost_kept.mean()) if c_weak is None else c_weak
    if share[0] > 0:
        share = np.concatenate(([0.0], share))
        quality = np.concatenate(([q_weak], quality))
        cost = np.concatenate(([c_weak], cost))
    return RoutingCurve(
        share=share,
        quality=quality,
        cost=cost,
        q_weak=q_weak,
        q_strong=float(quality_escalated.mean()) if q_strong is None else q_strong,
        c_weak=c_weak,
        c_strong=float(cost_escalated.mean()) if c_strong is None else c_strong,
    )


def apgr(curve: RoutingCurve) -> float:
    """Area under PGR against the share of calls to strong, over [0, 1]."""
    return float(np.trapezoid(curve.pgr, curve.share))


def first_crossing(x: FloatArray, y: FloatArray, target: float) -> float | None:
    """The smallest ``x`` on the piecewise-linear curve ``(x, y)`` where ``y >= target``."""
    above = np.flatnonzero(y >= target - 1e-12)
    if len(above) == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (x1 - x0) * (target - y0) / (y1 - y0))


def cpt(curve: RoutingCurve, pgr_target: float) -> float | None:
    """CPT(x): the smallest share of calls to strong at which PGR reaches ``pgr_target``."""
    return first_crossing(curve.share, curve.pgr, pgr_target)


def cost_at_pgr(curve: RoutingCurve, pgr_target: float) -> float | None:
    """Like CPT, but the share of always-strong *cost* rather than of calls."""
    return first_crossing(curve.cost_share, curve.pgr, pgr_target)


def cost_at_quality(curve: RoutingCurve, fraction_of_strong: float) -> float | None:
    """The smallest cost (share of always-strong cost) reaching ``fraction_of_strong * q_strong``."""
    return first_crossing(curve.cost_share, curve.quality, fraction_of_strong * curve.q_strong)


@dataclass(frozen=True, slots=True, kw_only=True)
class Frontier:
    """The upper convex hull of (cost, quality) operating points: what random mixing of them can reach."""

    cost: FloatArray  # ascending
    quality: FloatArray  # ascending


def frontier(costs: FloatArray, qualities: FloatArray) -> Frontier:
    """The cost-quality frontier of a set of operating points, mixing allowed (upper-left convex hull)."""
    order = np.lexsort((-qualities, costs))
    hull: list[tuple[float, float]] = []
    for c, q in zip(costs[order], qualities[order], strict=True):
        if hull and q <= hull[-1][1]:
            continue  # dominated: costs at least as much and is no better
        while len(hull) >= 2:
            (c1, q1), (c2, q2) = hull[-2], hull[-1]
            # drop the middle point when it lies on or below the chord from c1 to c
            if (q2 - q1) * (c - c1) <= (q - q1) * (c2 - c1):
                hull.pop()
            else:
                break
        hull.append((float(c), float(q)))
    arr = np.array(hull)
    return Frontier(cost=arr[:, 0], quality=arr[:, 1])


def quality_at_cost(front: Frontier, budget: FloatArray) -> FloatArray:
    """The best quality the frontier reaches at each budget; below its cheapest point, nothing (nan)."""
    q = np.interp(budget, front.cost, front.quality, right=front.quality[-1])
    return np.where(budget < front.cost[0] - 1e-15, np.nan, q)


def cost_to_reach(front: Frontier, quality: float) -> float | None:
    """The smallest mean cost at which the frontier reaches ``quality``."""
    return first_crossing(front.cost, front.quality, quality)


def frontier_area(front: Frontier, *, c_low: float, c_high: float, q_low: float, q_high: float) -> float:
    """Normalised area under the frontier on a log-cost axis from ``c_low`` to ``c_high``.

    Quality is rescaled so that ``q_low`` is 0 and ``q_high`` is 1 (as PGR does), costs below the frontier's
    cheapest point count as ``q_low``; the mean over 200 log-spaced budgets is returned.
    """
    if c_high <= c_low or q_high <= q_low:
        return float("nan")
    budgets = np.geomspace(c_low, c_high, 200)
    q = np.nan_to_num(quality_at_cost(front, budgets), nan=q_low)
    return float(np.mean((q - q_low) / (q_high - q_low)))
