"""Settings on a temporary ledger file, a clock the tests move by hand, and one routed call to admit."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tierwise.config.loader import load_settings
from tierwise.config.settings import Settings
from tierwise.keys import KeyGrant, KeyGuard, KeyLimits, KeyStore, NewKey
from tierwise.keys.estimate import MESSAGE_TOKEN_BOUND
from tierwise.ledger.entry import LedgerEntry
from tierwise.routing.decision import RouteInput, RoutingDecision, Tier
from tierwise.types import ChatRequest, Message, TextPart, Usage

T = TypeVar("T")
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(load_settings(environ={}), ledger_path=str(tmp_path / "tierwise.db"))


@dataclasses.dataclass(frozen=True)
class Call:
    request: ChatRequest
    decision: RoutingDecision
    route: RouteInput


def call(
    model: str = "claude-sonnet-4-6",
    tier: Tier | None = "default",
    *,
    tokens: int = 1000,
    max_tokens: int | None = 1000,
    fallbacks: tuple[str, ...] = (),
) -> Call:
    # A prompt whose byte bound (what budgets reserve, see keys/estimate.py) is exactly ``tokens``.
    text = "x" * max(1, tokens - MESSAGE_TOKEN_BOUND)
    request = ChatRequest(
        model="auto", messages=(Message(role="user", parts=(TextPart(text=text),)),), max_tokens=max_tokens
    )
    return Call(
        request=request,
        decision=RoutingDecision(model=model, tier=tier, reasons=("test",), fallbacks=fallbacks),
        route=RouteInput(requested_model="auto", prompt="hi", estimated_tokens=tokens),
    )


def make(settings: Settings, clock: Clock, **limits: object) -> tuple[KeyGuard, NewKey]:
    new = KeyStore(settings.ledger_path).create("test", KeyLimits(**limits))  # type: ignore[arg-type]
    return KeyGuard(settings, clock=clock, refresh_s=None), new


def finished(grant: KeyGrant, model: str = "claude-sonnet-4-6", usage: Usage | None = None) -> LedgerEntry:
    entry = LedgerEntry(request_id="r", started_at=time.time(), api="openai", model=model, key_id=grant.key_id)
    entry.usage = usage or Usage(input_tokens=1000, output_tokens=200)  # $0.003 + $0.003
    grant.settle(entry)
    return entry


def admitted(guard: KeyGuard, key: str, c: Call | None = None) -> KeyGrant:
    c = c or call()
    grant = guard.authenticate({"authorization": f"Bearer {key}"})
    run_now(grant.admit(c.request, c.decision, c.route))
    return grant


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must not wait (the memory state never does), inside or outside an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("the memory key state waited")
