"""The one routing interface: a request's features in, a decision with its reasons out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

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
    session: str | None = None  # x-tierwise-session, for stickiness
    conversation: int | None = None  # identifies a multi-turn conversation by its opening, for stickiness
    caller: str | None = None  # the gateway key's id: sessions of different callers never share a tier


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

    @property
    def reason(self) -> str:
        """One short human-readable line, for the x-tierwise-reason header."""
        return "; ".join(self.reasons)


class Router(Protocol):
    """Every routing strategy implements this, composition included (stickiness, cascade wrap a Router)."""

    name: str

    def decide(self, route_input: RouteInput) -> RoutingDecision: ...
