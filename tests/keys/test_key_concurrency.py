"""Budgets hold under concurrency: requests in flight together never commit more than the budget plus one
request's maximum, because each is admitted against what the others have already reserved."""

from __future__ import annotations

import asyncio
import contextlib
import random
from decimal import Decimal

import pytest

from tests.keys.conftest import Clock, admitted, call, finished, make
from tierwise.config.settings import Settings
from tierwise.errors import BudgetExceeded
from tierwise.keys import KeyGrant
from tierwise.pricing import PriceBook
from tierwise.types import Usage

BUDGET = Decimal("0.1")
MOST = Decimal("0.018")  # the most one request (1000 tokens in, max_tokens 1000, on sonnet) can cost


def test_requests_all_in_flight_at_once(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, daily_budget=BUDGET)
    grants: list[KeyGrant] = []
    for _ in range(100):
        with contextlib.suppress(BudgetExceeded):
            grants.append(admitted(guard, new.key))
    assert len(grants) == 6  # 5 x 0.018 = 0.09 < 0.1 admits a sixth; 0.108 >= 0.1 stops the rest
    assert sum(g.reserved for g in grants) <= BUDGET + MOST


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_interleaved_requests_never_commit_more_than_budget_plus_one(
    settings: Settings, clock: Clock, seed: int
) -> None:
    guard, new = make(settings, clock, daily_budget=BUDGET)
    prices, sonnet = PriceBook(), settings.models["claude-sonnet-4-6"]
    rng = random.Random(seed)
    in_flight: set[KeyGrant] = set()
    spent, peak = Decimal(0), Decimal(0)
    outcomes = {"admitted": 0, "refused": 0}

    async def request() -> None:
        nonlocal spent, peak
        await asyncio.sleep(rng.random() * 0.02)
        try:
            grant = admitted(guard, new.key, call(tokens=1000, max_tokens=1000))
        except BudgetExceeded:
            outcomes["refused"] += 1
            return
        outcomes["admitted"] += 1
        in_flight.add(grant)
        peak = max(peak, spent + sum(g.reserved for g in in_flight))  # everything committed at this moment
        await asyncio.sleep(rng.random() * 0.02)
        usage = Usage(input_tokens=rng.randint(0, 1000), output_tokens=rng.randint(0, 1000))
        finished(grant, usage=usage)
        in_flight.discard(grant)
        cost = prices.cost(sonnet, usage)
        assert cost is not None
        spent += cost

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(200)))

    asyncio.run(main())
    assert outcomes["refused"] > 0 and outcomes["admitted"] > 6  # settling released unused reservations
    assert peak <= BUDGET + MOST
    assert spent <= BUDGET + MOST
