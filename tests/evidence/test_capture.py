"""Capture, shadow calls and the http judge through the live gateway, on a recorded outcome table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from tests.evidence.conftest import TABLE_KEY, TIERS, prompts, rows, table_config, wait_for
from tests.gateway_process import GatewayProcess
from tests.upstreams.outcome_table import Table, TableJudge, TableUpstream
from tierwise.evidence import quality_by_pair, relative_quality, shadow_answers


def test_sampled_requests_get_a_judged_shadow_answer(
    math_table: Table,
    table_upstream: TableUpstream,
    table_judge: TableJudge,
    start_gateway: Callable[[dict[str, Any]], GatewayProcess],
) -> None:
    evidence = {"enabled": True, "sample_rate": 1.0, "judge": {"kind": "http", "url": table_judge.url}}
    gateway = start_gateway(table_config(math_table, table_upstream.url, evidence=evidence))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused")
    asked = prompts(math_table, 12)
    for prompt in asked:
        reply = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": prompt}])
        assert reply.model == TIERS["default"]  # the answer the client gets is the default tier's, untouched
    db = gateway.ledger_path
    wait_for(lambda: len(rows(db, "SELECT 1 FROM evidence_comparisons")) == len(asked))

    # every sample's shadow came from the next stronger tier, judged from the table's scores
    compared = rows(db, "SELECT s.prompt, c.cheap_model, c.cheap_score, c.strong_model, c.strong_score, c.served, "
                        "c.judge FROM evidence_comparisons c JOIN evidence_samples s USING (sample_id)")  # fmt: skip
    for prompt, cheap, cheap_score, strong, strong_score, served, judge in compared:
        prompt_id = math_table.find(prompt)
        assert prompt_id is not None
        assert (cheap, strong, served, judge) == (TIERS["default"], TIERS["escalation"], "cheap", "http")
        assert cheap_score == math_table.outcomes[(prompt_id, cheap)].score
        assert strong_score == math_table.outcomes[(prompt_id, strong)].score

    # shadow calls are ledger rows of their own, marked and priced, apart from the client's requests
    wait_for(lambda: len(rows(db, "SELECT 1 FROM requests")) == 2 * len(asked))  # the ledger writes on its own time
    traffic = dict(rows(db, "SELECT traffic, COUNT(*) FROM requests GROUP BY traffic"))
    assert traffic == {"client": len(asked), "shadow": len(asked)}
    shadow_costs = rows(db, "SELECT cost_usd FROM requests WHERE traffic = 'shadow'")
    assert all(cost is not None and float(cost) > 0 for (cost,) in shadow_costs)

    # the query API: relative quality with its interval, and the shadow answers' real token counts
    estimate = relative_quality(db)
    cheap_mean = sum(r[2] for r in compared) / len(compared)
    strong_mean = sum(r[4] for r in compared) / len(compared)
    assert estimate.n == len(asked)
    assert estimate.cheap_quality == cheap_mean and estimate.strong_quality == strong_mean
    if strong_mean > 0:
        assert estimate.ratio is not None and abs(estimate.ratio - cheap_mean / strong_mean) < 1e-9
        assert (
            estimate.low is not None and estimate.high is not None and estimate.low <= estimate.ratio <= estimate.high
        )
    [pair] = quality_by_pair(db)
    assert (pair.cheap_tier, pair.strong_tier, pair.n) == ("default", "escalation", len(asked))
    shadows = shadow_answers(db)
    assert len(shadows) == len(asked)
    for shadow in shadows:
        assert shadow.model == TIERS["escalation"] and shadow.tier == "escalation"
        [(prompt,)] = rows(db, "SELECT prompt FROM evidence_samples WHERE request_id = ?", (shadow.request_id,))
        prompt_id = math_table.find(prompt)
        assert prompt_id is not None
        assert shadow.input_tokens == math_table.input_tokens[prompt_id]
        assert shadow.output_tokens == math_table.outcomes[(prompt_id, TIERS["escalation"])].output_tokens

    # no upstream key anywhere in what evidence stored
    stored = rows(db, "SELECT request_body || answer_text FROM evidence_samples")
    stored += rows(db, "SELECT shadow_text FROM evidence_comparisons")
    assert stored and not any(TABLE_KEY in text for (text,) in stored)


def test_the_escalation_tier_is_shadowed_by_the_next_cheaper_one(
    math_table: Table,
    table_upstream: TableUpstream,
    table_judge: TableJudge,
    start_gateway: Callable[[dict[str, Any]], GatewayProcess],
) -> None:
    evidence = {
        "enabled": True,
        "sample_rate": 0.0,
        "tier_rates": {"escalation": 1.0},
        "judge": {"kind": "http", "url": table_judge.url},
    }
    gateway = start_gateway(table_config(math_table, table_upstream.url, evidence=evidence))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused")
    for prompt in prompts(math_table, 4, skip=20):
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": prompt}])  # default: 0
        client.chat.completions.create(model="tier/escalation", messages=[{"role": "user", "content": prompt}])
    db = gateway.ledger_path
    wait_for(lambda: len(rows(db, "SELECT 1 FROM evidence_comparisons")) == 4)
    found = rows(db, "SELECT cheap_tier, strong_tier, served FROM evidence_comparisons")
    assert set(found) == {("default", "escalation", "strong")}
    assert len(rows(db, "SELECT 1 FROM evidence_samples")) == 4  # the default tier's rate is 0: never sampled


def test_shadow_spend_stops_at_the_daily_cap(
    math_table: Table,
    table_upstream: TableUpstream,
    table_judge: TableJudge,
    start_gateway: Callable[[dict[str, Any]], GatewayProcess],
) -> None:
    evidence = {
        "enabled": True,
        "sample_rate": 1.0,
        "shadow": {"max_usd_per_day": 0.000001, "concurrency": 1},
        "judge": {"kind": "http", "url": table_judge.url},
    }
    gateway = start_gateway(table_config(math_table, table_upstream.url, evidence=evidence))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused")
    for prompt in prompts(math_table, 6, skip=40):
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": prompt}])
    db = gateway.ledger_path
    wait_for(lambda: len(rows(db, "SELECT 1 FROM evidence_samples")) == 6)
    gateway.stop()
    # the first shadow call spends more than the cap: it is the only one
    assert rows(db, "SELECT COUNT(*) FROM requests WHERE traffic = 'shadow'") == [(1,)]
