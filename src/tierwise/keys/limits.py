"""The arithmetic of a key's limits: per-minute token buckets, and UTC day and month spend windows.

Plain objects, driven by the ``now`` their callers pass in, so tests can run them on a made-up clock.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

_DAY_S = 86_400
ZERO = Decimal(0)


class RateBucket:
    """A per-minute limit as a token bucket: full at ``per_minute``, refilled continuously.

    The level may go below zero: token counts are only known when a request ends, and the debt they leave
    delays the next requests instead of being forgiven.
    """

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # per second
        self.level = self.capacity
        self.updated = now

    def wait(self, need: float, now: float) -> float:
        """Seconds until ``need`` (at most the capacity) is available; 0.0 when it is now."""
        elapsed = now - self.updated
        if elapsed > 0:  # a clock that steps back refills nothing
            self.level = min(self.capacity, self.level + elapsed * self.rate)
            self.updated = now
        need = min(need, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount


@dataclass(slots=True)
class SpendWindow:
    """Spend in one calendar period (a UTC day, or month), settled and reserved, against an optional limit."""

    limit: Decimal | None
    period: int
    spent: Decimal = ZERO
    reserved: Decimal = ZERO

    def roll(self, period: int) -> None:
        """A new period starts from nothing; reservations of the old one settle into the old one (gone)."""
        if period != self.period:
            self.period, self.spent, self.reserved = period, ZERO, ZERO

    @property
    def exhausted(self) -> bool:
        # Admission needs only *some* budget left, so the last request admitted may cross the limit by at
        # most its own reservation: the bound the reservations are there to keep.
        return self.limit is not None and self.spent + self.reserved >= self.limit

    def settle(self, period: int, reserved: Decimal, cost: Decimal) -> None:
        if period == self.period:
            self.reserved -= reserved
            self.spent += cost


@dataclass(frozen=True, slots=True)
class Periods:
    """The UTC day and month a moment falls in, and when each ends (unix seconds)."""

    day: int  # days since the epoch
    month: int  # year * 12 + month - 1
    day_ends: float
    month_ends: float

    @classmethod
    def at(cls, now: float) -> Periods:
        day = int(now // _DAY_S)
        moment = datetime.fromtimestamp(day * _DAY_S, UTC)
        days_in_month = calendar.monthrange(moment.year, moment.month)[1]
        month_ends = (day - moment.day + 1 + days_in_month) * _DAY_S
        return cls(
            day=day, month=moment.year * 12 + moment.month - 1, day_ends=(day + 1) * _DAY_S, month_ends=month_ends
        )

    def starts(self) -> tuple[float, float]:
        """When this day and this month began (unix seconds)."""
        year, month = divmod(self.month, 12)
        month_start = datetime(year, month + 1, 1, tzinfo=UTC).timestamp()
        return float(self.day * _DAY_S), month_start


class PeriodClock:
    """``Periods.at`` for a clock that moves forwards: recomputed only when the day changes."""

    __slots__ = ("_current",)

    def __init__(self, now: float) -> None:
        self._current = Periods.at(now)

    def at(self, now: float) -> Periods:
        current = self._current
        if not (current.day * _DAY_S <= now < current.day_ends):
            current = self._current = Periods.at(now)
        return current
