"""The fake OpenAI server's Responses API, checked with the official SDK as a client (its types are the spec)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import ResponseStreamEvent

from tests.conftest import OPENAI_KEY
from tests.upstreams import FakeOpenAI

EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}


@pytest.fixture()
def client(fake_openai: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_openai.url, api_key=OPENAI_KEY, max_retries=0)


def test_plain_answer_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5.1", input="hello", instructions="be brief")
    assert response.output_text == "[gpt-5.1] echo: hello"
    assert response.status == "completed" and response.usage is not None and response.usage.input_tokens > 0


def test_stream_events_in_order(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    body = {"model": "gpt-5.1", "input": "stream it", "stream": True, "reasoning": {"effort": "low", "summary": "auto"}}
    sent = urllib.request.Request(
        fake_openai.url + "/responses",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {OPENAI_KEY}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(sent, timeout=10) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        text = raw.read().decode()
    names = [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]
    datas = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    parsed = [EVENTS.validate_json(data) for data in datas]
    assert [p.type for p in parsed] == names
    assert [p.sequence_number for p in parsed] == list(range(len(parsed)))
    assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert "response.reasoning_summary_text.delta" in names and names[-1] == "response.completed"
    assert parsed[-1].response.output_text == "[gpt-5.1] echo: stream it"
    assert parsed[-1].response.usage.output_tokens_details.reasoning_tokens == 16


def test_tool_call_and_result(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-5.1", input="call get_weather", tools=[WEATHER])  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "function_call" and call.arguments == '{"city":"x"}'
    second = client.responses.create(
        model="gpt-5.1",
        input=[
            {"role": "user", "content": "call get_weather"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "rain"},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert second.output_text == "[gpt-5.1] tool result: rain"


def test_mistakes_get_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="gpt-5.1", input=[{"type": "function_call_output", "call_id": "nope", "output": "x"}]
        )
    assert "nope" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.1", input="x", tool_choice="required")
