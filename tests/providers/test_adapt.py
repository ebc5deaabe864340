"""Fitting a request to the model that answers it: output limits, effort and thinking per model capabilities."""

from __future__ import annotations

import dataclasses

import pytest

from tierwise.config.settings import Capability, ModelSettings, ProviderSettings, Timeouts
from tierwise.errors import InvalidRequest
from tierwise.providers.adapt import adapt
from tierwise.types import ChatRequest, Effort, Message, TextPart, Thinking


def model(api: str, *caps: Capability, max_output: int = 64000) -> ModelSettings:
    provider = ProviderSettings(
        name=api,
        kind="anthropic" if api == "anthropic" else "openai",
        api="anthropic" if api == "anthropic" else "openai",
        base_url="http://x",
        api_key=None,
        api_key_env=None,
        requires_key=False,
        timeouts=Timeouts(),
    )
    return ModelSettings(
        alias=f"{api}-model",
        provider=provider,
        upstream_id="up",
        context_window=200_000,
        max_output_tokens=max_output,
        capabilities=frozenset(caps),
    )


def request(
    *, max_tokens: int | None = None, effort: Effort | None = None, thinking: Thinking | None = None
) -> ChatRequest:
    return ChatRequest(
        model="auto",
        messages=(Message(role="user", parts=(TextPart(text="hi"),)),),
        max_tokens=max_tokens,
        reasoning_effort=effort,
        thinking=thinking,
    )


SONNET = model("anthropic", "tools", "thinking", "adaptive_thinking", "effort")
OPUS_47 = model("anthropic", "tools", "adaptive_thinking", "effort", max_output=128000)
HAIKU = model("anthropic", "tools", "thinking")
GPT5 = model("openai", "tools", "thinking", max_output=128000)


def test_max_tokens_above_the_limit_is_capped_and_says_so() -> None:
    fitted = adapt(request(max_tokens=200_000), SONNET)
    assert fitted.request.max_tokens == 64000
    assert fitted.notes == ("max_tokens 200000 capped at anthropic-model's output limit 64000",)
    same = request(max_tokens=1000)
    assert adapt(same, SONNET).request is same and adapt(same, SONNET).notes == ()


def test_effort_stays_effort_on_models_with_the_dial() -> None:
    asked = request(effort="high", thinking=Thinking(mode="adaptive"))
    assert adapt(asked, SONNET).request is asked


def test_effort_becomes_a_thinking_budget_below_max_tokens_without_the_dial() -> None:
    fitted = adapt(request(max_tokens=10000, effort="high", thinking=Thinking(mode="adaptive")), HAIKU).request
    assert fitted.reasoning_effort is None
    assert fitted.thinking == Thinking(mode="enabled", budget_tokens=9999)
    low = adapt(request(effort="low"), HAIKU).request
    assert low.thinking == Thinking(mode="enabled", budget_tokens=2048)
    none = adapt(request(effort="minimal"), HAIKU).request
    assert (none.reasoning_effort, none.thinking) == (None, None)
    with pytest.raises(InvalidRequest) as err:
        adapt(request(max_tokens=500, effort="high"), HAIKU)
    assert err.value.param == "max_tokens"


def test_a_budget_becomes_adaptive_thinking_with_an_effort_on_adaptive_only_models() -> None:
    fitted = adapt(request(max_tokens=32000, thinking=Thinking(mode="enabled", budget_tokens=20000)), OPUS_47).request
    assert fitted.thinking == Thinking(mode="adaptive")
    assert fitted.reasoning_effort == "high"


def test_adaptive_thinking_gets_a_budget_on_budget_only_models() -> None:
    fitted = adapt(request(max_tokens=32000, effort=None, thinking=Thinking(mode="adaptive")), HAIKU).request
    assert fitted.thinking == Thinking(mode="enabled", budget_tokens=8192)


def test_a_budget_becomes_reasoning_effort_on_openai_models() -> None:
    fitted = adapt(request(thinking=Thinking(mode="enabled", budget_tokens=3000)), GPT5).request
    assert fitted.reasoning_effort == "low"
    explicit = request(effort="high", thinking=Thinking(mode="enabled", budget_tokens=3000))
    assert adapt(explicit, GPT5).request.reasoning_effort == "high"


def test_thinking_on_a_model_that_cannot_think_is_refused() -> None:
    plain = model("anthropic", "tools")
    with pytest.raises(InvalidRequest) as err:
        adapt(request(thinking=Thinking(mode="enabled", budget_tokens=2048)), plain)
    assert err.value.param == "thinking"


def test_the_long_context_beta_is_sent_only_when_the_request_needs_the_room() -> None:
    old = dataclasses.replace(HAIKU, alias="sonnet-4-5", long_context_beta="context-1m-2025-08-07")
    small = request(max_tokens=1000)
    assert adapt(small, old).request is small
    big = dataclasses.replace(small, messages=(Message(role="user", parts=(TextPart(text="word " * 200_000),)),))
    fitted = adapt(big, old)
    assert fitted.request.betas == ("context-1m-2025-08-07",)
    assert "long-context beta context-1m-2025-08-07" in fitted.notes[0]
    assert adapt(big, HAIKU).request.betas == ()


def test_an_effort_the_model_does_not_take_becomes_the_nearest_one() -> None:
    sonnet = dataclasses.replace(SONNET, efforts=("low", "medium", "high", "max"))
    fitted = adapt(request(effort="xhigh", thinking=Thinking(mode="adaptive")), sonnet)
    assert fitted.request.reasoning_effort == "max"  # between high and max: the higher
    assert fitted.notes == ("reasoning effort xhigh -> max, the nearest anthropic-model takes",)
    gpt51 = dataclasses.replace(GPT5, efforts=("none", "low", "medium", "high"))
    assert adapt(request(effort="max"), gpt51).request.reasoning_effort == "high"
    assert adapt(request(effort="minimal"), gpt51).request.reasoning_effort == "low"
    assert adapt(request(effort="high"), gpt51).notes == ()


def test_a_model_that_does_not_reason_gets_no_effort_and_says_so() -> None:
    gpt41 = model("openai", "tools")
    fitted = adapt(request(effort="high", thinking=Thinking(mode="adaptive")), gpt41)
    assert fitted.request.reasoning_effort is None
    assert fitted.notes == ("openai-model does not reason: reasoning effort high not sent",)
    with pytest.raises(InvalidRequest):
        adapt(request(thinking=Thinking(mode="enabled", budget_tokens=2048)), gpt41)
