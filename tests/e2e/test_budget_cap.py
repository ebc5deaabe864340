"""A gateway key's budget is a cap within one process: against prompts an upstream counts at one token a
character (CJK), streams the client hangs up on before their usage comes, and upstreams that report no usage."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import aiohttp
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running
from tierwise.config.loader import load_settings
from tierwise.keys import KeyLimits, KeyStore
from tierwise.pricing import PriceBook
from tierwise.types import Usage

ANTHROPIC_KEY = "sk-ant-budget-cap"
OPENAI_KEY = "sk-openai-budget-cap"
BUDGET = Decimal("0.10")
CJK = "東京の天気はどうですか" * 400  # 4,400 characters: 4,400 tokens upstream, 13,200 UTF-8 bytes
MAX_TOKENS = 16


@dataclass
class Capped:
    gateway: GatewayProcess
    an: FakeAnthropic
    oa: FakeOpenAI
    capped: str  # a key with a $0.10 daily budget
    open: str  # a key with no limits


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capped]:
    workdir = tmp_path_factory.mktemp("budget")
    store = KeyStore(workdir / "tierwise.db")
    keys = (store.create("capped", KeyLimits(daily_budget=BUDGET)).key, store.create("open").key)
    with (
        running(FakeAnthropic(api_key=ANTHROPIC_KEY, chars_per_input_token=1, stream_delay=0.01, chunk_chars=4)) as an,
        running(FakeOpenAI(api_key=OPENAI_KEY, chars_per_input_token=1, stream_delay=0.01, chunk_chars=4)) as oa,
    ):
        env = {
            "ANTHROPIC_BASE_URL": an.url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "OPENAI_BASE_URL": oa.url,
            "OPENAI_API_KEY": OPENAI_KEY,
        }
        gateway = GatewayProcess(workdir, env=env)
        try:
            yield Capped(gateway=gateway, an=an, oa=oa, capped=keys[0], open=keys[1])
        finally:
            gateway.stop()


def rows(capped: Capped, where: str, *args: object) -> list[sqlite3.Row]:
    with sqlite3.connect(capped.gateway.ledger_path) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(f"SELECT * FROM requests WHERE {where}", args).fetchall()


def wait_rows(capped: Capped, where: str, *args: object, count: int = 1) -> list[sqlite3.Row]:
    deadline = time.monotonic() + 10
    while len(found := rows(capped, where, *args)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def anthropic(text: str, *, stream: bool = False, session: str = "") -> bytes:
    return json.dumps(
        {
            "model": "tier/default",
            "max_tokens": MAX_TOKENS,
            "stream": stream,
            "messages": [{"role": "user", "content": text}],
        }
    ).encode()


def headers(key: str, session: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": key,
        "x-tierwise-session": session,
    }


def worst_single_request() -> Decimal:
    """The most one such request may be reserved: every UTF-8 byte a token, at the dearest model it may reach
    (the default tier and the escalations above it), plus its max_tokens of output."""
    settings = load_settings(None)
    book, worst = PriceBook(), Decimal(0)
    for alias in (*settings.tiers["default"], *settings.tiers["escalation"]):
        cost = book.cost(settings.models[alias], Usage(input_tokens=len(CJK.encode()) + 64, output_tokens=MAX_TOKENS))
        worst = max(worst, cost or Decimal(0))
    return worst


def test_cjk_prompts_in_parallel_cannot_spend_past_the_budget(capped: Capped) -> None:
    statuses: list[int] = []

    async def fire() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one(i: int) -> None:
                payload = anthropic(CJK + f" #{i}", stream=i % 2 == 0)
                async with session.post(
                    capped.gateway.url + "/v1/messages", data=payload, headers=headers(capped.capped, f"cjk-{i}")
                ) as response:
                    await response.read()
                    statuses.append(response.status)

            for wave in range(4):  # 4 waves of 16 at once: each wave starts with what the last one settled
                await asyncio.gather(*(one(wave * 16 + i) for i in range(16)))

    asyncio.run(fire())
    assert 200 in statuses and 429 in statuses
    answered = statuses.count(200)
    found = wait_rows(capped, "session LIKE 'cjk-%' AND status = 200", count=answered)
    assert len(found) == answered
    spent = sum(Decimal(row["cost_usd"]) for row in found)
    worst = worst_single_request()
    # Each answered request really cost ~4,400 input tokens (the fake counts a token a character).
    assert all(row["input_tokens"] >= len(CJK) for row in found)
    assert spent <= BUDGET + worst, f"spent ${spent} of a ${BUDGET} budget (one request: at most ${worst})"


def _hang_up_after(gateway: GatewayProcess, path: str, body: bytes, head_extra: str, marker: bytes, n: int) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{head_extra}"
        f"content-length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while received.count(marker) < n:
            chunk = sock.recv(65536)
            assert chunk, "the stream ended before the hang-up"
            received += chunk


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_a_client_hanging_up_before_the_usage_is_billed_for_what_was_streamed(capped: Capped, api: str) -> None:
    text = "tell me a long story about the sea and the ships upon it " * 10
    session = f"hangup-{api}"
    if api == "anthropic":
        body = json.dumps(
            {
                "model": "tier/default",
                "max_tokens": 400,
                "stream": True,
                "messages": [{"role": "user", "content": text}],
            }
        ).encode()
        extra = f"anthropic-version: 2023-06-01\r\nx-api-key: {capped.open}\r\nx-tierwise-session: {session}\r\n"
        _hang_up_after(capped.gateway, "/v1/messages", body, extra, b"event: content_block_delta", 30)
    else:
        body = json.dumps(
            {"model": "tier/default", "stream": True, "messages": [{"role": "user", "content": text}]}
        ).encode()
        extra = f"authorization: Bearer {capped.open}\r\nx-tierwise-session: {session}\r\n"
        _hang_up_after(capped.gateway, "/v1/chat/completions", body, extra, b'"delta":{"content"', 30)
    [row] = wait_rows(capped, "session = ?", session)
    assert row["status"] == 499
    assert row["usage_estimated"] == 1
    assert row["input_tokens"] > 0  # OpenAI reports nothing before the end: estimated too
    assert row["output_tokens"] >= 30  # at least one token per delta the client was sent
    settings = load_settings(None)
    model = settings.models[row["model"]]
    input_only = PriceBook().cost(model, Usage(input_tokens=row["input_tokens"]))
    assert input_only is not None and Decimal(row["cost_usd"]) > input_only  # the output is billed too


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_an_upstream_that_reports_no_usage_is_charged_an_estimate(capped: Capped, api: str, stream: bool) -> None:
    """Each API's client to a model of the same API's upstream (Claude Sonnet / GPT-5.1), which omits usage."""
    session = f"nousage-{api}-{stream}"
    fake = capped.an if api == "anthropic" else capped.oa
    fake.inject(kind="no_usage")
    question = [{"role": "user", "content": "describe the weather on Mars"}]

    async def ask() -> int:
        async with aiohttp.ClientSession() as client:
            if api == "anthropic":
                url = capped.gateway.url + "/v1/messages"
                payload = {"model": "claude-sonnet-4-6", "max_tokens": 200, "stream": stream, "messages": question}
                hdrs = headers(capped.open, session)
            else:
                url = capped.gateway.url + "/v1/chat/completions"
                payload = {"model": "gpt-5.1", "stream": stream, "messages": question}
                hdrs = {
                    "content-type": "application/json",
                    "authorization": f"Bearer {capped.open}",
                    "x-tierwise-session": session,
                }
            async with client.post(url, data=json.dumps(payload).encode(), headers=hdrs) as response:
                await response.read()
                return response.status

    assert asyncio.run(ask()) == 200
    assert fake.faults.pending() == 0  # the fault was served
    [row] = wait_rows(capped, "session = ?", session)
    assert row["usage_estimated"] == 1
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert Decimal(row["cost_usd"]) > 0  # not free


def test_usage_reported_in_full_is_not_marked_estimated(capped: Capped) -> None:
    async def ask() -> None:
        async with aiohttp.ClientSession() as client:
            url = capped.gateway.url + "/v1/messages"
            async with client.post(url, data=anthropic("hello there"), headers=headers(capped.open, "exact")) as r:
                assert r.status == 200

    asyncio.run(ask())
    [row] = wait_rows(capped, "session = ?", "exact")
    assert row["usage_estimated"] == 0
