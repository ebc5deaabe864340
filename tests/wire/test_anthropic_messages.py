"""The Anthropic Messages wire format, checked against the official ``anthropic`` SDK (no network: the SDK talks
to an in-process httpx transport that hands it what our functions render)."""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from dataclasses import replace
from typing import Any

import anthropic
import httpx2 as httpx
import orjson
import pydantic
import pytest
from anthropic.types import Message as SdkMessage
from anthropic.types import RawMessageStreamEvent

from tierwise.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    TierwiseError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tierwise.types import (
    BlockStop,
    ChatRequest,
    ChatResponse,
    DocumentPart,
    ImagePart,
    Message,
    ResponseFormat,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingPart,
    ThinkingStart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from tierwise.wire import anthropic_messages as wire
from tierwise.wire._anthropic_response import usage_from_anthropic, usage_to_anthropic
from tierwise.wire.sse import SseDecoder, SseEvent

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
SIGNATURE = "EqQBCkgIARABGAIiQL"


def sdk_client(handler: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-test",
        base_url="http://tierwise.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def capture_sdk_body(**kwargs: Any) -> dict[str, Any]:
    """The JSON body the official SDK sends for ``messages.create(**kwargs)``."""
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "x"}})

    with pytest.raises(anthropic.BadRequestError):
        sdk_client(handler).messages.create(**kwargs)
    body = orjson.loads(seen[0])
    assert isinstance(body, dict)
    return body


# --- parse_request ---------------------------------------------------------------------------------------


def test_parse_request_from_a_real_sdk_body() -> None:
    body = capture_sdk_body(
        model="claude-sonnet-4-6",
        max_tokens=1024,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": SIGNATURE},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C", "is_error": False},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    {"type": "text", "text": "And this?", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                ],
            },
        ],
        tools=[
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                "cache_control": {"type": "ephemeral"},
            },
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 2048},
        metadata={"user_id": "user-42"},
        stop_sequences=["\n\nHuman:"],
        service_tier="auto",
        extra_body={"temperature": 1, "top_k": 40},
    )
    request = wire.parse_request(body)

    assert request.model == "claude-sonnet-4-6"
    assert request.max_tokens == 1024
    assert request.system == (TextPart(text="You are terse.", cache_control={"type": "ephemeral"}),)
    assert request.messages[0] == Message(role="user", parts=(TextPart(text="What is the weather in Paris?"),))
    assert request.messages[1].parts == (
        ThinkingPart(text="Use the tool.", signature=SIGNATURE),
        ThinkingPart(redacted="opaque"),
        TextPart(text="Checking."),
        ToolCallPart(id="toolu_01", name="get_weather", arguments='{"city":"Paris"}'),
    )
    assert request.messages[2].parts == (
        ToolResultPart(tool_call_id="toolu_01", content=(TextPart(text="18C"),)),
        ImagePart(media_type="image/png", data=PNG),
        ImagePart(url="https://example.com/a.jpg"),
        TextPart(text="And this?", cache_control={"type": "ephemeral", "ttl": "1h"}),
    )
    assert request.tools == (
        ToolSpec(
            name="get_weather",
            description="Weather for a city",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            cache_control={"type": "ephemeral"},
        ),
    )
    assert request.tool_choice == ToolChoice(mode="required", parallel=False)
    assert request.thinking_budget == 2048
    assert request.user == "user-42"
    assert request.stop == ("\n\nHuman:",)
    assert request.temperature == 1.0
    assert request.top_k == 40
    assert request.top_p is None  # not sent: never invented
    assert request.stream is False
    assert request.extensions == {
        "anthropic": {
            "service_tier": "auto",
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        }
    }


def test_parse_request_minimal_streaming_body_sends_nothing_extra() -> None:
    request = wire.parse_request(
        {"model": "m", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert request == ChatRequest(
        model="m", max_tokens=5, stream=True, messages=(Message(role="user", parts=(TextPart(text="hi"),)),)
    )


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice(mode="auto")),
        ({"type": "none"}, ToolChoice(mode="none")),
        ({"type": "tool", "name": "f"}, ToolChoice(mode="tool", name="f")),
        ({"type": "auto", "disable_parallel_tool_use": False}, ToolChoice(mode="auto", parallel=True)),
    ],
)
def test_parse_tool_choice(choice: dict[str, Any], expected: ToolChoice) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tool_choice": choice}
    assert wire.parse_request(body).tool_choice == expected


def test_parse_thinking_modes() -> None:
    base = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    adaptive = wire.parse_request({**base, "thinking": {"type": "adaptive"}})
    assert adaptive.thinking_budget is None
    assert adaptive.thinking == Thinking(mode="adaptive")
    assert adaptive.extensions == {}
    display = {"type": "enabled", "budget_tokens": 1024, "display": "omitted"}
    enabled = wire.parse_request({**base, "thinking": display})
    assert enabled.thinking_budget == 1024
    assert enabled.thinking == Thinking(mode="enabled", budget_tokens=1024, display="omitted")
    body = orjson.loads(wire.build_upstream_request(enabled, upstream_model="x"))
    assert body["thinking"] == display
    future = {"type": "adaptive", "some_new_key": 1}
    kept = wire.parse_request({**base, "thinking": future})
    assert orjson.loads(wire.build_upstream_request(kept, upstream_model="x"))["thinking"] == future
    with pytest.raises(InvalidRequest) as err:
        wire.parse_request({**base, "thinking": {"type": "sometimes"}})
    assert err.value.param == "thinking.type"


def test_tool_result_with_block_content_and_error_flag() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "boom"},
                            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                        ],
                    }
                ],
            }
        ],
    }
    (part,) = wire.parse_request(body).messages[0].parts
    assert part == ToolResultPart(
        tool_call_id="t1", is_error=True, content=(TextPart(text="boom"), ImagePart(url="https://x/y.png"))
    )


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return body


def _with_block(block: Any, role: str = "user") -> dict[str, Any]:
    return _body(messages=[{"role": "user", "content": "hi"}, {"role": role, "content": [block]}])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([{"model": "m"}], None),
        ("hello", None),
        (None, None),
        ({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        (_body(model=3), "model"),
        (_body(max_tokens=None), "max_tokens"),
        (_body(max_tokens="10"), "max_tokens"),
        (_body(max_tokens=True), "max_tokens"),
        (_body(max_tokens=0), "max_tokens"),
        (_body(messages=[]), "messages"),
        (_body(messages={"role": "user"}), "messages"),
        (_body(messages=["hi"]), "messages.0"),
        (_body(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
        (_body(messages=[{"role": "system", "content": [{"type": "image"}]}]), "messages.0.content.0.type"),
        (_body(messages=[{"role": "user", "content": 5}]), "messages.0.content"),
        (_body(messages=[{"role": "user"}]), "messages.0.content"),
        (_with_block({"type": "text"}), "messages.1.content.0.text"),
        (_with_block("text"), "messages.1.content.0"),
        (_with_block({"type": "document", "source": {}}), "messages.1.content.0.source"),
        (_with_block({"type": "search_result", "source": "s"}), "messages.1.content.0.type"),
        (_with_block({"type": "image", "source": {"type": "file", "file_id": "f"}}), "messages.1.content.0.source"),
        (
            _with_block({"type": "image", "source": {"type": "base64", "data": PNG}}),
            "messages.1.content.0.source.media_type",
        ),
        (_with_block({"type": "tool_use", "id": "t", "name": "f", "input": {}}, "user"), "messages.1.content.0"),
        (
            _with_block({"type": "tool_use", "id": "t", "name": "f", "input": "{}"}, "assistant"),
            "messages.1.content.0.input",
        ),
        (_with_block({"type": "tool_use", "name": "f", "input": {}}, "assistant"), "messages.1.content.0.id"),
        (_with_block({"type": "tool_result", "content": "x"}), "messages.1.content.0.tool_use_id"),
        (_with_block({"type": "tool_result", "tool_use_id": "t", "content": 3}), "messages.1.content.0.content"),
        (
            _with_block({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}),
            "messages.1.content.0.content.0",
        ),
        (_with_block({"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}), "messages.1.content.0.is_error"),
        (_with_block({"type": "thinking", "thinking": "x"}, "assistant"), "messages.1.content.0.signature"),
        (
            _with_block({"type": "text", "text": "x", "cache_control": "ephemeral"}),
            "messages.1.content.0.cache_control",
        ),
        (_body(system=5), "system"),
        (_body(system=[{"type": "image"}]), "system.0"),
        (_body(tools={"name": "f"}), "tools"),
        (_body(tools=[{"input_schema": {}}]), "tools.0.name"),
        (_body(tools=[{"name": "f"}]), "tools.0.input_schema"),
        (_body(tools=[{"name": "f", "input_schema": {}, "description": 1}]), "tools.0.description"),
        (_body(tool_choice="auto"), "tool_choice"),
        (_body(tool_choice={"type": "required"}), "tool_choice.type"),
        (_body(tool_choice={"type": "tool"}), "tool_choice.name"),
        (_body(tool_choice={"type": "any", "disable_parallel_tool_use": 1}), "tool_choice.disable_parallel_tool_use"),
        (_body(thinking={"type": "enabled"}), "thinking.budget_tokens"),
        (_body(thinking="on"), "thinking"),
        (_body(metadata="u"), "metadata"),
        (_body(metadata={"user_id": 7}), "metadata.user_id"),
        (_body(stop_sequences="STOP"), "stop_sequences"),
        (_body(temperature="hot"), "temperature"),
        (_body(top_k=1.5), "top_k"),
        (_body(stream="yes"), "stream"),
    ],
)
def test_parse_request_rejects_bad_input(body: object, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        wire.parse_request(body)
    assert info.value.param == param
    assert info.value.message  # says what is wrong
    assert info.value.http_status == 400


# --- render_response -------------------------------------------------------------------------------------


def test_render_response_validates_as_an_sdk_message() -> None:
    response = ChatResponse(
        id="msg_01",
        model="claude-haiku-4-5",
        parts=(
            ThinkingPart(text="hmm", signature=SIGNATURE),
            ThinkingPart(redacted="opaque"),
            TextPart(text="Let me check."),
            ToolCallPart(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}'),
            ToolCallPart(id="toolu_2", name="now", arguments=""),
        ),
        stop_reason="tool_use",
        usage=Usage(input_tokens=1000, output_tokens=50, cache_read_tokens=600, cache_write_tokens=100),
    )
    message = SdkMessage.model_validate(orjson.loads(wire.render_response(response)))
    assert message.id == "msg_01"
    assert message.model == "claude-haiku-4-5"
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["thinking", "redacted_thinking", "text", "tool_use", "tool_use"]
    assert message.content[3].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert message.content[4].input == {}  # type: ignore[union-attr]
    assert message.usage.input_tokens == 300  # uncached input only
    assert message.usage.cache_read_input_tokens == 600
    assert message.usage.cache_creation_input_tokens == 100
    assert message.usage.output_tokens == 50


@pytest.mark.parametrize(
    ("internal", "anthropic_reason"), [("content_filter", "refusal"), ("max_tokens", "max_tokens"), (None, None)]
)
def test_render_response_stop_reasons(internal: Any, anthropic_reason: str | None) -> None:
    response = ChatResponse(id="x", model="m", parts=(TextPart(text="ok"),), stop_reason=internal, stop_sequence=None)
    assert SdkMessage.model_validate(orjson.loads(wire.render_response(response))).stop_reason == anthropic_reason


# --- StreamRenderer --------------------------------------------------------------------------------------

INTERNAL_STREAM: list[StreamEvent] = [
    StreamStart(id="msg_9", model="claude-sonnet-4-6", usage=Usage(input_tokens=120, cache_read_tokens=100)),
    ThinkingStart(index=0),
    ThinkingDelta(index=0, text="Think "),
    ThinkingDelta(index=0, text="hard."),
    ThinkingDelta(index=0, signature=SIGNATURE),
    BlockStop(index=0),
    TextStart(index=1),
    TextDelta(index=1, text="Héllo "),
    TextDelta(index=1, text="wörld 🌍"),
    BlockStop(index=1),
    ToolCallStart(index=2, id="toolu_7", name="get_weather"),
    ToolCallDelta(index=2, arguments='{"city": '),
    ToolCallDelta(index=2, arguments='"Paris"}'),
    BlockStop(index=2),
    StreamEnd(
        stop_reason="tool_use",
        usage=Usage(input_tokens=120, output_tokens=33, cache_read_tokens=100, reasoning_tokens=10),
    ),
]


def render_stream(events: list[StreamEvent]) -> bytes:
    renderer = wire.StreamRenderer(include_usage=False)
    return b"".join(renderer.event(ev) for ev in events) + renderer.done()


def test_stream_renderer_frames_validate_as_sdk_events() -> None:
    frames = SseDecoder().feed(render_stream(INTERNAL_STREAM))
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
    names = []
    for frame in frames:
        payload = orjson.loads(frame.data)
        assert frame.event == payload["type"]  # the SSE name and the payload agree
        adapter.validate_python(payload)
        names.append(frame.event)
    assert names == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_delta", "content_block_delta"],
        "content_block_stop",
        *["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"],
        "message_delta",
        "message_stop",
    ]
    start = orjson.loads(frames[0].data)["message"]
    assert start["usage"] == {
        "input_tokens": 20,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
    }
    assert start["content"] == [] and start["stop_reason"] is None
    delta = orjson.loads(frames[-2].data)
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 33 and delta["usage"]["input_tokens"] == 20


def test_stream_renderer_output_accumulates_in_the_sdk() -> None:
    body = render_stream(INTERNAL_STREAM)
    client = sdk_client(lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Héllo wörld 🌍"
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "Think hard."
    assert final.content[0].signature == SIGNATURE
    assert final.content[2].type == "tool_use"
    assert final.content[2].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 33
    assert final.usage.cache_read_input_tokens == 100


def test_stream_error_frame_is_raised_by_the_sdk() -> None:
    renderer = wire.StreamRenderer(include_usage=True)
    body = renderer.event(INTERNAL_STREAM[0]) + renderer.error(UpstreamUnavailable("all models are busy"))
    (frame,) = SseDecoder().feed(body)[1:]
    assert frame.event == "error"
    assert orjson.loads(frame.data) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "all models are busy"},
    }
    client = sdk_client(lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body))
    with pytest.raises(anthropic.APIStatusError, match="all models are busy"):  # noqa: SIM117
        with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
            s.get_final_message()


# --- render_error ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "status", "error_type"),
    [
        (InvalidRequest("bad", param="messages"), 400, "invalid_request_error"),
        (AuthenticationFailed("who?"), 401, "authentication_error"),
        (PermissionDenied("no"), 403, "permission_error"),
        (NotFound("no such model"), 404, "not_found_error"),
        (PayloadTooLarge("big"), 413, "request_too_large"),
        (RateLimited("slow down"), 429, "rate_limit_error"),
        (BudgetExceeded("spent"), 429, "rate_limit_error"),
        (UpstreamUnavailable("none"), 503, "overloaded_error"),
        (UpstreamTimeout("slow"), 504, "timeout_error"),
        (UpstreamConnectionError("reset"), 502, "api_error"),
        (TierwiseError("bug"), 500, "api_error"),
        (UpstreamStatusError("bad key", upstream_status=400, kind="invalid_request"), 400, "invalid_request_error"),
        (UpstreamStatusError("busy", upstream_status=529, kind="overloaded"), 503, "overloaded_error"),
        (UpstreamStatusError("down", upstream_status=500, kind="api_error"), 502, "api_error"),
    ],
)
def test_render_error(err: TierwiseError, status: int, error_type: str) -> None:
    got_status, body = wire.render_error(err)
    assert got_status == status
    assert orjson.loads(body) == {"type": "error", "error": {"type": error_type, "message": err.message}}


def test_render_error_reaches_the_sdk_as_its_own_exception() -> None:
    status, body = wire.render_error(NotFound("model 'nope' is not configured"))
    client = sdk_client(lambda _: httpx.Response(status, content=body))
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="nope", max_tokens=1, messages=[{"role": "user", "content": "hi"}])
    assert info.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model 'nope' is not configured"},
    }


# --- upstream requests -----------------------------------------------------------------------------------


def test_upstream_headers_and_path() -> None:
    assert wire.UPSTREAM_PATH == "/v1/messages"
    assert wire.upstream_headers("sk-ant") == {
        "x-api-key": "sk-ant",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    assert "x-api-key" not in wire.upstream_headers(None)


def build(request: ChatRequest, **kwargs: Any) -> dict[str, Any]:
    body = orjson.loads(wire.build_upstream_request(request, upstream_model="claude-up", **kwargs))
    assert isinstance(body, dict)
    return body


def test_build_upstream_request_merges_turns_and_orders_tool_results() -> None:
    request = ChatRequest(
        model="tierwise-auto",
        system=(TextPart(text="Be brief."), TextPart(text="")),
        messages=(
            Message(role="user", parts=(TextPart(text="weather?"),)),
            Message(
                role="assistant",
                parts=(TextPart(text=""), ToolCallPart(id="c1", name="w", arguments='{"q": 1}')),
            ),
            Message(role="assistant", parts=(ToolCallPart(id="c2", name="w", arguments=""),)),
            Message(role="user", parts=(TextPart(text="(context)"),)),
            Message(role="user", parts=(ToolResultPart(tool_call_id="c1", content=(TextPart(text="sunny"),)),)),
            Message(role="user", parts=(ToolResultPart(tool_call_id="c2", content=(), is_error=True),)),
            Message(role="assistant", parts=(ThinkingPart(text="unsigned, from another provider"), TextPart(text=""))),
            Message(
                role="user", parts=(ImagePart(url="data:image/jpeg;base64,AAAA"), ImagePart(url="https://x/y.png"))
            ),
            Message(role="assistant", parts=(TextPart(text="The answer is "),)),
        ),
        tools=(ToolSpec(name="w", parameters={}),),
        tool_choice=ToolChoice(mode="required", parallel=False),
        reasoning_effort="high",
        extensions={"openai": {"logprobs": False, "store": True, "metadata": {"k": "v"}}},
    )
    body = build(request)
    assert body["model"] == "claude-up"
    assert body["max_tokens"] == 4096
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "w", "input": {"q": 1}},
                {"type": "tool_use", "id": "c2", "name": "w", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "sunny"}]},
                {"type": "tool_result", "tool_use_id": "c2", "is_error": True},
                {"type": "text", "text": "(context)"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "The answer is"}]},
    ]
    assert body["tools"] == [{"name": "w", "input_schema": {"type": "object", "properties": {}}}]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["output_config"] == {"effort": "high"}
    for absent in ("logprobs", "reasoning_effort", "thinking", "stream", "temperature"):
        assert absent not in body


def test_build_upstream_request_forwards_what_the_client_sent() -> None:
    request = ChatRequest(
        model="x",
        messages=(Message(role="user", parts=(TextPart(text="hi", cache_control={"type": "ephemeral"}),)),),
        max_tokens=300,
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        stop=("END",),
        stream=True,
        thinking=Thinking(mode="enabled", budget_tokens=1024),
        user="u1",
        tools=(ToolSpec(name="f", description="d", parameters={"type": "object"}),),
        tool_choice=ToolChoice(mode="tool", name="f"),
        extensions={"anthropic": {"service_tier": "auto", "tools": [{"type": "web_search_20250305", "name": "s"}]}},
    )
    body = build(request, default_max_tokens=8000)
    assert body["max_tokens"] == 300  # the client's wins over the default
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["top_k"] == 5
    assert body["stop_sequences"] == ["END"]
    assert body["stream"] is True
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["metadata"] == {"user_id": "u1"}
    assert body["service_tier"] == "auto"
    assert body["tools"] == [
        {"name": "f", "description": "d", "input_schema": {"type": "object"}},
        {"type": "web_search_20250305", "name": "s"},
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_build_upstream_request_default_max_tokens_and_n() -> None:
    request = ChatRequest(model="x", messages=(Message(role="user", parts=(TextPart(text="hi"),)),))
    assert build(request, default_max_tokens=777)["max_tokens"] == 777
    with pytest.raises(InvalidRequest) as info:
        wire.build_upstream_request(
            ChatRequest(model="x", messages=request.messages, extensions={"openai": {"n": 2}}), upstream_model="c"
        )
    assert info.value.param == "n"
    assert "n" not in build(ChatRequest(model="x", messages=request.messages, extensions={"openai": {"n": 1}}))


def test_anthropic_body_survives_a_round_trip() -> None:
    sdk_body = capture_sdk_body(
        model="claude-x",
        max_tokens=64,
        system="sys",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": SIGNATURE},
                    {"type": "tool_use", "id": "a", "name": "f", "input": {"k": [1, 2]}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r"}]},
        ],
        tools=[{"name": "f", "input_schema": {"type": "object"}}],
        tool_choice={"type": "auto"},
        thinking={"type": "enabled", "budget_tokens": 32},
        stream=False,
    )
    request = wire.parse_request(sdk_body)
    again = wire.parse_request(orjson.loads(wire.build_upstream_request(request, upstream_model="claude-x")))
    assert again == request


# --- upstream responses ----------------------------------------------------------------------------------


def test_parse_upstream_response() -> None:
    body = orjson.dumps(
        {
            "id": "msg_01X",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "thinking", "thinking": "ok", "signature": SIGNATURE},
                {"type": "text", "text": "Hi", "citations": None},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 20,
                "cache_read_input_tokens": 30,
                "output_tokens": 7,
                "output_tokens_details": {"thinking_tokens": 3},
                "service_tier": "standard",
            },
        }
    )
    response = wire.parse_upstream_response(body)
    assert response == ChatResponse(
        id="msg_01X",
        model="claude-sonnet-4-5-20250929",
        parts=(
            ThinkingPart(text="ok", signature=SIGNATURE),
            TextPart(text="Hi"),
            ToolCallPart(id="toolu_1", name="f", arguments='{"a":1}'),
        ),
        stop_reason="tool_use",
        usage=Usage(input_tokens=60, output_tokens=7, cache_write_tokens=20, cache_read_tokens=30, reasoning_tokens=3),
    )
    # and back: the Anthropic client sees Anthropic's own numbers
    rendered = SdkMessage.model_validate(orjson.loads(wire.render_response(response)))
    assert (rendered.usage.input_tokens, rendered.usage.cache_creation_input_tokens) == (10, 20)


@pytest.mark.parametrize(
    "body",
    [b"<html>502 Bad Gateway</html>", b"[]", b'{"id": "x"}', b'{"id": 1, "model": "m", "content": []}', b""],
)
def test_parse_upstream_response_rejects_malformed_bodies(body: bytes) -> None:
    with pytest.raises(UpstreamError, match="malformed"):
        wire.parse_upstream_response(body)


def test_parse_upstream_response_with_an_error_body_raises_that_error() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    with pytest.raises(UpstreamStatusError) as info:
        wire.parse_upstream_response(body)
    assert info.value.upstream_status == 529


# --- upstream streams ------------------------------------------------------------------------------------

UPSTREAM_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_S",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-6",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 25,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 400,
                    "output_tokens": 1,
                },
            },
        },
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Les données… "}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "opaque"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("content_block_start", {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Bonjour 🌍 "}},
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "ça va"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_X", "name": "lookup", "input": {}},
        },
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": ""}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": '{"q": "é'}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": '"}'}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 3}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 89, "input_tokens": None, "cache_read_input_tokens": 400},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]

EXPECTED_INTERNAL: list[StreamEvent] = [
    StreamStart(
        id="msg_S", model="claude-sonnet-4-6", usage=Usage(input_tokens=425, output_tokens=1, cache_read_tokens=400)
    ),
    ThinkingStart(index=0),
    ThinkingDelta(index=0, text="Les données… "),
    ThinkingDelta(index=0, signature=SIGNATURE),
    BlockStop(index=0),
    # the redacted block has no internal form: skipped, and later blocks renumbered
    TextStart(index=1),
    TextDelta(index=1, text="Bonjour 🌍 "),
    TextDelta(index=1, text="ça va"),
    BlockStop(index=1),
    ToolCallStart(index=2, id="toolu_X", name="lookup"),
    ToolCallDelta(index=2, arguments=""),
    ToolCallDelta(index=2, arguments='{"q": "é'),
    ToolCallDelta(index=2, arguments='"}'),
    BlockStop(index=2),
    StreamEnd(stop_reason="tool_use", usage=Usage(input_tokens=425, output_tokens=89, cache_read_tokens=400)),
]


def upstream_bytes(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    # Anthropic's own framing: "event: x\r\ndata: {...}\r\n\r\n" is legal too; use LF as the API does.
    return b"".join(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n" for name, data in events)


def parse_chunks(chunks: list[bytes]) -> list[StreamEvent]:
    decoder, parser = SseDecoder(), wire.UpstreamStreamParser()
    out: list[StreamEvent] = []
    for chunk in chunks:
        for event in decoder.feed(chunk):
            out.extend(parser.feed(event))
    for event in decoder.close():
        out.extend(parser.feed(event))
    out.extend(parser.finish())
    return out


def test_upstream_stream_one_byte_at_a_time() -> None:
    raw = upstream_bytes(UPSTREAM_EVENTS)
    assert parse_chunks([raw[i : i + 1] for i in range(len(raw))]) == EXPECTED_INTERNAL


def test_upstream_stream_at_random_boundaries() -> None:
    raw = upstream_bytes(UPSTREAM_EVENTS)
    rng = random.Random(7)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(raw)), 12))
        chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        assert parse_chunks(chunks) == EXPECTED_INTERNAL


def test_upstream_stream_rendered_back_matches_the_upstream_message() -> None:
    body = render_stream(parse_chunks([upstream_bytes(UPSTREAM_EVENTS)]))
    client = sdk_client(lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[2].input == {"q": "é"}  # type: ignore[union-attr]
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (25, 400, 89)


def test_upstream_stream_whole_tool_input_at_block_start() -> None:
    events = [
        UPSTREAM_EVENTS[0],
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    out = parse_chunks([upstream_bytes(events)])
    assert out[1:3] == [ToolCallStart(index=0, id="t", name="f"), ToolCallDelta(index=0, arguments='{"a":1}')]


def test_upstream_stream_error_event_raises_overloaded() -> None:
    raw = upstream_bytes(UPSTREAM_EVENTS[:3]) + (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    with pytest.raises(UpstreamStatusError) as info:
        parse_chunks([raw])
    assert info.value.upstream_status == 529
    assert info.value.upstream_kind == "overloaded"
    assert info.value.message == "Overloaded"
    assert info.value.retryable is True
    assert info.value.http_status == 503


def test_upstream_stream_ending_early_raises() -> None:
    with pytest.raises(UpstreamConnectionError, match="ended early"):
        parse_chunks([upstream_bytes(UPSTREAM_EVENTS[:-1])])


@pytest.mark.parametrize(
    "raw",
    [
        b"event: content_block_start\ndata: {not json}\n\n",
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0}\n\n',  # before message_start
    ],
)
def test_upstream_stream_malformed_events_raise(raw: bytes) -> None:
    with pytest.raises(UpstreamConnectionError, match="malformed"):
        parse_chunks([raw])


# --- upstream errors -------------------------------------------------------------------------------------


def test_parse_upstream_error_overloaded_529() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}'
    err = wire.parse_upstream_error(529, body, {"retry-after": "7"})
    assert isinstance(err, UpstreamStatusError)
    assert (err.upstream_status, err.upstream_kind, err.message, err.retry_after_s) == (
        529,
        "overloaded",
        "Overloaded",
        7.0,
    )
    assert err.retryable and err.http_status == 503


def test_parse_upstream_error_relays_request_faults() -> None:
    body = b'{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}'
    err = wire.parse_upstream_error(400, body, {})
    assert (err.upstream_kind, err.retryable, err.http_status, err.retry_after_s) == (
        "invalid_request",
        False,
        400,
        None,
    )
    status, rendered = wire.render_error(err)
    assert status == 400
    assert orjson.loads(rendered)["error"] == {"type": "invalid_request_error", "message": "max_tokens: too large"}


def test_parse_upstream_error_retry_after_variants() -> None:
    body = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}'
    assert wire.parse_upstream_error(429, body, {"retry-after-ms": "1500", "retry-after": "9"}).retry_after_s == 1.5
    assert wire.parse_upstream_error(429, body, {"Retry-After": "2"}).retry_after_s == 2.0
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    from_date = wire.parse_upstream_error(429, body, {"retry-after": date}).retry_after_s
    assert from_date is not None and 25 <= from_date <= 31
    assert wire.parse_upstream_error(429, body, {"retry-after": "soon"}).retry_after_s is None
    assert wire.parse_upstream_error(429, body, {}).upstream_kind == "rate_limit"


def test_parse_upstream_error_tolerates_non_json_bodies() -> None:
    err = wire.parse_upstream_error(502, b"<html><body>Bad gateway</body></html>" + b"x" * 5000, {})
    assert err.upstream_kind == "api_error"
    assert err.message.startswith("upstream returned HTTP 502: <html>")
    assert len(err.message) < 400  # a proxy's page is not relayed whole
    assert wire.parse_upstream_error(503, b"", {}).upstream_kind == "overloaded"
    assert wire.parse_upstream_error(401, b"nope", {}).upstream_kind == "authentication"


def test_public_names() -> None:
    assert set(wire.__all__) == {
        "ANTHROPIC_VERSION",
        "UPSTREAM_PATH",
        "StreamRenderer",
        "UpstreamStreamParser",
        "build_upstream_request",
        "parse_betas",
        "parse_request",
        "parse_upstream_error",
        "parse_upstream_response",
        "render_error",
        "render_response",
        "request_headers",
        "upstream_betas",
        "upstream_headers",
    }
    assert isinstance(SseEvent(None, "x"), SseEvent)


def test_unsigned_or_empty_signed_thinking_is_not_sent_to_anthropic() -> None:
    """Reasoning that came from another provider is rendered with an empty signature; Anthropic would reject it."""
    from tierwise.types import ChatRequest, Message, TextPart, ThinkingPart

    request = ChatRequest(
        model="auto",
        max_tokens=100,
        messages=(
            Message(role="user", parts=(TextPart(text="hi"),)),
            Message(
                role="assistant",
                parts=(ThinkingPart(text="from elsewhere", signature=""), TextPart(text="hello")),
            ),
            Message(role="user", parts=(TextPart(text="again"),)),
        ),
    )
    body = orjson.loads(wire.build_upstream_request(request, upstream_model="claude-sonnet-4-6"))
    assert body["messages"][1]["content"] == [{"type": "text", "text": "hello"}]


def test_parse_documents_output_config_and_strict_tools() -> None:
    pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        "title": "Spec",
        "citations": {"enabled": True},
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }
    text_doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [pdf, text_doc, {"type": "text", "text": "summarise"}]}],
        "output_config": {"effort": "medium", "format": {"type": "json_schema", "schema": schema}},
        "tools": [{"name": "t", "input_schema": {"type": "object"}, "strict": True}],
    }
    request = wire.parse_request(body)
    assert request.messages[0].parts[:2] == (
        DocumentPart(
            media_type="application/pdf",
            data="JVBERi0x",
            title="Spec",
            citations=True,
            cache_control={"type": "ephemeral", "ttl": "1h"},
        ),
        DocumentPart(media_type="text/plain", text="plain words"),
    )
    assert request.reasoning_effort == "medium"
    assert request.response_format == ResponseFormat(kind="json_schema", schema=schema)
    assert request.tools[0].strict is True
    # Back to an Anthropic upstream unchanged.
    upstream = orjson.loads(wire.build_upstream_request(request, upstream_model="x"))
    assert upstream["messages"][0]["content"][:2] == [pdf, text_doc]
    assert upstream["output_config"] == body["output_config"]
    assert upstream["tools"][0]["strict"] is True
    # The beta name of the same field.
    beta = wire.parse_request(
        {**body, "output_config": None, "output_format": {"type": "json_schema", "schema": schema}}
    )
    assert beta.response_format == ResponseFormat(kind="json_schema", schema=schema)
    with pytest.raises(InvalidRequest) as err:
        wire.parse_request({**body, "output_config": {"effort": "extreme"}})
    assert err.value.param == "output_config.effort"


def test_usage_cache_writes_by_lifetime_both_ways() -> None:
    raw = {
        "input_tokens": 10,
        "output_tokens": 3,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 500,
        "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 300},
    }
    usage = usage_from_anthropic(raw)
    assert (usage.input_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens) == (610, 500, 300)
    assert usage_to_anthropic(usage) == raw
    assert usage_from_anthropic({"input_tokens": 1, "cache_creation_input_tokens": 7}).cache_write_1h_tokens == 0


def test_beta_header_is_split_in_order_without_blanks_or_repeats() -> None:
    assert wire.parse_betas(None) == ()
    assert wire.parse_betas(" a-1 , b-2,,a-1, c-3 ") == ("a-1", "b-2", "c-3")


def test_system_messages_in_messages_are_kept_in_place_and_leave_their_beta_behind() -> None:
    request = wire.parse_request(
        _body(messages=[{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}])
    )
    assert [m.role for m in request.messages] == ["user", "system"]
    request = replace(request, betas=("per-turn-control-2026-07-01", "effort-2025-11-24"))
    assert wire.request_headers(request) == {"anthropic-beta": "effort-2025-11-24"}
    sent = orjson.loads(wire.build_upstream_request(request, upstream_model="m"))
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "text", "text": "<system-reminder>\nbe brief\n</system-reminder>"},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"extensions": {"openai": {"logprobs": True}}}, "logprobs"),
        ({"extensions": {"openai": {"frequency_penalty": 0.5}}}, "frequency_penalty"),
        ({"extensions": {"openai": {"verbosity": "low"}}}, "verbosity"),
        ({"seed": 7}, "seed"),
        ({"response_format": ResponseFormat(kind="json_object")}, "response_format"),
    ],
)
def test_chat_completions_fields_an_anthropic_model_cannot_honour_are_refused(
    changes: dict[str, Any], param: str
) -> None:
    base = ChatRequest(model="m", messages=(Message(role="user", parts=(TextPart(text="hi"),)),))
    with pytest.raises(InvalidRequest) as err:
        wire.build_upstream_request(dataclasses.replace(base, **changes), upstream_model="claude-up")
    assert err.value.param == param and "claude-up" in err.value.message


def test_harmless_or_default_chat_completions_fields_are_left_out() -> None:
    harmless = {"store": True, "metadata": {"a": "b"}, "service_tier": "flex", "logprobs": False, "n": 1}
    request = ChatRequest(
        model="m",
        messages=(Message(role="user", parts=(TextPart(text="hi"),)),),
        response_format=ResponseFormat(kind="json_schema", name="x", schema={"type": "object"}, strict=True),
        extensions={"openai": harmless},
    )
    body = build(request)
    assert not harmless.keys() & body.keys()
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}
