"""The real Claude Code CLI (pinned in tests/agents/package.json) runs ``claude -p`` against the gateway with its
default model settings, routed by the shipped model patterns to the fake Anthropic server.

Claude Code is configured the way docs/AGENTS.md tells users to: ``ANTHROPIC_BASE_URL`` at the gateway and a dummy
key, with its non-essential traffic (telemetry, update checks) off and a fresh HOME, so nothing leaves the machine.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic

CLAUDE = Path(__file__).resolve().parents[1] / "agents" / "node_modules" / ".bin" / "claude"
# In CI a missing CLI is a failure (.ci/run installs it), never a skip.
pytestmark = pytest.mark.skipif(
    not CLAUDE.exists() and not os.environ.get("CI"), reason="run `npm ci --prefix tests/agents` to install Claude Code"
)
CLAUDE_DEFAULT_MODEL = "claude-opus-5-5"  # what Claude Code 2.1.332 asks for when no model is configured


def run_claude(gateway: GatewayProcess, tmp_path: Path, prompt: str, *args: str) -> subprocess.CompletedProcess[str]:
    home, work, tmp = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for directory in (home, work, tmp):
        directory.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "CLAUDE"))}
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        ANTHROPIC_BASE_URL=gateway.url,
        ANTHROPIC_API_KEY="dummy",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    return subprocess.run(
        [str(CLAUDE), "-p", prompt, *args],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ledger_rows(gateway: GatewayProcess, since: float, model: str, count: int) -> list[sqlite3.Row]:
    deadline = time.monotonic() + 10
    rows: list[sqlite3.Row] = []
    while time.monotonic() < deadline:  # the ledger is written off the request path
        with sqlite3.connect(gateway.ledger_path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM requests WHERE api = 'anthropic' AND requested_model = ? AND started_at >= ?"
                " ORDER BY started_at",
                (model, since),
            ).fetchall()
        if len(rows) >= count:
            break
        time.sleep(0.1)
    return rows


def test_claude_answers_a_plain_prompt_on_its_default_model_routed(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    since = time.time()
    done = run_claude(gateway, tmp_path, "say hello to the gateway")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[claude-opus-4-7] echo:" in done.stdout and "say hello to the gateway" in done.stdout
    sent = fake_anthropic.requests[-1]
    # Claude Code's betas and the body fields that need them reached Anthropic; its mid-conversation system
    # message arrived as a reminder on the user's side (the fake, like the API without the beta, refuses it).
    assert "claude-code-20250219" in sent.headers["anthropic-beta"].split(",")
    assert "per-turn-control-2026-07-01" not in sent.headers["anthropic-beta"]
    assert "context_management" in sent.body and sent.body["thinking"]["type"] == "adaptive"
    assert {m["role"] for m in sent.body["messages"]} == {"user"}
    rows = ledger_rows(gateway, since, CLAUDE_DEFAULT_MODEL, 1)
    assert [(r["tier"], r["model"], r["status"], r["stream"]) for r in rows] == [
        ("escalation", "claude-opus-4-7", 200, 1)
    ]
    assert "matches pattern '*claude*opus*'" in rows[0]["reasons"]
    assert rows[0]["session"]  # Claude Code's own session id (x-claude-code-session-id)


def test_claude_runs_a_tool_the_model_asked_for(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    # The fake model calls Write with its schema's example arguments (file_path "x", content "x"); Claude Code
    # writes the file in its working directory and sends the result back, which the fake model then quotes.
    since = time.time()
    done = run_claude(gateway, tmp_path, "please call Write", "--allowedTools", "Write")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "work" / "x").read_text() == "x"
    assert "[claude-opus-4-7] tool result: File created successfully" in done.stdout
    last = next(
        r.body["messages"]
        for r in reversed(fake_anthropic.requests)
        if r.path == "/v1/messages" and any(b["type"] == "tool_result" for b in r.body["messages"][-1]["content"])
    )
    calls = [block for block in last[-2]["content"] if block["type"] == "tool_use"]
    assert [(c["name"], c["input"]) for c in calls] == [("Write", {"file_path": "x", "content": "x"})]
    results = [block for block in last[-1]["content"] if block["type"] == "tool_result"]
    assert [r["tool_use_id"] for r in results] == [calls[0]["id"]] and not results[0].get("is_error")
    rows = ledger_rows(gateway, since, CLAUDE_DEFAULT_MODEL, 2)
    assert len(rows) >= 2 and {(r["tier"], r["status"]) for r in rows} == {("escalation", 200)}
    assert len({r["session"] for r in rows}) == 1  # one Claude Code session, one gateway session


def test_claude_with_model_auto_is_routed_by_the_policy(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    since = time.time()
    done = run_claude(gateway, tmp_path, "describe the water cycle", "--model", "auto")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[claude-sonnet-4-6] echo:" in done.stdout
    rows = ledger_rows(gateway, since, "auto", 1)
    assert [(r["tier"], r["policy"], r["status"]) for r in rows] == [("default", "rules", 200)]
