"""Tiers over time: the tier mix per hour or day, with escalations, fallbacks and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tierwise.query.period import Period, iso
from tierwise.query.rows import RequestRow, fetch_rows, money
from tierwise.query.source import LedgerSource
from tierwise.routing.decision import TIERS

_MAX_BUCKETS = 400  # a chart wider than this says nothing more; the step grows instead


@dataclass(slots=True)
class TimeBucket:
    start: float
    requests: int = 0
    spend: Decimal = Decimal(0)
    escalations: int = 0
    fallbacks: int = 0
    errors: int = 0
    tier_requests: dict[str, int] = field(default_factory=dict)
    tier_spend: dict[str, Decimal] = field(default_factory=dict)

    def add(self, row: RequestRow) -> None:
        tier = row.tier or "(none)"
        self.requests += 1
        self.tier_requests[tier] = self.tier_requests.get(tier, 0) + 1
        if row.cost is not None:
            self.spend += row.cost
            self.tier_spend[tier] = self.tier_spend.get(tier, Decimal(0)) + row.cost
        self.errors += not row.ok
        self.escalations += row.ok and row.escalated
        self.fallbacks += row.ok and row.fell_back

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "requests": self.requests,
            "spend_usd": money(self.spend),
            "escalations": self.escalations,
            "fallbacks": self.fallbacks,
            "errors": self.errors,
            "tiers": {
                tier: {"requests": n, "spend_usd": money(self.tier_spend.get(tier, Decimal(0)))}
                for tier, n in sorted(self.tier_requests.items(), key=lambda item: _order(item[0]))
            },
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    step_s: int
    buckets: tuple[TimeBucket, ...]
    tiers: tuple[str, ...]  # every tier that appears, weakest first

    def as_dict(self) -> dict[str, Any]:
        return {
            "step_s": self.step_s,
            "tiers": list(self.tiers),
            "buckets": [b.as_dict() for b in self.buckets],
        }


def tier_timeline(source: LedgerSource, period: Period, *, rows: list[RequestRow] | None = None) -> Timeline:
    rows = fetch_rows(source, period) if rows is None else rows
    if not rows:
        return Timeline(step_s=period.step(None, None), buckets=(), tiers=())
    # The series spans the period asked for (from its start, to its end or the last request), empty steps included.
    first = rows[0].started_at if period.since is None else min(period.since, rows[0].started_at)
    last = rows[-1].started_at if period.until is None else max(period.until - 1, rows[-1].started_at)
    step = period.step(first, last)
    while (last - first) / step > _MAX_BUCKETS:
        step *= 2
    start = first // step * step
    buckets: dict[int, TimeBucket] = {}
    for row in rows:
        index = int((row.started_at - start) // step)
        bucket = buckets.get(index)
        if bucket is None:
            bucket = buckets[index] = TimeBucket(start=start + index * step)
        bucket.add(row)
    end = int((last - start) // step)
    filled = tuple(buckets.get(i) or TimeBucket(start=start + i * step) for i in range(end + 1))
    tiers = sorted({tier for b in filled for tier in b.tier_requests}, key=_order)
    return Timeline(step_s=int(step), buckets=filled, tiers=tuple(tiers))


def _order(tier: str) -> tuple[int, str]:
    return (TIERS.index(tier) if tier in TIERS else len(TIERS), tier)
