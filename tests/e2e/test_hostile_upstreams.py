"""Upstreams that misbehave on purpose against the real gateway: redirects that would carry the provider key to
another origin, and error messages that quote the key whole, in part or in base64."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.shapes import Http, assert_well_formed
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running

# Keys in no well-known format (the OpenAI wire format's sk- pattern cannot help), long like real ones.
ANTHROPIC_KEY = "tw-hostile-anthropic-Q7mZ2xK9pL4vB8nR1cT6yH3wJ5"
OPENAI_KEY = "tw-hostile-openai-D4fG7hJ2kL9zX3cV6bN1mQ8wE5r"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "src" / "tierwise" / "config" / "default.yaml"
ANTHROPIC_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


@dataclass
class Hostile:
    gateway: GatewayProcess
    anthropic: FakeAnthropic
    openai: FakeOpenAI
    elsewhere: FakeAnthropic  # another origin, recording every request (and header) it gets
    http: Http


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    workdir = tmp_path_factory.mktemp("hostile")
    # No circuit breaker: each test injects its own faults and must not find a model skipped by the last one.
    (workdir / "tierwise.yaml").write_text(DEFAULT_CONFIG.read_text().replace("enabled: true", "enabled: false"))
    with (
        running(FakeAnthropic(api_key=ANTHROPIC_KEY)) as an,
        running(FakeOpenAI(api_key=OPENAI_KEY)) as oa,
        running(FakeAnthropic(api_key="elsewhere")) as elsewhere,
    ):
        env = {
            "ANTHROPIC_BASE_URL": an.url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "OPENAI_BASE_URL": oa.url,
            "OPENAI_API_KEY": OPENAI_KEY,
        }
        gateway = GatewayProcess(workdir, env=env, config=workdir / "tierwise.yaml")
        http = Http(gateway.url)
        try:
            yield Hostile(gateway=gateway, anthropic=an, openai=oa, elsewhere=elsewhere, http=http)
        finally:
            http.close()
            gateway.stop()


@pytest.fixture(autouse=True)
def _fresh(hostile: Hostile) -> None:
    for fake in (hostile.anthropic, hostile.openai, hostile.elsewhere):
        fake.reset()


def ask(hostile: Hostile, text: str, *, model: str = "tier/default", stream: bool = False, session: str = "") -> object:
    body = {"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": text}]}
    headers = {**ANTHROPIC_HEADERS, "x-tierwise-session": session or text}
    return hostile.http.post("/v1/messages", json.dumps(body).encode(), headers)


def ledger_rows(hostile: Hostile, session: str) -> list[sqlite3.Row]:
    """The rows of one session, once the ledger writer has flushed them."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(hostile.gateway.ledger_path) as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT * FROM requests WHERE session = ?", (session,)).fetchall()
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def fragments(key: str, width: int = 8) -> list[str]:
    return [key[i : i + width] for i in range(len(key) - width + 1)]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [307, 301, 308])
def test_an_upstream_redirect_is_not_followed_and_the_key_stays_home(
    hostile: Hostile, stream: bool, status: int
) -> None:
    target = hostile.elsewhere.origin + "/v1/messages"  # type: ignore[operator]
    hostile.anthropic.inject(kind="redirect", status=status, location=target, times=2)  # the call and its retry
    session = f"redirect-{status}-{stream}"
    response = ask(hostile, "Describe the weather on Mars", stream=stream, session=session)
    assert hostile.elsewhere.requests == [], "the gateway followed the redirect"
    # The next model of the tier answered instead.
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert response.headers["x-tierwise-model"] == "gpt-5.1"  # type: ignore[attr-defined]
    [row] = ledger_rows(hostile, session)
    attempts = json.loads(row["attempts_detail"])
    assert [a["status"] for a in attempts] == [status, status, 200]
    assert "redirect" in attempts[0]["error"]


def test_redirects_everywhere_end_in_a_502_in_the_api_shape(hostile: Hostile) -> None:
    for fake in (hostile.anthropic, hostile.openai):
        fake.inject(kind="redirect", location=hostile.elsewhere.origin + "/v1/messages", times=20)  # type: ignore[operator]
    response = ask(hostile, "Describe the weather on Mars", session="redirect-all")
    assert hostile.elsewhere.requests == []
    assert_well_formed("anthropic", response)  # type: ignore[arg-type]
    assert response.status_code == 502  # type: ignore[attr-defined]
    assert "redirect" in response.json()["error"]["message"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("echo", ["full", "prefix20", "suffix12", "base64", "basic"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_key_quoted_whole_in_part_or_in_base64_reaches_neither_client_nor_ledger(
    hostile: Hostile, echo: str, stream: bool
) -> None:
    for fake in (hostile.anthropic, hostile.openai):
        fake.inject(kind="quote_key", echo=echo, times=20)  # type: ignore[arg-type]
    session = f"quote-{echo}-{stream}"
    response = ask(hostile, "Describe the weather on Mars", stream=stream, session=session)
    assert_well_formed("anthropic", response)  # type: ignore[arg-type]
    assert response.status_code == 502  # type: ignore[attr-defined]
    # What the upstream really sent (to be sure the attack was carried out), and what came out of it.
    assert hostile.anthropic.requests and hostile.openai.requests
    [row] = ledger_rows(hostile, session)
    texts = [response.text, json.dumps(dict(response.headers)), row["error"], row["attempts_detail"]]  # type: ignore[attr-defined]
    assert "Incorrect API key provided: " in row["attempts_detail"] and "[redacted]" in row["attempts_detail"]
    for key in (ANTHROPIC_KEY, OPENAI_KEY):
        encoded = [
            base64.b64encode(key.encode()).decode(),
            base64.b64encode(b"user:" + key.encode()).decode(),
        ]
        for text in texts:
            for piece in (*fragments(key), *(e[i : i + 12] for e in encoded for i in range(0, len(e) - 12, 4))):
                assert piece not in text, f"{piece!r} of the key leaked: {text[:300]}"


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class _Pinger(threading.Thread):
    """Asks /healthz every 20 ms and keeps the slowest answer: how long the gateway's event loop stalled."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.slowest, self._stop_event = url, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.monotonic()
            with urllib.request.urlopen(self.url + "/healthz", timeout=30) as response:
                response.read()
            self.slowest = max(self.slowest, time.monotonic() - started)
            time.sleep(0.02)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.slowest


@pytest.mark.parametrize(
    ("kind", "size", "stream"),
    [
        ("huge_body", 200 * 1024 * 1024, False),  # 200 MB of JSON, chunked: no length announced
        ("gzip_bomb", 512 * 1024 * 1024, False),  # 512 MiB once inflated, about 2 MB on the wire
        ("long_sse_line", 30 * 1024 * 1024, True),  # one 30 MB line in an event stream
    ],
)
def test_an_oversized_answer_is_cut_off_and_the_next_model_answers(
    hostile: Hostile, kind: str, size: int, stream: bool
) -> None:
    hostile.anthropic.inject(kind=kind, size=size, times=2)  # type: ignore[arg-type]
    pinger = _Pinger(hostile.gateway.url)
    pinger.start()
    started = time.monotonic()
    response = ask(hostile, "Describe the weather on Mars", stream=stream, session=f"oversized-{kind}")
    took = time.monotonic() - started
    slowest = pinger.stop()
    assert response.status_code == 200, response.text[:300]  # type: ignore[attr-defined]
    assert response.headers["x-tierwise-model"] == "gpt-5.1"  # type: ignore[attr-defined]
    [row] = ledger_rows(hostile, f"oversized-{kind}")
    attempts = json.loads(row["attempts_detail"])
    assert "larger than this gateway accepts" in attempts[0]["error"] or "line over" in attempts[0]["error"]
    peak = _peak_rss_mib(hostile.gateway.process.pid)
    print(f"{kind}: answered in {took:.2f}s, slowest /healthz {slowest * 1000:.0f} ms, gateway peak RSS {peak:.0f} MiB")
    assert peak < 300, f"the gateway's memory peaked at {peak:.0f} MiB"
    assert slowest < 2.0, f"the event loop stalled for {slowest:.2f}s"
