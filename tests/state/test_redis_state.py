"""The Redis key state against a real Redis: atomic across "replicas" (separate clients), and fail-closed."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from tests.gateway_process import free_port
from tests.state.conftest import redis_url
from tierwise.errors import StateUnavailable
from tierwise.state import Quota, Refusal, Reservation
from tierwise.state.redis_store import RedisKeyState

NOW = 0.0


def quota(**limits: object) -> Quota:
    return Quota(key_id="tw-" + uuid.uuid4().hex[:8], **limits)  # type: ignore[arg-type]


def test_replicas_never_commit_more_than_the_budget_plus_one_request_each() -> None:
    async def main() -> tuple[int, Decimal]:
        replicas = [RedisKeyState(redis_url()) for _ in range(3)]
        q = quota(daily_budget=Decimal("1.00"))
        cost = Decimal("0.07")
        held: list[tuple[RedisKeyState, Reservation]] = []

        async def attempt(state: RedisKeyState) -> None:
            verdict = await state.reserve(q, day=1, month=1, cost=cost, tokens=10, now=NOW)
            if isinstance(verdict, Reservation):
                held.append((state, verdict))

        await asyncio.gather(*(attempt(replicas[i % 3]) for i in range(90)))
        reserved = sum((r.cost for _, r in held), Decimal(0))
        for state, reservation in held:  # each call ends up costing what it reserved
            state.settle(q, reservation, cost=reservation.cost, tokens=10)
        refused = await replicas[0].reserve(q, day=1, month=1, cost=cost, tokens=10, now=NOW)
        assert refused == Refusal(limit="daily_budget")
        for state in replicas:
            await state.close()
        return len(held), reserved

    admitted, reserved = asyncio.run(main())
    assert admitted == 15  # 14 x 0.07 = 0.98 < 1.00 admits a 15th; 1.05 >= 1.00 stops the rest
    assert reserved <= Decimal("1.00") + 3 * Decimal("0.07")


def test_settling_releases_the_unused_reservation_and_a_new_day_starts_afresh() -> None:
    async def main() -> None:
        state = RedisKeyState(redis_url())
        q = quota(daily_budget=Decimal("0.10"), monthly_budget=Decimal("0.15"))
        first = await state.reserve(q, day=1, month=1, cost=Decimal("0.09"), tokens=0, now=NOW)
        assert isinstance(first, Reservation)
        assert isinstance(await state.reserve(q, day=1, month=1, cost=Decimal("0.09"), tokens=0, now=NOW), Reservation)
        assert await state.reserve(q, day=1, month=1, cost=Decimal("0.01"), tokens=0, now=NOW) == Refusal(
            limit="daily_budget"
        )
        state.settle(q, first, cost=Decimal("0.001"), tokens=0)
        await state.close()
        state = RedisKeyState(redis_url())  # another replica sees the settlement
        second = await state.reserve(q, day=1, month=1, cost=Decimal("0.001"), tokens=0, now=NOW)
        assert isinstance(second, Reservation)  # 0.001 settled + 0.09 + 0.001 reserved < 0.10
        # A new day: the day's budget is whole again, the month's keeps counting (0.092 so far of 0.15).
        assert isinstance(await state.reserve(q, day=2, month=1, cost=Decimal("0.06"), tokens=0, now=NOW), Reservation)
        assert await state.reserve(q, day=2, month=1, cost=Decimal("0.01"), tokens=0, now=NOW) == Refusal(
            limit="monthly_budget"
        )
        await state.close()

    asyncio.run(main())


def test_rate_limit_is_one_window_for_all_replicas() -> None:
    async def main() -> tuple[int, float | None]:
        replicas = [RedisKeyState(redis_url()) for _ in range(2)]
        q = quota(requests_per_minute=30)
        verdicts = await asyncio.gather(
            *(replicas[i % 2].reserve(q, day=1, month=1, cost=Decimal(0), tokens=1, now=NOW) for i in range(80))
        )
        for state in replicas:
            await state.close()
        refusals = [v for v in verdicts if isinstance(v, Refusal)]
        return sum(isinstance(v, Reservation) for v in verdicts), refusals[0].retry_after_s if refusals else None

    admitted, retry_after = asyncio.run(main())
    assert 30 <= admitted <= 31  # the window starts full; at most one more refills during the burst
    assert retry_after is not None and 0 < retry_after <= 2.0


def test_unreachable_redis_fails_closed() -> None:
    async def main() -> None:
        state = RedisKeyState(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
        with pytest.raises(StateUnavailable, match="unreachable"):
            await state.reserve(quota(daily_budget=Decimal(1)), day=1, month=1, cost=Decimal(0), tokens=0, now=NOW)
        await state.close()

    asyncio.run(main())


def test_deployments_in_different_namespaces_keep_separate_budgets_on_one_redis() -> None:
    async def main() -> tuple[object, object]:
        q = quota(daily_budget=Decimal("0.10"))
        blue_name = "blue-" + uuid.uuid4().hex[:6]
        blue = RedisKeyState(redis_url(), namespace=blue_name)
        blue_replica = RedisKeyState(redis_url(), namespace=blue_name)
        green = RedisKeyState(redis_url(), namespace="green-" + uuid.uuid4().hex[:6])
        for _ in range(2):  # 0.00 and 0.09 spent are both under 0.10: admitted; blue has now reserved 0.18
            assert isinstance(
                await blue.reserve(q, day=1, month=1, cost=Decimal("0.09"), tokens=0, now=NOW), Reservation
            )
        same = await blue_replica.reserve(q, day=1, month=1, cost=Decimal("0.01"), tokens=0, now=NOW)
        other = await green.reserve(q, day=1, month=1, cost=Decimal("0.09"), tokens=0, now=NOW)
        for state in (blue, blue_replica, green):
            await state.close()
        return same, other

    same_namespace, other_namespace = asyncio.run(main())
    assert same_namespace == Refusal(limit="daily_budget")  # a replica of the same deployment shares the budget
    assert isinstance(other_namespace, Reservation)  # another deployment's spend is not ours
