"""Events every replica should hear, over Redis pub/sub: a circuit that opened or closed, a session that moved.

Routing and dispatch read their own in-process copies (no network on the request path); a change made on one
replica is published and applied by the others within milliseconds. A replica that starts later learns of a
change from the next event about it. When Redis is unreachable, each replica carries on with what it knows and
the subscriber reconnects.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

Handler = Callable[[dict[str, Any]], None]


class RedisBus:
    def __init__(self, url: str, *, timeout_s: float = 1.0, namespace: str = "tierwise") -> None:
        self._channel = f"{namespace}:events"
        self.replica = secrets.token_hex(8)  # our own messages come back too: this tells them apart
        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._warned = False

    def subscribe(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def start(self) -> None:
        """Begin listening (inside the running event loop)."""
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def ready(self, timeout_s: float = 5.0) -> bool:
        """Whether the subscription is in place (tests wait for it before acting on another replica)."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Never waits: sent in the background; a failure is reported once on stderr."""
        message = orjson.dumps({"from": self.replica, "kind": kind, "data": data})
        task = asyncio.get_running_loop().create_task(self._publish(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, message: bytes) -> None:
        try:
            await self._redis.publish(self._channel, message)
        except (RedisError, OSError) as exc:
            self._warn(f"could not publish to Redis: {exc}")

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._ready.set()
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                        if message is not None:
                            self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._ready.clear()
                self._warn(f"lost the Redis subscription ({exc}); reconnecting")
                await asyncio.sleep(1.0)

    def _apply(self, raw: object) -> None:
        try:
            event = orjson.loads(raw) if isinstance(raw, bytes | str) else None
            if not isinstance(event, dict) or event.get("from") == self.replica:
                return
            handler = self._handlers.get(str(event.get("kind")))
            if handler is not None and isinstance(event.get("data"), dict):
                handler(event["data"])
        except Exception as exc:  # a malformed or foreign event must not end the subscription
            self._warn(f"ignored an event: {type(exc).__name__}: {exc}")

    def _warn(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            print(f"tierwise: warning: {text}", file=sys.stderr)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        await self._redis.aclose()
