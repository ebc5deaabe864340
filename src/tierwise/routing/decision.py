"""The one routing interface: a request's features in, a decision with its reasons out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from tierwise.routing.signals import Signals
from tierwise.types import Effort

Tier = Literal["speed", "default", "escalation"]
TIERS: tuple[Tier, ...] = ("speed", "default", "escalation")


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteInput:
    """What a router may look at. Built once per request from the ChatRequest and its headers."""

    requested_model: str  # "auto", "tier/<name>", or a model alias
    prompt: str  # the text of the last user turn (what learned routers score)
    estimated_tokens: int  # the whole prompt: system, history, tools
    max_output_tokens: int | None = None  # what the client asked for, reserved in the context window
    needs_tools: bool = False
    needs_vision: bool = False
    needs_thinking: bool = False
    stream: bool = False
    explicit_tier: Tier | None = None  # from model="tier/..." or the x-tierwise-tier header
    latency: str | None = None  # x-tierwise-latency, e.g. "realtime"
    task: str | None = None  # a task label if the caller gave one (x-tierwise-task)
    session: str | None = None  # the client's session id (x-tierwise-session or the agent's own header)
    conversation: str | None = None  # identifies a conversation (of one caller) by its opening, from turn one
    caller: str | None = None  # the gateway key's id: sessions of different callers never share a tier
    effort: Effort | None = None  # the reasoning effort the client asked for
    signals: Signals = field(default_factory=Signals)  # what the conversation shows about how it is going


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingDecision:
    """The chosen model, the tier it came from, the ordered fallbacks, and why."""

    model: str  # model alias
    tier: Tier | None  # None when the client named a model directly
    reasons: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()  # aliases of the same tier to try next, in order
    escalations: tuple[str, ...] = ()  # then, when every one of those failed: usable models of the tiers above
    policy: str = "rules"
    score: float | None = None  # a learned router's score, when one was used
    cascade: bool = False  # answer on the cheap tier, check it, escalate on disagreement (see providers.cascade)
    effort: Effort | None = None  # a reasoning effort to use instead of the client's (raised by its session)
    switch: str | None = None  # what the session changed on this turn and why (tier or effort), if anything
    forfeited_cache_tokens: int = 0  # the previous turn's cached prefix that the switch's new model pays afresh

    @property
    def reason(self) -> str:
        """One short human-readable line, for the x-tierwise-reason header."""
        return "; ".join(self.reasons)


class Router(Protocol):
    """Every routing strategy implements this, composition included (stickiness, cascade wrap a Router)."""

    name: str

    def decide(self, route_input: RouteInput) -> RoutingDecision: ...
