"""What the evidence says about quality: judged relative quality with its 95% interval and n, the shadow
answers' real token counts, and the cost-against-quality curve.

Evidence (sampled requests, shadow answers on another tier, judge verdicts) is written by ``tierwise.evidence``;
until a ledger holds any, every estimate here says so (n=0) instead of showing a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierwise.query.period import Period
from tierwise.query.source import LedgerSource
from tierwise.types import Usage

NO_EVIDENCE = "no quality evidence yet (n=0)"


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEstimate:
    """Judged quality of what routing served, relative to ``against`` (1.0: as good as it), over ``n`` judged
    comparisons; ``low``/``high`` bound its 95% interval."""

    against: str
    n: int = 0
    mean: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        if self.n == 0 or self.mean is None:
            return NO_EVIDENCE
        return f"{self.mean:.3f} of {self.against} (95% interval {self.low:.3f}-{self.high:.3f}, n={self.n})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "n": self.n,
            "relative_quality": _round(self.mean),
            "interval_95": None if self.low is None else [_round(self.low), _round(self.high)],
            "text": self.text,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CurvePoint:
    """One way of routing, placed by evidence: its cost relative to the baseline and its judged quality."""

    label: str
    relative_cost: float
    quality: float
    low: float | None = None
    high: float | None = None
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "relative_cost": _round(self.relative_cost),
            "quality": _round(self.quality),
            "interval_95": None if self.low is None else [_round(self.low), _round(self.high)],
            "n": self.n,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityCurve:
    points: tuple[CurvePoint, ...] = ()
    operating_point: CurvePoint | None = None
    target: float | None = None
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": [p.as_dict() for p in self.points],
            "operating_point": None if self.operating_point is None else self.operating_point.as_dict(),
            "target": self.target,
            "n": self.n,
            "text": NO_EVIDENCE if self.n == 0 else f"{self.n} judged comparisons",
        }


def judged_quality(source: LedgerSource, period: Period, *, against: str) -> QualityEstimate:
    """Relative quality of the served answers against the model ``against``, from judged shadow comparisons."""
    return QualityEstimate(against=against)


def shadow_usage(source: LedgerSource, period: Period) -> dict[tuple[str, str], Usage]:
    """(request id, model alias) -> the token counts of that model's shadow answer to that request."""
    return {}


def quality_curve(source: LedgerSource, period: Period, *, target: float | None) -> QualityCurve:
    return QualityCurve(target=target)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One shadow comparison of a request: the other model's answer, its cost and the judge's verdict."""

    shadow_model: str
    shadow_tier: str | None
    usage: Usage
    judge: str | None
    verdict: str | None  # e.g. "served better", "tie", "shadow better"; None: not judged yet
    served_score: float | None
    shadow_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "shadow_model": self.shadow_model,
            "shadow_tier": self.shadow_tier,
            "shadow_input_tokens": self.usage.input_tokens,
            "shadow_output_tokens": self.usage.output_tokens,
            "judge": self.judge,
            "verdict": self.verdict,
            "served_score": self.served_score,
            "shadow_score": self.shadow_score,
        }


def request_comparisons(source: LedgerSource, request_id: str) -> list[Comparison]:
    return []
