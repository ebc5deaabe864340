"""Hostile and broken input against a real gateway: always a 4xx in the client's API shape, never a 500.

The hand-written cases pin each kind of breakage; the hypothesis properties throw generated bodies (random
JSON, and valid SDK-shaped bodies with keys deleted, types swapped, nulls, huge numbers, deep nesting and odd
unicode injected) and generated header values at both APIs.
"""

from __future__ import annotations

import copy
import gzip
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import upstream_env
from tests.e2e.shapes import PATHS, Api, Http, Response, assert_error_shape, assert_well_formed
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "src" / "tierwise" / "config" / "default.yaml"
MAX_BODY = 64 * 1024
MAX_MESSAGES = 50
APIS: tuple[Api, ...] = ("openai", "anthropic")
HEADERS: dict[Api, dict[str, str]] = {
    "openai": {"content-type": "application/json"},
    "anthropic": {"content-type": "application/json", "anthropic-version": "2023-06-01"},
}
VALID: dict[Api, bytes] = {
    "openai": b'{"model": "auto", "messages": [{"role": "user", "content": "hello"}]}',
    "anthropic": b'{"model": "auto", "max_tokens": 20, "messages": [{"role": "user", "content": "hello"}]}',
}


@pytest.fixture(scope="module")
def small_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    """The shipped config with small limits, so that the limits can be hit cheaply; its own ledger."""
    workdir = tmp_path_factory.mktemp("hostile")
    text = DEFAULT_CONFIG.read_text()
    text = text.replace("max_body_bytes: 33554432", f"max_body_bytes: {MAX_BODY}")
    text = text.replace("max_messages: 10000", f"max_messages: {MAX_MESSAGES}")
    assert f"max_body_bytes: {MAX_BODY}" in text and f"max_messages: {MAX_MESSAGES}" in text
    config = workdir / "tierwise.yaml"
    config.write_text(text)
    process = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def http(small_gateway: GatewayProcess) -> Iterator[Http]:
    client = Http(small_gateway.url)
    yield client
    client.close()


def send(http: Http, api: Api, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> Response:
    return http.request(method, PATHS[api], body, {**HEADERS[api], **(headers or {})})


def ledger_rows(gateway: GatewayProcess, where: str = "1=1", args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(gateway.ledger_path) as connection:
        return connection.execute(f"SELECT status, error, session FROM requests WHERE {where}", args).fetchall()


# --- hand-written cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"{", 400),
        (b"null", 400),
        (b'"a string"', 400),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "caf\xe9 \xff\xfe"}]}', 400),  # not UTF-8
        (b'{"model": "auto", "messages": [{"role": "user", "content": "\\ud800"}]}', 400),  # a lone surrogate
        (b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "a": 1e400}', 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (b'{"model": "nonexistent-model-7", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}', 404),
        (b'{"model": "auto", "max_tokens": 100000000000000000000000, "messages": []}', 400),
    ],
)
def test_broken_bodies_are_4xx_in_the_apis_shape(http: Http, api: Api, body: bytes, status: int) -> None:
    response = send(http, api, body)
    assert response.status_code == status, response.text
    assert_error_shape(api, response.json())


@pytest.mark.parametrize("api", APIS)
def test_declared_oversized_body_is_413(http: Http, api: Api) -> None:
    response = send(http, api, b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert_error_shape(api, response.json())
    assert str(MAX_BODY) in response.json()["error"]["message"]


@pytest.mark.parametrize("api", APIS)
def test_chunked_oversized_body_is_413(http: Http, api: Api) -> None:
    def chunks() -> Iterator[bytes]:  # no content-length: the limit is found while reading
        for _ in range(MAX_BODY // 4096 + 2):
            yield b" " * 4096

    response = http.post(PATHS[api], content=chunks(), headers=HEADERS[api])
    assert response.status_code == 413
    assert_error_shape(api, response.json())


@pytest.mark.parametrize("api", APIS)
def test_too_many_messages_is_400_naming_the_limit(http: Http, api: Api) -> None:
    body = json.loads(VALID[api])
    body["messages"] = [{"role": "user", "content": "x"}] * (MAX_MESSAGES + 1)
    response = send(http, api, json.dumps(body).encode())
    assert response.status_code == 400
    assert_error_shape(api, response.json())
    assert str(MAX_MESSAGES) in response.json()["error"]["message"]
    body["messages"] = body["messages"][:MAX_MESSAGES]  # exactly at the limit is fine
    assert send(http, api, json.dumps(body).encode()).status_code == 200


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_in_the_apis_shape(http: Http, api: Api, method: str) -> None:
    response = send(http, api, VALID[api], method=method)
    assert response.status_code == 405
    assert_error_shape(api, response.json())


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "headers",
    [
        {"x-tierwise-tier": "???"},
        {"x-tierwise-tier": "a" * 10_000},  # 10 kB: above aiohttp's default 8 KiB field limit
        {"x-tierwise-tier": "caf\u00e9"},
    ],
)
def test_bad_tier_headers_are_400(http: Http, api: Api, headers: dict[str, str]) -> None:
    encoded = {name: value.encode("utf-8") for name, value in headers.items()}
    response = http.post(PATHS[api], content=VALID[api], headers={**HEADERS[api], **encoded})
    assert response.status_code == 400, response.text[:300]
    assert_error_shape(api, response.json())
    assert "x-tierwise-tier" in response.json()["error"]["message"]


@pytest.mark.parametrize("api", APIS)
def test_undecodable_header_bytes_never_break_the_answer_or_the_ledger(
    http: Http, small_gateway: GatewayProcess, api: Api
) -> None:
    # Latin-1 bytes are not UTF-8: aiohttp hands them over as lone surrogates, which orjson and SQLite refuse.
    session = f"hostile-{api}-caf\xe9-\xff".encode("latin-1")
    tier = b"fast\xe9\xff"
    response = http.post(PATHS[api], content=VALID[api], headers={**HEADERS[api], "x-tierwise-tier": tier})
    assert response.status_code == 400
    assert_error_shape(api, response.json())
    response = http.post(PATHS[api], content=VALID[api], headers={**HEADERS[api], "x-tierwise-session": session})
    assert response.status_code == 200
    # The ledger writer survived both and wrote the session (undecodable bytes replaced).
    ready = http.get("/readyz").json()
    assert ready["ledger"] is True
    for _ in range(50):
        rows = ledger_rows(small_gateway, "session LIKE ?", (f"hostile-{api}-caf%",))
        if rows:
            break
        time.sleep(0.05)  # the ledger writer flushes every 50 ms
    assert [row[0] for row in rows] == [200]


@pytest.mark.parametrize("api", APIS)
def test_huge_header_beyond_the_field_limit_is_still_4xx(http: Http, api: Api) -> None:
    response = http.post(PATHS[api], content=VALID[api], headers={**HEADERS[api], "x-tierwise-session": "b" * 100_000})
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded", "\u00e9/?"]
)
def test_bogus_content_type_is_judged_by_the_body(http: Http, api: Api, content_type: str) -> None:
    headers = {**HEADERS[api], "content-type": content_type.encode("utf-8")}
    response = http.post(PATHS[api], content=VALID[api], headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 200  # lenient, like the vendors: the body is JSON whatever the label says
    assert_well_formed(api, response)


@pytest.mark.parametrize("api", APIS)
def test_false_content_encoding_is_400(http: Http, api: Api) -> None:
    response = send(http, api, VALID[api], {"content-encoding": "gzip"})
    assert response.status_code == 400
    assert_error_shape(api, response.json())
    honest = send(http, api, gzip.compress(VALID[api]), {"content-encoding": "gzip"})
    assert honest.status_code == 200


# --- properties ---------------------------------------------------------------------------------------------

ODD_TEXT = st.sampled_from(
    ["", " ", "\u0000", "\ufeff", "\u202e\u0644\u0627", "\U0001f600" * 50, "\ud7ff\ue000", "a" * 5000, "[[", "null"]
)
# Placeholders swapped for raw JSON text after encoding: values json.dumps cannot or should not produce.
RAW = {
    "__DEEP__": "[" * 2000 + "]" * 2000,
    "__DEEPOBJ__": '{"a":' * 600 + "1" + "}" * 600,
    "__INF__": "1e400",
    "__NAN__": "NaN",
}
NASTY = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64, 10**30, -(10**30), 1e308, -1e-308, 0.5]),
    ODD_TEXT,
    st.text(max_size=40),
    st.sampled_from(list(RAW)),
    st.builds(list),
    st.builds(dict),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.none(), max_size=2),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
TOOLS_OPENAI = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
BASES: dict[Api, list[dict[str, Any]]] = {
    "openai": [
        {"model": "auto", "messages": [{"role": "user", "content": "hello"}]},
        {
            "model": "tier/speed",
            "messages": [
                {"role": "system", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ],
            "tools": TOOLS_OPENAI,
            "tool_choice": "auto",
            "max_tokens": 30,
            "temperature": 0.5,
            "stop": ["\n\n"],
        },
        {
            "model": "gpt-5.1",
            "messages": [{"role": "user", "content": "s"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ],
    "anthropic": [
        {"model": "auto", "max_tokens": 20, "messages": [{"role": "user", "content": "hello"}]},
        {
            "model": "tier/escalation",
            "max_tokens": 30,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                    ],
                },
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
            "tool_choice": {"type": "auto"},
            "thinking": {"type": "enabled", "budget_tokens": 16},
            "temperature": 0.5,
        },
        {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "s"}], "stream": True},
    ],
}


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every dict and list inside ``value`` (its root included)."""
    if isinstance(value, dict | list):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from _containers(child, (*path, key))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated_body(draw: st.DrawFn, api: Api) -> bytes:
    body = copy.deepcopy(draw(st.sampled_from(BASES[api])))
    for _ in range(draw(st.integers(1, 4))):
        container = _at(body, draw(st.sampled_from(list(_containers(body)))))
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        action = draw(st.sampled_from(["delete", "replace", "replace", "swap", "add"]))
        if action == "add" or not keys:
            if isinstance(container, dict):
                container[
                    draw(st.sampled_from(["model", "n", "stream", "metadata", "x", "role", "type", "\u00e9"]))
                ] = draw(NASTY)
            else:
                container.append(draw(NASTY))
            continue
        key = draw(st.sampled_from(keys))
        if action == "delete":
            del container[key]
        elif action == "replace":
            container[key] = draw(NASTY)
        else:  # the same content, the wrong type
            old = container[key]
            container[key] = [old] if not isinstance(old, list) else {"items": old}
            if isinstance(old, str) and draw(st.booleans()):
                container[key] = {"text": old}
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    for placeholder, raw in RAW.items():
        text = text.replace(f'"{placeholder}"', raw)
    data = text.encode("utf-8", "surrogatepass")  # "\ud7ff\ue000" are fine; surrogatepass keeps bad ones bad
    if draw(st.integers(0, 9)) == 0:  # now and then, a byte that is not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("api", APIS)
def test_mutated_sdk_bodies_never_break_the_gateway(http: Http, api: Api) -> None:
    @PROPERTY
    @given(body=mutated_body(api))
    def check(body: bytes) -> None:
        assert_well_formed(api, send(http, api, body))

    check()


@pytest.mark.parametrize("api", APIS)
def test_random_json_never_breaks_the_gateway(http: Http, api: Api) -> None:
    @settings(PROPERTY, max_examples=100)
    @given(value=JSON_VALUES)
    def check(value: Any) -> None:
        response = send(http, api, json.dumps(value).encode())
        assert_well_formed(api, response)
        if not isinstance(value, dict):
            assert response.status_code == 400

    check()


HEADER_VALUE = st.binary(max_size=300).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip())
TIERWISE_HEADERS = [
    "x-tierwise-tier",
    "x-tierwise-latency",
    "x-tierwise-task",
    "x-tierwise-session",
    "anthropic-version",
]


@pytest.mark.parametrize("api", APIS)
def test_random_header_values_never_break_the_gateway(http: Http, api: Api) -> None:
    @settings(PROPERTY, max_examples=100)
    @given(headers=st.dictionaries(st.sampled_from(TIERWISE_HEADERS), HEADER_VALUE, min_size=1, max_size=3))
    def check(headers: dict[str, bytes]) -> None:
        response = http.post(PATHS[api], content=VALID[api], headers={**HEADERS[api], **headers})
        assert_well_formed(api, response)

    check()


def test_no_request_was_an_internal_error(http: Http, small_gateway: GatewayProcess) -> None:
    """Runs last in this module: the ledger has a row for each request above, and none of them is a 500."""
    assert http.get("/readyz").json()["ledger"] is True
    http.post(PATHS["openai"], content=VALID["openai"], headers=HEADERS["openai"])  # a marker row, to wait for
    for _ in range(100):
        statuses = [row[0] for row in ledger_rows(small_gateway)]
        if len(statuses) > 100 and statuses[-1] == 200:
            break
        time.sleep(0.05)  # the ledger writer flushes every 50 ms
    assert len(statuses) > 100
    assert 500 not in statuses
