"""The evidence service inside the gateway: ``observe`` is the request path's one call into it.

``observe`` samples (one random draw) and enqueues; it never waits and never raises. Background tasks then
store the sample, ask the shadow tier, judge the two answers and store the comparison; database work runs
on one background thread. With a ``routing.target``, a further task recalibrates the operating point.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
import orjson

from tierwise.config.settings import Settings
from tierwise.evidence.judges import Candidate, Case, Judge, JudgeFailed, build_judge
from tierwise.evidence.loop import Loop
from tierwise.evidence.records import Answer, Comparison, Finished, Sample
from tierwise.evidence.shadow import DAY_S, ShadowCaller, answer_of, shadow_tier
from tierwise.evidence.store import EvidenceStore
from tierwise.ledger.store import Ledger
from tierwise.providers.dispatch import Dispatcher
from tierwise.redaction import Redactor
from tierwise.routing.decision import TIERS, RoutingDecision
from tierwise.routing.features import last_user_text, route_input
from tierwise.routing.tuning import Tuning
from tierwise.types import ChatRequest

T = TypeVar("T")
_PRUNE_EVERY = 200  # samples between retention passes


class EvidenceService:
    def __init__(
        self,
        settings: Settings,
        *,
        store: EvidenceStore,
        dispatcher: Dispatcher,
        ledger: Ledger,
        session: aiohttp.ClientSession,
        redactor: Redactor,
        tuning: Tuning | None = None,
        primary: bool = True,
    ) -> None:
        self._settings = settings
        self._evidence = settings.evidence
        self._store = store
        self._redactor = redactor
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tierwise-evidence")
        self._queue: asyncio.Queue[Finished] = asyncio.Queue(maxsize=self._evidence.queue)
        self._dispatcher = dispatcher
        self._ledger = ledger
        spent = store.spend_since("shadow", (time.time() // DAY_S) * DAY_S)
        self._shadow = ShadowCaller(settings, dispatcher, ledger, redact=self._redact, spent_today=spent)
        self._judge: Judge = build_judge(self._evidence.judge, session, self._ask_judge)
        self._loop = Loop(settings, store, tuning) if tuning is not None and settings.routing.target else None
        self._primary = primary
        self._random = random.random
        self.dropped = 0
        self.captured = 0
        self.judged = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Adopt the last recorded operating point (before the first request is routed: a restart must not
        route on the default tier while the loop catches up), then start the background tasks (inside the
        running event loop)."""
        if self._loop is not None:
            self._loop.sync()
        for _ in range(self._evidence.shadow_concurrency):
            self._tasks.append(asyncio.create_task(self._work()))
        if self._loop is not None:
            self._tasks.append(asyncio.create_task(self._recalibrate()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pool.shutdown(wait=True)
        self._store.close()

    # -- the request path -----------------------------------------------------------------------------

    def observe(self, finished: Finished) -> None:
        """Sample and enqueue a finished request; constant time, never blocks, never raises."""
        entry = finished.entry
        if entry.status != 200 or entry.tier is None or (finished.response is None and finished.streamed is None):
            return
        rate = self._evidence.rate(entry.tier, entry.key_id)
        if rate <= 0 or self._random() >= rate:
            return
        try:
            self._queue.put_nowait(finished)
        except asyncio.QueueFull:
            self.dropped += 1

    # -- background -----------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            finished = await self._queue.get()
            try:
                await self._handle(finished)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop the evidence, nor ever reach a client
                traceback.print_exc(file=sys.stderr)

    async def _handle(self, finished: Finished) -> None:
        entry = finished.entry
        assert entry.tier is not None and entry.model is not None
        if finished.response is not None:
            answer = answer_of(finished.response)
        else:
            answer = Answer(text="".join(finished.streamed or ()))
        sample = Sample(
            sample_id="tve_" + secrets.token_hex(12),
            request_id=entry.request_id,
            created_at=entry.started_at,
            api=entry.api,
            key_id=entry.key_id,
            policy=entry.policy,
            tier=entry.tier,
            model=entry.model,
            score=finished.score,
            prompt=self._redact(last_user_text(finished.request)),
            request_body=self._redact(orjson.dumps(finished.body).decode()),
            answer=Answer(
                text=self._redact(answer.text),
                tool_calls=tuple((n, self._redact(a)) for n, a in answer.tool_calls),
            ),
            input_tokens=entry.usage.input_tokens,
            output_tokens=entry.usage.output_tokens,
        )
        await self._in_thread(self._store.add_sample, sample)
        self.captured += 1
        if self.captured % _PRUNE_EVERY == 0:
            before = time.time() - self._evidence.max_days * DAY_S
            await self._in_thread(lambda: self._store.prune(max_rows=self._evidence.max_rows, before=before))
        other = shadow_tier(self._settings, entry.tier)
        if not self._evidence.shadow or other is None or not self._shadow.within_budget():
            return
        await asyncio.sleep(0)  # the client's response goes out before any shadow work
        features = route_input(finished.request, {}, caller=entry.key_id)
        shadowed = await self._shadow.call(finished.request, features, other, of=entry)
        if shadowed is None:
            return
        shadow_entry, response = shadowed
        shadow_answer = answer_of(response)
        cheap_first = TIERS.index(entry.tier) < TIERS.index(other)
        served = Candidate(model=entry.model, tier=entry.tier, answer=sample.answer)
        shadow = Candidate(model=shadow_entry.model or "", tier=other, answer=shadow_answer)
        cheap, strong = (served, shadow) if cheap_first else (shadow, served)
        case = Case(api=entry.api, body=finished.body, prompt=sample.prompt, candidates=(cheap, strong))
        try:
            scores = await self._judge.score(case)
        except JudgeFailed as err:
            print(f"tierwise: evidence: {self._redact(err.message)}", file=sys.stderr)
            return
        served_cost = self._shadow.cost(entry.model, entry.usage)
        shadow_cost = self._shadow.cost(shadow_entry.model, response.usage)
        cheap_cost, strong_cost = (served_cost, shadow_cost) if cheap_first else (shadow_cost, served_cost)
        comparison = Comparison(
            sample_id=sample.sample_id,
            created_at=time.time(),
            judge=self._judge.name,
            cheap_tier=cheap.tier,
            cheap_model=cheap.model,
            cheap_score=scores[0],
            cheap_cost_usd=float(cheap_cost) if cheap_cost is not None else None,
            strong_tier=strong.tier,
            strong_model=strong.model,
            strong_score=scores[1],
            strong_cost_usd=float(strong_cost) if strong_cost is not None else None,
            served="cheap" if cheap_first else "strong",
            shadow_answer=Answer(
                text=self._redact(shadow_answer.text),
                tool_calls=tuple((n, self._redact(a)) for n, a in shadow_answer.tool_calls),
            ),
            shadow_input_tokens=response.usage.input_tokens,
            shadow_output_tokens=response.usage.output_tokens,
            shadow_request_id=shadow_entry.request_id,
        )
        await self._in_thread(self._store.add_comparison, comparison)
        self.judged += 1

    async def _ask_judge(self, request: ChatRequest) -> str:
        """The llm judge's call to its configured model, recorded in the ledger as judge traffic."""
        from tierwise.errors import UpstreamError
        from tierwise.ledger.entry import LedgerEntry

        alias = self._evidence.judge.model
        assert alias is not None
        decision = RoutingDecision(model=alias, tier=self._settings.tier_of(alias), reasons=("evidence judge",))
        entry = LedgerEntry(
            request_id="twj_" + secrets.token_hex(12), started_at=time.time(), api="openai",
            requested_model=alias, policy="judge", tier=decision.tier, reasons="evidence judge", traffic="judge",
        )  # fmt: skip
        started = time.perf_counter()
        try:
            response = await self._dispatcher.complete(request, decision, entry)
            entry.status, entry.usage = 200, response.usage
        except UpstreamError as err:
            entry.status, entry.error = err.http_status, self._redact(err.message)
            raise JudgeFailed(f"llm judge: {self._redact(err.message)}") from None
        finally:
            entry.latency_ms = (time.perf_counter() - started) * 1000.0
            self._ledger.record(entry)
        return answer_of(response).text

    async def _recalibrate(self) -> None:
        assert self._loop is not None
        loop = self._loop
        every = self._evidence.recalibrate_every_s
        if every <= 0:
            return
        while True:
            await asyncio.sleep(every)
            try:
                change = await self._in_thread(loop.recalibrate if self._primary else loop.sync)
            except asyncio.CancelledError:
                raise
            except Exception:
                traceback.print_exc(file=sys.stderr)
                continue
            if change is not None:
                print(f"tierwise: routing {change.action}: {change.reason}", file=sys.stderr, flush=True)

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def _redact(self, text: str) -> str:
        return self._redactor.redact(text)
