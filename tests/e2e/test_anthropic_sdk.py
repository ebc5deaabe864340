"""The official anthropic SDK, pointed at the gateway, against fake Anthropic and OpenAI upstreams."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture()
def client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="any-client-key", max_retries=0)


def test_auto_with_headers(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model="auto", max_tokens=200, messages=[{"role": "user", "content": "Tell me about tide pools"}]
    )
    message = raw.parse()
    assert raw.headers["x-tierwise-model"] == "claude-sonnet-4-6"
    assert raw.headers["x-tierwise-tier"] == "default"
    assert raw.headers["x-tierwise-reason"]
    assert message.model == "claude-sonnet-4-6"
    assert message.content[0].type == "text" and "tide pools" in message.content[0].text
    assert message.stop_reason == "end_turn"
    assert fake_anthropic.requests[-1].body["max_tokens"] == 200


def test_bearer_auth_and_any_version_are_accepted(gateway: GatewayProcess) -> None:
    client = anthropic.Anthropic(
        base_url=gateway.url,
        auth_token="client-token",
        max_retries=0,
        default_headers={"anthropic-version": "2099-01-01"},
    )
    message = client.messages.create(model="tier/speed", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert message.model == "claude-haiku-4-5"


def test_stream_helper_final_message(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="auto", max_tokens=300, messages=[{"role": "user", "content": "Stream a few words about rivers"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "rivers" in text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_anthropic_client_reaches_openai_model_with_tools(client: anthropic.Anthropic, fake_openai: FakeOpenAI) -> None:
    messages: list[anthropic.types.MessageParam] = [
        {"role": "user", "content": "Please use a tool for the weather in Oslo"}
    ]
    first = client.messages.create(model="gpt-5.1", max_tokens=300, tools=[WEATHER_TOOL], messages=messages)
    assert first.model.startswith("gpt-5.1")
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "x"}
    sent = fake_openai.requests[-1].body
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert sent["max_completion_tokens"] == 300 and "max_tokens" not in sent  # the name OpenAI models accept

    messages += [
        {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "snow, -3 C"}]},
    ]
    second = client.messages.create(model="gpt-5.1", max_tokens=300, tools=[WEATHER_TOOL], messages=messages)
    assert second.content[0].type == "text" and "snow, -3 C" in second.content[0].text
    sent_messages = fake_openai.requests[-1].body["messages"]
    assert sent_messages[1]["tool_calls"][0]["id"] == call.id
    assert sent_messages[2] == {"role": "tool", "tool_call_id": call.id, "content": "snow, -3 C"} or (
        sent_messages[2]["role"] == "tool" and sent_messages[2]["tool_call_id"] == call.id
    )


def test_anthropic_stream_from_openai_upstream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="gpt-5.1",
        max_tokens=300,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Please use a tool for the weather in Rome"}],
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    tool_use = next(block for block in final.content if block.type == "tool_use")
    assert tool_use.input == {"city": "x"}
    assert final.usage.output_tokens > 0


def test_thinking_blocks_survive(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="tier/escalation",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think about 17 * 23"}],
    )
    assert message.model == "claude-opus-4-7"
    assert message.content[0].type == "thinking" and message.content[0].signature


def test_image_input_from_openai_client_reaches_anthropic(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    client.chat.completions.create(
        model="auto",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{pixel}"}},
                ],
            }
        ],
    )
    content = fake_anthropic.requests[-1].body["messages"][0]["content"]
    image = next(block for block in content if block["type"] == "image")
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": pixel}
