"""Retries, fallbacks, timeouts and circuit breakers, end to end: official SDKs -> gateway process -> fakes.

Each gateway runs on a config written here with small timeouts and backoffs, so the suite stays fast.
Upstream model ids equal their aliases, so the fakes' answers (``[model] echo: ...``) name who answered.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import OPENAI_KEY, upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running

MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "are you there"}]
COOLDOWN_S = 1.0


def write_config(
    path: Path,
    fake_anthropic: FakeAnthropic,
    fake_openai: FakeOpenAI,
    *,
    slow_url: str = "http://127.0.0.1:9/v1",
    blackhole_port: int = 9,
    tier_fallback: bool = True,
    breaker: bool = False,
) -> Path:
    fast = "{connect: 1, first_token: 0.5, total: 5}"
    config = f"""
providers:
  anthropic: {{kind: anthropic, base_url: "{fake_anthropic.url}", api_key_env: ANTHROPIC_API_KEY, timeouts: {fast}}}
  openai: {{kind: openai, base_url: "{fake_openai.url}", api_key_env: OPENAI_API_KEY, timeouts: {fast}}}
  slow:
    kind: openai-compatible
    base_url: "{slow_url}"
    api_key_env: OPENAI_API_KEY
    timeouts: {{connect: 1, first_token: 5, total: 1}}
  blackhole:
    kind: openai-compatible
    base_url: "http://127.0.0.1:{blackhole_port}/v1"
    timeouts: {{connect: 0.3, first_token: 5, total: 10}}
models:
  a-speed: {{provider: anthropic, id: a-speed}}
  o-speed: {{provider: openai, id: o-speed}}
  a-default: {{provider: anthropic, id: a-default}}
  o-default: {{provider: openai, id: o-default}}
  a-escalation: {{provider: anthropic, id: a-escalation}}
  o-escalation: {{provider: openai, id: o-escalation}}
  slow-1: {{provider: slow, id: slow-1}}
  hang-1: {{provider: blackhole, id: hang-1}}
tiers:
  speed: [a-speed, o-speed]
  default: [a-default, o-default]
  escalation: [a-escalation, o-escalation]
routing: {{sticky_sessions: false}}
reliability:
  retries: 1
  backoff_base: 0.01
  backoff_max: 0.05
  max_retry_after: 1.0
  fallback_to_next_tier: {str(tier_fallback).lower()}
  circuit_breaker: {{enabled: {str(breaker).lower()}, failures: 3, cooldown: {COOLDOWN_S}}}
"""
    path.write_text(config)
    return path


@pytest.fixture(scope="module")
def slow_openai() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible server that streams one small chunk every 0.1 s."""
    with running(FakeOpenAI(api_key=OPENAI_KEY, stream_delay=0.1, chunk_chars=3)) as server:
        yield server


@pytest.fixture(scope="module")
def blackhole() -> Iterator[int]:
    """A port whose accept queue is full: connections to it hang in the handshake."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            yield port


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_anthropic: FakeAnthropic,
    fake_openai: FakeOpenAI,
    slow_openai: FakeOpenAI,
    blackhole: int,
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("fallbacks")
    config = write_config(
        workdir / "tierwise.yaml", fake_anthropic, fake_openai, slow_url=slow_openai.url, blackhole_port=blackhole
    )
    process = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    process.stop()


def openai_client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)


def anthropic_client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)


def calls(upstream: FakeAnthropic | FakeOpenAI, model: str) -> int:
    return sum(1 for r in upstream.requests if isinstance(r.body, dict) and r.body.get("model") == model)


# -- retries and fallbacks -----------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_on_the_same_model(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.inject(status=429, retry_after=0.3)
    started = time.monotonic()
    raw = openai_client(gateway).chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
    assert time.monotonic() - started >= 0.3  # the upstream's retry-after was honoured
    assert raw.headers["x-tierwise-model"] == "a-default"
    assert raw.headers["x-tierwise-attempts"] == "2"
    assert raw.parse().choices[0].message.content.startswith("[a-default]")
    assert calls(fake_anthropic, "a-default") == 2


def test_a_retry_after_beyond_the_cap_moves_on_without_waiting(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=429, retry_after=30)
    started = time.monotonic()
    raw = openai_client(gateway).chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
    assert time.monotonic() - started < 5
    assert raw.headers["x-tierwise-model"] == "o-default"
    assert raw.headers["x-tierwise-attempts"] == "2"
    assert calls(fake_anthropic, "a-default") == 1 and calls(fake_openai, "o-default") == 1


def test_529_repeatedly_falls_back_to_the_next_model(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=529, times=2)
    raw = anthropic_client(gateway).messages.with_raw_response.create(
        model="tier/default",
        max_tokens=50,
        messages=MESSAGES,
    )
    assert raw.headers["x-tierwise-model"] == "o-default"
    assert raw.headers["x-tierwise-attempts"] == "3"
    assert "fell back" in raw.headers["x-tierwise-reason"]
    assert raw.parse().model == "o-default"
    assert calls(fake_anthropic, "a-default") == 2 and calls(fake_openai, "o-default") == 1


def test_every_model_of_a_tier_failing_moves_up_a_tier(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=529, times=2)
    fake_openai.inject(status=503, times=2)
    raw = openai_client(gateway).chat.completions.with_raw_response.create(model="tier/speed", messages=MESSAGES)
    assert raw.headers["x-tierwise-model"] == "a-default"
    assert raw.headers["x-tierwise-tier"] == "default"
    assert raw.headers["x-tierwise-attempts"] == "5"
    assert calls(fake_anthropic, "a-speed") == 2 and calls(fake_openai, "o-speed") == 2


def test_the_top_tier_failing_is_a_clear_5xx_in_each_api_shape(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=529, times=2)
    fake_openai.inject(status=500, times=2)
    with pytest.raises(anthropic.InternalServerError) as an_err:
        anthropic_client(gateway).messages.create(model="tier/escalation", max_tokens=5, messages=MESSAGES)
    assert an_err.value.status_code == 502  # the last failure was OpenAI's 500
    assert an_err.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert an_err.value.response.headers["x-tierwise-attempts"] == "4"
    fake_anthropic.inject(status=500, times=2)
    fake_openai.inject(status=503, times=2)
    with pytest.raises(openai.InternalServerError) as oa_err:
        openai_client(gateway).chat.completions.create(model="tier/escalation", messages=MESSAGES)
    assert oa_err.value.status_code == 503
    assert set(oa_err.value.body) >= {"message", "type"}
    assert calls(fake_anthropic, "a-default") == 0  # nothing goes down a tier


def test_upstream_400_is_relayed_without_retry_or_fallback(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=400)
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(gateway).chat.completions.create(model="tier/default", messages=MESSAGES)
    assert err.value.response.headers["x-tierwise-attempts"] == "1"
    assert len(fake_anthropic.requests) == 1 and not fake_openai.requests


def test_connection_reset_falls_back(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(kind="reset", times=2)
    raw = openai_client(gateway).chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
    assert raw.headers["x-tierwise-model"] == "o-default"
    assert raw.headers["x-tierwise-attempts"] == "3"
    assert calls(fake_openai, "o-default") == 1


# -- timeouts --------------------------------------------------------------------------------------------


def test_first_token_timeout_falls_back_for_a_stream(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(kind="timeout", delay=3.0, times=2)
    started = time.monotonic()
    raw = openai_client(gateway).chat.completions.with_raw_response.create(
        model="tier/default", messages=MESSAGES, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert time.monotonic() - started < 2.5  # two 0.5 s first-token timeouts, not a 3 s stall
    assert text.startswith("[o-default]")
    assert raw.headers["x-tierwise-attempts"] == "3"


def test_first_token_timeout_does_not_cut_a_call_without_streaming(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    """Without streaming the whole answer is the first byte: only the total timeout applies."""
    fake_anthropic.inject(kind="timeout", delay=1.0, times=1)  # first_token is 0.5 s, total 5 s
    started = time.monotonic()
    raw = anthropic_client(gateway).messages.with_raw_response.create(
        model="tier/default",
        max_tokens=50,
        messages=MESSAGES,
    )
    assert time.monotonic() - started >= 1.0
    assert raw.headers["x-tierwise-attempts"] == "1"
    assert raw.parse().model != "o-default"  # the first model answered, late but within the total


def test_total_timeout_bounds_a_call_without_streaming(gateway: GatewayProcess, slow_openai: FakeOpenAI) -> None:
    slow_openai.reset()
    slow_openai.inject(kind="timeout", delay=3.0, times=2)  # first_token allows 5 s; total allows 1 s
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        openai_client(gateway).chat.completions.create(model="slow-1", messages=MESSAGES)
    assert time.monotonic() - started < 2.9
    assert err.value.status_code == 504
    assert err.value.response.headers["x-tierwise-attempts"] == "2"


def test_total_timeout_cuts_a_stream_after_its_first_byte(gateway: GatewayProcess, slow_openai: FakeOpenAI) -> None:
    slow_openai.reset()
    long_prompt = [{"role": "user", "content": "tell me a long story " * 4}]  # ~30 chunks at 0.1 s each
    started = time.monotonic()
    received = []
    with pytest.raises(openai.APIError) as err:
        for chunk in openai_client(gateway).chat.completions.create(model="slow-1", messages=long_prompt, stream=True):
            received.append(chunk)
    assert time.monotonic() - started < 2.5
    assert received  # the stream had started: the failure came as an error event, not a status
    assert "timed out" in str(err.value)


def test_connect_timeout_is_honoured(gateway: GatewayProcess) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        openai_client(gateway).chat.completions.create(model="hang-1", messages=MESSAGES)
    assert time.monotonic() - started < 2.0  # two 0.3 s connect timeouts, not the 5 s first-token limit
    assert err.value.status_code == 504
    assert err.value.response.headers["x-tierwise-attempts"] == "2"


# -- no tier fallback, circuit breakers on --------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("strict")
    config = write_config(workdir / "tierwise.yaml", fake_anthropic, fake_openai, tier_fallback=False, breaker=True)
    process = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    process.stop()


def ledger_attempts(gateway: GatewayProcess, request_id: str) -> list[dict[str, Any]]:
    """The attempts the ledger recorded for one request (written off the request path: wait for it)."""
    deadline = time.monotonic() + 5
    while True:
        connection = sqlite3.connect(f"file:{gateway.ledger_path}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "SELECT attempts_detail FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        finally:
            connection.close()
        if row is not None or time.monotonic() > deadline:
            assert row is not None, f"request {request_id} never reached the ledger"
            attempts: list[dict[str, Any]] = json.loads(row[0])
            return attempts
        time.sleep(0.02)


def test_without_tier_fallback_a_failed_tier_is_a_clear_503(
    strict_gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=500, times=2)
    fake_openai.inject(status=503, times=2)
    with pytest.raises(anthropic.APIStatusError) as err:
        anthropic_client(strict_gateway).messages.create(model="tier/speed", max_tokens=5, messages=MESSAGES)
    assert err.value.status_code == 503
    assert err.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    headers = err.value.response.headers
    assert headers["x-tierwise-attempts"] == "4"
    assert calls(fake_anthropic, "a-default") == 0
    attempts = ledger_attempts(strict_gateway, headers["x-tierwise-request-id"])
    assert [(a["model"], a["status"]) for a in attempts] == [
        ("a-speed", 500),
        ("a-speed", 500),
        ("o-speed", 503),
        ("o-speed", 503),
    ]
    assert all(a["error"] and a["latency_ms"] > 0 for a in attempts)


def test_the_breaker_opens_skips_the_model_and_closes_after_a_probe(
    strict_gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    client = openai_client(strict_gateway)
    fake_anthropic.inject(status=529, times=3)  # three failures in a row open a-default's circuit
    for expected_attempts in ("3", "2"):  # the second request stops retrying once the circuit opens
        raw = client.chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
        assert raw.headers["x-tierwise-model"] == "o-default"
        assert raw.headers["x-tierwise-attempts"] == expected_attempts
    assert calls(fake_anthropic, "a-default") == 3

    # Open: skipped without a call, but recorded as an attempt; streams too.
    raw = client.chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
    assert raw.headers["x-tierwise-model"] == "o-default" and raw.headers["x-tierwise-attempts"] == "2"
    skipped, answered = ledger_attempts(strict_gateway, raw.headers["x-tierwise-request-id"])
    assert skipped["model"] == "a-default" and skipped["status"] == 0 and "circuit open" in skipped["error"]
    assert answered["model"] == "o-default" and answered["status"] == 200
    stream = client.chat.completions.create(model="tier/default", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).startswith("[o-default]")
    with pytest.raises(openai.InternalServerError) as err:  # named directly: no fallback, a clear 503
        client.chat.completions.create(model="a-default", messages=MESSAGES)
    assert err.value.status_code == 503 and "circuit open" in err.value.message
    assert calls(fake_anthropic, "a-default") == 3

    time.sleep(COOLDOWN_S)  # half-open: one probe goes through; it fails and re-opens the circuit
    fake_anthropic.inject(status=529)
    raw = client.chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
    assert raw.headers["x-tierwise-model"] == "o-default" and raw.headers["x-tierwise-attempts"] == "2"
    assert calls(fake_anthropic, "a-default") == 4
    raw = client.chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
    assert raw.headers["x-tierwise-model"] == "o-default"
    assert calls(fake_anthropic, "a-default") == 4

    time.sleep(COOLDOWN_S)  # the next probe succeeds and closes it
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(model="tier/default", messages=MESSAGES)
        assert raw.headers["x-tierwise-model"] == "a-default" and raw.headers["x-tierwise-attempts"] == "1"
    assert calls(fake_anthropic, "a-default") == 6
