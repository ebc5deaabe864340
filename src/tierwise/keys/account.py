"""Why a key was refused, in words: the error (and retry-after) for each limit the state reports as reached."""

from __future__ import annotations

import math

from tierwise.errors import BudgetExceeded, RateLimited
from tierwise.keys.limits import Periods
from tierwise.keys.store import KeyRecord
from tierwise.state import Refusal


def refusal_error(record: KeyRecord, refusal: Refusal, periods: Periods, now: float) -> RateLimited:
    key, limits = record.key_id, record.limits
    if refusal.limit == "daily_budget":
        return BudgetExceeded(
            f"gateway key {key} has spent its daily budget of ${limits.daily_budget} (UTC day); it resets at 00:00 UTC",
            retry_after_s=periods.day_ends - now,
        )
    if refusal.limit == "monthly_budget":
        return BudgetExceeded(
            f"gateway key {key} has spent its monthly budget of ${limits.monthly_budget} (UTC calendar month); "
            "it resets on the 1st at 00:00 UTC",
            retry_after_s=periods.month_ends - now,
        )
    wait = refusal.retry_after_s or 1.0
    if refusal.limit == "requests_per_minute":
        return RateLimited(
            f"gateway key {key} is over its limit of {limits.requests_per_minute} requests per minute; "
            f"retry in {math.ceil(wait)}s",
            retry_after_s=wait,
        )
    return RateLimited(
        f"gateway key {key} is over its limit of {limits.tokens_per_minute} tokens per minute; "
        f"retry in {math.ceil(wait)}s",
        retry_after_s=wait,
    )
