"""Key state in this process: exact and free, but each gateway process keeps its own."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tierwise.keys.limits import RateBucket, SpendWindow
from tierwise.state.interface import Quota, Refusal, Reservation


@dataclass(slots=True)
class _Account:
    day: SpendWindow
    month: SpendWindow
    requests: RateBucket | None
    tokens: RateBucket | None


class MemoryKeyState:
    """Event-loop only: ``reserve`` never awaits, so it checks and reserves in one step."""

    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}

    def _account(self, quota: Quota, day: int, month: int, now: float) -> _Account:
        account = self._accounts.get(quota.key_id)
        if account is None:
            rpm, tpm = quota.requests_per_minute, quota.tokens_per_minute
            account = self._accounts[quota.key_id] = _Account(
                day=SpendWindow(quota.daily_budget, day),
                month=SpendWindow(quota.monthly_budget, month),
                requests=RateBucket(rpm, now) if rpm else None,
                tokens=RateBucket(tpm, now) if tpm else None,
            )
        return account

    async def reserve(
        self, quota: Quota, *, day: int, month: int, cost: Decimal, tokens: int, now: float
    ) -> Reservation | Refusal:
        account = self._account(quota, day, month, now)
        account.day.roll(day)
        account.month.roll(month)
        if account.day.exhausted:
            return Refusal(limit="daily_budget")
        if account.month.exhausted:
            return Refusal(limit="monthly_budget")
        if account.requests is not None and (wait := account.requests.wait(1.0, now)) > 0:
            return Refusal(limit="requests_per_minute", retry_after_s=wait)
        if account.tokens is not None and (wait := account.tokens.wait(float(tokens), now)) > 0:
            return Refusal(limit="tokens_per_minute", retry_after_s=wait)
        if account.requests is not None:
            account.requests.take(1.0)
        if account.tokens is not None:
            account.tokens.take(float(tokens))
        account.day.reserved += cost
        account.month.reserved += cost
        return Reservation(day=day, month=month, cost=cost, tokens=tokens)

    def settle(self, quota: Quota, reservation: Reservation, *, cost: Decimal, tokens: int) -> None:
        account = self._accounts.get(quota.key_id)
        if account is None:
            return
        account.day.settle(reservation.day, reservation.cost, cost)
        account.month.settle(reservation.month, reservation.cost, cost)
        if account.tokens is not None:
            account.tokens.take(float(tokens - reservation.tokens))

    def preload(self, quota: Quota, *, day: int, month: int, day_spent: Decimal, month_spent: Decimal) -> None:
        if quota.key_id in self._accounts:  # already counting (a reloaded guard on the same state): no twice
            return
        account = self._account(quota, day, month, 0.0)
        account.day.roll(day)
        account.month.roll(month)
        account.day.spent += day_spent
        account.month.spent += month_spent

    async def close(self) -> None:
        return None
