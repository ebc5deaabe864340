"""Carry out a routing decision: call its model, fall back along its list, record every attempt.

For streams, events are held back until the first content arrives, so a stream that fails before the
client has seen anything can still fall back to the next model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from tierwise.config.settings import ModelSettings, Settings
from tierwise.errors import UpstreamConnectionError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.providers.upstream import UpstreamProvider
from tierwise.routing.decision import RoutingDecision
from tierwise.types import ChatRequest, ChatResponse, StreamEvent, StreamStart


@dataclass(slots=True)
class OpenedStream:
    model: ModelSettings
    buffered: list[StreamEvent]  # events received before the first content, to be sent first
    rest: AsyncIterator[StreamEvent]


class Dispatcher:
    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._providers = {name: UpstreamProvider(p, session) for name, p in settings.providers.items()}

    def _candidates(self, decision: RoutingDecision) -> list[ModelSettings]:
        return [self._settings.models[alias] for alias in (decision.model, *decision.fallbacks)]

    async def complete(self, request: ChatRequest, decision: RoutingDecision, entry: LedgerEntry) -> ChatResponse:
        last_error: UpstreamError | None = None
        for model in self._candidates(decision):
            _mark(entry, model)
            if (skip := _missing_key(model, entry)) is not None:
                last_error = skip
                continue
            started = time.perf_counter()
            try:
                response = await self._providers[model.provider.name].complete(request, model)
            except UpstreamError as err:
                entry.attempts.append(_failed_attempt(model, err, started))
                last_error = err
                if not err.retryable:
                    raise
                continue
            entry.attempts.append(Attempt(model=model.alias, status=200, latency_ms=_ms_since(started)))
            return response
        raise _exhausted(last_error)

    async def open_stream(self, request: ChatRequest, decision: RoutingDecision, entry: LedgerEntry) -> OpenedStream:
        last_error: UpstreamError | None = None
        for model in self._candidates(decision):
            _mark(entry, model)
            if (skip := _missing_key(model, entry)) is not None:
                last_error = skip
                continue
            started = time.perf_counter()
            events = self._providers[model.provider.name].stream(request, model)
            try:
                buffered = await self._until_content(events, model)
            except UpstreamError as err:
                await events.aclose()
                entry.attempts.append(_failed_attempt(model, err, started))
                last_error = err
                if not err.retryable:
                    raise
                continue
            except BaseException:
                await events.aclose()
                raise
            entry.attempts.append(Attempt(model=model.alias, status=200, latency_ms=_ms_since(started)))
            return OpenedStream(model=model, buffered=buffered, rest=events)
        raise _exhausted(last_error)

    async def _until_content(self, events: AsyncIterator[StreamEvent], model: ModelSettings) -> list[StreamEvent]:
        buffered: list[StreamEvent] = []
        try:
            async with asyncio.timeout(model.provider.timeouts.first_token_s):
                async for event in events:
                    buffered.append(event)
                    if not isinstance(event, StreamStart):
                        break
        except TimeoutError:
            raise UpstreamTimeout(
                f"{model.alias}: no first token within {model.provider.timeouts.first_token_s:g}s"
            ) from None
        if not buffered or isinstance(buffered[-1], StreamStart):
            raise UpstreamConnectionError(f"{model.alias}: the stream ended before any content")
        return buffered


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


def _failed_attempt(model: ModelSettings, err: UpstreamError, started: float) -> Attempt:
    status = getattr(err, "upstream_status", 0)
    return Attempt(model=model.alias, status=status, error=err.message, latency_ms=_ms_since(started))


def _exhausted(last_error: UpstreamError | None) -> UpstreamError:
    if last_error is None:
        return UpstreamUnavailable("no model was available for this request")
    return last_error


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
