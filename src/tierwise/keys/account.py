"""One key's running account: its rate buckets and spend windows, checked and reserved before a call, settled
after it. Event-loop only: ``admit`` checks and reserves in one step with no await between, so concurrent
requests see each other's reservations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from tierwise.errors import BudgetExceeded, RateLimited
from tierwise.keys.limits import Periods, RateBucket, SpendWindow
from tierwise.keys.store import KeyRecord


@dataclass(frozen=True, slots=True)
class Hold:
    """What ``admit`` reserved, to be given back or charged by ``settle``."""

    day: int
    month: int
    cost: Decimal
    tokens: int


class KeyAccount:
    __slots__ = ("_requests", "_tokens", "day", "month", "record")

    def __init__(self, record: KeyRecord, now: float, periods: Periods) -> None:
        self.record = record
        limits = record.limits
        self.day = SpendWindow(limits.daily_budget, periods.day)
        self.month = SpendWindow(limits.monthly_budget, periods.month)
        rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
        self._requests = RateBucket(rpm, now) if rpm else None
        self._tokens = RateBucket(tpm, now) if tpm else None

    def admit(self, now: float, periods: Periods, cost: Decimal, tokens: int) -> Hold:
        """Raises BudgetExceeded or RateLimited, or reserves ``cost`` and counts the request and ``tokens``."""
        day, month = self.day, self.month
        day.roll(periods.day)
        month.roll(periods.month)
        key = self.record.key_id
        if day.exhausted:
            raise BudgetExceeded(
                f"gateway key {key} has spent its daily budget of ${day.limit} (UTC day); it resets at 00:00 UTC",
                retry_after_s=periods.day_ends - now,
            )
        if month.exhausted:
            raise BudgetExceeded(
                f"gateway key {key} has spent its monthly budget of ${month.limit} (UTC calendar month); "
                "it resets on the 1st at 00:00 UTC",
                retry_after_s=periods.month_ends - now,
            )
        if self._requests is not None and (wait := self._requests.wait(1.0, now)) > 0:
            raise RateLimited(
                f"gateway key {key} is over its limit of {self.record.limits.requests_per_minute} requests per "
                f"minute; retry in {math.ceil(wait)}s",
                retry_after_s=wait,
            )
        if self._tokens is not None and (wait := self._tokens.wait(float(tokens), now)) > 0:
            raise RateLimited(
                f"gateway key {key} is over its limit of {self.record.limits.tokens_per_minute} tokens per "
                f"minute; retry in {math.ceil(wait)}s",
                retry_after_s=wait,
            )
        if self._requests is not None:
            self._requests.take(1.0)
        if self._tokens is not None:
            self._tokens.take(float(tokens))
        day.reserved += cost
        month.reserved += cost
        return Hold(day=periods.day, month=periods.month, cost=cost, tokens=tokens)

    def settle(self, hold: Hold, cost: Decimal, tokens: int) -> None:
        """Replace the reservation by what the request really cost and used."""
        self.day.settle(hold.day, hold.cost, cost)
        self.month.settle(hold.month, hold.cost, cost)
        if self._tokens is not None:
            self._tokens.take(float(tokens - hold.tokens))

    def load(self, periods: Periods, day_spent: Decimal, month_spent: Decimal) -> None:
        """Spend recorded in the ledger before this process started."""
        self.day.roll(periods.day)
        self.month.roll(periods.month)
        self.day.spent += day_spent
        self.month.spent += month_spent
