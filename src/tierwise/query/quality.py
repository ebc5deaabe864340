"""What the evidence says about quality: judged relative quality with its 95% interval and n, the shadow
answers' real token counts, the per-request comparisons, and the cost-against-quality curve.

Evidence (sampled requests, shadow answers from another tier, judge scores) is written by ``tierwise.evidence``
into the ledger's ``evidence_samples`` and ``evidence_comparisons`` tables; they are read here with the same
portable SQL as everything else, and the intervals come from the evidence package's own statistic. Until a
ledger holds any, every estimate says so (n=0) instead of showing a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierwise.evidence.stats import ratio_of_means
from tierwise.query.period import Period
from tierwise.query.source import LedgerSource
from tierwise.types import Usage

NO_EVIDENCE = "no quality evidence yet (n=0)"
_CURVE_STEPS = 8  # thresholds tried between always-cheaper and always-stronger


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEstimate:
    """Judged quality of the cheaper answers relative to ``against`` (1.0: as good as it) over ``n`` judged
    comparisons on the same requests; ``low``/``high`` bound its 95% interval (None below 5 comparisons)."""

    against: str
    n: int = 0
    mean: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        if self.n == 0 or self.mean is None:
            return NO_EVIDENCE
        interval = f"95% interval {self.low:.3f}-{self.high:.3f}" if self.low is not None else "too few for an interval"
        return f"{self.mean:.3f} of {self.against} ({interval}, n={self.n})"

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
    """One way of routing, placed by evidence: its cost relative to always the stronger tier, and its judged
    quality relative to the stronger tier's answers."""

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
    cheap_tier: str | None = None
    strong_tier: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cheap_tier": self.cheap_tier,
            "strong_tier": self.strong_tier,
            "points": [p.as_dict() for p in self.points],
            "operating_point": None if self.operating_point is None else self.operating_point.as_dict(),
            "target": self.target,
            "n": self.n,
            "text": NO_EVIDENCE
            if self.n == 0
            else f"{self.n} judged comparisons of {self.cheap_tier} and {self.strong_tier} answers",
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One judged comparison: the served answer and a shadow answer from another tier, with their scores."""

    request_id: str
    created_at: float
    judge: str
    served: str  # "cheap" or "strong": which one the client got
    cheap_tier: str
    cheap_model: str
    cheap_score: float
    cheap_cost: float | None
    strong_tier: str
    strong_model: str
    strong_score: float
    strong_cost: float | None
    shadow_usage: Usage
    score: float | None  # the learned router's score for the request, when one decided

    @property
    def shadow_model(self) -> str:
        return self.strong_model if self.served == "cheap" else self.cheap_model

    @property
    def shadow_tier(self) -> str:
        return self.strong_tier if self.served == "cheap" else self.cheap_tier

    def as_dict(self) -> dict[str, Any]:
        served_score, shadow_score = (
            (self.cheap_score, self.strong_score) if self.served == "cheap" else (self.strong_score, self.cheap_score)
        )
        verdict = "tie" if served_score == shadow_score else "served better" if served_score > shadow_score else (
            "shadow better")  # fmt: skip
        return {
            "shadow_model": self.shadow_model,
            "shadow_tier": self.shadow_tier,
            "shadow_input_tokens": self.shadow_usage.input_tokens,
            "shadow_output_tokens": self.shadow_usage.output_tokens,
            "judge": self.judge,
            "verdict": verdict,
            "served_score": _round(served_score),
            "shadow_score": _round(shadow_score),
        }


def comparisons(source: LedgerSource, period: Period, *, request_id: str | None = None) -> list[Comparison]:
    """The judged comparisons made in the period (or of one request), oldest first."""
    if not source.columns("evidence_comparisons") or not source.columns("evidence_samples"):
        return []
    where, params = period.where("c.created_at")
    if request_id is not None:
        where += (" AND " if where else " WHERE ") + "s.request_id = ?"
        params.append(request_id)
    rows = source.fetch(
        "SELECT s.request_id, s.score, c.created_at, c.judge, c.served, c.cheap_tier, c.cheap_model, c.cheap_score,"
        " c.cheap_cost_usd, c.strong_tier, c.strong_model, c.strong_score, c.strong_cost_usd,"
        " c.shadow_input_tokens, c.shadow_output_tokens"
        f" FROM evidence_comparisons c JOIN evidence_samples s ON s.sample_id = c.sample_id{where}"
        " ORDER BY c.created_at",
        params,
    )
    return [
        Comparison(
            request_id=r["request_id"], created_at=float(r["created_at"]), judge=r["judge"], served=r["served"],
            cheap_tier=r["cheap_tier"], cheap_model=r["cheap_model"], cheap_score=float(r["cheap_score"]),
            cheap_cost=_float(r["cheap_cost_usd"]), strong_tier=r["strong_tier"], strong_model=r["strong_model"],
            strong_score=float(r["strong_score"]), strong_cost=_float(r["strong_cost_usd"]),
            shadow_usage=Usage(input_tokens=int(r["shadow_input_tokens"]),
                               output_tokens=int(r["shadow_output_tokens"])),
            score=_float(r["score"]),
        )
        for r in rows
    ]  # fmt: skip


def judged_quality(found: list[Comparison], *, strong_tier: str | None, against: str) -> QualityEstimate:
    """Relative quality of the cheaper answers against the ``strong_tier``'s on the same requests (every pair
    whose stronger side is that tier; all pairs when None)."""
    chosen = [c for c in found if strong_tier is None or c.strong_tier == strong_tier]
    if not chosen:
        return QualityEstimate(against=against)
    cheap = [c.cheap_score for c in chosen]
    strong = [c.strong_score for c in chosen]
    estimate = ratio_of_means(cheap, strong)
    if estimate is not None:
        return QualityEstimate(against=against, n=len(chosen), mean=estimate.ratio, low=estimate.low,
                               high=estimate.high)  # fmt: skip
    mean = sum(cheap) / sum(strong) if sum(strong) > 0 else None
    return QualityEstimate(against=against, n=len(chosen), mean=mean)


def shadow_usage(found: list[Comparison]) -> dict[tuple[str, str], Usage]:
    """(request id, model alias) -> the token counts of that model's shadow answer to that request."""
    return {(c.request_id, c.shadow_model): c.shadow_usage for c in found}


def quality_curve(found: list[Comparison], *, pair: tuple[str, str], target: float | None) -> QualityCurve:
    """Quality against cost for one pair of tiers, swept over the router's score: at each threshold the
    requests scoring at least it take the stronger answer. The operating point is what was actually served."""
    cheap_tier, strong_tier = pair
    chosen = [c for c in found if (c.cheap_tier, c.strong_tier) == pair]
    if not chosen:  # the configured pair has no evidence: the pair with the most
        counts: dict[tuple[str, str], int] = {}
        for c in found:
            counts[(c.cheap_tier, c.strong_tier)] = counts.get((c.cheap_tier, c.strong_tier), 0) + 1
        if not counts:
            return QualityCurve(target=target)
        cheap_tier, strong_tier = max(counts, key=lambda k: counts[k])
        chosen = [c for c in found if (c.cheap_tier, c.strong_tier) == (cheap_tier, strong_tier)]
    priced = [c for c in chosen if c.cheap_cost is not None and c.strong_cost is not None]
    scores = sorted({c.score for c in priced if c.score is not None})
    thresholds: list[float] = [float("inf")]
    if scores:
        step = max(1, len(scores) // _CURVE_STEPS)
        # The lowest score as a threshold sends everything to the stronger tier: that is the last point already.
        thresholds += sorted({scores[i] for i in range(1, len(scores), step)}, reverse=True)
    thresholds.append(float("-inf"))
    points = []
    for t in thresholds:
        label = f"always {cheap_tier}" if t == float("inf") else f"always {strong_tier}" if t == float("-inf") else (
            f"score >= {t:.3f} to {strong_tier}")  # fmt: skip
        point = _point(label, priced, lambda c, t=t: (c.score is not None and c.score >= t) or t == float("-inf"))
        if point is not None:
            points.append(point)
    current = _point("as served", priced, lambda c: c.served == "strong")
    return QualityCurve(points=tuple(points), operating_point=current, target=target, n=len(chosen),
                        cheap_tier=cheap_tier, strong_tier=strong_tier)  # fmt: skip


def _point(label: str, found: list[Comparison], takes_strong: Any) -> CurvePoint | None:
    if not found:
        return None
    served_scores, strong_scores, cost, strong_cost = [], [], 0.0, 0.0
    for c in found:
        strong = takes_strong(c)
        served_scores.append(c.strong_score if strong else c.cheap_score)
        strong_scores.append(c.strong_score)
        cost += (c.strong_cost if strong else c.cheap_cost) or 0.0
        strong_cost += c.strong_cost or 0.0
    if strong_cost <= 0 or sum(strong_scores) <= 0:
        return None
    estimate = ratio_of_means(served_scores, strong_scores)
    quality = estimate.ratio if estimate else sum(served_scores) / sum(strong_scores)
    return CurvePoint(label=label, relative_cost=cost / strong_cost, quality=quality,
                      low=estimate.low if estimate else None, high=estimate.high if estimate else None,
                      n=len(found))  # fmt: skip


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
