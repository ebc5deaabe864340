"""The closed loop through the live gateway: conservative until there is evidence, an operating point applied
only when its lower bound meets the target, a rollback when live evidence falls under it; then the evidence
exported as an outcome table and a what-if replay of another configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import yaml

from tests.evidence.conftest import TABLE_KEY, TIERS, prompts, rows, table_config, wait_for
from tests.gateway_process import GatewayProcess
from tests.upstreams.outcome_table import Table, TableJudge, TableUpstream
from tierwise.brain.table import load_table
from tierwise.evidence import routing_changes

TARGET = 0.5


def ask(client: openai.OpenAI, prompt: str) -> str:
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": prompt}])
    return raw.headers["x-tierwise-reason"]


def tierwise(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"TABLE_KEY": TABLE_KEY, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_loop_applies_only_what_it_can_vouch_for_and_rolls_back(
    math_table: Table,
    table_upstream: TableUpstream,
    table_judge: TableJudge,
    start_gateway: Callable[[dict[str, Any]], GatewayProcess],
    tmp_path: Path,
) -> None:
    evidence = {
        "enabled": True,
        "sample_rate": 1.0,
        "judge": {"kind": "http", "url": table_judge.url},
        "min_samples": 30,
        "recalibrate_every": 0.3,
    }
    config = table_config(math_table, table_upstream.url, evidence=evidence)
    config["routing"].update({"policy": "learned", "target": {"quality": TARGET}})
    gateway = start_gateway(config)
    db = gateway.ledger_path
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused")

    reason = ask(client, prompts(math_table, 1)[0])
    assert "no operating point holds yet, default tier" in reason  # no evidence: conservative
    for prompt in prompts(math_table, 39, skip=1):
        ask(client, prompt)
    wait_for(lambda: any(c.action == "apply" for c in routing_changes(db)))
    applied = [c for c in routing_changes(db) if c.action == "apply"]
    for change in applied:
        assert change.lower is not None and change.lower >= TARGET  # only what the lower bound vouches for
        assert change.n >= 30 and change.target == f"quality {TARGET:g}"
    assert "evidence apply" in ask(client, prompts(math_table, 1, skip=40)[0])

    # The evaluator now finds every answer of the cheaper tier wrong: live quality falls under the target.
    table_judge.forced[TIERS["default"]] = 0.0
    for prompt in prompts(math_table, 30, skip=41):
        ask(client, prompt)
    wait_for(lambda: any(c.action == "rollback" for c in routing_changes(db)))
    [rollback] = [c for c in routing_changes(db) if c.action == "rollback"][:1]
    assert rollback.upper is not None and rollback.upper < TARGET
    assert "live quality" in rollback.reason
    gateway.stop()

    # calibrate --from-evidence re-decides on demand (and records what it applies)
    config_path = tmp_path / "tierwise.yaml"
    out = tierwise("calibrate", "--from-evidence", "--config", str(config_path), cwd=tmp_path)
    assert out.strip()
    before = len(routing_changes(db))
    assert before >= 2

    # every change is visible: quality by tier pair and the change log
    shown = tierwise("evidence", "show", "--config", str(config_path), cwd=tmp_path)
    assert "default vs escalation: judged relative quality" in shown
    assert "rollback" in shown and "apply" in shown

    # the judged comparisons are an outcome table in the shared format
    exported = tmp_path / "exported"
    out = tierwise("evidence", "export", str(exported), "--config", str(config_path), cwd=tmp_path)
    assert f"of {TIERS['default']} and {TIERS['escalation']}" in out
    table = load_table(exported)
    judged = rows(db, "SELECT COUNT(*) FROM evidence_comparisons WHERE cheap_tier = 'default'")[0][0]
    assert len(table) == judged and set(table.models) == {TIERS["default"], TIERS["escalation"]}
    assert table.scores.shape == (judged, 2)

    # what-if: everything on the escalation tier
    other = dict(config, routing={"policy": "rules", "default_tier": "escalation", "sticky_sessions": False})
    other_path = tmp_path / "other.yaml"
    other_path.write_text(yaml.safe_dump(other), encoding="utf-8")
    report = json.loads(
        tierwise("replay", "--config", str(other_path), "--current", str(config_path), "--json", cwd=tmp_path)
    )
    current, what_if = report["estimates"]
    captured = rows(db, "SELECT COUNT(*) FROM evidence_samples")[0][0]
    assert what_if["requests"] == captured and what_if["tiers"] == {"escalation": captured}
    # the escalation tier's real tokens are known wherever it served or shadowed; elsewhere they are estimated
    unknown = rows(
        db,
        "SELECT COUNT(*) FROM evidence_samples s WHERE s.tier != 'escalation' AND NOT EXISTS "
        "(SELECT 1 FROM evidence_comparisons c WHERE c.sample_id = s.sample_id)",
    )[0][0]
    assert what_if["relative_quality"] == 1.0 and what_if["cost_estimated_requests"] == unknown
    assert current["requests"] == captured
    assert what_if["cost_per_request_usd"] > current["cost_per_request_usd"]
    assert "default_tier: escalation" in report["diff"]
