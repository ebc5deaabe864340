"""The console on a PostgreSQL ledger: every figure on every view equals `tierwise report --json` there too."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
import psycopg
import pytest

from tests.conftest import upstream_env
from tests.console.conftest import POEM, PROOF
from tests.gateway_process import GatewayProcess
from tests.state.conftest import postgres_url
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text

FIGURE = re.compile(r'<span data-key="([^"]*)">([^<]*)</span>')


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    server = postgres_url()
    name = "tierwise_console_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield urlunsplit(urlsplit(server)._replace(path="/" + name))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def cli(config: Path, url: str, *args: str) -> str:
    env = {**os.environ, "TIERWISE_TEST_LEDGER_URL": url}
    command = [sys.executable, "-m", "tierwise.cli", *args, "--config", str(config)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


def get(url: str, key: str) -> str:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body: str = response.read().decode()
        return body


def resolve(document: Any, path: str) -> Any:
    for part in json.loads(path):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def test_every_view_on_a_postgres_ledger_shows_report_json(
    tmp_path: Path,
    database: str,
    fake_anthropic: FakeAnthropic,
    fake_openai: FakeOpenAI,
) -> None:
    config = tmp_path / "tierwise.yaml"
    config.write_text(
        default_config_text().replace("  path: tierwise.db", "  backend: postgres\n  url_env: TIERWISE_TEST_LEDGER_URL")
    )
    admin = cli(config, database, "keys", "create", "console", "--admin").strip()
    env = {**upstream_env(fake_anthropic, fake_openai), "TIERWISE_TEST_LEDGER_URL": database}
    gateway = GatewayProcess(tmp_path, env=env, config=config)
    try:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
        sent = 0
        for model, text, session in (("auto", POEM, "p1"), ("auto", PROOF, "p1"), ("tier/speed", POEM, None),
                                     ("gpt-5.1", POEM, None), ("auto", POEM, None)):  # fmt: skip
            headers = {"x-tierwise-session": session} if session else {}
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}],
                                           extra_headers=headers)  # fmt: skip
            sent += 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with psycopg.connect(database) as connection:
                found = connection.execute("SELECT count(*) FROM requests").fetchone()
            if found is not None and found[0] >= sent:
                break
            time.sleep(0.1)
        report = json.loads(cli(config, database, "report", "--json", "--period", "7d"))
        assert report["requests"] == sent and report["routes"]["routed"]["requests"] == 3
        served = json.loads(get(gateway.url + "/console/api/report?period=7d", admin))
        for key in ("requests", "spend_usd", "savings", "routes", "by_tier", "sessions", "tiers_over_time"):
            assert served[key] == report[key], key
        checked = 0
        for view in ("overview", "tiers", "quality", "sessions", "keys"):
            page = get(gateway.url + f"/console/{view}?period=7d", admin)
            for key, text in FIGURE.findall(page):
                value = resolve(report, html.unescape(key))
                assert html.unescape(text) == ("-" if value is None else str(value)), (view, key)
                checked += 1
        assert checked > 60
        (session,) = report["sessions"]
        assert session["tier_history"] == ["default", "escalation"]
        page = get(gateway.url + f"/console/sessions/p1?key={session['key_id'] or ''}", admin)
        assert "session moved up from default to escalation" in page
    finally:
        gateway.stop()
