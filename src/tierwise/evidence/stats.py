"""Intervals for a ratio of means (quality of one policy over the stronger tier's, on the same samples).

The delta method on paired samples: cheap, exact for large n, and free of any dependency. Below a handful of
samples it says nothing (None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

MIN_PAIRS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class RatioEstimate:
    ratio: float
    low: float
    high: float
    n: int


def z_value(confidence: float) -> float:
    """For a two-sided interval of ``confidence``."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def one_sided(confidence: float) -> float:
    """The two-sided confidence whose interval ends are one-sided bounds at ``confidence`` (0.95 -> 0.90)."""
    return 2 * confidence - 1


def ratio_of_means(xs: Sequence[float], ys: Sequence[float], confidence: float = 0.95) -> RatioEstimate | None:
    """mean(xs) / mean(ys) for paired samples, with a two-sided ``confidence`` interval; None when the
    denominator's mean is zero or there are fewer than ``MIN_PAIRS`` pairs."""
    n = len(xs)
    if n != len(ys):
        raise ValueError("xs and ys must be paired")
    if n < MIN_PAIRS:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    if my <= 0:
        return None
    r = mx / my
    # variance of the linearised ratio: residuals d_i = x_i - r * y_i
    residual_var = sum((x - r * y) ** 2 for x, y in zip(xs, ys, strict=True)) / (n - 1)
    se = math.sqrt(residual_var / n) / my
    half = z_value(confidence) * se
    return RatioEstimate(ratio=r, low=r - half, high=r + half, n=n)
