"""The request path never waits for evidence: a slow shadow tier adds nothing to the client's time, and a
streamed answer is captured as the client received it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.conftest import upstream_env
from tests.evidence.conftest import rows, wait_for
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text

SHADOW_STALL_S = 6.0


@pytest.fixture
def gateway(tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI) -> Iterator[GatewayProcess]:
    config = tmp_path / "tierwise.yaml"
    config.write_text(
        default_config_text()
        .replace("  enabled: false ", "  enabled: true ")
        .replace("  sample_rate: 0.05 ", "  sample_rate: 1.0 "),
        encoding="utf-8",
    )
    process = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    process.stop()


def test_a_slow_shadow_tier_adds_nothing_to_the_clients_time(gateway: GatewayProcess) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused")
    prompt = f"Tell me about the Hanseatic League [[slow:{SHADOW_STALL_S:g}@claude-opus-4-7]]"
    started = time.monotonic()
    reply = client.messages.create(model="auto", max_tokens=200, messages=[{"role": "user", "content": prompt}])
    took = time.monotonic() - started
    assert reply.model == "claude-sonnet-4-6"  # the default tier answered; the escalation tier shadows it
    assert took < SHADOW_STALL_S / 2  # the client had its answer while the shadow call was still stalled
    db = gateway.ledger_path
    wait_for(lambda: len(rows(db, "SELECT 1 FROM evidence_comparisons")) == 1, timeout=60)
    # the shadow call's own ledger row comes through the ledger's writer, on its own schedule
    wait_for(lambda: len(rows(db, "SELECT 1 FROM requests WHERE traffic = 'shadow'")) == 1, timeout=60)
    [(latency, model)] = rows(db, "SELECT latency_ms, model FROM requests WHERE traffic = 'shadow'")
    assert model == "claude-opus-4-7" and latency >= SHADOW_STALL_S * 1000
    [(judge, served)] = rows(db, "SELECT judge, served FROM evidence_comparisons")
    assert (judge, served) == ("agreement", "cheap")


def test_a_streamed_answer_is_captured_as_streamed(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused")
    stream = client.chat.completions.create(
        model="auto", stream=True, messages=[{"role": "user", "content": "Describe the water cycle in detail"}]
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    db = gateway.ledger_path
    wait_for(lambda: len(rows(db, "SELECT 1 FROM evidence_samples")) == 1, timeout=60)
    [(answer, tier)] = rows(db, "SELECT answer_text, tier FROM evidence_samples")
    assert text and answer == text and tier == "default"


def test_the_llm_judge_is_asked_twice_through_the_gateways_own_upstreams(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    config = tmp_path / "tierwise.yaml"
    config.write_text(
        default_config_text()
        .replace("  enabled: false ", "  enabled: true ")
        .replace("  sample_rate: 0.05 ", "  sample_rate: 1.0 ")
        .replace("judge: {kind: agreement}", "judge: {kind: llm, model: gpt-5.1}"),
        encoding="utf-8",
    )
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), config=config)
    try:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused")
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Name three rivers"}])
        db = gateway.ledger_path
        wait_for(lambda: len(rows(db, "SELECT 1 FROM evidence_comparisons")) == 1, timeout=60)
    finally:
        gateway.stop()
    # both orders were asked of the judge model, blind, and paid for as judge traffic
    judged = [r for r in fake_openai.requests if r.body and r.body.get("model") == "gpt-5.1"]
    assert len(judged) == 2
    prompts = [r.body["messages"][0]["content"] for r in judged]
    for prompt in prompts:  # models and tiers appear nowhere but in the answers' own text
        outside = re.sub(r"<answer_[ab]>.*?</answer_[ab]>", "", prompt, flags=re.S)
        assert "<answer_a>" in prompt and not re.search(r"claude|gpt|escalation|default", outside)
    assert prompts[0] != prompts[1]  # the same two answers, in the other order
    [(count, cost)] = rows(db, "SELECT COUNT(*), MIN(CAST(cost_usd AS REAL)) FROM requests WHERE traffic = 'judge'")
    assert count == 2 and cost > 0
    # the fake model echoes the instructions, whose last verdict is TIE: a tie in both orders
    assert rows(db, "SELECT judge, cheap_score, strong_score FROM evidence_comparisons") == [("llm", 0.5, 0.5)]
