"""Bad input gets the right 4xx in the shape of the API the client spoke; upstream failures fall back."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import anthropic
import openai
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI


def post(gateway: GatewayProcess, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        gateway.url + path, data=body, method="POST", headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def assert_openai_error(body: dict, kind: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["type"] == kind and body["error"]["message"]


def assert_anthropic_error(body: dict, kind: str) -> None:
    assert body["type"] == "error"
    assert body["error"]["type"] == kind and body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "auto"}', "messages"),
        (b'{"model": "auto", "messages": "hello"}', "messages"),
        (b'{"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}', "role"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": "lots"}', "max_tokens"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
        (b"\xff\xfe\x00garbage", None),
    ],
)
def test_openai_bad_input_is_400_in_openai_shape(gateway: GatewayProcess, body: bytes, param: str | None) -> None:
    status, payload = post(gateway, "/v1/chat/completions", body)
    assert status == 400
    assert_openai_error(payload, "invalid_request_error")
    if param:
        assert param in (payload["error"]["param"] or "")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"model": "auto", "messages": [{"role": "user", "content": "x"}]}',  # max_tokens is required
        b'{"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "nope"}]}]}',
        b'{"model": "auto", "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]}',
        b'{"model": 5, "max_tokens": 10, "messages": []}',
    ],
)
def test_anthropic_bad_input_is_400_in_anthropic_shape(gateway: GatewayProcess, body: bytes) -> None:
    status, payload = post(gateway, "/v1/messages", body, {"anthropic-version": "2023-06-01"})
    assert status == 400
    assert_anthropic_error(payload, "invalid_request_error")


def test_unknown_model_is_404_for_both_sdks(gateway: GatewayProcess) -> None:
    oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.NotFoundError) as oa_error:
        oa.chat.completions.create(model="mistral-99", messages=[{"role": "user", "content": "x"}])
    assert "mistral-99" in str(oa_error.value)
    an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as an_error:
        an.messages.create(model="llama-9", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert an_error.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


def test_unknown_tier_is_400(gateway: GatewayProcess) -> None:
    oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError):
        oa.chat.completions.create(model="tier/turbo", messages=[{"role": "user", "content": "x"}])


def test_unknown_route_and_method(gateway: GatewayProcess) -> None:
    status, payload = post(gateway, "/v1/embeddings", b"{}")
    assert status == 404
    assert_openai_error(payload, "invalid_request_error")  # what OpenAI itself answers for an unknown URL
    request = urllib.request.Request(gateway.url + "/v1/messages", method="GET", headers={"anthropic-version": "x"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 405
    assert json.loads(err.value.read())["type"] == "error"


def test_upstream_400_is_relayed_in_the_clients_shape(gateway: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.inject(status=400)
    oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 400
    assert len(fake_anthropic.requests) == 1  # the request's own fault: no fallback, no retry


def test_overloaded_upstream_falls_back_to_next_model(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=529, times=2)  # the first try and its one retry
    an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    raw = an.messages.with_raw_response.create(
        model="auto", max_tokens=50, messages=[{"role": "user", "content": "are you there"}]
    )
    assert raw.headers["x-tierwise-model"] == "gpt-5.1"
    assert raw.headers["x-tierwise-attempts"] == "3"
    assert "fell back" in raw.headers["x-tierwise-reason"]
    assert raw.parse().model.startswith("gpt-5.1")
    assert fake_openai.requests[-1].body["model"] == "gpt-5.1"


def test_stream_fault_before_first_byte_falls_back(gateway: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.inject(status=500, times=2)
    oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    stream = oa.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "streaming please"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "streaming please" in text


def test_mid_stream_failure_ends_with_an_error_event(gateway: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.inject(kind="mid_stream_error", after_events=4)
    an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "a long story please " * 5}]
    with (
        pytest.raises(anthropic.APIStatusError) as err,  # the SDK raises on an `event: error`
        an.messages.stream(model="auto", max_tokens=300, messages=messages) as stream,
    ):
        for _ in stream:
            pass
    assert "overloaded" in str(err.value).lower() or "error" in str(err.value).lower()


def test_all_fallbacks_exhausted_is_a_clear_5xx(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.inject(status=529, times=5)
    fake_openai.inject(status=500, times=5)
    oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.InternalServerError) as err:
        oa.chat.completions.create(model="tier/escalation", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code in (502, 503)
    body = err.value.body
    assert isinstance(body, dict) and "Traceback" not in json.dumps(body)
