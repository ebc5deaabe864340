"""Every request is one ledger row with its decision, tokens and cost; `tierwise report --json` counts them."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY, upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI


def report(workdir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "report", "--json"], cwd=workdir, capture_output=True, check=True
    )
    return json.loads(out.stdout)


def test_every_request_is_one_row_and_reported(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai))
    try:
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "one"}])
        list(oa.chat.completions.create(model="tier/speed", messages=[{"role": "user", "content": "two"}], stream=True))
        an.messages.create(model="tier/escalation", max_tokens=20, messages=[{"role": "user", "content": "three"}])
        with an.messages.stream(model="gpt-5.1", max_tokens=20, messages=[{"role": "user", "content": "four"}]) as s:
            s.get_final_message()
        with contextlib.suppress(openai.NotFoundError):
            oa.chat.completions.create(model="nope", messages=[{"role": "user", "content": "five"}])
    finally:
        assert gateway.stop() == 0  # SIGTERM: clean exit, ledger flushed

    rows = (
        sqlite3.connect(gateway.ledger_path)
        .execute(
            "SELECT api, requested_model, tier, model, upstream_model, status, input_tokens, output_tokens, cost_usd,"
            " baseline_cost_usd, reasons, stream, ttft_ms FROM requests ORDER BY started_at"
        )
        .fetchall()
    )
    assert len(rows) == 5
    by_model = {row[1]: row for row in rows}
    auto = by_model["auto"]
    assert auto[:6] == ("openai", "auto", "default", "claude-sonnet-4-6", "claude-sonnet-4-6", 200)
    assert auto[6] > 0 and auto[7] > 0
    # Sonnet 4.6 costs less than Opus 4.7 (the escalation baseline) for the same tokens.
    assert Decimal(auto[8]) > 0 and Decimal(auto[9]) > Decimal(auto[8])
    assert by_model["tier/speed"][11] == 1 and by_model["tier/speed"][12] is not None
    escalation = by_model["tier/escalation"]
    assert Decimal(escalation[8]) == Decimal(escalation[9])  # the baseline is the escalation model itself
    assert by_model["gpt-5.1"][3] == "gpt-5.1" and by_model["gpt-5.1"][0] == "anthropic"
    failed = by_model["nope"]
    assert failed[5] == 404 and failed[8] is None

    summary = report(tmp_path)
    assert summary["requests"] == 5 and summary["errors"] == 1
    baseline, premium = summary["savings"]
    # Only "auto" was decided by routing (to Sonnet, the baseline itself): named models and tiers stand apart.
    assert baseline["requests"] == premium["requests"] == 1
    assert baseline["against"] == "claude-sonnet-4-6" and Decimal(baseline["saved_usd"]) == 0
    assert Decimal(premium["spend_usd"]) < Decimal(premium["counterfactual_usd"])
    assert {k: v["requests"] for k, v in summary["routes"].items()} == {
        "routed": 1, "explicit": 2, "direct": 1, "fallback": 0, "failed": 0, "refused": 1
    }  # fmt: skip
    assert summary["by_tier"]["default"]["requests"] == 2  # auto, and gpt-5.1 named directly (a default model)
    assert summary["by_model"]["claude-haiku-4-5"]["requests"] == 1


def test_missing_key_is_reported_and_answered_clearly(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = {"OPENAI_BASE_URL": fake_openai.url, "OPENAI_API_KEY": OPENAI_KEY}  # no Anthropic key at all
    gateway = GatewayProcess(tmp_path, env=env)
    try:
        an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        raw = an.messages.with_raw_response.create(
            model="auto", max_tokens=20, messages=[{"role": "user", "content": "Describe the weather on Mars"}]
        )
        assert raw.headers["x-tierwise-model"] == "gpt-5.1"  # Sonnet skipped: its provider has no key
        with pytest.raises(anthropic.APIStatusError) as err:
            an.messages.create(model="claude-opus-4-7", max_tokens=20, messages=[{"role": "user", "content": "x"}])
        assert err.value.status_code == 503
        assert "ANTHROPIC_API_KEY" in err.value.message
        time.sleep(0.1)
    finally:
        gateway.stop()
    log = gateway.log()
    assert "ANTHROPIC_API_KEY is not set" in log
    assert ANTHROPIC_KEY not in log and OPENAI_KEY not in log


def test_no_keys_at_all_is_one_clear_permanent_502(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, env={})
    try:
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.APIStatusError) as err:
            oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Describe the sea"}])
        assert err.value.status_code == 502  # not 503 "overloaded": no retry will find the keys
        assert err.value.response.headers["x-should-retry"] == "false"
        assert "no model could be reached: $ANTHROPIC_API_KEY, $OPENAI_API_KEY not set" in err.value.message
        ready = http_get(gateway.url + "/readyz")
        assert ready == (503, {"status": "not ready", "ledger": True, "usable_models": []})
    finally:
        gateway.stop()


def http_get(url: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
