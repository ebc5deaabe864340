"""Agent sessions: a session's tier only moves up, and only for a stated reason.

Wraps any Router. A session is named by the client (``x-tierwise-session``, Claude Code's
``x-claude-code-session-id``, Codex's ``session_id``) or, failing that, by the caller and the conversation's
opening, from its first turn. Within a session each requested model is its own lane (Claude Code's main model
and its small background model are routed apart); subagents asking for the session's model share its lane.

A lane's tier never drops. It moves up when the policy says so, or when the conversation shows trouble (see
``routing.signals``): then the reasoning effort is raised first where the model reasons, and the tier after.
Every switch is stated (``RoutingDecision.switch``), and a switch to another model counts the prompt-cache
tokens of the previous turn that the new model has to read afresh.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tierwise.config.settings import SessionSettings, Settings
from tierwise.routing.candidates import decide_in_tier, pick_candidates
from tierwise.routing.decision import TIERS, RouteInput, Router, RoutingDecision, Tier
from tierwise.types import EFFORTS, Effort, Usage

_RANK = {tier: rank for rank, tier in enumerate(TIERS)}
_RAISED: dict[Effort | None, Effort] = {None: "high", "none": "low", "minimal": "low", "low": "medium"}
_RAISED["medium"] = "high"  # no further: "high" is the top every reasoning model accepts
_REASONS = frozenset({"thinking", "adaptive_thinking", "effort"})  # a model that can be asked to reason harder
_ACTED_KEPT = 64  # signal levels remembered per session (conversations x signals)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionState:
    """One lane of one session, as the store keeps it (plain values, so that any store can hold it)."""

    tier: Tier
    effort: Effort | None = None  # the effort the session raised to on this tier
    model: str | None = None  # the model alias that answered the last turn
    cached_tokens: int = 0  # the prompt-cache tokens (read and written) of that turn: the prefix a switch forfeits
    acted: tuple[tuple[str, int], ...] = ()  # ("<conversation>:<signal>", level last acted on)


class SessionStore(Protocol):
    """Where session lanes live. In memory here; a shared store (Redis) can stand behind the same methods."""

    def get(self, key: str) -> SessionState | None: ...
    def put(self, key: str, state: SessionState) -> None: ...


class MemorySessionStore:
    """A bounded, least-recently-used map whose entries expire ``ttl_s`` after their last use."""

    def __init__(self, *, capacity: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[SessionState, float]] = OrderedDict()

    def get(self, key: str) -> SessionState | None:
        found = self._items.get(key)
        if found is None:
            return None
        if self._clock() - found[1] > self._ttl_s:
            del self._items[key]
            return None
        return found[0]

    def put(self, key: str, state: SessionState) -> None:
        self._items[key] = (state, self._clock())
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


def encode_state(state: SessionState) -> dict[str, Any]:
    """A lane as plain JSON values, for a store shared between replicas."""
    return {
        "tier": state.tier,
        "effort": state.effort,
        "model": state.model,
        "cached_tokens": state.cached_tokens,
        "acted": [list(item) for item in state.acted],
    }


def decode_state(data: dict[str, Any]) -> SessionState:
    return SessionState(
        tier=data["tier"],
        effort=data.get("effort"),
        model=data.get("model"),
        cached_tokens=int(data.get("cached_tokens") or 0),
        acted=tuple((str(slot), int(level)) for slot, level in data.get("acted") or ()),
    )


def session_key(route_input: RouteInput) -> str | None:
    """The lane's key: caller, session (or conversation) and requested model; None when there is no conversation."""
    name = route_input.session if route_input.session is not None else route_input.conversation
    if name is None:
        return None
    kind = "s" if route_input.session is not None else "c"
    return f"{route_input.caller or '-'}|{kind}:{name}|{route_input.requested_model}"


class SessionRouter:
    def __init__(self, inner: Router, settings: Settings, store: SessionStore | None = None) -> None:
        self.name = inner.name
        self._inner = inner
        self._settings = settings
        self._rules: SessionSettings = settings.routing.sessions
        self._store: SessionStore = store or MemorySessionStore(capacity=self._rules.capacity, ttl_s=self._rules.ttl_s)

    @property
    def store(self) -> SessionStore:
        return self._store

    def decide(self, route_input: RouteInput) -> RoutingDecision:
        decision = self._inner.decide(route_input)
        key = session_key(route_input)
        if key is None or decision.tier is None or decision.policy == "direct":
            return decision  # a model the client pinned is used as it is
        state = self._store.get(key)
        decision, acted, switch = self._follow(route_input, decision, state)
        if decision.effort is None and state is not None and state.effort is not None and decision.tier == state.tier:
            decision = replace(decision, effort=_higher(state.effort, route_input.effort))  # a raise lasts
        if switch is not None:
            decision = replace(decision, switch=switch, forfeited_cache_tokens=_forfeited(state, decision))
        assert decision.tier is not None
        self._store.put(
            key,
            SessionState(
                tier=decision.tier,
                effort=decision.effort,  # a move to another tier starts again from the client's own effort
                model=state.model if state else None,
                cached_tokens=state.cached_tokens if state else 0,
                acted=acted,
            ),
        )
        return decision

    def settle(self, route_input: RouteInput, model: str | None, usage: Usage) -> None:
        """Called after an answer: the model that gave it and the cached prefix it read or wrote."""
        key = session_key(route_input)
        state = self._store.get(key) if key is not None else None
        if key is None or state is None or model is None:
            return
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        self._store.put(key, replace(state, model=model, cached_tokens=cached))

    def _follow(
        self, route_input: RouteInput, decision: RoutingDecision, state: SessionState | None
    ) -> tuple[RoutingDecision, tuple[tuple[str, int], ...], str | None]:
        """The decision within the session's rules, the signal levels acted on, and the switch made (if any)."""
        tier = decision.tier
        assert tier is not None
        acted = dict(state.acted) if state else {}
        switch: str | None = None
        if state is not None and route_input.explicit_tier is None:
            held = state.tier
            if _RANK[tier] < _RANK[held]:
                reasons = [f"session stays on {held} (would have been {tier}: {decision.reason})"]
                # Held on its tier: a plain call there (a cascade would pay the premium tier twice).
                decision = decide_in_tier(self._settings, held, reasons, route_input, policy="sticky")
            elif _RANK[tier] > _RANK[held]:
                switch = f"tier {held}->{tier}: {decision.reason}"
                decision = _with_reason(decision, f"session moved up from {held} to {tier}")
        if self._rules.escalate:
            fired = self._fired(route_input, acted)
            if fired is not None and switch is None:
                decision, switch = self._escalate(route_input, decision, state, fired)
        kept = tuple(acted.items())[-_ACTED_KEPT:]
        return decision, kept, switch

    def _fired(self, route_input: RouteInput, acted: dict[str, int]) -> str | None:
        """The first signal at or past its threshold and above the level last acted on (which it becomes)."""
        rules = self._rules
        thresholds = {"tool_errors": rules.tool_errors, "repeated_calls": rules.repeated_calls}
        thresholds["corrections"] = rules.corrections
        levels = [*route_input.signals.levels(), ("context", route_input.estimated_tokens // rules.context_tokens)]
        fired: str | None = None
        for name, level in levels:
            slot = f"{route_input.conversation}:{name}"
            last = acted.get(slot, 0)
            if level < last:  # the trouble ended (a tool succeeded): a new run may act again
                acted[slot] = level
            elif level > last and level >= thresholds.get(name, 1) and fired is None:
                acted[slot] = level
                fired = _describe(name, level, rules)
        return fired

    def _escalate(
        self, route_input: RouteInput, decision: RoutingDecision, state: SessionState | None, signal: str
    ) -> tuple[RoutingDecision, str | None]:
        """Raise the reasoning effort where the model reasons and can go higher; else move one tier up."""
        assert decision.tier is not None
        model = self._settings.models[decision.model]
        carried = state.effort if state is not None and decision.tier == state.tier else None
        current = _higher(carried, route_input.effort)
        raised = _RAISED.get(current)
        if model.capabilities & _REASONS and raised is not None:
            shown = current or "default"
            return (
                replace(decision, effort=raised, reasons=(*decision.reasons, f"{signal}: effort {shown}->{raised}")),
                f"effort {shown}->{raised}: {signal}",
            )
        above = TIERS[_RANK[decision.tier] + 1 :]
        for tier in above:
            if pick_candidates(self._settings, tier, route_input).models:
                reasons = [*decision.reasons, f"{signal}: tier {decision.tier}->{tier}"]
                moved = decide_in_tier(self._settings, tier, reasons, route_input, policy="session")
                return moved, f"tier {decision.tier}->{tier}: {signal}"
        return _with_reason(decision, f"{signal}; already on the top tier"), None


def _higher(a: Effort | None, b: Effort | None) -> Effort | None:
    if a is None or b is None:
        return a or b
    return a if EFFORTS.index(a) >= EFFORTS.index(b) else b


def _forfeited(state: SessionState | None, decision: RoutingDecision) -> int:
    if state is None or state.model is None or state.model == decision.model:
        return 0
    return state.cached_tokens


def _describe(name: str, level: int, rules: SessionSettings) -> str:
    if name == "tool_errors":
        return f"{level} failed tool results in a row"
    if name == "repeated_calls":
        return f"the same tool call {level} times in a row"
    if name == "corrections":
        return f"the user corrected the model ({level} times)"
    return f"context past {level * rules.context_tokens // 1000}k tokens"


def _with_reason(decision: RoutingDecision, reason: str) -> RoutingDecision:
    return replace(decision, reasons=(*decision.reasons, reason))
