"""An OpenAI provider configured with ``api: responses``: every client API reaches it as a Responses request."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text

NAMESPACED = {
    "type": "namespace",
    "name": "functions",
    "description": "Local tools",
    "tools": [
        {"type": "custom", "name": "exec", "description": "Run JavaScript"},
        {"type": "function", "name": "wait", "parameters": {"type": "object", "properties": {}}, "strict": False},
    ],
}


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("responses-upstream")
    config = workdir / "tierwise.yaml"
    text = default_config_text()
    assert "    kind: openai\n" in text
    config.write_text(text.replace("    kind: openai\n", "    kind: openai\n    api: responses\n"))
    process = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    process.stop()


def test_responses_client_is_forwarded_faithfully(gateway: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    response = client.responses.create(
        model="gpt-5.1",
        input="call functions.exec please",
        tools=[NAMESPACED],  # type: ignore[list-item]
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        prompt_cache_key="session-1",
        extra_body={"client_metadata": {"session_id": "session-1"}},
    )
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.body["tools"] == [NAMESPACED]  # the client's own declarations, namespace and freeform tool
    assert sent.body["prompt_cache_key"] == "session-1" and sent.body["client_metadata"] == {"session_id": "session-1"}
    assert sent.body["reasoning"] == {"effort": "low", "summary": "auto"} and sent.body["store"] is False
    call = next(item for item in response.output if item.type == "custom_tool_call")
    assert (call.namespace, call.name, call.input) == ("functions", "exec", "x")
    reasoning = response.output[0]  # OpenAI's reasoning, its id and ciphertext wrapped, so that it can go back
    assert reasoning.type == "reasoning" and (reasoning.encrypted_content or "").startswith("tierwise.openai.")
    # The next turn: the reasoning, the custom call and its output go back upstream as the same kinds of items.
    client.responses.create(
        model="gpt-5.1",
        input=[
            {"role": "user", "content": "call functions.exec please"},
            reasoning.model_dump(exclude_none=True),  # type: ignore[misc]
            {
                "type": "custom_tool_call",
                "call_id": call.call_id,
                "namespace": "functions",
                "name": "exec",
                "input": "x",
            },
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "42"},
        ],
        tools=[NAMESPACED],  # type: ignore[list-item]
    )
    items = fake_openai.requests[-1].body["input"]
    assert [item["type"] for item in items] == ["message", "reasoning", "custom_tool_call", "custom_tool_call_output"]
    token = (reasoning.encrypted_content or "").removeprefix("tierwise.openai.")
    upstream_id, _, ciphertext = base64.urlsafe_b64decode(token).decode().partition(":")
    assert upstream_id.startswith("rs_") and ciphertext.startswith("gAAAAB")  # the fake OpenAI's own
    assert (items[1]["id"], items[1]["encrypted_content"]) == (upstream_id, ciphertext)
    assert items[2]["namespace"] == "functions" and items[2]["name"] == "exec"


def test_responses_client_streams_from_a_responses_upstream(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    with client.responses.stream(model="gpt-5.1", input="stream from OpenAI") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[-1] == "response.completed" and final.output_text == "[gpt-5.1] echo: stream from OpenAI"
    with client.responses.stream(
        model="gpt-5.1",
        input="think, then stream",
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
    ) as stream:
        final = stream.get_final_response()
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "**Planning** Working out the answer."
    assert (reasoning.encrypted_content or "").startswith("tierwise.openai.")


def test_chat_client_is_translated(gateway: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    first = client.chat.completions.create(
        model="gpt-5.1",
        messages=[{"role": "system", "content": "terse"}, {"role": "user", "content": "call get_weather"}],
        tools=tools,  # type: ignore[list-item]
    )
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/responses" and sent.body["instructions"] == "terse"
    assert sent.body["tools"][0]["name"] == "get_weather" and sent.body["tools"][0]["strict"] is False
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and message.tool_calls is not None
    call = message.tool_calls[0]
    second = client.chat.completions.create(
        model="gpt-5.1",
        messages=[
            {"role": "user", "content": "call get_weather"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "rain"},
        ],
        tools=tools,  # type: ignore[list-item]
    )
    assert second.choices[0].message.content == "[gpt-5.1] tool result: rain"
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    structured = client.chat.completions.create(
        model="gpt-5.1",
        messages=[{"role": "user", "content": "a number"}],
        response_format={"type": "json_schema", "json_schema": {"name": "N", "schema": schema}},
    )
    assert fake_openai.requests[-1].body["text"]["format"] == {"type": "json_schema", "name": "N", "schema": schema}
    assert json.loads(structured.choices[0].message.content or "") == {"n": 1}


def test_anthropic_client_streams_through_a_responses_upstream(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    with client.messages.stream(
        model="gpt-5.1", max_tokens=300, messages=[{"role": "user", "content": "hello from Claude's SDK"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "[gpt-5.1] echo: hello from Claude's SDK"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    assert (
        fake_openai.requests[-1].path == "/v1/responses" and fake_openai.requests[-1].body["max_output_tokens"] == 300
    )
