"""The real Codex CLI (pinned in tests/agents/package.json) runs ``codex exec`` against the gateway, with its
default model setting, routed to the fake Anthropic server.

Codex is configured the way docs/AGENTS.md tells users to: a model provider whose base URL is the gateway,
``wire_api = "responses"``, a dummy key from an environment variable, the built-in web search off (only OpenAI can
run it), and nothing that reaches the network on its own (update check, analytics, plugin sync).
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

CODEX = Path(__file__).resolve().parents[1] / "agents" / "node_modules" / ".bin" / "codex"
# In CI a missing CLI is a failure (.ci/run installs it), never a skip.
pytestmark = pytest.mark.skipif(
    not CODEX.exists() and not os.environ.get("CI"), reason="run `npm ci --prefix tests/agents` to install Codex"
)
CODEX_DEFAULT_MODEL = "gpt-6.1-sol"  # what Codex 0.169 asks for when no model is configured


def codex_config(gateway_url: str) -> str:
    return f"""
model_provider = "tierwise"
web_search = "disabled"
check_for_update_on_startup = false

[model_providers.tierwise]
name = "tierwise"
base_url = "{gateway_url}/v1"
wire_api = "responses"
env_key = "TIERWISE_API_KEY"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[features]
plugins = false
"""


def run_codex(gateway: GatewayProcess, tmp_path: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(codex_config(gateway.url))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "CODEX_"))}
    env.update(CODEX_HOME=str(home), HOME=str(tmp_path), TIERWISE_API_KEY="unused-by-an-open-gateway")
    return subprocess.run(
        [str(CODEX), "exec", "--skip-git-repo-check", "-C", str(work), prompt],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def ledger_rows(gateway: GatewayProcess, since: float, count: int) -> list[sqlite3.Row]:
    deadline = time.monotonic() + 30
    rows: list[sqlite3.Row] = []
    while time.monotonic() < deadline:  # the ledger is written off the request path
        with sqlite3.connect(gateway.ledger_path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM requests WHERE api = 'responses' AND requested_model = ? AND started_at >= ?"
                " ORDER BY started_at",
                (CODEX_DEFAULT_MODEL, since),
            ).fetchall()
        if len(rows) >= count:
            break
        time.sleep(0.1)
    return rows


def test_codex_exec_answers_a_plain_prompt(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    since = time.time()
    done = run_codex(gateway, tmp_path, "say hello to the gateway")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[claude-sonnet-4-6] echo:" in done.stdout and "say hello to the gateway" in done.stdout
    sent = fake_anthropic.requests[-1].body
    assert sent["model"] == "claude-sonnet-4-6"
    # Codex's tools arrived as flat tools: its namespaced ones and its freeform JavaScript tool.
    assert "functions__exec" in [tool["name"] for tool in sent["tools"]]
    rows = ledger_rows(gateway, since, 1)
    got = [(r["tier"], r["model"], r["status"], r["stream"]) for r in rows]
    assert got == [("default", "claude-sonnet-4-6", 200, 1)], [dict(r) for r in rows]


def test_codex_exec_runs_a_tool_the_model_asked_for(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    since = time.time()
    done = run_codex(gateway, tmp_path, "please use a tool")
    assert done.returncode == 0, done.stderr[-3000:]
    # The fake model called Codex's exec tool with the input "x"; Codex ran it as JavaScript and sent back what
    # it got, which the fake model then quotes in its final answer.
    assert "[claude-sonnet-4-6] tool result:" in done.stdout
    assert "x is not defined" in done.stdout
    first, second = (r.body for r in fake_anthropic.requests[-2:])
    calls = [block for block in second["messages"][1]["content"] if block["type"] == "tool_use"]
    assert [(c["name"], c["input"]) for c in calls] == [("functions__exec", {"input": "x"})]
    result = second["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == calls[0]["id"]
    assert first["tools"] == second["tools"]
    rows = ledger_rows(gateway, since, 2)
    assert [(r["tier"], r["status"]) for r in rows] == [("default", 200), ("default", 200)], [dict(r) for r in rows]
    # Both turns are one session, named by Codex's own session-id header.
    assert rows[0]["session"] and len({r["session"] for r in rows}) == 1
