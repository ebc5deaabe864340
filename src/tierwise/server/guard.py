"""Who may call the gateway, and how much: the interface the chat endpoints call, and the open default.

When no gateway keys are configured every request is let in (``OpenGuard``); ``tierwise.keys`` provides
the guard that checks virtual keys, allowed tiers, rate limits and budgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tierwise.ledger.entry import LedgerEntry
from tierwise.routing.decision import RouteInput, RoutingDecision
from tierwise.types import ChatRequest


class Grant(Protocol):
    """One request's permission, from authentication to settlement."""

    key_id: str | None

    async def admit(self, request: ChatRequest, decision: RoutingDecision, route_input: RouteInput) -> RoutingDecision:
        """Check allowed tiers and limits and reserve budget; raises a ClientError (403/429) to refuse.

        Returns the decision as permitted: without fallbacks into tiers the caller may not use."""

    def settle(self, entry: LedgerEntry) -> None:
        """Called exactly once when the request ends, admitted or not: release or charge the reservation."""


class Guard(Protocol):
    def authenticate(self, headers: Mapping[str, str]) -> Grant:
        """Raises AuthenticationFailed (401) when the request carries no valid key."""
        ...

    async def close(self) -> None: ...


class _OpenGrant:
    key_id: str | None = None

    async def admit(self, request: ChatRequest, decision: RoutingDecision, route_input: RouteInput) -> RoutingDecision:
        return decision

    def settle(self, entry: LedgerEntry) -> None:
        return None


_OPEN_GRANT = _OpenGrant()


class OpenGuard:
    """No keys configured: everyone is let in, nothing is counted."""

    def authenticate(self, headers: Mapping[str, str]) -> Grant:
        return _OPEN_GRANT

    async def close(self) -> None:
        return None
