"""The gateway's long-lived parts, created when the server starts and closed when it stops."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from tierwise.config.settings import Settings
from tierwise.errors import ConfigError
from tierwise.keys import KeyGuard, has_keys
from tierwise.ledger.database import Database
from tierwise.ledger.store import Ledger
from tierwise.providers.cascade import CascadeDispatcher
from tierwise.providers.dispatch import Dispatcher
from tierwise.redaction import Redactor
from tierwise.routing.decision import Router
from tierwise.routing.policies import build_policy, with_sessions
from tierwise.routing.sessions import MemorySessionStore, SessionRouter, SessionStore, decode_state, encode_state
from tierwise.routing.tuning import Tuning
from tierwise.server.guard import Guard, OpenGuard
from tierwise.state import KeyState, open_bus, open_key_state
from tierwise.telemetry import Telemetry

if TYPE_CHECKING:
    from tierwise.evidence.service import EvidenceService
    from tierwise.state.bus import RedisBus


@dataclass(slots=True)
class Gateway:
    settings: Settings
    router: Router
    policy: Router  # the router without session state, for questions that must not move a session
    sessions: SessionRouter | None  # told how each answered turn went (None when sessions are off)
    dispatcher: Dispatcher
    cascade: CascadeDispatcher
    ledger: Ledger
    guard: Guard
    session: aiohttp.ClientSession
    redactor: Redactor  # the upstream keys, never to be shown: redacted from errors and ledger rows
    telemetry: Telemetry
    evidence: EvidenceService | None = None  # sampled requests, shadow calls, judges (``evidence.enabled``)
    bus: RedisBus | None = None  # events between replicas (shared state only)
    tuning: Tuning | None = None  # the learned policy's operating point, when evidence sets it

    @classmethod
    def start(cls, settings: Settings, *, worker: WorkerPlace | None = None) -> Gateway:
        """Must run inside the event loop (the HTTP client session binds to it). What can refuse to start (the
        ledger file, the keys, the router) comes first, so a refusal leaves nothing open behind it."""
        place = worker or WorkerPlace()
        telemetry = Telemetry.start(settings, metrics_dir=place.metrics_dir, worker=place.index, workers=place.workers)
        escalation = settings.tiers.get("escalation") or ()
        try:
            ledger = Ledger(
                settings.ledger_path,
                models=settings.models,
                baseline=escalation[0] if escalation else None,
                observers=telemetry.observers,
                postgres_url=settings.ledger.url if settings.ledger.backend == "postgres" else None,
            )
        except BaseException:
            telemetry.close()
            raise
        tuning = Tuning() if settings.routing.target is not None else None
        try:
            policy = build_policy(settings, tuning=tuning)
            guard = _guard(settings, quiet=place.index > 0)
        except BaseException:
            ledger.close()
            telemetry.close()
            raise
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True),
            auto_decompress=True,
        )
        dispatcher = Dispatcher(settings, session)
        redactor = Redactor(p.api_key for p in settings.providers.values())
        evidence = None
        if settings.evidence.enabled:
            from tierwise.evidence.service import EvidenceService
            from tierwise.evidence.store import LedgerEvidenceStore
            from tierwise.ledger.database import Database

            evidence = EvidenceService(
                settings,
                store=LedgerEvidenceStore(Database.of(settings)),
                dispatcher=dispatcher,
                ledger=ledger,
                session=session,
                redactor=redactor,
                tuning=tuning,
                primary=place.index == 0,  # one worker recalibrates; the others adopt what it records
            )
            evidence.start()
        bus = open_bus(settings.state)
        if bus is not None:
            _share_circuits(bus, dispatcher, settings)
            bus.start()
        router = with_sessions(policy, settings, store=_shared_sessions(bus, settings))
        return cls(
            settings=settings,
            router=router,
            policy=policy,
            sessions=router if isinstance(router, SessionRouter) else None,
            dispatcher=dispatcher,
            cascade=CascadeDispatcher(settings, dispatcher),
            ledger=ledger,
            guard=guard,
            session=session,
            redactor=redactor,
            telemetry=telemetry,
            evidence=evidence,
            bus=bus,
            tuning=tuning,
        )

    def reloaded(self, settings: Settings) -> Gateway:
        """The gateway on new settings (SIGHUP), sharing this one's HTTP client, ledger, telemetry, evidence,
        bus and key state. Raises (a ConfigError, say) before anything is swapped if the settings do not work."""
        policy = build_policy(settings, tuning=self.tuning)
        state = self.guard.state if isinstance(self.guard, KeyGuard) else None
        guard = _guard(settings, quiet=True, state=state)
        dispatcher = Dispatcher(settings, self.session)
        if self.bus is not None:
            _share_circuits(self.bus, dispatcher, settings)
        # Sessions outlive a reload: a conversation keeps its tier across a configuration change.
        router = with_sessions(policy, settings, store=self.sessions.store if self.sessions is not None else None)
        return Gateway(
            settings=settings,
            router=router,
            policy=policy,
            sessions=router if isinstance(router, SessionRouter) else None,
            dispatcher=dispatcher,
            cascade=CascadeDispatcher(settings, dispatcher),
            ledger=self.ledger,
            guard=guard,
            session=self.session,
            redactor=Redactor(p.api_key for p in settings.providers.values()),
            telemetry=self.telemetry,
            evidence=self.evidence,
            bus=self.bus,
            tuning=self.tuning,
        )

    async def retire(self) -> None:
        """After a reload: stop what only this gateway owned (its key refresher), keep what the new one shares."""
        if isinstance(self.guard, KeyGuard):
            self.guard.stop_refreshing()

    def circuit_states(self) -> dict[str, str]:
        return {alias: self.dispatcher.circuit(alias).state for alias in self.settings.models}

    async def close(self) -> bool:
        """Whether every ledger row was written (False: some were spilled, and the process should say so)."""
        if self.evidence is not None:
            await self.evidence.close()
        await self.session.close()
        await self.guard.close()
        if self.bus is not None:
            await self.bus.close()
        written = self.ledger.close()
        self.telemetry.close()
        return written


def _share_circuits(bus: RedisBus, dispatcher: Dispatcher, settings: Settings) -> None:
    """A circuit that opens or closes here opens or closes on every replica."""
    for alias in settings.models:
        dispatcher.circuit(alias).on_change = lambda state, alias=alias: bus.publish(
            "circuit", {"model": alias, "state": state}
        )

    def apply(data: dict[str, object]) -> None:
        alias = data.get("model")
        if isinstance(alias, str) and alias in settings.models:
            dispatcher.circuit(alias).apply_remote(str(data.get("state")))

    bus.subscribe("circuit", apply)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPlace:
    """Where this process stands among the gateway's workers (``serve --workers N``)."""

    index: int = 0
    workers: int = 1
    metrics_dir: str | None = None  # shared by the workers: each one's metric totals, for whoever is scraped


def _guard(settings: Settings, *, quiet: bool = False, state: KeyState | None = None) -> Guard:
    """Keys are checked once any key was created (revoked ones too: revoking the last must not open the door).
    Says which mode it is on stderr (``quiet``: a worker after the first); with ``server.require_keys``, an
    open gateway refuses to start."""
    database = Database.of(settings)
    path = Path(settings.ledger_path).resolve() if database.backend == "sqlite" else database.where
    if has_keys(database):
        guard = KeyGuard(settings, state=state if state is not None else open_key_state(settings.state))
        if not quiet:
            print(f"tierwise: auth: gateway keys required ({guard.active_keys} active, in {path})", file=sys.stderr)
        return guard
    if settings.server.require_keys:
        raise ConfigError(
            f"keys are required (server.require_keys / --require-keys) but the ledger {path} holds no gateway key; "
            "create one with `tierwise keys create NAME` (same --config), or check ledger.path"
        )
    if not quiet:
        print(
            f"tierwise: auth: OPEN: no gateway keys in {path}, every request is served without a key "
            "(set server.require_keys: true to refuse to start like this)",
            file=sys.stderr,
        )
    return OpenGuard()


def _shared_sessions(bus: RedisBus | None, settings: Settings) -> SessionStore | None:
    """With a Redis bus (``state.backend: redis``) every replica sees each session's tier: reads stay local, a
    change is published to the others. None: the session router's own in-memory store."""
    if bus is None or not settings.routing.sticky_sessions:
        return None
    from tierwise.state.replicated import ReplicatedStore  # imports the Redis client: only when one is configured

    rules = settings.routing.sessions
    local = MemorySessionStore(capacity=rules.capacity, ttl_s=rules.ttl_s)
    return ReplicatedStore(local, bus, kind="session", encode=encode_state, decode=decode_state)
