"""The ledger loses no answered request: not when the gateway is killed (SIGKILL) under load, and not when it is
stopped while another process holds the database lock for longer than it can wait. /readyz says so meanwhile."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running

ANTHROPIC_KEY = "sk-ant-ledger-durability"
OPENAI_KEY = "sk-openai-ledger-durability"
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeOpenAI]]:
    with (
        running(FakeAnthropic(api_key=ANTHROPIC_KEY, stream_delay=0.002)) as an,
        running(FakeOpenAI(api_key=OPENAI_KEY, stream_delay=0.002)) as oa,
    ):
        yield an, oa


def start(workdir: Path, fakes: tuple[FakeAnthropic, FakeOpenAI]) -> GatewayProcess:
    an, oa = fakes
    env = {
        "ANTHROPIC_BASE_URL": an.url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_BASE_URL": oa.url,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    return GatewayProcess(workdir, env=env)


def row_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT request_id FROM requests")}


def body(i: int, *, stream: bool) -> bytes:
    return json.dumps(
        {
            "model": "tier/default",
            "max_tokens": 60,
            "stream": stream,
            "messages": [{"role": "user", "content": f"request {i}: tell me something short about the sea"}],
        }
    ).encode()


async def _load(url: str, answered: set[str], stop: asyncio.Event, concurrency: int) -> None:
    """Requests until ``stop``; the id of each one answered in full (status, body and, for a stream, its end)."""

    async def client(n: int, session: aiohttp.ClientSession) -> None:
        i = n
        while not stop.is_set():
            stream = i % 2 == 0
            try:
                async with session.post(url + "/v1/messages", data=body(i, stream=stream), headers=HEADERS) as r:
                    payload = await r.read()
                    complete = r.status == 200 and (b"message_stop" in payload if stream else b'"usage"' in payload)
                    if complete:
                        answered.add(r.headers["x-tierwise-request-id"])
            except (TimeoutError, aiohttp.ClientError, OSError):
                await asyncio.sleep(0.01)
            i += concurrency

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        await asyncio.gather(*(client(n, session) for n in range(concurrency)))


def test_sigkill_under_load_loses_no_answered_request(tmp_path: Path, fakes: tuple[FakeAnthropic, FakeOpenAI]) -> None:
    gateway = start(tmp_path, fakes)
    answered: set[str] = set()

    async def scenario() -> None:
        stop = asyncio.Event()
        load = asyncio.create_task(_load(gateway.url, answered, stop, concurrency=32))
        while len(answered) < 300:  # well into the load: rows are being written, and many are in flight
            await asyncio.sleep(0.01)
        gateway.process.send_signal(signal.SIGKILL)
        await asyncio.sleep(0.5)
        stop.set()
        await load

    asyncio.run(scenario())
    gateway.process.wait(10)
    gateway.stop()
    # The next start replays the journal of the killed process before it serves anyone.
    again = start(tmp_path, fakes)
    assert again.stop() == 0
    assert "replayed from the journal" in again.log()
    missing = answered - row_ids(gateway.ledger_path)
    assert not missing, f"{len(missing)} of {len(answered)} answered requests have no row"
    assert not list((tmp_path / "tierwise.db.journal").glob("*.jsonl"))  # replayed, then removed


def _readyz(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_sigterm_while_the_database_is_locked_spills_says_so_and_exits_non_zero(
    tmp_path: Path, fakes: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    gateway = start(tmp_path, fakes)
    assert _readyz(gateway.url) == 200
    holder = sqlite3.connect(gateway.ledger_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write transaction: the gateway cannot write
    answered: set[str] = set()

    async def send(n: int) -> None:
        async with aiohttp.ClientSession() as session:
            for i in range(n):
                async with session.post(
                    gateway.url + "/v1/messages", data=body(i, stream=i % 2 == 1), headers=HEADERS
                ) as r:
                    await r.read()
                    assert r.status == 200
                    answered.add(r.headers["x-tierwise-request-id"])

    try:
        asyncio.run(send(40))
        deadline = time.monotonic() + 15
        while _readyz(gateway.url) != 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _readyz(gateway.url) == 503, "ready while no row can be written"
        started = time.monotonic()
        code = gateway.stop(timeout=60)
        assert time.monotonic() - started < 40
    finally:
        holder.rollback()
        holder.close()
    assert code != 0
    log = gateway.log()
    assert "rows could not be written" in log and "will be written when the gateway next starts" in log
    assert "Traceback" not in log
    assert not answered & row_ids(gateway.ledger_path)  # really none got in while the lock was held
    again = start(tmp_path, fakes)
    assert _readyz(again.url) == 200
    assert again.stop() == 0
    assert answered <= row_ids(gateway.ledger_path)
