"""The learned and cascade policies in the running gateway, with the router shipped in the package."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text


@pytest.fixture(scope="module")
def cascade_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("cascade")
    config = workdir / "cascade.yaml"
    config.write_text(default_config_text().replace("  policy: rules ", "  policy: cascade"))
    process = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    process.stop()


def ledger_row(workdir: Path, request_id: str) -> sqlite3.Row:
    connection = sqlite3.connect(workdir / "tierwise.db")
    connection.row_factory = sqlite3.Row
    for _ in range(50):
        row = connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
        if row is not None:
            return row
        __import__("time").sleep(0.05)
    raise AssertionError(f"no ledger row for {request_id}")


def test_cascade_keeps_the_cheap_answer_when_the_checker_agrees(
    cascade_gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    client = anthropic.Anthropic(base_url=cascade_gateway.url, api_key="k", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="auto", max_tokens=100, messages=[{"role": "user", "content": "Compute 17 * 23. The answer is 391"}]
    )
    assert raw.headers["x-tierwise-model"] == "claude-sonnet-4-6"
    assert "cascade: answers agree (391)" in raw.headers["x-tierwise-reason"]
    assert sorted(r.body["model"] for r in fake_anthropic.requests) == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    row = ledger_row(cascade_gateway.workdir, raw.headers["x-tierwise-request-id"])
    assert row["policy"] == "cascade" and row["attempts"] == 2
    assert Decimal(row["cost_usd"]) > 0


def test_cascade_escalates_when_the_answers_differ(
    cascade_gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    # The fakes echo the prompt after their own model name, so with no number in the prompt the "final
    # answers" they give (the last number: -6 for sonnet-4-6, -5 for haiku-4-5) differ.
    client = openai.OpenAI(base_url=cascade_gateway.url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Which planet has the most moons?"}]
    )
    assert raw.headers["x-tierwise-model"] == "claude-opus-4-7"
    assert raw.headers["x-tierwise-tier"] == "escalation"
    assert "answers differ" in raw.headers["x-tierwise-reason"]
    assert raw.parse().model == "claude-opus-4-7"
    row = ledger_row(cascade_gateway.workdir, raw.headers["x-tierwise-request-id"])
    assert row["attempts"] == 3 and row["model"] == "claude-opus-4-7"
    # The cascade paid for all three calls: more than the premium call alone (the baseline).
    assert Decimal(row["cost_usd"]) > Decimal(row["baseline_cost_usd"])


def test_streaming_under_cascade_uses_the_learned_choice(cascade_gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=cascade_gateway.url + "/v1", api_key="k", max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="auto", messages=[{"role": "user", "content": "Which planet has the most moons?"}], stream=True
    ) as response:
        chunks = list(response.parse())
        assert response.headers["x-tierwise-model"] == "claude-sonnet-4-6"
        assert "prior" in response.headers["x-tierwise-reason"]
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_learned_policy_scores_with_the_packaged_router(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    config = tmp_path / "learned.yaml"
    text = default_config_text().replace("  policy: rules ", "  policy: learned")
    config.write_text(text.replace("threshold: 0.29", "threshold: 0.0"))  # everything scores >= 0: strong tier
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), config=config)
    try:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Explain how tides work"}]
        )
        assert raw.headers["x-tierwise-tier"] == "escalation"
        assert raw.headers["x-tierwise-reason"].startswith("learned ")
        assert ">= threshold 0.00" in raw.headers["x-tierwise-reason"]
    finally:
        gateway.stop()


def test_report_shows_the_cascade_evidence(cascade_gateway: GatewayProcess) -> None:
    def evidence() -> dict[str, int]:
        time.sleep(0.2)  # the ledger writer flushes every 50 ms
        out = subprocess.run(
            [sys.executable, "-m", "tierwise.cli", "report", "--json", "--ledger", str(cascade_gateway.ledger_path)],
            capture_output=True,
            check=True,
        )
        found: dict[str, int] = json.loads(out.stdout)["signals"]
        return found

    before = evidence() if cascade_gateway.ledger_path.exists() else {"cascade_checked": 0, "cascade_escalated": 0}
    client = anthropic.Anthropic(base_url=cascade_gateway.url, api_key="k", max_retries=0)
    for text in ("Compute 6 * 7. The answer is 42", "Which river is the longest?"):  # agree, then differ
        client.messages.create(model="auto", max_tokens=50, messages=[{"role": "user", "content": text}])
    after = evidence()
    assert after["cascade_checked"] - before["cascade_checked"] == 2
    assert after["cascade_escalated"] - before["cascade_escalated"] == 1
