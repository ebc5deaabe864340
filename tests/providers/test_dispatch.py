"""The Dispatcher against a real local Anthropic server: retries, fallbacks, tiers, breakers on a hand clock.

Faults are scoped to one upstream model with prompt markers (``[[fail:529@m1]]``), so one model keeps failing
while the others answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import pytest

from tests.conftest import ANTHROPIC_KEY
from tests.upstreams import FakeAnthropic
from tierwise.config.loader import parse_settings
from tierwise.config.settings import Settings
from tierwise.errors import UpstreamStatusError
from tierwise.ledger.entry import LedgerEntry
from tierwise.providers.dispatch import Dispatcher
from tierwise.routing.candidates import decide_in_tier
from tierwise.routing.decision import RoutingDecision, Tier
from tierwise.routing.features import route_input
from tierwise.types import ChatRequest
from tierwise.wire.openai_chat import parse_request

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settings_for(upstream: FakeAnthropic, *, retries: int = 0, failures: int = 2) -> Settings:
    text = f"""
providers:
  anthropic: {{kind: anthropic, base_url: "{upstream.url}", api_key_env: KEY, timeouts: {{first_token: 2}}}}
models:
  m1: {{provider: anthropic, id: m1}}
  m2: {{provider: anthropic, id: m2}}
  tiny: {{provider: anthropic, id: tiny, context_window: 50}}
  m3: {{provider: anthropic, id: m3}}
tiers:
  default: [m1, m2]
  escalation: [tiny, m3]
routing: {{sticky_sessions: false}}
reliability:
  retries: {retries}
  backoff_base: 0.001
  backoff_max: 0.002
  circuit_breaker: {{failures: {failures}, cooldown: 30}}
"""
    return parse_settings(text, source="test.yaml", environ={"KEY": ANTHROPIC_KEY})


def chat(prompt: str, *, stream: bool = False) -> ChatRequest:
    return parse_request({"model": "auto", "stream": stream, "messages": [{"role": "user", "content": prompt}]})


def decision(model: str, *fallbacks: str, tier: Tier | None = "default", policy: str = "rules") -> RoutingDecision:
    return RoutingDecision(model=model, tier=tier, reasons=("test",), fallbacks=fallbacks, policy=policy)


def entry() -> LedgerEntry:
    return LedgerEntry(request_id="t", started_at=0.0, api="openai")


def run(settings: Settings, clock: Clock, scenario: Callable[[Dispatcher], Awaitable[T]]) -> T:
    async def main() -> T:
        async with aiohttp.ClientSession() as session:
            return await scenario(Dispatcher(settings, session, clock=clock))

    return asyncio.run(main())


def calls_to(upstream: FakeAnthropic, model: str) -> int:
    return sum(1 for r in upstream.requests if isinstance(r.body, dict) and r.body.get("model") == model)


def test_the_breaker_skips_a_failing_model_until_a_probe_succeeds(fake_anthropic: FakeAnthropic) -> None:
    clock = Clock()

    async def scenario(dispatcher: Dispatcher) -> None:
        failing = chat("[[fail:529@m1]] hello")
        for _ in range(2):  # two failures in a row open m1's circuit; m2 answers each time
            record = entry()
            await dispatcher.complete(failing, decision("m1", "m2"), record)
            assert [(a.model, a.status) for a in record.attempts] == [("m1", 529), ("m2", 200)]
        assert dispatcher.circuit("m1").state == "open"
        assert calls_to(fake_anthropic, "m1") == 2

        record = entry()
        await dispatcher.complete(chat("hello"), decision("m1", "m2"), record)
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 0), ("m2", 200)]
        assert "circuit open" in (record.attempts[0].error or "")
        assert calls_to(fake_anthropic, "m1") == 2  # skipped without a call

        clock.now += 30  # cooled down: the next request is the probe, and it fails
        record = entry()
        await dispatcher.complete(failing, decision("m1", "m2"), record)
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 529), ("m2", 200)]
        assert dispatcher.circuit("m1").state == "open"

        clock.now += 29  # re-opened for a full cooldown
        record = entry()
        await dispatcher.complete(chat("hello"), decision("m1", "m2"), record)
        assert record.attempts[0].status == 0 and calls_to(fake_anthropic, "m1") == 3

        clock.now += 1  # the second probe succeeds and closes it
        record = entry()
        response = await dispatcher.complete(chat("hello"), decision("m1", "m2"), record)
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 200)]
        assert response.model == "m1"
        assert dispatcher.circuit("m1").state == "closed"

    run(settings_for(fake_anthropic), clock, scenario)


def test_retries_stop_when_the_circuit_opens(fake_anthropic: FakeAnthropic) -> None:
    async def scenario(dispatcher: Dispatcher) -> None:
        record = entry()
        await dispatcher.complete(chat("[[fail:500@m1]] x"), decision("m1", "m2"), record)
        # 5 retries allowed, but the second failure opens the circuit: move on rather than keep hammering.
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 500), ("m1", 500), ("m2", 200)]

    run(settings_for(fake_anthropic, retries=5, failures=2), Clock(), scenario)


def test_a_stream_failing_before_its_first_byte_is_retried_then_falls_back(fake_anthropic: FakeAnthropic) -> None:
    async def scenario(dispatcher: Dispatcher) -> None:
        record = entry()
        opened = await dispatcher.open_stream(chat("[[reset@m1]] stream it", stream=True), decision("m1", "m2"), record)
        try:
            events = [*opened.buffered, *[event async for batch in opened.rest for event in batch]]
        finally:
            await opened.rest.aclose()
        assert opened.model.alias == "m2" and len(events) > 2
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 0), ("m1", 0), ("m2", 200)]
        assert all((a.error or "").startswith("m1: ") for a in record.attempts[:2])

    run(settings_for(fake_anthropic, retries=1, failures=10), Clock(), scenario)


def test_a_request_fault_is_raised_at_once_and_does_not_count_against_the_model(
    fake_anthropic: FakeAnthropic,
) -> None:
    async def scenario(dispatcher: Dispatcher) -> None:
        record = entry()
        await dispatcher.complete(chat("[[fail:500@m1]] x"), decision("m1", "m2"), record)
        assert dispatcher.circuit("m1").failures == 4  # the first try and three retries
        record = entry()
        with pytest.raises(UpstreamStatusError) as err:
            await dispatcher.complete(chat("[[fail:400@m1]] x"), decision("m1", "m2"), record)
        assert err.value.upstream_status == 400
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 400)]  # no retry, no fallback
        assert dispatcher.circuit("m1").failures == 0  # the model answered

    run(settings_for(fake_anthropic, retries=3, failures=5), Clock(), scenario)


def test_a_failed_tier_moves_up_skipping_models_that_cannot_take_the_request(fake_anthropic: FakeAnthropic) -> None:
    async def scenario(dispatcher: Dispatcher) -> None:
        record = entry()
        record.tier = "default"
        prompt = "[[fail:529@m1]] [[fail:529@m2]] " + "a long prompt " * 40  # too long for tiny's 50 tokens
        request = chat(prompt)
        # Routing works out the escalations (models of the tiers above that can take the request).
        planned = decide_in_tier(settings, "default", ["test"], route_input(request, {}), policy="rules")
        assert planned.escalations == ("m3",)
        await dispatcher.complete(request, planned, record)
        assert [(a.model, a.status) for a in record.attempts] == [("m1", 529), ("m2", 529), ("m3", 200)]
        assert record.tier == "escalation" and record.model == "m3"
        assert calls_to(fake_anthropic, "tiny") == 0

    settings = settings_for(fake_anthropic)
    run(settings, Clock(), scenario)


def test_a_model_named_by_the_client_gets_no_other_model(fake_anthropic: FakeAnthropic) -> None:
    async def scenario(dispatcher: Dispatcher) -> None:
        record = entry()
        with pytest.raises(UpstreamStatusError):
            await dispatcher.complete(chat("[[fail:529@m1]] x"), decision("m1", policy="direct"), record)
        assert [a.model for a in record.attempts] == ["m1"]

    run(settings_for(fake_anthropic), Clock(), scenario)
