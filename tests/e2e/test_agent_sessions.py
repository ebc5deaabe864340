"""An agent session through the real gateway: named by Claude Code's header, escalated on repeated tool errors
(reasoning effort first, then the tier), each switch in the response headers and the ledger."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from typing import Any

import anthropic

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic

BASH = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {}}}
SYSTEM = [{"type": "text", "text": "You are a coding agent. " * 200, "cache_control": {"type": "ephemeral"}}]


def _turns(failures: int, start: int = 0) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for n in range(start, start + failures):
        tool_id = f"toolu_{n:02d}"
        turns.append(
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"n": n}}]}
        )
        result = {"type": "tool_result", "tool_use_id": tool_id, "content": "make: *** [all] Error 2", "is_error": True}
        turns.append({"role": "user", "content": [result]})
    return turns


def _ask(client: anthropic.Anthropic, messages: list[dict[str, Any]]) -> dict[str, str]:
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-9",  # an id no model is configured under: its pattern says tier default
        max_tokens=500,
        system=SYSTEM,  # type: ignore[arg-type]
        tools=[BASH],  # type: ignore[list-item]
        messages=messages,  # type: ignore[arg-type]
        extra_headers={"x-claude-code-session-id": "e2e-session-1"},
    )
    raw.parse()
    return {name.lower(): value for name, value in raw.headers.items()}


def _rows(path: str, session: str, count: int) -> list[sqlite3.Row]:
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM requests WHERE session = ? ORDER BY started_at", (session,)).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_a_struggling_session_gets_more_effort_then_a_stronger_tier(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="dummy", max_retries=0)
    opening = [{"role": "user", "content": "fix the build"}]
    first = _ask(client, opening)
    assert first["x-tierwise-tier"] == "default" and "x-tierwise-session-switch" not in first

    second = _ask(client, opening + _turns(2))
    assert second["x-tierwise-tier"] == "default"
    assert second["x-tierwise-session-switch"] == "effort default->high: 2 failed tool results in a row"
    assert fake_anthropic.requests[-1].body["output_config"]["effort"] == "high"

    third = _ask(client, opening + _turns(2) + _turns(2, start=2))
    assert third["x-tierwise-tier"] == "escalation" and third["x-tierwise-model"] == "claude-opus-4-7"
    switch = third["x-tierwise-session-switch"]
    assert switch.startswith("tier default->escalation: 4 failed tool results in a row; forfeits ")
    forfeited = int(switch.split("forfeits ")[1].split()[0])
    assert forfeited > 1000  # the cached system prompt that the sonnet calls had read

    rows = _rows(str(gateway.ledger_path), "e2e-session-1", 3)
    assert [r["tier"] for r in rows] == ["default", "default", "escalation"]
    assert [r["session_switch"] for r in rows][1:] == [
        "effort default->high: 2 failed tool results in a row",
        "tier default->escalation: 4 failed tool results in a row",
    ]
    assert rows[2]["forfeited_cache_tokens"] == forfeited
    assert rows[2]["forfeited_cache_usd"] is not None and float(rows[2]["forfeited_cache_usd"]) > 0

    # What the session looks like in `tierwise report`.
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "tierwise.cli",
            "report",
            "--ledger",
            str(gateway.ledger_path),
            "--session",
            "e2e-session-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "session e2e-session-1: 3 requests for claude-sonnet-4-9; tiers default -> escalation" in report
    assert "[tier default->escalation: 4 failed tool results in a row]" in report
    assert f"forfeited {forfeited} cached prompt tokens ($" in report
    listed = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "report", "--ledger", str(gateway.ledger_path), "--sessions", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    mine = next(s for s in json.loads(listed) if s["session"] == "e2e-session-1")
    assert mine["tiers"] == ["default", "escalation"] and len(mine["switches"]) == 2
    assert mine["forfeited_cache_tokens"] == forfeited
