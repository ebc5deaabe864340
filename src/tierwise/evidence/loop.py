"""The closed loop: pick the learned policy's operating point from judged evidence, apply it only when the
lower confidence bound of its estimated quality meets the target, and roll back when live evidence shows the
quality under the target with confidence (the upper bound under it). Bounds are one-sided at
``evidence.confidence``. Every change and rollback is a row of ``routing_changes``.

Synchronous and numpy-heavy: the gateway runs ``Loop.recalibrate`` on a background thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tierwise.brain.artifact import ScoringRouter
from tierwise.config.settings import RoutingTarget, Settings
from tierwise.evidence.records import Comparison, RoutingChange
from tierwise.evidence.scorer import F64, MAX_MEMORY, EvidenceScorer, fit_scorer
from tierwise.evidence.stats import one_sided, ratio_of_means, z_value
from tierwise.evidence.store import EvidenceStore
from tierwise.routing.tuning import CONSERVATIVE, OperatingPoint, Tuning

NOTHING_ESCALATED = 2.0  # a threshold above every score


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    threshold: float
    estimate: float  # quality as a share of always-stronger quality
    low: float
    high: float
    n: int
    escalated_share: float
    cost_share: float | None  # cost as a share of always-stronger cost, where costs are known


def describe(target: RoutingTarget) -> str:
    return f"quality {target.quality:g}" if target.quality is not None else f"cost {target.cost:g}"


def choose(
    scores: np.ndarray,
    comparisons: list[Comparison],
    target: RoutingTarget,
    confidence: float,
) -> Choice:
    """The cheapest cut (fewest escalated) whose quality's lower bound meets a quality target, or the best
    quality within a cost target. Escalating everything always meets a quality target (ratio exactly 1)."""
    n = len(comparisons)
    qw = np.array([c.cheap_score for c in comparisons])
    qs = np.array([c.strong_score for c in comparisons])
    cw = np.array([c.cheap_cost_usd or 0.0 for c in comparisons])
    cs = np.array([c.strong_cost_usd or 0.0 for c in comparisons])
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    ends = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True)) + 1  # cut after each run of ties

    def cum(values: np.ndarray) -> np.ndarray:
        return np.concatenate(([0.0], np.cumsum(values[order])[ends - 1]))

    sy, syy = qs.sum(), (qs * qs).sum()
    sx = qw.sum() + cum(qs - qw)
    sxx = (qw * qw).sum() + cum(qs * qs - qw * qw)
    sxy = (qw * qs).sum() + cum(qs * qs - qw * qs)
    escalated = np.concatenate(([0], ends)) / n
    thresholds = np.concatenate(([NOTHING_ESCALATED], s_sorted[ends - 1]))
    ratio = sx / sy if sy > 0 else np.ones_like(sx)
    residual = np.maximum(sxx - 2 * ratio * sxy + ratio * ratio * syy, 0.0) / max(1, n - 1)
    se = np.sqrt(residual / n) / (sy / n) if sy > 0 else np.zeros_like(sx)
    half = z_value(one_sided(confidence)) * se  # one-sided bounds: each end holds at ``confidence``
    low, high = ratio - half, ratio + half
    cost_total = cs.sum()
    cost_share = (cw.sum() + cum(cs - cw)) / cost_total if cost_total > 0 else None
    if target.quality is not None:
        ok = np.flatnonzero(low >= target.quality - 1e-12)
        i = int(ok[0]) if len(ok) else len(ratio) - 1
    else:
        assert target.cost is not None
        if cost_share is None:
            i = 0
        else:
            ok = np.flatnonzero(cost_share <= target.cost + 1e-12)
            i = int(ok[np.argmax(ratio[ok])]) if len(ok) else 0
    return Choice(
        threshold=float(thresholds[i]),
        estimate=float(ratio[i]),
        low=float(low[i]),
        high=float(high[i]),
        n=n,
        escalated_share=float(escalated[i]),
        cost_share=float(cost_share[i]) if cost_share is not None else None,
    )


class Loop:
    """Holds the current point of one tier pair (``routing.learned.weak_tier`` -> ``strong_tier``)."""

    def __init__(
        self, settings: Settings, store: EvidenceStore, tuning: Tuning, *, min_live: int | None = None
    ) -> None:
        assert settings.routing.target is not None
        self._settings = settings
        self._target = settings.routing.target
        self._store = store
        self._tuning = tuning
        self._weak = settings.routing.learned.weak_tier
        self._strong = settings.routing.learned.strong_tier
        self._evidence = settings.evidence
        self._min_live = min_live if min_live is not None else max(10, self._evidence.min_samples // 2)
        self._good: list[RoutingChange] = []  # applied points, the current one last
        self._known = -1  # how many change rows the state was built from
        self._since = 0.0  # when the current point took over (its apply, or the rollback to it)
        self._prior: ScoringRouter | None = None

    @property
    def current(self) -> RoutingChange | None:
        return self._good[-1] if self._good else None

    def recalibrate(self, now: float | None = None) -> RoutingChange | None:
        """One round: adopt changes written elsewhere, roll back or apply; the change made, if any."""
        now = time.time() if now is None else now
        self.sync()
        comparisons = self._store.comparisons(cheap_tier=self._weak, strong_tier=self._strong)
        rollback = self._check_live(comparisons, now)
        if rollback is not None:
            return rollback
        if len(comparisons) < self._evidence.min_samples:
            return None
        current = self.current
        # A point is judged on the live evidence gathered under it before anything replaces it; after a
        # rollback, the evidence must grow before the loop tries again.
        changed = current is not None or self._since > 0
        if changed and sum(1 for c in comparisons if c.served_at > self._since) < self._min_live:
            return None
        recent = comparisons[-MAX_MEMORY:]
        point_scorer, scores = self._fit(recent)
        choice = choose(scores, recent, self._target, self._evidence.confidence)
        if current is not None and current.escalated_share is not None:
            same_share = abs(current.escalated_share - choice.escalated_share) < 0.01
            if same_share and choice.n < 1.1 * current.n:
                return None
        change = RoutingChange(
            changed_at=now,
            action="apply",
            weak_tier=self._weak,
            strong_tier=self._strong,
            threshold=choice.threshold,
            evidence_until=comparisons[-1].created_at,
            target=describe(self._target),
            estimate=choice.estimate,
            lower=choice.low,
            upper=choice.high,
            n=choice.n,
            escalated_share=choice.escalated_share,
            reason=(
                f"{len(comparisons)} judged comparisons: quality {choice.estimate:.3f} of {self._strong} "
                f"[{choice.low:.3f}, {choice.high:.3f}] escalating {choice.escalated_share:.0%}"
                + (f", cost {choice.cost_share:.0%}" if choice.cost_share is not None else "")
            ),
        )
        self._record(change)
        self._good.append(change)
        self._tuning.point = _point(point_scorer, change)
        return change

    def _check_live(self, comparisons: list[Comparison], now: float) -> RoutingChange | None:
        current = self.current
        if current is None:
            return None
        # served under the current point (requests a rule or an explicit tier settled say nothing about it)
        live = [c for c in comparisons if c.served_at > self._since and c.policy in (None, "learned")]
        if len(live) < self._min_live:
            return None
        served = [c.cheap_score if c.served == "cheap" else c.strong_score for c in live]
        found = ratio_of_means(served, [c.strong_score for c in live], one_sided(self._evidence.confidence))
        if found is None:
            return None
        if self._target.quality is not None:
            failing = found.high < self._target.quality
            why = f"live quality {found.ratio:.3f} [{found.low:.3f}, {found.high:.3f}] under {self._target.quality:g}"
        else:
            costs = [(c.cheap_cost_usd if c.served == "cheap" else c.strong_cost_usd) or 0.0 for c in live]
            cost = ratio_of_means(costs, [c.strong_cost_usd or 0.0 for c in live], one_sided(self._evidence.confidence))
            assert self._target.cost is not None
            failing = cost is not None and cost.low > self._target.cost
            why = f"live cost share {cost.ratio:.3f} over {self._target.cost:g}" if cost is not None else ""
        if not failing:
            return None
        self._good.pop()
        back = self.current
        change = RoutingChange(
            changed_at=now,
            action="rollback",
            weak_tier=self._weak,
            strong_tier=self._strong,
            threshold=back.threshold if back is not None else None,
            evidence_until=back.evidence_until if back is not None else 0.0,
            target=describe(self._target),
            estimate=found.ratio,
            lower=found.low,
            upper=found.high,
            n=found.n,
            escalated_share=back.escalated_share if back is not None else 0.0,
            reason=f"{why} on {found.n} live comparisons; back to "
            + (
                f"the point of {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(back.changed_at))}"
                if back
                else "the default tier"
            ),
        )
        self._record(change)
        self._tuning.point = self._rebuild(back, comparisons)
        return change

    def sync(self) -> None:
        """Rebuild the state from the change rows when someone else (``calibrate --from-evidence``, another
        worker, a restart) wrote one."""
        rows = self._store.changes()
        if len(rows) == self._known:
            return
        good: list[RoutingChange] = []
        self._since = 0.0
        for row in rows:
            if row.weak_tier != self._weak or row.strong_tier != self._strong:
                continue
            self._since = row.changed_at
            if row.action == "apply":
                good.append(row)
            elif row.action == "rollback" and good:
                good.pop()
        self._good = good
        current = self.current
        if current is not None:
            comparisons = self._store.comparisons(cheap_tier=self._weak, strong_tier=self._strong)
            self._tuning.point = self._rebuild(current, comparisons)
        else:
            self._tuning.point = CONSERVATIVE
        self._known = len(rows)

    def _record(self, change: RoutingChange) -> None:
        self._store.add_change(change)
        self._known += 1
        self._since = change.changed_at

    def _fit(self, comparisons: list[Comparison]) -> tuple[EvidenceScorer, F64]:
        return fit_scorer(
            self._load_prior(),
            [c.prompt for c in comparisons],
            [c.cheap_score for c in comparisons],
            [c.strong_score for c in comparisons],
        )

    def _rebuild(self, change: RoutingChange | None, comparisons: list[Comparison]) -> OperatingPoint:
        if change is None or change.threshold is None:
            return CONSERVATIVE
        until = [c for c in comparisons if c.created_at <= change.evidence_until][-MAX_MEMORY:]
        if not until:
            return CONSERVATIVE
        scorer, _ = self._fit(until)
        return _point(scorer, change)

    def _load_prior(self) -> ScoringRouter:
        if self._prior is None:
            from tierwise.brain.artifact import load_router

            self._prior = load_router(self._settings.routing.learned.artifact)
        return self._prior


def _point(scorer: EvidenceScorer, change: RoutingChange) -> OperatingPoint:
    assert change.threshold is not None
    label = f"evidence {change.action} n={change.n}, est {change.estimate or 0:.3f} low {change.lower or 0:.3f}"
    return OperatingPoint(scorer=scorer, threshold=change.threshold, label=label)
