"""Judges score the answers of one comparison, each in [0, 1]; one interface, three kinds.

- ``agreement``: same final answer, same JSON, or same tool calls as the stronger tier's answer -> both 1;
  otherwise the stronger answer is taken as the reference (cheap 0, strong 1). Free, and blind to style.
- ``llm``: a configured judge model compares the two answers blind, asked in both orders to cancel position
  bias; a win scores 1, a tie 0.5, averaged over the two orders.
- ``http``: POST ``{"api", "request", "answers": [{"model", "tier", "text"}, ...]}`` to a team's evaluator,
  which replies ``{"scores": [...]}``, one per answer, in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson

from tierwise.brain.agreement import answers_agree, final_answer
from tierwise.config.settings import JudgeSettings
from tierwise.errors import TierwiseError
from tierwise.evidence.records import Answer
from tierwise.types import ChatRequest, Message, TextPart


class JudgeFailed(TierwiseError):
    """A judge gave no usable verdict (the comparison is dropped, not guessed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    model: str
    tier: str
    answer: Answer


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """What a judge sees: the request as the client sent it, and the answers to score (cheaper first)."""

    api: str
    body: Any  # the client's JSON body as received
    prompt: str
    candidates: tuple[Candidate, ...]


class Judge(Protocol):
    name: str

    async def score(self, case: Case) -> tuple[float, ...]: ...


class AgreementJudge:
    name = "agreement"

    async def score(self, case: Case) -> tuple[float, ...]:
        reference = case.candidates[-1].answer
        return (*(1.0 if equivalent(c.answer, reference) else 0.0 for c in case.candidates[:-1]), 1.0)


def equivalent(a: Answer, b: Answer) -> bool:
    """Same tool calls (names and parsed arguments), else same JSON value, else same extracted final answer."""
    if a.tool_calls or b.tool_calls:
        return _calls(a) == _calls(b)
    ja, jb = _json(a.text), _json(b.text)
    if ja is not None or jb is not None:
        return ja == jb
    if a.text.strip() == b.text.strip():
        return True
    return answers_agree(final_answer(a.text), final_answer(b.text))


def _calls(answer: Answer) -> list[tuple[str, object]]:
    return [
        (name, _json(arguments) if _json(arguments) is not None else arguments) for name, arguments in answer.tool_calls
    ]


def _json(text: str) -> object | None:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        value: object = json.loads(stripped)
    except ValueError:
        return None
    return value


class HttpJudge:
    name = "http"

    def __init__(self, url: str, session: aiohttp.ClientSession, timeout_s: float) -> None:
        self._url = url
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def score(self, case: Case) -> tuple[float, ...]:
        payload = {
            "api": case.api,
            "request": case.body,
            "answers": [{"model": c.model, "tier": c.tier, "text": c.answer.text} for c in case.candidates],
        }
        try:
            async with self._session.post(
                self._url,
                data=orjson.dumps(payload),
                headers={"content-type": "application/json"},
                timeout=self._timeout,
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise JudgeFailed(f"http judge at {self._url}: {type(exc).__name__}") from None
        if status != 200:
            raise JudgeFailed(f"http judge at {self._url} answered {status}")
        try:
            scores = orjson.loads(body)["scores"]
            values = tuple(float(s) for s in scores)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise JudgeFailed(f'http judge at {self._url}: expected {{"scores": [...]}}') from None
        if len(values) != len(case.candidates) or not all(0.0 <= v <= 1.0 for v in values):
            raise JudgeFailed(f"http judge at {self._url}: need {len(case.candidates)} scores in [0, 1]")
        return values


DEFAULT_RUBRIC = (
    "Judge which answer serves the user's request better: correct, complete, following the instructions, "
    "and no longer than it needs to be. Ignore which answer came first and how long each is."
)
_VERDICT = re.compile(r"\b(?:verdict|winner)\s*[:=]?\s*\W*(A|B|TIE)\b", re.IGNORECASE)

# The judge model's call: a request in, the text of its answer out (the service records its cost).
AskModel = Callable[[ChatRequest], Awaitable[str]]


class LlmJudge:
    """Pairwise and blind: the judge never sees models or tiers, only "Answer A" and "Answer B"."""

    name = "llm"

    def __init__(self, ask: AskModel, *, rubric: str | None = None) -> None:
        self._ask = ask
        self._rubric = rubric or DEFAULT_RUBRIC

    async def score(self, case: Case) -> tuple[float, ...]:
        if len(case.candidates) != 2:
            raise JudgeFailed("the llm judge compares exactly two answers")
        first, second = (c.answer.text for c in case.candidates)
        forward = await self._verdict(case.prompt, first, second)  # 1: first better, 0.5 tie, 0: second
        backward = await self._verdict(case.prompt, second, first)
        first_score = (forward + (1.0 - backward)) / 2
        return (first_score, 1.0 - first_score)

    async def _verdict(self, prompt: str, a: str, b: str) -> float:
        text = (
            f"{self._rubric}\n\n<request>\n{prompt}\n</request>\n\n<answer_a>\n{a}\n</answer_a>\n\n"
            f"<answer_b>\n{b}\n</answer_b>\n\nReply with one line: 'Verdict: A', 'Verdict: B' or 'Verdict: TIE'."
        )
        request = ChatRequest(
            model="judge",
            messages=(Message(role="user", parts=(TextPart(text=text),)),),
            max_tokens=256,
            temperature=0.0,
        )
        reply = await self._ask(request)
        found = _VERDICT.findall(reply)
        if not found:
            raise JudgeFailed("the llm judge gave no verdict")
        verdict = found[-1].upper()
        return 1.0 if verdict == "A" else 0.0 if verdict == "B" else 0.5


def build_judge(settings: JudgeSettings, session: aiohttp.ClientSession, ask: AskModel | None) -> Judge:
    if settings.kind == "http":
        assert settings.url is not None  # the loader checks it
        return HttpJudge(settings.url, session, settings.timeout_s)
    if settings.kind == "llm":
        if ask is None:
            raise JudgeFailed("the llm judge needs a model to ask")
        return LlmJudge(ask, rubric=settings.rubric)
    return AgreementJudge()
