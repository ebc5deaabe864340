"""A real gateway whose ledger holds known traffic, sent through it by the official SDKs to local upstreams."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.query.evidence_rows import Judged, write_evidence
from tests.upstreams import FakeAnthropic, FakeOpenAI

POEM = "Write a short poem about the sea"  # the default tier
TRANSLATE = "Translate this sentence to French: good morning"  # the speed tier (light task)
PROOF = "Prove that there are infinitely many primes, step by step."  # the escalation tier (hard reasoning)
SESSIONS = {"alpha": (POEM, PROOF, "Hello there!"), "beta": (POEM, "Write a short story about a lighthouse")}


@dataclass(frozen=True)
class Site:
    gateway: GatewayProcess
    admin_key: str
    limited_key: str  # team-a: 4 requests a minute, budgets
    plain_key: str  # team-b: no limits

    @property
    def url(self) -> str:
        return self.gateway.url

    def report(self, *args: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "tierwise.cli", "report", "--json", "--ledger", str(self.gateway.ledger_path)]
        out = subprocess.run([*command, *args], capture_output=True, check=True, text=True)
        found: dict[str, Any] = json.loads(out.stdout)
        return found

    def session_request_ids(self, session: str) -> list[str]:
        with contextlib.closing(sqlite3.connect(self.gateway.ledger_path)) as connection:
            rows = connection.execute(
                "SELECT request_id FROM requests WHERE session = ? ORDER BY started_at", (session,)
            ).fetchall()
        return [row[0] for row in rows]


def create_key(workdir: Path, name: str, *flags: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "keys", "create", name, *flags],
        cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def ledger_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("SELECT count(*) FROM requests").fetchone()[0])


def send_known_traffic(site: Site) -> int:
    """Returns how many requests were sent (each is one ledger row)."""
    url = site.url
    team_b = openai.OpenAI(base_url=url + "/v1", api_key=site.plain_key, max_retries=0)
    team_b_an = anthropic.Anthropic(base_url=url, api_key=site.plain_key, max_retries=0)
    sent = 0

    def chat(client: openai.OpenAI, text: str, model: str = "auto", **kwargs: Any) -> None:
        nonlocal sent
        sent += 1
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kwargs)

    chat(team_b, POEM)
    chat(team_b, TRANSLATE)
    sent += 1
    team_b_an.messages.create(model="auto", max_tokens=200, messages=[{"role": "user", "content": PROOF}])
    chat(team_b, POEM, model="tier/escalation")
    chat(team_b, POEM, model="gpt-5.1")
    chat(team_b, POEM + " [[fail:503@anthropic]]")  # Sonnet fails twice: answered by gpt-5.1, a fallback
    sent += 1
    list(team_b.chat.completions.create(model="auto", messages=[{"role": "user", "content": POEM}], stream=True))
    for session, turns in SESSIONS.items():
        history: list[dict[str, str]] = []
        for text in turns:
            history.append({"role": "user", "content": text})
            sent += 1
            answer = team_b.chat.completions.create(
                model="auto",
                messages=history,
                extra_headers={"x-tierwise-session": session},  # type: ignore[arg-type]
            )
            history.append({"role": "assistant", "content": answer.choices[0].message.content or ""})
    team_a = openai.OpenAI(base_url=url + "/v1", api_key=site.limited_key, max_retries=0)
    for _ in range(6):  # four fit the minute; two are refused
        with contextlib.suppress(openai.RateLimitError):
            chat(team_a, "hello")
    with contextlib.suppress(openai.NotFoundError):
        chat(team_b, POEM, model="no-such-model")
    return sent


def add_evidence(path: Path) -> None:
    """Judged comparisons for the requests routing answered on the speed and default tiers, written by the
    evidence package's own store, as its shadow calls and judge would have."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT request_id, tier, model, input_tokens, output_tokens FROM requests WHERE status = 200"
            " AND requested_model = 'auto' AND tier IN ('speed', 'default') AND model LIKE 'claude-%'"
            " ORDER BY started_at"
        ).fetchall()
    now = time.time()
    for i, (request_id, tier, model, input_tokens, output_tokens) in enumerate(rows):
        shadow = ("default", "claude-sonnet-4-6") if tier == "speed" else ("escalation", "claude-opus-4-7")
        judged: Judged = (request_id, tier, model, *shadow, (0.7, 1.0, 0.9)[i % 3], 1.0, 0.1 + 0.03 * i)
        # The stronger model answers the same prompt at more length.
        write_evidence(path, [judged], at=now + i, shadow_tokens=(input_tokens, output_tokens * 3 // 2 + 1))


@pytest.fixture(scope="session")
def site(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("console")
    admin = create_key(workdir, "console-admin", "--admin")
    limited = create_key(workdir, "team-a", "--rpm", "4", "--daily-budget", "5", "--monthly-budget", "50")
    plain = create_key(workdir, "team-b")
    gateway = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai))
    try:
        found = Site(gateway=gateway, admin_key=admin, limited_key=limited, plain_key=plain)
        sent = send_known_traffic(found)
        deadline = time.monotonic() + 10
        while ledger_rows(gateway.ledger_path) < sent and time.monotonic() < deadline:
            time.sleep(0.05)  # the ledger writer flushes every 50 ms
        assert ledger_rows(gateway.ledger_path) == sent
        add_evidence(gateway.ledger_path)
        yield found
    finally:
        gateway.stop()
