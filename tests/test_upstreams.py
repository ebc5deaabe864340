"""The fake upstreams are faithful: the official SDKs parse their answers and raise their own errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.upstreams import FakeAnthropic, FakeOpenAI, count_tokens, run_fake_anthropic, run_fake_openai

OPENAI_KEY = "sk-test-openai"
ANTHROPIC_KEY = "sk-ant-test"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}
OPENAI_TOOLS: Any = [{"type": "function", "function": WEATHER}, {"type": "function", "function": TIME}]
ANTHROPIC_TOOLS: Any = [
    {"name": t["name"], "description": "a tool", "input_schema": t["parameters"]} for t in (WEATHER, TIME)
]


@pytest.fixture(scope="module")
def oai_server() -> Iterator[FakeOpenAI]:
    with run_fake_openai(api_key=OPENAI_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def ant_server() -> Iterator[FakeAnthropic]:
    with run_fake_anthropic(api_key=ANTHROPIC_KEY) as server:
        yield server


@pytest.fixture
def oai(oai_server: FakeOpenAI) -> openai.OpenAI:
    oai_server.reset()
    return openai.OpenAI(base_url=oai_server.url, api_key=OPENAI_KEY, max_retries=0)


@pytest.fixture
def ant(ant_server: FakeAnthropic) -> anthropic.Anthropic:
    ant_server.reset()
    return anthropic.Anthropic(base_url=ant_server.url, api_key=ANTHROPIC_KEY, max_retries=0)


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields.get("event"), fields["data"]))
    return events


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


# -- OpenAI: successful answers ------------------------------------------------------------------------


def test_openai_completion_echoes_with_usage_and_request_id(oai: openai.OpenAI, oai_server: FakeOpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=user("hello world"))
    completion = raw.parse()

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "[gpt-4o-mini] echo: hello world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_tokens(len("hello world"))
    assert completion.usage.completion_tokens == count_tokens(len("[gpt-4o-mini] echo: hello world"))
    assert completion.usage.prompt_tokens_details.cached_tokens == 0  # type: ignore[union-attr]
    assert raw.headers["x-request-id"].startswith("req_")
    (recorded,) = oai_server.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert recorded.body["messages"] == user("hello world")


def test_openai_stream_sends_role_content_finish_usage_then_done(oai: openai.OpenAI, oai_server: FakeOpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o", messages=user("stream me please"), stream=True, stream_options={"include_usage": True}
        )
    )

    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[gpt-4o] echo: stream me please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

    body = json.dumps({"model": "gpt-4o", "messages": user("hi"), "stream": True}).encode()
    auth = {"authorization": f"Bearer {OPENAI_KEY}", "content-type": "application/json"}
    status, headers, raw = post_raw(oai_server.url + "/chat/completions", body, auth)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert raw.endswith(b"data: [DONE]\n\n")
    assert all(json.loads(data)["usage"] is None for _, data in sse_events(raw)[:-1] if "usage" in data) is True
    assert not any('"choices":[]' in data for _, data in sse_events(raw)), "no usage chunk without include_usage"


def test_openai_stream_helper_assembles_parallel_tool_calls(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-4o-mini", messages=user("call get_weather, in parallel"), tools=OPENAI_TOOLS
    ) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()

    calls = final.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "x", "days": 1, "unit": "c"}
    assert calls[0].id != calls[1].id
    assert final.choices[0].finish_reason == "tool_calls"
    assert "tool_calls.function.arguments.delta" in kinds


def test_openai_forced_tool_choice_then_tool_result_is_quoted(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=user("what time is it?"),
        tools=OPENAI_TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_time"  # type: ignore[union-attr]
    second = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            *user("what time is it?"),
            first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "12:00 UTC"},
        ],
        tools=OPENAI_TOOLS,
    )
    assert second.choices[0].message.content == "[gpt-4o-mini] tool result: 12:00 UTC"
    assert second.choices[0].finish_reason == "stop"


def test_openai_caching_reasoning_and_length_are_reported(oai: openai.OpenAI) -> None:
    history = [*user("a long shared system prompt " * 10), {"role": "assistant", "content": "ok"}]
    oai.chat.completions.create(model="o4-mini", messages=[*history, *user("first")])
    again = oai.chat.completions.create(model="o4-mini", messages=[*history, *user("second")], reasoning_effort="low")
    cut = oai.chat.completions.create(model="gpt-4o", messages=user("long answer"), max_completion_tokens=2)

    assert again.usage.prompt_tokens_details.cached_tokens > 0  # type: ignore[union-attr]
    assert again.usage.completion_tokens_details.reasoning_tokens == 16  # type: ignore[union-attr]
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == "[gpt-4o]"


def test_openai_models_list_and_env_base_url(oai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", oai_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    client = openai.OpenAI(max_retries=0)

    assert oai_server.url.endswith("/v1")
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]


# -- OpenAI: errors ------------------------------------------------------------------------------------


def test_openai_wrong_key_is_authentication_error(oai_server: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=oai_server.url, api_key="sk-wrong-key-123", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "invalid_request_error"
    assert caught.value.request_id is not None


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "wizard", "content": "hi"}], "messages[0].role"),
        ([*user("hi"), {"role": "tool", "tool_call_id": "call_1", "content": "x"}], "messages.[1].role"),
        ([{"role": "user"}], "messages[0].content"),
        ([], "messages"),
    ],
)
def test_openai_invalid_messages_are_bad_requests(oai: openai.OpenAI, messages: list[Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert caught.value.param == param
    assert caught.value.type == "invalid_request_error"


def test_openai_injected_429_carries_retry_headers_and_expires(oai: openai.OpenAI, oai_server: FakeOpenAI) -> None:
    oai_server.inject(status=429, retry_after=1.5, times=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            oai.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
        headers = caught.value.response.headers
        assert (headers["retry-after"], headers["retry-after-ms"]) == ("1.5", "1500")
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert caught.value.code == "rate_limit_exceeded"
    assert oai.chat.completions.create(model="gpt-4o-mini", messages=user("hi")).choices[0].message.content


def test_openai_sdk_retries_honour_retry_after(oai_server: FakeOpenAI) -> None:
    oai_server.reset()
    oai_server.inject(status=429, retry_after=0.2, times=2)
    client = openai.OpenAI(base_url=oai_server.url, api_key=OPENAI_KEY, max_retries=2)
    started = time.monotonic()
    client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert time.monotonic() - started >= 0.4
    assert [r.headers["x-stainless-retry-count"] for r in oai_server.requests] == ["0", "1", "2"]


def test_openai_markers_fail_only_in_scope(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        oai.chat.completions.create(model="gpt-4o-mini", messages=user("boom [[fail:500]]"))
    assert caught.value.status_code == 500
    ok = oai.chat.completions.create(model="gpt-4o-mini", messages=user("fine [[fail:529@anthropic]]"))
    assert ok.choices[0].message.content == "[gpt-4o-mini] echo: fine [[fail:529@anthropic]]"


def test_openai_stall_times_out_and_reset_is_connection_error(oai: openai.OpenAI, oai_server: FakeOpenAI) -> None:
    oai_server.inject(kind="timeout", delay=3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.3).chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    assert time.monotonic() - started < 2
    oai_server.inject(kind="reset")
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))


def test_openai_mid_stream_faults(oai: openai.OpenAI, oai_server: FakeOpenAI) -> None:
    oai_server.inject(kind="mid_stream_error", after_events=2)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in oai.chat.completions.create(model="gpt-4o", messages=user("a fairly long prompt"), stream=True):
            received.append(chunk)
    assert len(received) == 2
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.type == "server_error"

    oai_server.inject(kind="mid_stream_drop", after_events=2)
    with pytest.raises(openai.APIConnectionError):
        list(oai.chat.completions.create(model="gpt-4o", messages=user("a fairly long prompt"), stream=True))


def test_openai_raw_protocol_errors(oai_server: FakeOpenAI) -> None:
    auth = {"authorization": f"Bearer {OPENAI_KEY}", "content-type": "application/json"}
    status, _, body = post_raw(oai_server.url + "/chat/completions", b"{not json", auth)
    assert status == 400 and set(json.loads(body)["error"]) == {"message", "type", "param", "code"}
    status, _, body = post_raw(oai_server.url + "/nope", b"{}", auth)
    assert status == 404 and json.loads(body)["error"]["message"] == "Invalid URL (POST /v1/nope)"
    status, _, body = post_raw(oai_server.url + "/chat/completions", b"{}", {"content-type": "application/json"})
    assert status == 401 and "didn't provide an API key" in json.loads(body)["error"]["message"]


# -- Anthropic: successful answers ---------------------------------------------------------------------


def test_anthropic_message_echoes_with_usage_and_request_id(
    ant: anthropic.Anthropic, ant_server: FakeAnthropic
) -> None:
    raw = ant.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=256, messages=user("hello"))
    message = raw.parse()

    assert message.content[0].type == "text"
    assert message.content[0].text == "[claude-haiku-4-5] echo: hello"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == count_tokens(len("hello"))
    assert message.usage.output_tokens == count_tokens(len("[claude-haiku-4-5] echo: hello"))
    assert message.usage.cache_read_input_tokens == 0
    assert raw.headers["request-id"].startswith("req_")
    (recorded,) = ant_server.requests
    assert recorded.path == "/v1/messages"
    assert recorded.headers["anthropic-version"]
    assert recorded.body["max_tokens"] == 256


def test_anthropic_stream_events_arrive_in_the_real_order(ant_server: FakeAnthropic) -> None:
    body = json.dumps(
        {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": user("call get_weather"), "stream": True}
        | {"tools": ANTHROPIC_TOOLS}
    ).encode()
    headers = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    status, response_headers, raw = post_raw(ant_server.url + "/v1/messages", body, headers)
    events = sse_events(raw)
    names = [name for name, _ in events]

    assert status == 200 and response_headers["content-type"].startswith("text/event-stream")
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    fragments = [json.loads(d)["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert len(fragments) >= 3
    assert json.loads("".join(fragments)) == {"city": "x", "days": 1, "unit": "c"}
    assert all(json.loads(data)["type"] == name for name, data in events)


def test_anthropic_stream_helper_with_thinking_and_tool_use(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=ANTHROPIC_TOOLS,
        messages=user("please use a tool"),
    ) as stream:
        final = stream.get_final_message()

    assert [block.type for block in final.content] == ["thinking", "tool_use"]
    assert final.content[0].signature  # type: ignore[union-attr]
    assert final.content[1].input == {"city": "x", "days": 1, "unit": "c"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens > 1


def test_anthropic_tool_result_is_quoted(ant: anthropic.Anthropic) -> None:
    first = ant.messages.create(
        model="claude-haiku-4-5",
        max_tokens=256,
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "tool", "name": "get_time"},
        messages=user("what time?"),
    )
    tool_use = first.content[0]
    assert tool_use.type == "tool_use" and tool_use.name == "get_time"
    second = ant.messages.create(
        model="claude-haiku-4-5",
        max_tokens=256,
        tools=ANTHROPIC_TOOLS,
        messages=[
            *user("what time?"),
            {"role": "assistant", "content": [tool_use.model_dump(exclude_none=True)]},  # type: ignore[list-item]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "noon"}]},
        ],
    )
    assert second.content[0].text == "[claude-haiku-4-5] tool result: noon"  # type: ignore[union-attr]


def test_anthropic_cache_control_creates_then_reads(ant: anthropic.Anthropic) -> None:
    system: Any = [{"type": "text", "text": "You are terse. " * 50, "cache_control": {"type": "ephemeral"}}]
    first = ant.messages.create(model="claude-haiku-4-5", max_tokens=64, system=system, messages=user("one"))
    second = ant.messages.create(model="claude-haiku-4-5", max_tokens=64, system=system, messages=user("two"))

    assert first.usage.cache_creation_input_tokens == count_tokens(len("You are terse. " * 50))
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == count_tokens(len("You are terse. " * 50 + "two")) - count_tokens(750)


def test_anthropic_count_tokens_and_max_tokens_stop(ant: anthropic.Anthropic) -> None:
    counted = ant.messages.count_tokens(model="claude-haiku-4-5", messages=user("12345678"))
    cut = ant.messages.create(model="claude-haiku-4-5", max_tokens=3, messages=user("hello"))

    assert counted.input_tokens == 2
    assert cut.stop_reason == "max_tokens"
    assert cut.content[0].text == "[claude-haik"  # type: ignore[union-attr]


# -- Anthropic: errors ---------------------------------------------------------------------------------


def test_anthropic_wrong_key_is_authentication_error(ant_server: FakeAnthropic) -> None:
    client = anthropic.Anthropic(base_url=ant_server.url, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("hi"))
    assert caught.value.type == "authentication_error"
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([*user("a"), *user("b")], 'found multiple "user" roles in a row'),
        ([{"role": "assistant", "content": "hi"}], 'first message must use the "user" role'),
        (
            [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}]}],
            "unexpected `tool_use_id` found in `tool_result` blocks: toolu_x",
        ),
        (
            [
                *user("a"),
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_y", "name": "t", "input": {}}]},
                *user("b"),
            ],
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_y",
        ),
    ],
)
def test_anthropic_invalid_conversations_are_bad_requests(
    ant: anthropic.Anthropic, messages: list[Any], fragment: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=messages)
    assert caught.value.type == "invalid_request_error"
    assert fragment in (caught.value.api_message or "")


def test_anthropic_raw_protocol_requirements(ant_server: FakeAnthropic) -> None:
    url = ant_server.url + "/v1/messages"
    good = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 5, "messages": user("hi")}).encode()
    status, _, body = post_raw(url, good, {"x-api-key": ANTHROPIC_KEY, "content-type": "application/json"})
    assert status == 400 and json.loads(body)["error"]["message"] == "anthropic-version: header is required"
    headers = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    no_max = json.dumps({"model": "claude-haiku-4-5", "messages": user("hi")}).encode()
    status, _, body = post_raw(url, no_max, headers)
    assert status == 400 and json.loads(body)["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert json.loads(body)["type"] == "error"
    status, _, body = post_raw(url, good, {**headers, "x-api-key": ""})
    assert status == 401 and json.loads(body)["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_anthropic_injected_status_errors(
    ant: anthropic.Anthropic, ant_server: FakeAnthropic, status: int, error_class: type[Exception], error_type: str
) -> None:
    ant_server.inject(status=status, retry_after=2 if status == 429 else None)
    with pytest.raises(anthropic.APIStatusError) as caught:
        ant.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("hi"))
    assert isinstance(caught.value, error_class)
    assert caught.value.status_code == status
    assert caught.value.type == error_type
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "2"
        assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_anthropic_overload_marker_is_a_529(ant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.InternalServerError) as caught:
        ant.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("x [[fail:529]]"))
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": caught.value.request_id,
    }


def test_anthropic_mid_stream_faults(ant: anthropic.Anthropic, ant_server: FakeAnthropic) -> None:
    ant_server.inject(kind="mid_stream_error", after_events=4)
    seen = []
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: SIM117
        with ant.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=user("hello there")) as stream:
            seen.extend(event.type for event in stream)
    assert caught.value.type == "overloaded_error"
    assert "message_stop" not in seen and "message_start" in seen

    # The SDK does not wrap transport errors raised while reading a stream: httpx2's surface as they are.
    ant_server.inject(kind="mid_stream_drop", after_events=3)
    with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)):
        list(ant.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=user("hello there"), stream=True))


def test_anthropic_slow_marker_times_out(ant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APITimeoutError):
        ant.with_options(timeout=0.3).messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=user("wait [[slow:2]]")
        )


# -- random faults, concurrency, lifecycle ---------------------------------------------------------------


def _outcomes(server: FakeOpenAI) -> list[str]:
    client = openai.OpenAI(base_url=server.url, api_key=OPENAI_KEY, max_retries=0, timeout=0.25)
    outcomes = []
    for i in range(40):
        try:
            list(client.chat.completions.create(model="gpt-4o-mini", messages=user(f"soak {i}"), stream=True))
            outcomes.append("ok")
        except openai.OpenAIError as error:
            outcomes.append(type(error).__name__)
    return outcomes


def test_random_faults_are_seeded_and_mixed() -> None:
    with run_fake_openai(failure_rate=0.5, seed=7, fault_delay=0.5) as first:
        outcomes = _outcomes(first)
    with run_fake_openai(failure_rate=0.5, seed=7, fault_delay=0.5) as second:
        assert _outcomes(second) == outcomes
    assert 8 <= outcomes.count("ok") <= 32
    assert {"RateLimitError", "InternalServerError", "APIConnectionError", "APITimeoutError"} <= set(outcomes)


def test_concurrent_async_clients(oai_server: FakeOpenAI, ant_server: FakeAnthropic) -> None:
    oai_server.reset()
    ant_server.reset()

    async def main() -> list[str]:
        oai = openai.AsyncOpenAI(base_url=oai_server.url, api_key=OPENAI_KEY, max_retries=0)
        ant = anthropic.AsyncAnthropic(base_url=ant_server.url, api_key=ANTHROPIC_KEY, max_retries=0)
        semaphore = asyncio.Semaphore(64)

        async def one(i: int) -> str:
            async with semaphore:
                if i % 2:
                    m = await ant.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=user(str(i)))
                    return m.content[0].text  # type: ignore[union-attr]
                c = await oai.chat.completions.create(model="gpt-4o-mini", messages=user(str(i)))
                return c.choices[0].message.content or ""

        return await asyncio.gather(*(one(i) for i in range(200)))

    texts = asyncio.run(main())
    assert texts[7] == "[claude-haiku-4-5] echo: 7" and texts[8] == "[gpt-4o-mini] echo: 8"
    assert len(oai_server.requests) == 100 and len(ant_server.requests) == 100


def test_server_stops_and_urls_have_the_sdk_shape() -> None:
    with run_fake_anthropic() as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:") and url.count("/") == 2
        server.inject(status=429)
        server.reset()
        assert server.faults.pending() == 0 and server.requests == []
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/v1/models", timeout=2)


def test_module_runs_both_servers_in_the_foreground() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.upstreams"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(2)]
        urls = dict(line.removeprefix("fake ").split(": ", 1) for line in lines)
        client = openai.OpenAI(base_url=urls["openai"], api_key="sk-test-openai", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o", messages=user("ping"))
        assert reply.choices[0].message.content == "[gpt-4o] echo: ping"
        assert urls["anthropic"].startswith("http://127.0.0.1:")
    finally:
        process.terminate()
        process.wait(timeout=10)
