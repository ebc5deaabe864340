"""The guard that checks gateway keys: who may call, on which tiers, how often, and for how much.

Per request it hashes the presented key, looks it up in memory and reserves through the configured state
(``tierwise.state``: this process's memory, or Redis shared by every replica); it never reads SQLite.
A background thread re-reads the keys table every ``KEY_REFRESH_S`` seconds, so a revoked (or a newly
created) key takes effect on a running gateway within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import replace
from decimal import Decimal

from tierwise.config.settings import Settings
from tierwise.errors import AuthenticationFailed, PermissionDenied
from tierwise.keys.account import refusal_error
from tierwise.keys.estimate import input_token_bound
from tierwise.keys.limits import PeriodClock
from tierwise.keys.prices import ZERO, model_rates, most_of
from tierwise.keys.spend import spend_by_key
from tierwise.keys.store import KeyRecord, KeyStore, hash_key, read_keys
from tierwise.ledger.database import Database
from tierwise.ledger.entry import LedgerEntry
from tierwise.pricing import PriceBook
from tierwise.routing.decision import RouteInput, RoutingDecision
from tierwise.state import KeyState, Quota, Reservation
from tierwise.state.memory import MemoryKeyState
from tierwise.types import ChatRequest

KEY_REFRESH_S = 1.0  # how soon a revocation reaches a running gateway
_MISSING = (
    "this gateway requires a key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>' "
    "(create one with `tierwise keys create`)"
)


class KeyGuard:
    """Event-loop use only (``authenticate``, ``admit`` and ``settle`` are not thread-safe, and need not be)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float | None = KEY_REFRESH_S,
        state: KeyState | None = None,
    ) -> None:
        """``refresh_s=None``: no background thread (tests call ``refresh()`` themselves). ``state``: where
        budgets and rate windows live (default: this process's memory)."""
        self.database = Database.of(settings)
        self.refresh_s = refresh_s
        self._clock = clock
        self._rates = model_rates(settings.models)
        self._models = settings.models
        self._prices = PriceBook()
        self._tier_of = {alias: settings.tier_of(alias) for alias in settings.models}
        cascade = settings.routing.cascade
        self._cascade_tier_names = frozenset({cascade.checker_tier, cascade.strong_tier})
        self._cascade_tiers = (
            settings.tiers.get(cascade.checker_tier, ()),
            settings.tiers.get(cascade.strong_tier, ()),
        )
        now = clock()
        self._periods = PeriodClock(now)
        self._by_hash: dict[str, KeyRecord] = {}
        self.state: KeyState = state if state is not None else MemoryKeyState()
        self._quotas: dict[str, Quota] = {}
        self._stop = threading.Event()
        KeyStore(self.database).prepare()
        self.refresh()
        periods = self._periods.at(now)
        records = {record.key_id: record for record in self._by_hash.values()}
        for key_id, spent in spend_by_key(self.database, periods).items():
            if key_id in records:
                self.state.preload(
                    self._quota(records[key_id]),
                    day=periods.day,
                    month=periods.month,
                    day_spent=spent.today,
                    month_spent=spent.this_month,
                )
        self._thread: threading.Thread | None = None
        if refresh_s is not None:
            self._thread = threading.Thread(target=self._refresh_loop, name="tierwise-keys", daemon=True)
            self._thread.start()

    @property
    def active_keys(self) -> int:
        return sum(1 for record in self._by_hash.values() if not record.revoked)

    def refresh(self) -> None:
        """Re-read the keys table (the background thread does this every ``refresh_s`` seconds)."""
        with closing(self.database.connect(readonly=True)) as connection:
            records = read_keys(connection)
        self._by_hash = {record.key_sha256: record for record in records}  # one atomic swap

    def authenticate(self, headers: Mapping[str, str]) -> KeyGrant:
        by_hash = self._by_hash
        record = None
        for value in (headers.get("x-api-key"), _bearer(headers.get("authorization"))):
            if value and (record := by_hash.get(hash_key(value))) is not None:
                break
        if record is None:
            raise AuthenticationFailed("invalid gateway key" if _presented(headers) else _MISSING)
        if record.revoked_at is not None:
            raise AuthenticationFailed(f"gateway key {record.key_id} has been revoked")
        if record.admin:
            raise AuthenticationFailed(
                f"gateway key {record.key_id} is an admin key: it opens the console, not the API"
            )
        return KeyGrant(self, record, self._quota(record))

    def _quota(self, record: KeyRecord) -> Quota:
        quota = self._quotas.get(record.key_id)
        if quota is None:
            limits = record.limits
            quota = self._quotas[record.key_id] = Quota(
                key_id=record.key_id,
                daily_budget=limits.daily_budget,
                monthly_budget=limits.monthly_budget,
                requests_per_minute=limits.requests_per_minute,
                tokens_per_minute=limits.tokens_per_minute,
            )
        return quota

    def stop_refreshing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    async def close(self) -> None:
        self.stop_refreshing()
        await self.state.close()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:  # locked, unreachable or briefly unreadable: keep the keys we have, try again
                continue

    # --- for KeyGrant ---

    async def _admit(
        self, record: KeyRecord, quota: Quota, request: ChatRequest, decision: RoutingDecision, route: RouteInput
    ) -> tuple[Reservation | None, RoutingDecision]:
        allowed = record.limits.tiers
        if allowed is not None:
            tier = decision.tier or self._tier_of.get(decision.model)
            if tier not in allowed:
                where = f"the {tier} tier" if tier else f"model {decision.model} (it is in no tier)"
                raise PermissionDenied(
                    f"gateway key {record.key_id} may not use {where}; it may use: {', '.join(sorted(allowed))}"
                )
            decision = self._within(decision, allowed)
        # The budget reserves the most the call can cost, from a token count no script can exceed (UTF-8 bytes,
        # see keys/estimate.py), so concurrent requests see each other's worst case; the rate window counts the
        # usual estimate. Both are trued up by settle.
        tokens, bound, max_tokens = route.estimated_tokens, input_token_bound(request), request.max_tokens
        cost = most_of(self._rates, (decision.model, *decision.fallbacks, *decision.escalations), bound, max_tokens)
        if decision.cascade:
            checker, strong = self._cascade_tiers  # a cascade may also pay a checker and the strong tier
            cost += most_of(self._rates, checker, bound, max_tokens) + most_of(self._rates, strong, bound, max_tokens)
        if not quota.limited:  # nothing to count: no trip to the state
            return None, decision
        now = self._clock()
        periods = self._periods.at(now)
        verdict = await self.state.reserve(
            quota, day=periods.day, month=periods.month, cost=cost, tokens=tokens, now=now
        )
        if not isinstance(verdict, Reservation):
            raise refusal_error(record, verdict, periods, now)
        return verdict, decision

    def _within(self, decision: RoutingDecision, allowed: frozenset[str]) -> RoutingDecision:
        """The decision without the escalations and cascade calls that would leave the key's tiers."""
        escalations = tuple(alias for alias in decision.escalations if self._tier_of.get(alias) in allowed)
        cascade = decision.cascade and self._cascade_tier_names <= allowed
        if escalations == decision.escalations and cascade == decision.cascade:
            return decision
        return replace(decision, escalations=escalations, cascade=cascade)

    def _settle(self, quota: Quota, hold: Reservation, entry: LedgerEntry) -> None:
        cost, tokens = ZERO, 0
        for alias, usage in ((entry.model, entry.usage), *entry.side_calls):
            model = self._models.get(alias) if alias else None
            # Charged exactly as the ledger prices the row (tiered prices included), so the two always agree.
            spent = self._prices.cost(model, usage) if model is not None else None
            if spent is not None:
                cost += spent
            tokens += usage.input_tokens + usage.output_tokens
        self.state.settle(quota, hold, cost=cost, tokens=tokens)


class KeyGrant:
    """One request's permission under a gateway key."""

    __slots__ = ("_guard", "_hold", "_quota", "_record", "key_id")

    def __init__(self, guard: KeyGuard, record: KeyRecord, quota: Quota) -> None:
        self.key_id: str | None = record.key_id
        self._guard = guard
        self._record = record
        self._quota = quota
        self._hold: Reservation | None = None

    async def admit(self, request: ChatRequest, decision: RoutingDecision, route_input: RouteInput) -> RoutingDecision:
        self._hold, permitted = await self._guard._admit(self._record, self._quota, request, decision, route_input)
        return permitted

    def settle(self, entry: LedgerEntry) -> None:
        hold, self._hold = self._hold, None
        if hold is not None:
            self._guard._settle(self._quota, hold, entry)

    @property
    def reserved(self) -> Decimal:
        """What ``admit`` reserved and ``settle`` has not yet settled."""
        return self._hold.cost if self._hold is not None else ZERO


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _presented(headers: Mapping[str, str]) -> bool:
    """Whether the request offered anything as a key (an empty bearer token is nothing)."""
    authorization = (headers.get("authorization") or "").strip()
    return bool(headers.get("x-api-key") or (authorization and authorization.lower() != "bearer"))
