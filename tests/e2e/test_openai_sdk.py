"""The official openai SDK, pointed at the gateway, against fake Anthropic and OpenAI upstreams."""

from __future__ import annotations

import json

import openai
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI


@pytest.fixture()
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="any-client-key", max_retries=0)


def test_auto_routes_to_default_tier_and_explains(client: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    completion = raw.parse()
    assert raw.headers["x-tierwise-model"] == "claude-sonnet-4-6"
    assert raw.headers["x-tierwise-tier"] == "default"
    assert "default tier" in raw.headers["x-tierwise-reason"]
    assert raw.headers["x-tierwise-request-id"].startswith("twr_")
    assert completion.model == "claude-sonnet-4-6"  # the upstream model that answered
    assert "What is the capital of France?" in (completion.choices[0].message.content or "")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    sent = fake_anthropic.requests[-1].body
    assert sent["model"] == "claude-sonnet-4-6"
    assert "temperature" not in sent and "top_p" not in sent  # never adds sampling parameters


def test_system_prompt_and_history_reach_anthropic(client: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    client.chat.completions.create(
        model="tier/default",
        temperature=0.2,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello?"},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "Name a colour."},
        ],
    )
    sent = fake_anthropic.requests[-1].body
    assert sent["system"] in ("You are terse.", [{"type": "text", "text": "You are terse."}])
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["temperature"] == 0.2


def test_stream_with_usage(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Stream me a short answer please"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.headers["x-tierwise-tier"] == "default"
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream me a short answer please" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_tool_call_round_trip_through_anthropic(client: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "Please use a tool to get the weather in Paris"}]
    first = client.chat.completions.create(model="auto", messages=messages, tools=tools)  # type: ignore[arg-type]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "x"}
    assert fake_anthropic.requests[-1].body["tools"][0]["input_schema"]["required"] == ["city"]

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model="auto", messages=messages, tools=tools)  # type: ignore[arg-type]
    assert "sunny, 21 C" in (second.choices[0].message.content or "")
    sent = fake_anthropic.requests[-1].body["messages"]
    assert sent[1]["content"][-1]["type"] == "tool_use" and sent[1]["content"][-1]["id"] == call.id
    assert sent[2]["content"][0] == {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"} or (
        sent[2]["content"][0]["tool_use_id"] == call.id
    )


def test_streamed_tool_calls(client: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
        }
    ]
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "call lookup twice in parallel"}],
        tools=tools,  # type: ignore[arg-type]
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                slot = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] += delta.id or ""
                slot["name"] += (delta.function.name if delta.function else None) or ""
                slot["arguments"] += (delta.function.arguments if delta.function else None) or ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert all(c["name"] == "lookup" and json.loads(c["arguments"]) == {"q": "x"} for c in calls.values())
    assert calls[0]["id"] != calls[1]["id"]


def test_named_openai_model_is_passed_through(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-5.1", messages=[{"role": "user", "content": "hello from the openai side"}], seed=7
    )
    assert raw.headers["x-tierwise-model"] == "gpt-5.1"
    assert raw.parse().model.startswith("gpt-5.1")
    sent = fake_openai.requests[-1].body
    assert sent["model"] == "gpt-5.1" and sent["seed"] == 7
    assert "max_tokens" not in sent and "max_completion_tokens" not in sent


def test_realtime_header_selects_speed_tier(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "quick one"}],
        extra_headers={"x-tierwise-latency": "realtime"},
    )
    assert raw.headers["x-tierwise-tier"] == "speed"
    assert raw.headers["x-tierwise-model"] == "claude-haiku-4-5"


def test_long_context_stays_on_a_1m_model_of_its_tier(
    client: openai.OpenAI, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    huge = "word " * 1_000_000
    # ~600K tokens: beyond 200K and 400K windows but inside Sonnet 4.6's 1M (the genai-prices data says so).
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": huge[: 4 * 600_000]}]
    )
    assert raw.headers["x-tierwise-model"] == "claude-sonnet-4-6"
    assert fake_anthropic.requests[-1].body["model"] == "claude-sonnet-4-6"
    # ~250K tokens to the speed tier: Haiku 4.5 holds 200K, so the request moves to a tier that can take it.
    raw = client.chat.completions.with_raw_response.create(
        model="tier/speed", messages=[{"role": "user", "content": huge[: 4 * 250_000]}]
    )
    assert raw.headers["x-tierwise-model"] == "gpt-5-mini"
    assert "claude-haiku-4-5 context 200k" in raw.headers["x-tierwise-reason"]
