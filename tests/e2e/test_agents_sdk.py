"""The OpenAI Agents SDK with its default model (which speaks the Responses API) and a function tool, through
the gateway to an Anthropic upstream and to a Chat Completions upstream."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator

import pytest
from agents.models import get_default_model
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

from agents import Agent, RunConfig, Runner, function_tool
from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def run_config(gateway: GatewayProcess) -> RunConfig:
    client = AsyncOpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    # No tracing: the SDK would export traces to OpenAI's servers.
    return RunConfig(model_provider=OpenAIProvider(openai_client=client), tracing_disabled=True)


def agent() -> Agent:
    return Agent(name="weather", instructions="Answer questions about the weather.", tools=[get_weather])


def ledger(gateway: GatewayProcess, since: float, count: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + 10
    while len(rows) < count and time.monotonic() < deadline:  # written off the request path
        with sqlite3.connect(gateway.ledger_path) as db:
            rows = db.execute(
                "SELECT requested_model, tier, model FROM requests WHERE api = 'responses' AND started_at >= ?"
                " ORDER BY started_at",
                (since,),
            ).fetchall()
        time.sleep(0.05)
    return rows


def test_default_model_with_a_tool_through_anthropic(gateway: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    since = time.time()
    result = Runner.run_sync(agent(), "call get_weather for Paris", run_config=run_config(gateway))
    assert result.final_output == "[claude-sonnet-4-6] tool result: sunny in x"
    first, second = (r.body for r in fake_anthropic.requests[-2:])
    assert first["tools"][0]["name"] == "get_weather" and first["tools"][0]["strict"] is True  # the SDK's strict schema
    assert second["messages"][-1]["content"][0]["type"] == "tool_result"
    model = get_default_model()
    assert ledger(gateway, since, 2) == [(model, "default", "claude-sonnet-4-6")] * 2


@pytest.fixture(scope="module")
def chat_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    """The default tier led by an OpenAI model that the gateway calls over Chat Completions."""
    workdir = tmp_path_factory.mktemp("agents-chat")
    text = default_config_text()
    old = "  default: [claude-sonnet-4-6, gpt-5.1, gpt-4.1]"
    assert old in text
    config = workdir / "tierwise.yaml"
    config.write_text(text.replace(old, "  default: [gpt-5.1, claude-sonnet-4-6, gpt-4.1]"))
    process = GatewayProcess(workdir, env=upstream_env(fake_anthropic, fake_openai), config=config)
    yield process
    process.stop()


def test_default_model_streamed_with_a_tool_through_chat_completions(
    chat_gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    async def run() -> tuple[str, list[str]]:
        streamed = Runner.run_streamed(agent(), "call get_weather for Oslo", run_config=run_config(chat_gateway))
        kinds = [event.type async for event in streamed.stream_events()]
        return str(streamed.final_output), kinds

    final, kinds = asyncio.run(run())
    assert final == "[gpt-5.1] tool result: sunny in x"
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    first, second = fake_openai.requests[-2:]
    assert first.path == second.path == "/v1/chat/completions"
    assert first.body["tools"][0]["function"]["name"] == "get_weather" and first.body["stream"] is True
    assert [m["role"] for m in second.body["messages"]] == ["system", "user", "assistant", "tool"]
