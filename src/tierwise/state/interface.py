"""The state interface for gateway keys: reserve before a call, settle after it, across every replica."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

from tierwise.config.settings import StateSettings

if TYPE_CHECKING:
    from tierwise.state.bus import RedisBus

LimitName = Literal["daily_budget", "monthly_budget", "requests_per_minute", "tokens_per_minute"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Quota:
    """What one key may spend and use; None: no limit."""

    key_id: str
    daily_budget: Decimal | None = None
    monthly_budget: Decimal | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def limited(self) -> bool:
        return any(
            limit is not None
            for limit in (self.daily_budget, self.monthly_budget, self.requests_per_minute, self.tokens_per_minute)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """What ``reserve`` took, to be given back or charged by ``settle``."""

    day: int
    month: int
    cost: Decimal
    tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    limit: LimitName
    retry_after_s: float | None = None  # for rate limits; budgets reset when their period ends


class KeyState(Protocol):
    async def reserve(
        self, quota: Quota, *, day: int, month: int, cost: Decimal, tokens: int, now: float
    ) -> Reservation | Refusal:
        """Atomically: refuse when a budget is spent (settled plus reserved) or a rate window is full; else
        reserve ``cost`` in the day and month, and count one request and ``tokens`` in the rate windows.

        Raises StateUnavailable when the shared store cannot be reached (budgets then fail closed)."""
        ...

    def settle(self, quota: Quota, reservation: Reservation, *, cost: Decimal, tokens: int) -> None:
        """Replace the reservation by what the call cost and used. Never waits (a shared store is written in
        the background)."""
        ...

    def preload(self, quota: Quota, *, day: int, month: int, day_spent: Decimal, month_spent: Decimal) -> None:
        """Spend the ledger recorded before this process started, for keys the state knows nothing of yet."""
        ...

    async def close(self) -> None: ...


def open_key_state(settings: StateSettings) -> KeyState:
    """The configured implementation; Redis is imported only when configured."""
    if settings.backend == "redis":
        from tierwise.state.redis_store import RedisKeyState

        assert settings.url is not None
        return RedisKeyState(settings.url, namespace=settings.namespace)
    from tierwise.state.memory import MemoryKeyState

    return MemoryKeyState()


def open_bus(settings: StateSettings) -> RedisBus | None:
    """Events between replicas (circuits, sessions); None with the memory backend (one process, nothing to tell)."""
    if settings.backend != "redis":
        return None
    from tierwise.state.bus import RedisBus

    assert settings.url is not None
    return RedisBus(settings.url, namespace=settings.namespace)
