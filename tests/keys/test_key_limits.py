"""The arithmetic of rate buckets and spend windows, on a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tierwise.keys.limits import PeriodClock, Periods, RateBucket, SpendWindow


def test_bucket_allows_a_minutes_worth_then_refills_continuously() -> None:
    bucket = RateBucket(60, now=0.0)
    for _ in range(60):
        assert bucket.wait(1.0, 0.0) == 0.0
        bucket.take(1.0)
    assert bucket.wait(1.0, 0.0) == pytest.approx(1.0)  # one request a second
    assert bucket.wait(1.0, 0.5) == pytest.approx(0.5)
    assert bucket.wait(1.0, 1.0) == 0.0
    assert bucket.wait(1.0, 3600.0) == 0.0 and bucket.level == 60.0  # never above its capacity


def test_bucket_debt_delays_and_large_needs_are_capped() -> None:
    bucket = RateBucket(600, now=0.0)  # 10 tokens a second
    bucket.take(900.0)  # a request used more than it reserved
    assert bucket.level == -300.0
    assert bucket.wait(1.0, 0.0) == pytest.approx(30.1)
    assert bucket.wait(10_000.0, 90.0) == pytest.approx(0.0)  # a need above capacity waits for a full bucket only
    assert bucket.wait(1.0, 80.0) == 0.0  # a clock stepping back refills nothing and breaks nothing


def test_window_exhausts_at_its_limit_and_rolls_over() -> None:
    window = SpendWindow(Decimal("1.00"), period=10)
    window.reserved += Decimal("0.60")
    assert not window.exhausted
    window.settle(10, Decimal("0.60"), Decimal("0.40"))
    assert (window.spent, window.reserved) == (Decimal("0.40"), Decimal(0))
    window.reserved += Decimal("0.60")
    assert window.exhausted  # 0.40 spent + 0.60 reserved
    window.roll(11)
    assert not window.exhausted and window.spent == 0
    window.settle(10, Decimal("0.60"), Decimal("0.55"))  # yesterday's request ends today: counted yesterday
    assert (window.spent, window.reserved) == (Decimal(0), Decimal(0))
    assert not SpendWindow(None, period=0, spent=Decimal(10**9)).exhausted


@pytest.mark.parametrize(
    ("moment", "day_end", "month_end"),
    [
        (datetime(2024, 2, 29, 23, 59, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)),
        (datetime(2025, 12, 31, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2025, 3, 14, 12, 0, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
    ],
)
def test_periods_follow_the_utc_calendar(moment: datetime, day_end: datetime, month_end: datetime) -> None:
    periods = Periods.at(moment.timestamp())
    assert periods.day_ends == day_end.timestamp() and periods.month_ends == month_end.timestamp()
    day_start, month_start = periods.starts()
    assert day_start == datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()
    assert month_start == datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()
    assert periods.month == moment.year * 12 + moment.month - 1


def test_period_clock_recomputes_at_midnight() -> None:
    start = datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    clock = PeriodClock(start)
    before = clock.at(start)
    after = clock.at(start + 1.0)
    assert after.day == before.day + 1 and after.month == before.month + 1
    assert clock.at(start + 2.0) is after  # cached within the day
