"""A key-value store whose writes every replica sees: reads stay local and synchronous (routing never waits on
the network), a changed value is published on the Redis event bus and written into each other replica's copy.

Used for sessions: a conversation whose tier moved up on one replica is held there on every replica from its
next turn on. Unchanged values are not published again, so steady traffic costs no Redis messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from tierwise.state.bus import RedisBus

V = TypeVar("V")


class LocalStore(Protocol[V]):
    def get(self, key: str) -> V | None: ...
    def put(self, key: str, value: V) -> None: ...


class ReplicatedStore(Generic[V]):
    def __init__(
        self,
        local: LocalStore[V],
        bus: RedisBus,
        *,
        kind: str,
        encode: Callable[[V], dict[str, Any]],
        decode: Callable[[dict[str, Any]], V],
    ) -> None:
        self._local = local
        self._bus = bus
        self._kind = kind
        self._encode = encode
        self._decode = decode
        bus.subscribe(kind, self._apply)

    def get(self, key: str) -> V | None:
        return self._local.get(key)

    def put(self, key: str, value: V) -> None:
        changed = self._local.get(key) != value
        self._local.put(key, value)
        if changed:
            self._bus.publish(self._kind, {"key": key, "value": self._encode(value)})

    def _apply(self, data: dict[str, Any]) -> None:
        key, value = data.get("key"), data.get("value")
        if isinstance(key, str) and isinstance(value, dict):
            self._local.put(key, self._decode(value))
