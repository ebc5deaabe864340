"""SIGHUP reloads the configuration file: requests in flight finish on the old one, the next ones use the new
one, and a file that does not load is refused with one line while the old configuration keeps serving."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text


def ask(url: str, prompt: str) -> tuple[int, str]:
    body = {"model": "auto", "max_tokens": 30, "messages": [{"role": "user", "content": prompt}]}
    request = urllib.request.Request(
        url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.headers["x-tierwise-tier"]


def wait_for_log(gateway: GatewayProcess, text: str, count: int = 1, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while gateway.log().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not in the log:\n{gateway.log()}"
        time.sleep(0.05)


def test_sighup_reloads_without_dropping_a_request_and_refuses_a_broken_file(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    original = default_config_text()
    assert "  default_tier: default" in original
    config = tmp_path / "tierwise.yaml"
    config.write_text(original)
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), config=config)
    try:
        assert ask(gateway.url, "how are plants grown") == (200, "default")
        slow: list[tuple[int, str]] = []
        in_flight = threading.Thread(target=lambda: slow.append(ask(gateway.url, "[[slow:2]] how are plants grown")))
        in_flight.start()
        time.sleep(0.5)  # the slow request is waiting on its upstream
        config.write_text(
            original.replace("  default_tier: default", "  default_tier: speed").replace(
                "  path: tierwise.db", "  path: elsewhere.db"
            )
        )
        gateway.process.send_signal(signal.SIGHUP)
        wait_for_log(gateway, "configuration reloaded")
        assert "(ledger_path changed: restart to apply)" in gateway.log()
        assert ask(gateway.url, "how are tomatoes grown") == (200, "speed")  # the new default tier
        assert ask(gateway.url, "how are plants grown") == (200, "default")  # a session keeps its tier
        in_flight.join(30)
        assert slow == [(200, "default")]  # finished, on the configuration it started with

        config.write_text(original.replace("  policy: rules", "  policy: nonsense"))
        gateway.process.send_signal(signal.SIGHUP)
        wait_for_log(gateway, "reload refused")
        assert "policy" in gateway.log().split("reload refused")[1].splitlines()[0]  # one line says why
        assert ask(gateway.url, "how are beans grown") == (200, "speed")  # the last good configuration stays
        assert gateway.process.poll() is None
    finally:
        assert gateway.stop() == 0
    assert not (tmp_path / "elsewhere.db").exists()
