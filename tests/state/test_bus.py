"""The Redis event bus between replicas, on a real Redis: a replicated store's change reaches the other
replica's copy, its own echo is ignored, and an unchanged value is not sent again."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.state.conftest import redis_url
from tierwise.state.bus import RedisBus
from tierwise.state.replicated import ReplicatedStore


class Plain:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.puts = 0

    def get(self, key: str) -> dict[str, Any] | None:
        return self.items.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.puts += 1
        self.items[key] = value


def test_a_change_on_one_replica_reaches_the_other() -> None:
    async def main() -> None:
        url = redis_url()
        bus_a, bus_b = RedisBus(url), RedisBus(url)
        local_a, local_b = Plain(), Plain()
        store_a = ReplicatedStore(local_a, bus_a, kind="test-session", encode=dict, decode=dict)
        store_b = ReplicatedStore(local_b, bus_b, kind="test-session", encode=dict, decode=dict)
        for bus in (bus_a, bus_b):
            bus.start()
            assert await bus.ready()
        store_a.put("caller|s:1", {"tier": "escalation"})
        for _ in range(200):
            if store_b.get("caller|s:1") is not None:
                break
            await asyncio.sleep(0.01)
        assert store_b.get("caller|s:1") == {"tier": "escalation"}
        assert local_a.puts == 1  # A's own message came back and was ignored
        store_a.put("caller|s:1", {"tier": "escalation"})  # unchanged: not published again
        store_b.put("caller|s:2", {"tier": "default"})
        for _ in range(200):
            if store_a.get("caller|s:2") is not None:
                break
            await asyncio.sleep(0.01)
        assert store_a.get("caller|s:2") == {"tier": "default"}
        assert local_b.puts == 2  # its first copy, and its own put; not the unchanged re-put from A
        for bus in (bus_a, bus_b):
            await bus.close()

    asyncio.run(main())
