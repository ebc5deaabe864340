"""The llm judge's protocol (blind, both orders) and the http judge's wire contract, against real callers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from tests.upstreams import running
from tierwise.evidence.judges import Candidate, Case, HttpJudge, JudgeFailed, LlmJudge
from tierwise.evidence.records import Answer
from tierwise.types import ChatRequest, TextPart

CASE = Case(
    api="openai",
    body={"model": "auto", "messages": [{"role": "user", "content": "What is 6 * 7?"}]},
    prompt="What is 6 * 7?",
    candidates=(
        Candidate(model="small", tier="default", answer=Answer(text="It is 41.")),
        Candidate(model="large", tier="escalation", answer=Answer(text="It is 42.")),
    ),
)


def answers(request: ChatRequest) -> tuple[str, str]:
    text = "".join(p.text for p in request.messages[0].parts if isinstance(p, TextPart))
    a = re.search(r"<answer_a>\n(.*?)\n</answer_a>", text, re.S)
    b = re.search(r"<answer_b>\n(.*?)\n</answer_b>", text, re.S)
    assert a and b and "small" not in text and "large" not in text and "escalation" not in text  # blind
    return a.group(1), b.group(1)


async def knows_the_answer(request: ChatRequest) -> str:
    a, b = answers(request)
    return "Verdict: A" if "42" in a else "Verdict: B" if "42" in b else "Verdict: TIE"


async def always_first(request: ChatRequest) -> str:
    answers(request)
    return "I prefer the first one.\nVerdict: A"


def test_llm_judge_asks_both_orders_and_cancels_position_bias() -> None:
    assert asyncio.run(LlmJudge(knows_the_answer).score(CASE)) == (0.0, 1.0)
    assert asyncio.run(LlmJudge(always_first).score(CASE)) == (0.5, 0.5)  # a judge that only likes "A" says nothing


def test_llm_judge_without_a_verdict_fails_the_comparison() -> None:
    async def rambles(request: ChatRequest) -> str:
        return "Both answers have merit."

    with pytest.raises(JudgeFailed):
        asyncio.run(LlmJudge(rambles).score(CASE))


class Evaluator:
    """A team's evaluator speaking the http judge contract; records what it was sent."""

    name = "evaluator"

    def __init__(self, reply: object, status: int = 200) -> None:
        self.reply, self.status = reply, status
        self.received: list[object] = []
        self.origin: str | None = None

    def make_app(self) -> web.Application:
        async def judge(request: web.Request) -> web.Response:
            self.received.append(await request.json())
            return web.json_response(self.reply, status=self.status)

        app = web.Application()
        app.router.add_post("/score", judge)
        return app


@pytest.fixture
def evaluator() -> Iterator[Evaluator]:
    with running(Evaluator({"scores": [0.25, 1.0]})) as server:  # type: ignore[type-var,unused-ignore]
        yield server


def score_with(url: str) -> tuple[float, ...]:
    async def go() -> tuple[float, ...]:
        async with aiohttp.ClientSession() as session:
            return await HttpJudge(url, session, 5.0).score(CASE)

    return asyncio.run(go())


def test_http_judge_posts_exactly_the_documented_body(evaluator: Evaluator) -> None:
    assert score_with(f"{evaluator.origin}/score") == (0.25, 1.0)
    assert evaluator.received == [
        {
            "api": "openai",
            "request": {"model": "auto", "messages": [{"role": "user", "content": "What is 6 * 7?"}]},
            "answers": [
                {"model": "small", "tier": "default", "text": "It is 41."},
                {"model": "large", "tier": "escalation", "text": "It is 42."},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("reply", "status"), [({"scores": [0.5]}, 200), ({"scores": [0.5, 1.5]}, 200), ({"oops": 1}, 200), ({}, 500)]
)
def test_http_judge_refuses_replies_outside_the_contract(reply: object, status: int) -> None:
    with running(Evaluator(reply, status)) as server, pytest.raises(JudgeFailed):  # type: ignore[type-var,unused-ignore]
        score_with(f"{server.origin}/score")
