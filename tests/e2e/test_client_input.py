"""Requests the client can fix get a 4xx that says why, in its API's shape, with a ledger row; failures that will
not change on a retry tell the SDKs not to retry them."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
import zlib
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.shapes import PATHS, Api, Http, assert_well_formed
from tests.gateway_process import GatewayProcess

HEADERS: dict[Api, dict[str, str]] = {
    "openai": {"content-type": "application/json"},
    "anthropic": {"content-type": "application/json", "anthropic-version": "2023-06-01"},
}


PLACEHOLDER = "__SCHEMA__"


def deep_schema(levels: int) -> str:
    """JSON text of a schema nested ``levels`` deep (Python's own encoder would give up first)."""
    return '{"type": "object", "properties": {"x": ' * levels + '{"type": "string"}' + "}}" * levels


def with_tool(api: Api, description: str, parameters: str, session: str) -> bytes:
    message = [{"role": "user", "content": f"use the tool ({session})"}]
    if api == "openai":
        tool = {"type": "function", "function": {"name": "t", "description": description, "parameters": PLACEHOLDER}}
        text = json.dumps({"model": "auto", "messages": message, "tools": [tool]})
    else:
        tool = {"name": "t", "description": description, "input_schema": PLACEHOLDER}
        text = json.dumps({"model": "auto", "max_tokens": 50, "messages": message, "tools": [tool]})
    return text.replace(json.dumps(PLACEHOLDER), parameters).encode()


def row_status(gateway: GatewayProcess, request_id: str) -> int | None:
    """The status in the ledger row of request ``request_id``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(gateway.ledger_path) as connection:
            query = "SELECT status FROM requests WHERE request_id = ?"
            found = connection.execute(query, (request_id,)).fetchall()
        if found:
            return int(found[0][0])
        time.sleep(0.05)
    return None


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("levels", [252, 400, 900])
def test_a_tool_schema_nested_too_deep_is_a_400(gateway: GatewayProcess, api: Api, levels: int) -> None:
    session = f"deep-{api}-{levels}"
    http = Http(gateway.url)
    try:
        payload = with_tool(api, "deep", deep_schema(levels), session)
        response = http.post(PATHS[api], payload, {**HEADERS[api], "x-tierwise-session": session})
    finally:
        http.close()
    assert_well_formed(api, response)
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.text or "depth limit exceeded" in response.text
    assert row_status(gateway, response.headers["x-tierwise-request-id"]) == 400


@pytest.mark.parametrize("levels", [252, 900])
def test_counting_tokens_of_a_tool_schema_nested_too_deep_is_a_400(gateway: GatewayProcess, levels: int) -> None:
    http = Http(gateway.url)
    try:
        payload = with_tool("anthropic", "deep", deep_schema(levels), f"deep-count-{levels}")
        response = http.post("/v1/messages/count_tokens", payload, HEADERS["anthropic"])
    finally:
        http.close()
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error"
    assert "nested too deeply" in response.text or "depth limit exceeded" in response.text


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_prompt_too_large_for_every_model_is_a_413_saying_why(gateway: GatewayProcess, api: Api) -> None:
    session = f"huge-{api}"
    http = Http(gateway.url, timeout=60)
    try:
        payload = with_tool(api, "word " * 4_000_000, '{"type": "object"}', session)  # a 20 MB description
        response = http.post(PATHS[api], payload, {**HEADERS[api], "x-tierwise-session": session})
    finally:
        http.close()
    assert_well_formed(api, response)
    assert response.status_code == 413, response.text[:300]
    assert "context window" in response.json()["error"]["message"]
    assert row_status(gateway, response.headers["x-tierwise-request-id"]) == 413


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("encoding", ["br", "zstd", "compress"])
def test_an_encoding_we_cannot_decode_is_a_415_in_the_api_shape_with_a_row(
    gateway: GatewayProcess, api: Api, encoding: str
) -> None:
    session = f"enc-{api}-{encoding}"
    http = Http(gateway.url)
    try:
        body = b"\x8b\x02\x80not really compressed"
        headers = {**HEADERS[api], "content-encoding": encoding, "x-tierwise-session": session}
        response = http.post(PATHS[api], body, headers)
    finally:
        http.close()
    assert_well_formed(api, response)
    assert response.status_code == 415
    assert encoding in response.json()["error"]["message"]
    assert row_status(gateway, response.headers["x-tierwise-request-id"]) == 415


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_gzip_and_deflate_bodies_are_decoded(gateway: GatewayProcess, encoding: str) -> None:
    plain = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "hello"}]}).encode()
    body = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)
    http = Http(gateway.url)
    try:
        response = http.post(PATHS["openai"], body, {**HEADERS["openai"], "content-encoding": encoding})
    finally:
        http.close()
    assert response.status_code == 200, response.text


def test_a_gzip_bomb_request_is_refused_at_the_body_limit(gateway: GatewayProcess) -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 MiB of spaces in about 64 KB; the limit is 32 MiB
    assert len(bomb) < 200_000
    http = Http(gateway.url)
    try:
        response = http.post(PATHS["openai"], bomb, {**HEADERS["openai"], "content-encoding": "gzip"})
    finally:
        http.close()
    assert_well_formed("openai", response)
    assert response.status_code == 413


def test_missing_upstream_keys_are_permanent_and_the_sdks_do_not_retry(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, env={})  # no provider key at all
    try:
        an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=3)
        with pytest.raises(anthropic.APIStatusError) as err:
            an.messages.create(model="auto", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert err.value.status_code == 502
        assert err.value.response.headers["x-should-retry"] == "false"
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=3)
        with pytest.raises(openai.APIStatusError):
            oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
        time.sleep(0.3)
    finally:
        gateway.stop()
    with sqlite3.connect(gateway.ledger_path) as connection:
        assert connection.execute("SELECT count(*) FROM requests").fetchone()[0] == 2  # one call each, no retries
