"""Request fields across APIs, end to end with the official SDKs through the real gateway and local upstreams:
structured output, refusals in the client's API shape, max_tokens capping, effort and thinking, PDF documents,
and one-hour cache writes priced in the ledger."""

from __future__ import annotations

import base64
import sqlite3
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pydantic
import pytest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI

PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n").decode()


class City(pydantic.BaseModel):
    name: str
    population: int
    coastal: bool


@pytest.fixture()
def oa(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)


@pytest.fixture()
def an(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)


def test_openai_parse_with_a_pydantic_model_through_an_anthropic_model(
    oa: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    completion = oa.chat.completions.parse(
        model="auto", messages=[{"role": "user", "content": "Describe Oslo."}], response_format=City
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, City)
    sent = fake_anthropic.requests[-1].body
    assert sent["model"] == "claude-sonnet-4-6"
    fmt = sent["output_config"]["format"]
    assert fmt["type"] == "json_schema" and set(fmt["schema"]["properties"]) == {"name", "population", "coastal"}
    assert "response_format" not in sent


def test_strict_tools_reach_anthropic_as_strict(oa: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    tool = openai.pydantic_function_tool(City, name="record_city")
    completion = oa.chat.completions.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "call record_city for Oslo"}], tools=[tool]
    )
    call = completion.choices[0].message.tool_calls
    assert call and call[0].function.name == "record_city"
    assert fake_anthropic.requests[-1].body["tools"][0]["strict"] is True


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"seed": 42}, "seed"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
    ],
)
def test_a_field_an_anthropic_model_cannot_honour_is_a_400_in_openai_shape(
    oa: openai.OpenAI, fake_anthropic: FakeAnthropic, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}], extra_body=extra
        )
    assert err.value.status_code == 400
    assert err.value.param == param and "claude-sonnet-4-6" in err.value.message
    assert fake_anthropic.requests == []  # nothing was sent with the field dropped


def test_harmless_openai_fields_are_left_out_and_the_call_succeeds(
    oa: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    completion = oa.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "hi"}],
        store=True,
        metadata={"team": "search"},
        service_tier="auto",
        n=1,
    )
    assert completion.choices[0].message.content
    sent = fake_anthropic.requests[-1].body
    assert not {"store", "service_tier", "n"} & sent.keys() and "metadata" not in sent


def test_a_field_an_openai_model_cannot_honour_is_a_400_in_anthropic_shape(
    an: anthropic.Anthropic, fake_openai: FakeOpenAI
) -> None:
    with pytest.raises(anthropic.BadRequestError) as err:
        an.messages.create(
            model="gpt-5.1", max_tokens=50, messages=[{"role": "user", "content": "hi"}], extra_body={"top_k": 5}
        )
    assert err.value.status_code == 400
    assert isinstance(err.value.body, dict) and err.value.body["error"]["type"] == "invalid_request_error"
    assert "top_k" in err.value.message
    assert fake_openai.requests == []


def test_max_tokens_above_the_models_limit_is_capped_and_explained(
    oa: openai.OpenAI, an: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    raw = oa.chat.completions.with_raw_response.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}], max_tokens=200_000
    )
    assert raw.parse().choices[0].message.content
    assert fake_anthropic.requests[-1].body["max_tokens"] == 64000
    assert "max_tokens 200000 capped at claude-sonnet-4-6's output limit 64000" in raw.headers["x-tierwise-reason"]
    message = an.messages.create(  # an explicit timeout: the SDK refuses long non-streamed calls otherwise
        model="claude-opus-4-7", max_tokens=500_000, messages=[{"role": "user", "content": "hi"}], timeout=60
    )
    assert message.content and fake_anthropic.requests[-1].body["max_tokens"] == 128000


def test_reasoning_effort_becomes_effort_or_a_thinking_budget_per_model(
    oa: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    oa.chat.completions.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}], reasoning_effort="high"
    )
    sent = fake_anthropic.requests[-1].body
    assert sent["output_config"] == {"effort": "high"} and sent["thinking"] == {"type": "adaptive"}
    oa.chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}], reasoning_effort="medium"
    )
    sent = fake_anthropic.requests[-1].body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192} and "output_config" not in sent


def test_anthropic_thinking_and_effort_reach_an_openai_model_as_reasoning_effort(
    an: anthropic.Anthropic, fake_openai: FakeOpenAI
) -> None:
    an.messages.create(
        model="gpt-5.1",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert fake_openai.requests[-1].body["reasoning_effort"] == "low"
    an.messages.create(
        model="gpt-5.2",
        max_tokens=4000,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"output_config": {"effort": "max"}},
    )
    assert fake_openai.requests[-1].body["reasoning_effort"] == "xhigh"  # OpenAI's top value
    raw = an.messages.with_raw_response.create(
        model="gpt-5.1",
        max_tokens=4000,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"output_config": {"effort": "max"}},
    )
    assert fake_openai.requests[-1].body["reasoning_effort"] == "high"  # gpt-5.1 stops at high
    assert "reasoning effort max -> high" in raw.headers["x-tierwise-reason"]


def test_pdf_documents_cross_both_ways(
    oa: openai.OpenAI, an: anthropic.Anthropic, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    message = an.messages.create(
        model="gpt-5.1",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "title": "spec.pdf",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                    },
                    {"type": "text", "text": "Summarise the document."},
                ],
            }
        ],
    )
    assert message.content
    assert fake_openai.requests[-1].body["messages"][0]["content"][0] == {
        "type": "file",
        "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "spec.pdf"},
    }
    completion = oa.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"}},
                    {"type": "text", "text": "Summarise the document."},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content
    assert fake_anthropic.requests[-1].body["messages"][0]["content"][0] == {
        "type": "document",
        "title": "a.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
    }
    # A document given by URL cannot be sent to Chat Completions, which takes files inline.
    with pytest.raises(anthropic.BadRequestError, match="URL"):
        an.messages.create(
            model="gpt-5.1",
            max_tokens=100,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}],
                }
            ],
        )


def test_one_hour_cache_writes_are_priced_by_lifetime_in_the_ledger(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai))
    try:
        client = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        system = [
            {"type": "text", "text": "Tool manual. " * 400, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": "Session notes. " * 200, "cache_control": {"type": "ephemeral"}},
        ]
        message = client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=50,
            system=system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "hello"}],
        )
    finally:
        assert gateway.stop() == 0
    usage = message.usage
    assert usage.cache_creation is not None
    one_hour = usage.cache_creation.ephemeral_1h_input_tokens
    five_min = usage.cache_creation.ephemeral_5m_input_tokens
    assert one_hour > 0 and five_min > 0 and usage.cache_creation_input_tokens == one_hour + five_min
    row = (
        sqlite3.connect(gateway.ledger_path)
        .execute(
            "SELECT cache_write_tokens, cache_write_1h_tokens, cost_usd FROM requests WHERE model = 'claude-sonnet-4-6'"
        )
        .fetchone()
    )
    assert (row[0], row[1]) == (one_hour + five_min, one_hour)
    row = (row[0], row[2])
    # Sonnet 4.6 in the genai-prices data: $3 input, $3.75 five-minute writes, $6 one-hour writes, $15 output.
    expected = (
        usage.input_tokens * Decimal(3)
        + five_min * Decimal("3.75")
        + one_hour * Decimal(6)
        + usage.output_tokens * Decimal(15)
    ) / 1_000_000
    assert Decimal(row[1]) == expected
    all_five_minute = (
        usage.input_tokens * Decimal(3) + (one_hour + five_min) * Decimal("3.75") + usage.output_tokens * Decimal(15)
    ) / 1_000_000
    assert Decimal(row[1]) > all_five_minute


def test_streamed_structured_output_through_an_anthropic_model(oa: openai.OpenAI) -> None:
    with oa.chat.completions.stream(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "Describe Bergen."}], response_format=City
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, City)


def test_anthropic_structured_output_through_an_openai_model(an: anthropic.Anthropic, fake_openai: FakeOpenAI) -> None:
    schema = City.model_json_schema() | {"additionalProperties": False}
    message = an.messages.create(
        model="gpt-5.1",
        max_tokens=300,
        messages=[{"role": "user", "content": "Describe Oslo."}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    text = message.content[0]
    assert text.type == "text" and City.model_validate_json(text.text)
    assert fake_openai.requests[-1].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
