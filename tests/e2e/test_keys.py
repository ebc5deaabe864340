"""Gateway keys end to end: keys made with `tierwise keys`, the real gateway process, the official SDKs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.keys import KEY_REFRESH_S, KeyLimits, KeyStore

HELLO = [{"role": "user", "content": "hello"}]  # a short greeting: the speed tier
MARS = [{"role": "user", "content": "Describe the weather on Mars"}]  # the default tier


def tierwise(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", *args], cwd=workdir, capture_output=True, text=True, check=True
    )
    return done.stdout + done.stderr


def create_key(workdir: Path, name: str, *flags: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "keys", "create", name, *flags],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()  # the key alone, on stdout; the notes go to stderr


def key_id(key: str) -> str:
    return key[:11]


def oa(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def an(gateway: GatewayProcess, key: str | None, **kwargs: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, **kwargs)  # type: ignore[arg-type]


def stored_bytes(workdir: Path) -> bytes:
    # The database, its WAL and the ledger's journal segments.
    return b"".join(
        p.read_bytes() for p in (*workdir.glob("tierwise.db*"), *workdir.glob("tierwise.db.journal/*")) if p.is_file()
    )


@dataclass
class Keyed:
    gateway: GatewayProcess
    workdir: Path
    keys: dict[str, str]


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[Keyed]:
    workdir = tmp_path_factory.mktemp("keyed")
    store = KeyStore(workdir / "tierwise.db")  # the default config's ledger.path, in the gateway's directory
    keys = {
        "plain": store.create("plain").key,
        "speed": store.create("speed only", KeyLimits(tiers=frozenset({"speed"}))).key,
        "rpm": store.create("two a minute", KeyLimits(requests_per_minute=2)).key,
        "doomed": store.create("to be revoked").key,
    }
    gateway = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai))
    yield Keyed(gateway, workdir, keys)
    gateway.stop()


def post(gateway: GatewayProcess, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    body = {"model": "auto", "max_tokens": 10, "messages": HELLO}
    request = urllib.request.Request(
        gateway.url + path, data=json.dumps(body).encode(), headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_no_key_gets_401_in_the_shape_of_each_api(keyed: Keyed) -> None:
    status, body = post(keyed.gateway, "/v1/chat/completions", {})
    assert status == 401 and set(body) == {"error"} and body["error"]["code"] == "invalid_api_key"
    assert "requires a key" in body["error"]["message"]
    status, body = post(keyed.gateway, "/v1/messages", {"anthropic-version": "2023-06-01"})
    assert status == 401 and body["type"] == "error" and body["error"]["type"] == "authentication_error"

    with pytest.raises(openai.AuthenticationError, match="invalid gateway key") as oa_refused:
        oa(keyed.gateway, "sk-not-a-gateway-key").chat.completions.create(model="auto", messages=HELLO)
    assert "sk-not-a-gateway-key" not in oa_refused.value.response.text
    with pytest.raises(anthropic.AuthenticationError, match="invalid gateway key"):
        an(keyed.gateway, "sk-not-a-gateway-key").messages.create(model="auto", max_tokens=10, messages=HELLO)


def test_a_valid_key_works_as_bearer_and_as_x_api_key(keyed: Keyed) -> None:
    key = keyed.keys["plain"]
    answer = oa(keyed.gateway, key).chat.completions.create(model="auto", messages=HELLO)  # Authorization: Bearer
    assert "hello" in (answer.choices[0].message.content or "")
    message = an(keyed.gateway, key).messages.create(model="auto", max_tokens=10, messages=HELLO)  # Bearer as well
    assert message.content
    legacy = an(keyed.gateway, None, default_headers={"x-api-key": key})  # what older SDKs send
    raw = legacy.messages.with_raw_response.create(model="tier/speed", max_tokens=10, messages=HELLO)
    assert raw.http_response.status_code == 200 and raw.headers["x-tierwise-tier"] == "speed"


def test_a_tier_the_key_may_not_use_gets_403(keyed: Keyed) -> None:
    key = keyed.keys["speed"]
    ok = oa(keyed.gateway, key).chat.completions.with_raw_response.create(model="tier/speed", messages=HELLO)
    assert ok.headers["x-tierwise-tier"] == "speed"
    with pytest.raises(openai.PermissionDeniedError, match="may not use the escalation tier"):
        oa(keyed.gateway, key).chat.completions.create(model="tier/escalation", messages=HELLO)
    with pytest.raises(anthropic.PermissionDeniedError, match="may not use the default tier"):
        an(keyed.gateway, key).messages.create(model="auto", max_tokens=10, messages=MARS)  # routed to default


def test_over_the_rate_limit_gets_429_with_retry_after(keyed: Keyed) -> None:
    client = oa(keyed.gateway, keyed.keys["rpm"])
    for _ in range(2):
        client.chat.completions.create(model="tier/speed", messages=HELLO)
    with pytest.raises(openai.RateLimitError, match="2 requests per minute") as refused:
        client.chat.completions.create(model="tier/speed", messages=HELLO)
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 30  # one request back every 30 s


def test_a_revoked_key_is_refused_within_the_refresh_interval(keyed: Keyed) -> None:
    key = keyed.keys["doomed"]
    client = oa(keyed.gateway, key)
    client.chat.completions.create(model="tier/speed", messages=HELLO)
    assert f"revoked {key_id(key)}" in tierwise(keyed.workdir, "keys", "revoke", key_id(key))
    revoked_at = time.monotonic()
    while True:
        try:
            client.chat.completions.create(model="tier/speed", messages=HELLO)
        except openai.AuthenticationError as err:
            assert "has been revoked" in err.message
            break
        assert time.monotonic() - revoked_at < KEY_REFRESH_S + 1.0, "still accepted after the refresh interval"
        time.sleep(0.05)
    oa(keyed.gateway, keyed.keys["plain"]).chat.completions.create(model="tier/speed", messages=HELLO)  # others fine


def test_keys_list_shows_ids_never_keys(keyed: Keyed) -> None:
    for args in (("keys", "list"), ("keys", "list", "--json")):
        out = tierwise(keyed.workdir, *args)
        for key in keyed.keys.values():
            assert key_id(key) in out
            assert key not in out and key[12:] not in out


def test_the_full_key_never_reaches_the_ledger_or_the_log(keyed: Keyed) -> None:
    key = keyed.keys["plain"]
    oa(keyed.gateway, key).chat.completions.create(model="auto", messages=HELLO)
    with pytest.raises(openai.AuthenticationError):
        oa(keyed.gateway, key + "x").chat.completions.create(model="auto", messages=HELLO)
    ledger = keyed.workdir / "tierwise.db"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the ledger writes off the request path
        with sqlite3.connect(ledger) as db:
            rows = db.execute("SELECT count(*) FROM requests WHERE key_id = ?", (key_id(key),)).fetchone()[0]
        if rows >= 4:
            break
        time.sleep(0.05)
    assert rows >= 4  # the rows carry the key's id ...
    stored, log = stored_bytes(keyed.workdir), keyed.gateway.log()
    for full in keyed.keys.values():  # ... and never a key
        assert full.encode() not in stored and full[12:].encode() not in stored
        assert full not in log and full[12:] not in log


def test_a_tiny_budget_is_spent_and_stays_spent_across_a_restart(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    key = create_key(tmp_path, "tiny", "--daily-budget", "0.00001")
    env = upstream_env(fake_anthropic, fake_openai)
    gateway = GatewayProcess(tmp_path, env=env)
    try:
        an(gateway, key).messages.create(model="auto", max_tokens=50, messages=HELLO)  # some budget left: admitted
        with pytest.raises(anthropic.RateLimitError, match=r"daily budget of \$0.00001"):
            an(gateway, key).messages.create(model="auto", max_tokens=50, messages=HELLO)
        with pytest.raises(openai.RateLimitError, match="daily budget") as refused:
            oa(gateway, key).chat.completions.create(model="auto", messages=HELLO)
        assert refused.value.code == "insufficient_quota"
    finally:
        assert gateway.stop() == 0

    with sqlite3.connect(tmp_path / "tierwise.db") as db:
        rows = db.execute(
            "SELECT status, cost_usd FROM requests WHERE key_id = ? ORDER BY started_at", (key_id(key),)
        ).fetchall()
    assert [status for status, _ in rows] == [200, 429, 429]
    assert Decimal(rows[0][1]) > Decimal("0.00001")
    (listed,) = json.loads(tierwise(tmp_path, "keys", "list", "--json").split("\ntierwise:")[0])
    assert Decimal(listed["spent_today_usd"]) == Decimal(rows[0][1]).quantize(Decimal("0.000001"))

    gateway = GatewayProcess(tmp_path, env=env)  # the spend is read back from the ledger
    try:
        with pytest.raises(anthropic.RateLimitError, match="daily budget"):
            an(gateway, key).messages.create(model="auto", max_tokens=50, messages=HELLO)
    finally:
        gateway.stop()
