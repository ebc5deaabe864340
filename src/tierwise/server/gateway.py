"""The gateway's long-lived parts, created when the server starts and closed when it stops."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from tierwise.config.settings import Settings
from tierwise.keys import KeyGuard, has_keys
from tierwise.ledger.store import Ledger
from tierwise.providers.cascade import CascadeDispatcher
from tierwise.providers.dispatch import Dispatcher
from tierwise.routing.decision import Router
from tierwise.routing.policies import build_policy, with_sessions
from tierwise.server.guard import Guard, OpenGuard
from tierwise.state import open_key_state
from tierwise.telemetry import Telemetry


@dataclass(slots=True)
class Gateway:
    settings: Settings
    router: Router
    policy: Router  # the router without session state, for questions that must not move a session
    dispatcher: Dispatcher
    cascade: CascadeDispatcher
    ledger: Ledger
    guard: Guard
    session: aiohttp.ClientSession
    upstream_keys: tuple[str, ...]  # never to be shown: redacted from errors and ledger rows
    telemetry: Telemetry

    @classmethod
    def start(cls, settings: Settings, *, worker: WorkerPlace | None = None) -> Gateway:
        """Must run inside the event loop (the HTTP client session binds to it)."""
        place = worker or WorkerPlace()
        telemetry = Telemetry.start(settings, metrics_dir=place.metrics_dir, worker=place.index, workers=place.workers)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True),
            auto_decompress=True,
        )
        escalation = settings.tiers.get("escalation") or ()
        dispatcher = Dispatcher(settings, session)
        ledger = Ledger(
            settings.ledger_path,
            models=settings.models,
            baseline=escalation[0] if escalation else None,
            observers=telemetry.observers,
        )
        # Keys are checked once any key was created (revoked ones too: revoking the last must not open the door).
        guard: Guard = (
            KeyGuard(settings, state=open_key_state(settings.state)) if has_keys(settings.ledger_path) else OpenGuard()
        )
        policy = build_policy(settings)
        return cls(
            settings=settings,
            router=with_sessions(policy, settings),
            policy=policy,
            dispatcher=dispatcher,
            cascade=CascadeDispatcher(settings, dispatcher),
            ledger=ledger,
            guard=guard,
            session=session,
            upstream_keys=tuple(p.api_key for p in settings.providers.values() if p.api_key),
            telemetry=telemetry,
        )

    def circuit_states(self) -> dict[str, str]:
        return {alias: self.dispatcher.circuit(alias).state for alias in self.settings.models}

    async def close(self) -> None:
        await self.session.close()
        await self.guard.close()
        self.ledger.close()
        self.telemetry.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPlace:
    """Where this process stands among the gateway's workers (``serve --workers N``)."""

    index: int = 0
    workers: int = 1
    metrics_dir: str | None = None  # shared by the workers: each one's metric totals, for whoever is scraped
