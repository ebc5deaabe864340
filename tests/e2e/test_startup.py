"""Starting and running the real gateway as an operator would: where the ledger (and so the keys) is found, the
auth mode said out loud, refusing to start open, one-line start-up errors, SIGHUP and slow request heads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.gateway_process import GatewayProcess, free_port
from tierwise.keys import KeyStore

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "src" / "tierwise" / "config" / "default.yaml"


def config_in(directory: Path, *replacements: tuple[str, str]) -> Path:
    text = DEFAULT_CONFIG.read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tierwise.yaml"
    path.write_text(text)
    return path


def failed_start(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tierwise serve ARGS`` that is expected to exit on its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    return subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "serve", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    body = b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}'
    request = urllib.request.Request(
        url + "/v1/chat/completions", data=body, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_a_config_file_finds_its_own_ledger_and_keys_from_any_working_directory(tmp_path: Path) -> None:
    config = config_in(tmp_path / "etc")
    key = KeyStore(tmp_path / "etc" / "tierwise.db").create("ops").key  # beside the config file
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    gateway = GatewayProcess(elsewhere, env={}, config=config)
    try:
        assert status_of(gateway.url) == 401  # no key: refused, not served openly from a fresh ./tierwise.db
        assert status_of(gateway.url, {"authorization": f"Bearer {key}"}) != 401
    finally:
        gateway.stop()
    assert "auth: gateway keys required (1 active" in gateway.log()
    assert str(tmp_path / "etc" / "tierwise.db") in gateway.log()
    assert not (elsewhere / "tierwise.db").exists()


def test_an_open_gateway_says_so_at_start_up(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, env={})
    gateway.stop()
    assert "auth: OPEN" in gateway.log()
    assert f"ledger {tmp_path / 'tierwise.db'}" in gateway.log()  # the default config: the working directory


@pytest.mark.parametrize("how", ["config", "flag"])
def test_required_keys_and_none_found_refuses_to_start(tmp_path: Path, how: str) -> None:
    if how == "config":
        config = config_in(tmp_path, ("require_keys: false", "require_keys: true"))
        done = failed_start(tmp_path, "--port", str(free_port()), "--config", str(config))
    else:
        done = failed_start(tmp_path, "--port", str(free_port()), "--require-keys")
    assert done.returncode == 1
    assert "holds no gateway key" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{free_port()}/healthz", timeout=1)


def test_required_keys_with_a_key_starts(tmp_path: Path) -> None:
    KeyStore(tmp_path / "tierwise.db").create("ops")
    gateway = GatewayProcess(tmp_path, env={}, extra_args=("--require-keys",))
    try:
        assert status_of(gateway.url) == 401
    finally:
        assert gateway.stop() == 0


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = failed_start(tmp_path, "--port", str(port))
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_corrupt_ledger_file_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    (tmp_path / "tierwise.db").write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    done = failed_start(tmp_path, "--port", str(free_port()))
    assert done.returncode == 1
    assert "cannot open the ledger" in done.stderr and "not a database" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") <= 6  # the config lines and the error, nothing more


def test_sighup_does_not_stop_the_gateway(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, env={})
    try:
        gateway.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert gateway.process.poll() is None
        with urllib.request.urlopen(gateway.url + "/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        assert gateway.stop() == 0
    assert "configuration reloaded from <default>" in gateway.log()  # SIGHUP reloads (tests/e2e/test_reload.py)


def test_a_request_head_that_trickles_in_is_cut_off_at_the_header_timeout(tmp_path: Path) -> None:
    config = config_in(tmp_path, ("header_timeout: 15 ", "header_timeout: 1.5 "))
    gateway = GatewayProcess(tmp_path, env={}, config=config)
    try:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
            closed_after = None
            for i in range(40):  # one more header byte every 0.25 s: 10 s if nobody stops it
                try:
                    sock.sendall(b"x-slow-%d: 1\r\n" % i)
                    time.sleep(0.25)
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                sock.setblocking(False)
                try:
                    if sock.recv(1) == b"":
                        closed_after = time.monotonic() - started
                        break
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
        assert closed_after is not None, "the slow request head was never cut off"
        assert closed_after < 5.0
        assert status_of(gateway.url) in (200, 502)  # the gateway still serves others (no upstream key: 502)
    finally:
        assert gateway.stop() == 0


def test_workers_that_cannot_start_stop_the_gateway_instead_of_restarting_forever(tmp_path: Path) -> None:
    done = failed_start(tmp_path, "--port", str(free_port()), "--require-keys", "--workers", "2")
    assert done.returncode == 1
    assert "holds no gateway key" in done.stderr
    assert "starting it again" not in done.stderr
    assert "Traceback" not in done.stderr
