"""Key state on Redis, shared by every gateway replica (the ``redis`` extra).

Reserving is one Lua script: the budget check, both rate windows and the reservation happen atomically on the
Redis server, so replicas see each other's reservations at once and together overspend a budget by at most one
request each (each may be admitted with some budget left, as in one process). Time comes from the Redis
server's clock, so replicas' clocks need not agree for the rate windows. Money is kept in integer nano-USD.

Settling is written in the background (the request has ended; nobody waits). When Redis cannot be reached,
``reserve`` raises StateUnavailable: requests under a key with limits get 503 (fail closed), never free spend.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import ROUND_CEILING, Decimal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tierwise.errors import StateUnavailable
from tierwise.state.interface import LimitName, Quota, Refusal, Reservation

_NANO = Decimal(10) ** 9
_DAY_TTL_S = 3 * 86400  # a day's totals outlive the day (late settlements land in it), then go
_MONTH_TTL_S = 33 * 86400
_WINDOW_TTL_S = 120  # an idle rate window is full again after a minute anyway

_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local function used(key)
  local v = redis.call('HMGET', key, 'spent', 'reserved')
  return (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
end
local day_limit, month_limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if day_limit >= 0 and used(KEYS[1]) >= day_limit then return {'daily_budget', '0'} end
if month_limit >= 0 and used(KEYS[2]) >= month_limit then return {'monthly_budget', '0'} end
local function refill(key, capacity)
  local v = redis.call('HMGET', key, 'level', 'ts')
  local level, ts = tonumber(v[1]), tonumber(v[2])
  if level == nil or ts == nil then return capacity end
  if now > ts then level = math.min(capacity, level + (now - ts) * capacity / 60) end
  return level
end
local rpm, tpm, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[6])
local requests_level, tokens_level = 0, 0
if rpm > 0 then
  requests_level = refill(KEYS[3], rpm)
  if requests_level < 1 then return {'requests_per_minute', tostring((1 - requests_level) * 60 / rpm)} end
end
if tpm > 0 then
  tokens_level = refill(KEYS[4], tpm)
  local need = math.min(tokens, tpm)
  if tokens_level < need then return {'tokens_per_minute', tostring((need - tokens_level) * 60 / tpm)} end
end
if rpm > 0 then
  redis.call('HSET', KEYS[3], 'level', tostring(requests_level - 1), 'ts', tostring(now))
  redis.call('EXPIRE', KEYS[3], ARGV[9])
end
if tpm > 0 then
  redis.call('HSET', KEYS[4], 'level', tostring(tokens_level - tokens), 'ts', tostring(now))
  redis.call('EXPIRE', KEYS[4], ARGV[9])
end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('HINCRBY', KEYS[2], 'reserved', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[8])
return {'ok', '0'}
"""

_SETTLE = """
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], 'reserved', -tonumber(ARGV[1]))
  redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
end
if ARGV[3] ~= '0' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBYFLOAT', KEYS[3], 'level', -tonumber(ARGV[3]))
end
return 1
"""

_PRELOAD = """
if redis.call('HSETNX', KEYS[1], 'spent', ARGV[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if redis.call('HSETNX', KEYS[2], 'spent', ARGV[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return 1
"""


class RedisKeyState:
    def __init__(self, url: str, *, timeout_s: float = 1.0, namespace: str = "tierwise") -> None:
        self._prefix = f"{namespace}:key:"
        self.url = url
        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._reserve = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)
        self._preload = self._redis.register_script(_PRELOAD)
        self._background: set[asyncio.Task[None]] = set()
        self._pending_preloads: list[tuple[list[str], list[str]]] = []
        self._warned = False

    async def reserve(
        self, quota: Quota, *, day: int, month: int, cost: Decimal, tokens: int, now: float
    ) -> Reservation | Refusal:
        if self._pending_preloads:
            await self._flush_preloads()
        day_key, month_key, rpm_key, tpm_key = _keys(self._prefix + quota.key_id, day, month)
        args = [
            _limit(quota.daily_budget),
            _limit(quota.monthly_budget),
            quota.requests_per_minute or 0,
            quota.tokens_per_minute or 0,
            _nano_up(cost),
            tokens,
            _DAY_TTL_S,
            _MONTH_TTL_S,
            _WINDOW_TTL_S,
        ]
        try:
            verdict, wait = await self._reserve(keys=[day_key, month_key, rpm_key, tpm_key], args=args)
        except (RedisError, OSError) as exc:
            raise StateUnavailable(
                f"the gateway cannot check this key's limits: its shared state (Redis) is unreachable "
                f"({type(exc).__name__}); try again shortly"
            ) from None
        limit = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
        if limit == "ok":
            return Reservation(day=day, month=month, cost=cost, tokens=tokens)
        retry = float(wait.decode() if isinstance(wait, bytes) else wait)
        names: dict[str, LimitName] = {
            "daily_budget": "daily_budget",
            "monthly_budget": "monthly_budget",
            "requests_per_minute": "requests_per_minute",
            "tokens_per_minute": "tokens_per_minute",
        }
        return Refusal(limit=names[limit], retry_after_s=retry if limit.endswith("minute") else None)

    def settle(self, quota: Quota, reservation: Reservation, *, cost: Decimal, tokens: int) -> None:
        day_key, month_key, _, tpm_key = _keys(self._prefix + quota.key_id, reservation.day, reservation.month)
        delta = tokens - reservation.tokens if quota.tokens_per_minute else 0
        args = [_nano_up(reservation.cost), _nano(cost), delta]
        self._spawn(self._settle(keys=[day_key, month_key, tpm_key], args=args))

    def preload(self, quota: Quota, *, day: int, month: int, day_spent: Decimal, month_spent: Decimal) -> None:
        day_key, month_key, _, _ = _keys(self._prefix + quota.key_id, day, month)
        # Written on the first reserve (the guard is built before the event loop serves anything).
        self._pending_preloads.append(
            ([day_key, month_key], [str(_nano(day_spent)), str(_nano(month_spent)), str(_DAY_TTL_S), str(_MONTH_TTL_S)])
        )

    async def _flush_preloads(self) -> None:
        pending, self._pending_preloads = self._pending_preloads, []
        try:
            for keys, args in pending:
                await self._preload(keys=keys, args=args)
        except (RedisError, OSError):
            self._pending_preloads = pending  # try again with the next request
            raise StateUnavailable("the gateway cannot reach its shared state (Redis); try again shortly") from None

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=5.0)
        await self._redis.aclose()

    def _spawn(self, work: object) -> None:
        async def run() -> None:
            try:
                await work  # type: ignore[misc]
            except (RedisError, OSError) as exc:
                # The reservation stays counted until its day's totals expire: budgets err on the safe side.
                if not self._warned:
                    self._warned = True
                    print(f"tierwise: warning: could not settle a key's spend in Redis: {exc}", file=sys.stderr)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _keys(base: str, day: int, month: int) -> tuple[str, str, str, str]:
    return f"{base}:day:{day}", f"{base}:month:{month}", f"{base}:rpm", f"{base}:tpm"


def _limit(value: Decimal | None) -> int:
    return -1 if value is None else _nano(value)


def _nano(value: Decimal) -> int:
    return int((value * _NANO).to_integral_value())


def _nano_up(value: Decimal) -> int:
    return int((value * _NANO).to_integral_value(rounding=ROUND_CEILING))
