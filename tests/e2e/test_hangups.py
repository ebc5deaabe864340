"""Clients that hang up while a fast stream is being written: one 499 row each, never a 500 or a traceback."""

from __future__ import annotations

import json
import socket
import sqlite3
import struct
from pathlib import Path

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI


def test_hang_ups_mid_write_are_recorded_as_client_closed(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai))
    body = json.dumps(
        {
            "model": "tier/default",
            "max_tokens": 2000,
            "stream": True,
            "messages": [{"role": "user", "content": "tell me a long story " * 60}],
        }
    ).encode()
    head = (
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"anthropic-version: 2023-06-01\r\nx-tierwise-session: hangup\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
                sock.sendall(head + body)
                received = b""
                while b"content_block_delta" not in received:
                    received += sock.recv(4096)
                # Reset (RST) rather than close, while the gateway is still writing the answer.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        assert gateway.stop() == 0
    with sqlite3.connect(gateway.ledger_path) as connection:
        statuses = [row[0] for row in connection.execute("SELECT status FROM requests WHERE session = 'hangup'")]
    assert len(statuses) == 20
    assert 500 not in statuses
    assert set(statuses) <= {200, 499}  # 200 when the answer was already all written when the reset came
    assert "Traceback" not in gateway.log()


def test_a_client_that_hangs_up_on_the_final_event_was_answered(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    """Codex closes its connection as soon as it reads response.completed: the answer was whole, so its row says
    200 (not 499), whether or not the reset beats the gateway's last write."""
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai))
    body = json.dumps(
        {"model": "tier/default", "stream": True, "input": "say something short", "store": False}
    ).encode()
    head = (
        "POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"x-tierwise-session: completed-then-gone\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
                sock.sendall(head + body)
                received = b""
                while b"event: response.completed" not in received:
                    chunk = sock.recv(65536)
                    assert chunk, "the stream ended before response.completed"
                    received += chunk
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        assert gateway.stop() == 0
    with sqlite3.connect(gateway.ledger_path) as connection:
        statuses = [
            row[0]
            for row in connection.execute("SELECT status FROM requests WHERE session LIKE '%completed-then-gone%'")
        ]
    assert statuses == [200] * 10
