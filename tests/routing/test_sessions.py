"""Agent sessions: named by the client or by the conversation's opening from turn one, lanes per requested model,
tiers that only move up, and escalation on what the conversation shows (effort first, then the tier)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.config.settings import Settings
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.features import route_input
from tierwise.routing.rules import RulesRouter
from tierwise.routing.sessions import MemorySessionStore, SessionRouter, SessionState
from tierwise.routing.signals import read_signals
from tierwise.types import ChatRequest, Message, TextPart, ToolCallPart, ToolResultPart, ToolSpec, Usage

TOOLS = (ToolSpec(name="Bash", parameters={"type": "object"}),)


@pytest.fixture()
def settings() -> Settings:
    return parse_settings(default_config_text(), source="default", environ={})


@pytest.fixture()
def router(settings: Settings) -> SessionRouter:
    return SessionRouter(RulesRouter(settings, KeywordTaskClassifier()), settings)


def user(text: str) -> Message:
    return Message(role="user", parts=(TextPart(text=text),))


def call(command: str, n: int) -> Message:
    return Message(role="assistant", parts=(ToolCallPart(id=f"t{n}", name="Bash", arguments=f'{{"c":"{command}"}}'),))


def result(n: int, *, error: bool) -> Message:
    content = (TextPart(text="command not found" if error else "ok"),)
    return Message(role="user", parts=(ToolResultPart(tool_call_id=f"t{n}", content=content, is_error=error),))


def chat(*messages: Message, model: str = "auto", **fields: object) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, tools=TOOLS, **fields)  # type: ignore[arg-type]


def test_the_first_turn_is_remembered_without_any_header(router: SessionRouter) -> None:
    opening = user("Prove that there are infinitely many primes")
    first = router.decide(route_input(chat(opening), {}))
    assert first.tier == "escalation"
    answer = Message(role="assistant", parts=(TextPart(text="..."),))
    follow_up = chat(opening, answer, user("And what about twin primes then?"))
    held = router.decide(route_input(follow_up, {}))
    assert held.tier == "escalation" and held.reason.startswith("session stays on escalation")
    # Another user of the same (keyless) gateway opening the same way is another conversation.
    other = router.decide(route_input(replace(follow_up, user="someone-else"), {}))
    assert other.tier == "default"


def test_the_clients_session_header_names_the_session_and_each_model_is_its_own_lane(router: SessionRouter) -> None:
    headers = {"x-claude-code-session-id": "c8764450"}
    main = router.decide(route_input(chat(user("Prove that P != NP")), headers))
    assert main.tier == "escalation"  # a rule
    # A subagent: a new conversation in the same session, asking for the same model, follows the session.
    sub = router.decide(route_input(chat(user("list the files")), headers))
    assert sub.tier == "escalation" and "session stays on escalation" in sub.reason
    # The client's small background model is a lane of its own: not held up by the main one.
    background = router.decide(route_input(chat(user("a title for this chat"), model="claude-haiku-4-5-x"), headers))
    assert background.tier == "speed"
    # Codex's header works the same way.
    codex = router.decide(route_input(chat(user("list the files")), {"session-id": "c8764450"}))
    assert codex.tier == "escalation"  # the same name through Codex's header: the same session


def test_repeated_tool_errors_raise_effort_then_the_tier(router: SessionRouter) -> None:
    opening = user("fix the build")
    headers = {"x-tierwise-session": "s-1"}
    turns = [opening]
    first = router.decide(route_input(chat(*turns, reasoning_effort="medium"), headers))
    assert first.tier == "default" and first.switch is None and first.effort is None
    router.settle(route_input(chat(*turns), headers), first.model, Usage(input_tokens=9000, cache_read_tokens=8000))
    for n in range(2):
        turns += [call("make", n), result(n, error=True)]
    second = router.decide(route_input(chat(*turns, reasoning_effort="medium"), headers))
    assert second.tier == "default" and second.model == first.model  # same model: nothing forfeited
    assert second.effort == "high" and second.forfeited_cache_tokens == 0
    assert second.switch == "effort medium->high: 2 failed tool results in a row"
    # The raise lasts: the next turn without new trouble keeps it, and switches nothing.
    turns += [call("make test", 5), result(5, error=False)]
    calm = router.decide(route_input(chat(*turns, reasoning_effort="medium"), headers))
    assert calm.effort == "high" and calm.switch is None
    router.settle(route_input(chat(*turns), headers), calm.model, Usage(input_tokens=12000, cache_read_tokens=11000))
    # Trouble again, with the effort already at its top: the tier moves up, and the cache is forfeited.
    for n in range(6, 8):
        turns += [call(f"make {n}", n), result(n, error=True)]
    third = router.decide(route_input(chat(*turns, reasoning_effort="medium"), headers))
    assert third.tier == "escalation" and third.model == "claude-opus-4-7"
    assert third.switch == "tier default->escalation: 2 failed tool results in a row"
    assert third.forfeited_cache_tokens == 11000
    assert third.effort is None  # the new model starts from the client's own effort
    # And the session never drops back.
    assert router.decide(route_input(chat(opening, user("hi")), headers)).tier == "escalation"


def test_the_same_call_repeated_and_a_correcting_user_are_signals(settings: Settings) -> None:
    signals = read_signals(
        chat(user("go"), call("ls", 1), result(1, error=False), call("ls", 1), result(1, error=False))
    )
    assert signals.repeated_calls == 2 and signals.tool_errors == 0
    corrected = chat(user("go"), Message(role="assistant", parts=(TextPart(text="done"),)), user("No, that's wrong."))
    assert read_signals(corrected).corrections == 1
    reminder = chat(user("<system-reminder>\nNo tools were used.\n</system-reminder>"))
    assert read_signals(reminder).corrections == 0
    # A model that does not reason has no effort to raise: the tier moves at once.
    no_thinking = replace(
        settings,
        models={
            **settings.models,
            "claude-haiku-4-5": replace(settings.models["claude-haiku-4-5"], capabilities=frozenset({"tools"})),
        },
    )
    router = SessionRouter(RulesRouter(no_thinking, KeywordTaskClassifier()), no_thinking)
    headers = {"x-tierwise-session": "s-2"}
    router.decide(route_input(chat(user("hi"), model="tier/speed"), headers))
    moved = router.decide(route_input(replace(corrected, model="claude-haiku-4-5-new"), headers))
    assert moved.tier == "default" and moved.switch == "tier speed->default: the user corrected the model (1 times)"


def test_context_growing_past_the_threshold_is_a_signal(settings: Settings) -> None:
    small = replace(
        settings, routing=replace(settings.routing, sessions=replace(settings.routing.sessions, context_tokens=1000))
    )
    router = SessionRouter(RulesRouter(small, KeywordTaskClassifier()), small)
    headers = {"x-tierwise-session": "s-3"}
    assert router.decide(route_input(chat(user("start")), headers)).switch is None
    grown = router.decide(route_input(chat(user("start"), user("x" * 4400)), headers))
    assert grown.switch == "effort default->high: context past 1k tokens"
    again = router.decide(route_input(chat(user("start"), user("x" * 4600)), headers))
    assert again.switch is None  # the same level is not acted on twice


def test_escalation_can_be_turned_off(settings: Settings) -> None:
    off = replace(
        settings, routing=replace(settings.routing, sessions=replace(settings.routing.sessions, escalate=False))
    )
    router = SessionRouter(RulesRouter(off, KeywordTaskClassifier()), off)
    turns = [user("fix"), call("make", 0), result(0, error=True), call("make", 1), result(1, error=True)]
    decision = router.decide(route_input(chat(*turns), {"x-tierwise-session": "s-4"}))
    assert decision.switch is None and decision.effort is None


def test_the_memory_store_forgets_the_oldest_and_the_expired() -> None:
    now = [0.0]
    store = MemorySessionStore(capacity=2, ttl_s=10, clock=lambda: now[0])
    for key in ("a", "b", "c"):
        store.put(key, SessionState(tier="speed"))
    assert store.get("a") is None and store.get("b") is not None
    now[0] = 11.0
    assert store.get("c") is None
