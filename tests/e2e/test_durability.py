"""Each request is exactly one ledger row: when the client hangs up mid-stream, when the upstream dies
mid-stream, and when the gateway is stopped with SIGTERM under load.

Requests are told apart by their ``x-tierwise-session`` header, which the ledger stores as it is.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.shapes import Http
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running

OPENAI_KEY = "sk-durability-openai"
ANTHROPIC_KEY = "sk-ant-durability"
ANTHROPIC_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


class WatchedAnthropic(FakeAnthropic):
    """Notes when a stream it is sending is cut off by the other side, and when one is sent in full."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cut_at: list[float] = []
        self.finished = 0

    async def send_events(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = await super().send_events(*args, **kwargs)
        except (ConnectionError, asyncio.CancelledError):
            self.cut_at.append(time.monotonic())
            raise
        self.finished += 1
        return response


@pytest.fixture(scope="module")
def slow_fakes() -> Iterator[tuple[WatchedAnthropic, FakeOpenAI]]:
    """Streams that take a while: 50 ms between events."""
    with (
        running(WatchedAnthropic(api_key=ANTHROPIC_KEY, stream_delay=0.05)) as an,
        running(FakeOpenAI(api_key=OPENAI_KEY, stream_delay=0.05)) as oa,
    ):
        yield an, oa


def start_gateway(workdir: Path, fakes: tuple[WatchedAnthropic, FakeOpenAI]) -> GatewayProcess:
    an, oa = fakes
    env = {
        "ANTHROPIC_BASE_URL": an.url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_BASE_URL": oa.url,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    return GatewayProcess(workdir, env=env)


def rows(gateway: GatewayProcess) -> list[tuple[Any, ...]]:
    with sqlite3.connect(gateway.ledger_path) as connection:
        return connection.execute("SELECT session, status, error, stream FROM requests").fetchall()


def anthropic_body(text: str, *, stream: bool, max_tokens: int = 400) -> bytes:
    return json.dumps(
        {
            "model": "tier/default",
            "max_tokens": max_tokens,
            "stream": stream,
            "messages": [{"role": "user", "content": text}],
        }
    ).encode()


def test_client_hangup_mid_stream_cancels_the_upstream_call_and_leaves_one_row(
    tmp_path: Path, slow_fakes: tuple[WatchedAnthropic, FakeOpenAI]
) -> None:
    an, _ = slow_fakes
    an.reset()
    an.cut_at.clear()
    gateway = start_gateway(tmp_path, slow_fakes)
    try:
        body = anthropic_body("tell me a long story " * 20, stream=True)  # ~100 events: 5 s at 50 ms each
        head = (
            f"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"anthropic-version: 2023-06-01\r\nx-tierwise-session: hangup\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
            sock.sendall(head.encode() + body)
            received = b""
            while received.count(b"event: content_block_delta") < 2:  # the answer is under way
                received += sock.recv(4096)
            closed_at = time.monotonic()
        deadline = time.monotonic() + 3
        while not an.cut_at and time.monotonic() < deadline:
            time.sleep(0.02)
        assert an.cut_at, "the upstream stream was not cut off"
        assert an.cut_at[0] - closed_at < 1.0  # at once, not when the upstream would have finished (~5 s)
        assert an.finished == 0
    finally:
        assert gateway.stop() == 0
    assert [(r[0], r[1]) for r in rows(gateway)] == [("hangup", 499)]


def test_upstream_dying_mid_stream_is_one_row_and_an_error_event(
    tmp_path: Path, slow_fakes: tuple[WatchedAnthropic, FakeOpenAI]
) -> None:
    gateway = start_gateway(tmp_path, slow_fakes)
    http = Http(gateway.url)
    try:
        body = anthropic_body("[[drop:5]] a long story please " * 8, stream=True)
        response = http.post("/v1/messages", body, {**ANTHROPIC_HEADERS, "x-tierwise-session": "dropped"})
        assert response.status_code == 200  # the stream had begun
        assert "event: error" in response.text
        assert "content_block_delta" in response.text
    finally:
        http.close()
        assert gateway.stop() == 0
    [(session, status, error, stream)] = rows(gateway)
    assert (session, stream) == ("dropped", 1)
    assert status >= 500 and error.startswith("mid-stream")


async def _one(client: aiohttp.ClientSession, url: str, i: int, outcomes: dict[str, int | str], prefix: str) -> None:
    session = f"{prefix}-{i}"
    slow = "[[slow:1.5]] " if i % 3 == 0 else ""
    body = anthropic_body(f"{slow}request {session} says hello", stream=i % 2 == 0, max_tokens=30)
    headers = {**ANTHROPIC_HEADERS, "x-tierwise-session": session}
    try:
        async with client.post(url + "/v1/messages", data=body, headers=headers) as response:
            await response.read()
            outcomes[session] = response.status
    except (aiohttp.ClientError, OSError) as exc:
        outcomes[session] = type(exc).__name__


def test_sigterm_under_load_finishes_in_flight_requests_and_flushes_the_ledger(
    tmp_path: Path, slow_fakes: tuple[WatchedAnthropic, FakeOpenAI]
) -> None:
    """Accounting: a request reached the gateway if it got any HTTP response, or if a fake upstream saw it (the
    gateway forwarded it). Every such request must have exactly one row; a row may also exist for a request
    cut off before either could be observed, but never for a request that was not sent, and never two."""
    an, oa = slow_fakes
    an.reset()
    oa.reset()
    gateway = start_gateway(tmp_path, slow_fakes)
    first, second = 48, 24
    outcomes: dict[str, int | str] = {}

    async def scenario() -> int:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
            wave = [asyncio.create_task(_one(client, gateway.url, i, outcomes, "w1")) for i in range(first)]
            while len(an.requests) + len(oa.requests) < first:  # every first-wave request is in the gateway
                await asyncio.sleep(0.01)
            gateway.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.05)
            late = [asyncio.create_task(_one(client, gateway.url, i, outcomes, "w2")) for i in range(second)]
            await asyncio.gather(*wave, *late)
        return await asyncio.to_thread(gateway.process.wait, 40)

    started = time.monotonic()
    code = asyncio.run(scenario())
    gateway.stop()
    assert code == 0, gateway.log()[-2000:]
    assert time.monotonic() - started < 30

    # Graceful: everything that was in flight when the signal came was answered in full.
    assert [outcomes[f"w1-{i}"] for i in range(first)] == [200] * first
    sent = set(outcomes)
    responded = {s for s, outcome in outcomes.items() if isinstance(outcome, int)}
    forwarded = {s for s in sent for r in (*an.requests, *oa.requests) if f"request {s} says" in json.dumps(r.body)}
    sessions = Counter(row[0] for row in rows(gateway))
    assert max(sessions.values()) == 1, "a request has two rows"
    assert set(sessions) <= sent
    assert responded | forwarded <= set(sessions), "a request the gateway answered or forwarded has no row"
    # The late wave was either refused at the door (no row) or served in full: nothing half-done.
    for i in range(second):
        outcome = outcomes[f"w2-{i}"]
        assert outcome == 200 or isinstance(outcome, str), outcome
        assert (f"w2-{i}" in sessions) == (outcome == 200)
