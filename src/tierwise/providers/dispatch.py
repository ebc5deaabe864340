"""Carry out a routing decision: call its model, retry, fall back, record every attempt.

The order: the chosen model (retried on retryable failures, see ``retry``), then the decision's fallbacks,
then, when configured, the usable models of the tiers above. A model whose circuit is open (``breaker``)
is skipped without a call. A failure the request itself caused is relayed at once.

For streams, events are held back until the first content arrives, so a stream that fails before the
client has seen anything is retried and falls back like any call.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from tierwise.config.settings import ModelSettings, Settings
from tierwise.errors import (
    GatewayMisconfigured,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.providers.adapt import adapt
from tierwise.providers.breaker import Circuit, circuits_for
from tierwise.providers.retry import retry_delay
from tierwise.providers.upstream import UpstreamProvider
from tierwise.routing.decision import RoutingDecision
from tierwise.types import ChatRequest, ChatResponse, StreamEvent, StreamStart

T = TypeVar("T")


@dataclass(slots=True)
class OpenedStream:
    model: ModelSettings
    buffered: list[StreamEvent]  # events received up to the first content, to be sent first
    rest: AsyncGenerator[list[StreamEvent], None]  # the remaining events, in batches (one per network read)


class Dispatcher:
    def __init__(
        self, settings: Settings, session: aiohttp.ClientSession, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._reliability = settings.reliability
        self._providers = {name: UpstreamProvider(p, session) for name, p in settings.providers.items()}
        self._circuits = circuits_for(settings.models, settings.reliability.breaker, clock=clock)

    def circuit(self, alias: str) -> Circuit:
        """The circuit breaker of a model alias (for health reporting)."""
        return self._circuits[alias]

    async def complete(self, request: ChatRequest, decision: RoutingDecision, entry: LedgerEntry) -> ChatResponse:

        async def call(model: ModelSettings) -> ChatResponse:
            return await self._providers[model.provider.name].complete(_fitted(request, model, entry), model)

        return await self._run(call, decision, entry)

    async def open_stream(self, request: ChatRequest, decision: RoutingDecision, entry: LedgerEntry) -> OpenedStream:
        async def call(model: ModelSettings) -> OpenedStream:
            events = self._providers[model.provider.name].stream(_fitted(request, model, entry), model)
            try:
                buffered = await _until_content(events, model)
            except BaseException:
                await events.aclose()
                raise
            return OpenedStream(model=model, buffered=buffered, rest=events)

        return await self._run(call, decision, entry)

    async def _run(
        self,
        call: Callable[[ModelSettings], Awaitable[T]],
        decision: RoutingDecision,
        entry: LedgerEntry,
    ) -> T:
        last_error: UpstreamError | None = None
        missing_keys: dict[str, None] = {}  # an ordered set of the key variables found unset
        for model in self._candidates(decision, entry):
            _mark(entry, model)
            if (skip := _missing_key(model, entry)) is not None:
                last_error = skip
                missing_keys[str(model.provider.api_key_env)] = None
                continue
            circuit = self._circuits[model.alias]
            retry = 0
            while True:
                if not circuit.allow():
                    last_error = _circuit_open(model, circuit, entry)
                    break
                started = time.perf_counter()
                try:
                    result = await call(model)
                except UpstreamError as err:
                    entry.attempts.append(_failed_attempt(model, err, started))
                    if not err.retryable:
                        circuit.succeeded()  # the model answered; the request was at fault
                        raise
                    circuit.failed()
                    last_error = err
                    delay = retry_delay(err, retry, self._reliability, random=random.random)
                    if delay is None or circuit.state == "open":
                        break
                    retry += 1
                    await asyncio.sleep(delay)
                    continue
                except BaseException:
                    circuit.abandoned()  # cancelled (client gone) or a bug: no verdict on the model
                    raise
                circuit.succeeded()
                entry.attempts.append(Attempt(model=model.alias, status=200, latency_ms=_ms_since(started)))
                return result
        raise _exhausted(last_error, missing_keys, entry)

    def _candidates(self, decision: RoutingDecision, entry: LedgerEntry) -> Iterator[ModelSettings]:
        """The decision's models in order: the chosen one, its fallbacks, then its escalations."""
        models = self._settings.models
        for alias in (decision.model, *decision.fallbacks):
            yield models[alias]
        for alias in decision.escalations:
            entry.tier = self._settings.tier_of(alias)  # moving up is visible in x-tierwise-tier and the ledger
            yield models[alias]


async def _until_content(batches: AsyncGenerator[list[StreamEvent], None], model: ModelSettings) -> list[StreamEvent]:
    buffered: list[StreamEvent] = []
    try:
        async with asyncio.timeout(model.provider.timeouts.first_token_s):
            async for batch in batches:
                buffered.extend(batch)
                if not all(isinstance(event, StreamStart) for event in batch):
                    break
    except TimeoutError:
        raise UpstreamTimeout(
            f"{model.alias}: no first token within {model.provider.timeouts.first_token_s:g}s"
        ) from None
    if not buffered or isinstance(buffered[-1], StreamStart):
        raise UpstreamConnectionError(f"{model.alias}: the stream ended before any content")
    return buffered


def _fitted(request: ChatRequest, model: ModelSettings, entry: LedgerEntry) -> ChatRequest:
    """The request as ``model`` takes it (see ``adapt``); what changed is added to the entry's reasons."""
    adapted = adapt(request, model)
    for note in adapted.notes:
        if note not in entry.reasons:
            entry.reasons = f"{entry.reasons}; {note}" if entry.reasons else note
    return adapted.request


def _mark(entry: LedgerEntry, model: ModelSettings) -> None:
    entry.model = model.alias
    entry.upstream_model = model.upstream_id
    entry.provider = model.provider.name


def _missing_key(model: ModelSettings, entry: LedgerEntry) -> UpstreamUnavailable | None:
    if not model.provider.missing_key:
        return None
    message = (
        f"{model.alias}: provider '{model.provider.name}' has no API key (${model.provider.api_key_env} is not set)"
    )
    entry.attempts.append(Attempt(model=model.alias, status=0, error=message))
    return UpstreamUnavailable(message)


def _circuit_open(model: ModelSettings, circuit: Circuit, entry: LedgerEntry) -> UpstreamUnavailable:
    if circuit.state == "open":
        why = f"circuit open after repeated failures; skipped without a call, probe in {circuit.reopens_in():.1f}s"
    else:
        why = "circuit half-open and its probe request is still running; skipped without a call"
    err = UpstreamUnavailable(f"{model.alias}: {why}")
    entry.attempts.append(Attempt(model=model.alias, status=0, error=err.message))
    return err


def _failed_attempt(model: ModelSettings, err: UpstreamError, started: float) -> Attempt:
    status = getattr(err, "upstream_status", 0)
    return Attempt(model=model.alias, status=status, error=err.message, latency_ms=_ms_since(started))


def _exhausted(last_error: UpstreamError | None, missing_keys: dict[str, None], entry: LedgerEntry) -> UpstreamError:
    if last_error is None:
        return UpstreamUnavailable("no model was available for this request")
    if len(entry.attempts) > 1 and all(attempt.status == 0 for attempt in entry.attempts) and missing_keys:
        # Every candidate was skipped, most for missing credentials: name the variables, not just the last model.
        tried = ", ".join(dict.fromkeys(attempt.model for attempt in entry.attempts))
        return GatewayMisconfigured(f"no model could be reached: ${', $'.join(missing_keys)} not set (tried {tried})")
    return last_error


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
