"""The official openai SDK's ``responses`` client, pointed at the gateway, against fake upstreams."""

from __future__ import annotations

import http.client
import json
import sqlite3
import time

import openai
import pydantic
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}


@pytest.fixture()
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="any-client-key", max_retries=0)


def test_plain_answer_routed_and_explained(client: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    raw = client.responses.with_raw_response.create(
        model="auto", input="What is the capital of France?", instructions="Be terse."
    )
    response = raw.parse()
    assert raw.headers["x-tierwise-tier"] == "default"
    assert raw.headers["x-tierwise-model"] == "claude-sonnet-4-6"
    assert response.id == "resp_" + raw.headers["x-tierwise-request-id"].removeprefix("twr_")
    assert response.output_text == "[claude-sonnet-4-6] echo: What is the capital of France?"
    assert response.status == "completed" and response.usage is not None and response.usage.input_tokens > 0
    sent = fake_anthropic.requests[-1].body
    assert sent["system"] in ("Be terse.", [{"type": "text", "text": "Be terse."}])
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}
    ]


def test_streamed_answer(client: openai.OpenAI) -> None:
    with client.responses.stream(model="auto", input="Stream a short answer please") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") > 1
    assert final.output_text == "[claude-sonnet-4-6] echo: Stream a short answer please"
    assert final.usage is not None and final.usage.output_tokens > 0


def test_tool_loop_with_previous_response_id(client: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    first = client.responses.create(model="auto", input="call get_weather for Paris", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].arguments == '{"city":"x"}'
    second = client.responses.create(
        model="auto",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "[claude-sonnet-4-6] tool result: sunny, 21C"
    sent = fake_anthropic.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # the stored turn was put back in
    assert sent[1]["content"][0]["type"] == "tool_use"


def test_unknown_previous_response_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="auto", previous_response_id="resp_nope", input="hi")
    assert "resp_nope" in caught.value.message


def test_store_false_keeps_nothing(client: openai.OpenAI) -> None:
    first = client.responses.create(model="auto", input="remember nothing", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="auto", previous_response_id=first.id, input="and now?")


def test_built_in_tool_is_refused_by_name(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="auto", input="search", tools=[{"type": "web_search"}])
    assert "web_search" in caught.value.message
    assert caught.value.body is not None and caught.value.body["param"] == "tools[0].type"  # type: ignore[index]


class City(pydantic.BaseModel):
    city: str
    population: int


def test_parse_with_a_pydantic_model_through_anthropic(client: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    parsed = client.responses.parse(model="tier/default", input="Give me a city as JSON", text_format=City)
    assert parsed.output_parsed == City(city="x", population=1)
    sent = fake_anthropic.requests[-1].body
    assert sent["output_config"]["format"]["type"] == "json_schema"


def test_openai_upstream_over_chat_completions(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    response = client.responses.create(model="gpt-5.1", input="hello there", max_output_tokens=200)
    assert response.output_text == "[gpt-5.1] echo: hello there"
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.body["max_completion_tokens"] == 200


def test_ledger_says_the_client_spoke_responses(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    response = client.responses.create(model="auto", input="ledger me")
    request_id = "twr_" + response.id.removeprefix("resp_")
    rows: list[tuple[str, str]] = []
    deadline = time.monotonic() + 10
    while not rows and time.monotonic() < deadline:  # the ledger writes off the request path
        with sqlite3.connect(gateway.ledger_path) as db:
            rows = db.execute("SELECT api, tier FROM requests WHERE request_id = ?", (request_id,)).fetchall()
        time.sleep(0.05)
    assert rows == [("responses", "default")]


def test_a_client_that_leaves_after_response_completed_got_its_answer(
    client: openai.OpenAI, gateway: GatewayProcess
) -> None:
    """Codex closes the connection as soon as it reads response.completed: that answer was delivered (200) and
    is kept for previous_response_id."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    body = json.dumps({"model": "auto", "input": "leave right after", "stream": True})
    connection.request("POST", "/v1/responses", body=body, headers={"content-type": "application/json"})
    raw = connection.getresponse()
    request_id = raw.getheader("x-tierwise-request-id") or ""
    seen = b""
    while b"event: response.completed" not in seen:
        line = raw.fp.readline()
        assert line, seen[-500:]
        seen += line
    connection.sock.close()  # type: ignore[union-attr]
    rows: list[tuple[int]] = []
    deadline = time.monotonic() + 10
    while not rows and time.monotonic() < deadline:
        with sqlite3.connect(gateway.ledger_path) as db:
            rows = db.execute("SELECT status FROM requests WHERE request_id = ?", (request_id,)).fetchall()
        time.sleep(0.05)
    assert rows == [(200,)]
    follow_up = client.responses.create(
        model="auto", previous_response_id="resp_" + request_id.removeprefix("twr_"), input="and then?"
    )
    assert follow_up.status == "completed"
