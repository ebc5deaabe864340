"""Sessions shared between replicas over the Redis bus: a session that moved up on one replica is held on the
other from its next turn (real Redis; two session routers, as two gateway replicas hold them)."""

from __future__ import annotations

import asyncio

from tests.state.conftest import redis_url
from tierwise.config.loader import default_config_text, parse_settings
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.features import route_input
from tierwise.routing.rules import RulesRouter
from tierwise.routing.sessions import MemorySessionStore, SessionRouter, SessionState, decode_state, encode_state
from tierwise.state.bus import RedisBus
from tierwise.state.replicated import ReplicatedStore
from tierwise.types import ChatRequest, Message, TextPart


def _ask(text: str) -> ChatRequest:
    return ChatRequest(model="auto", messages=(Message(role="user", parts=(TextPart(text=text),)),))


def test_a_session_moved_up_on_one_replica_is_held_on_the_other() -> None:
    settings = parse_settings(default_config_text(), source="default", environ={})
    state = SessionState(tier="default", effort="high", model="m", cached_tokens=5, acted=(("c:tool_errors", 2),))
    assert decode_state(encode_state(state)) == state

    async def main() -> None:
        buses = [RedisBus(redis_url()), RedisBus(redis_url())]
        routers, stores = [], []
        for bus in buses:
            store = ReplicatedStore(
                MemorySessionStore(capacity=100, ttl_s=60), bus, kind="session-test", encode=encode_state,
                decode=decode_state,
            )  # fmt: skip
            stores.append(store)
            routers.append(SessionRouter(RulesRouter(settings, KeywordTaskClassifier()), settings, store))
            bus.start()
            assert await bus.ready()
        headers = {"x-claude-code-session-id": "shared-1"}
        assert routers[0].decide(route_input(_ask("Prove that P != NP"), headers)).tier == "escalation"
        key = "-|s:shared-1|auto"
        for _ in range(500):
            if stores[1].get(key) is not None:
                break
            await asyncio.sleep(0.01)
        held = routers[1].decide(route_input(_ask("list the files"), headers))
        assert held.tier == "escalation" and "session stays on escalation" in held.reason
        for bus in buses:
            await bus.close()

    asyncio.run(main())
