"""The OpenAI Chat Completions wire format, checked against the official SDK's own models."""

from __future__ import annotations

import dataclasses
import email.utils
import time
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageFunctionToolCall

from tierwise.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    InvalidRequest,
    NotFound,
    RateLimited,
    TierwiseError,
    UpstreamConnectionError,
    UpstreamStatusError,
    UpstreamTimeout,
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
from tierwise.wire import anthropic_messages as am
from tierwise.wire import openai_chat as oc
from tierwise.wire.sse import SseDecoder, SseEvent

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

# A tool-calling conversation as the official SDK serialises it.
AGENT_BODY: dict[str, Any] = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_b2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b2", "content": [{"type": "text", "text": "4C"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        },
    ],
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "max_completion_tokens": 256,
    "temperature": 0.2,
    "top_p": 0.9,
    "stop": "END",
    "stream": True,
    "stream_options": {"include_usage": True},
    "user": "u-42",
    "reasoning_effort": "low",
    "response_format": {"type": "json_object"},
    "seed": 7,
    "metadata": {"team": "search"},
}


# --- parse_request ------------------------------------------------------------------------------------------


def test_parse_request_maps_a_tool_conversation() -> None:
    request = oc.parse_request(AGENT_BODY)

    assert request.model == "auto"
    assert request.system == (TextPart(text="You are terse."), TextPart(text="Use tools."))
    assert [m.role for m in request.messages] == ["user", "assistant", "user"]
    assert request.messages[1].parts == (
        ToolCallPart(id="call_a1", name="get_weather", arguments='{"city":"Paris"}'),
        ToolCallPart(id="call_b2", name="get_weather", arguments='{"city":"Oslo"}'),
    )
    # Both tool results, then the user's next words, in one user turn.
    assert request.messages[2].parts == (
        ToolResultPart(tool_call_id="call_a1", content=(TextPart(text="18C"),)),
        ToolResultPart(tool_call_id="call_b2", content=(TextPart(text="4C"),)),
        TextPart(text="And this?"),
        ImagePart(media_type="image/png", data="iVBORw0KGgo=", detail="low"),
        ImagePart(url="https://example.com/cat.jpg"),
    )
    assert request.tools == (
        ToolSpec(
            name="get_weather",
            description="Current weather for a city",
            parameters=WEATHER_TOOL["function"]["parameters"],
        ),
    )
    assert request.tool_choice == ToolChoice(mode="auto", parallel=False)
    assert request.max_tokens == 256
    assert (request.temperature, request.top_p, request.stop) == (0.2, 0.9, ("END",))
    assert request.stream and request.stream_usage
    assert (request.user, request.reasoning_effort) == ("u-42", "low")
    assert (request.response_format, request.seed) == (ResponseFormat(kind="json_object"), 7)
    assert request.extensions == {
        "openai": {
            "metadata": {"team": "search"},
            "max_completion_tokens": 256,
        }
    }
    assert request.thinking_budget is None and request.top_k is None


def test_parse_request_minimal_body_invents_nothing() -> None:
    request = oc.parse_request({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})

    assert request == ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", parts=(TextPart(text="hi"),)),))


def test_parse_request_named_tool_choice_and_stop_list() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "stop": ["a", "b"],
        "max_tokens": 10,
        "temperature": None,  # null means "not sent"
    }
    request = oc.parse_request(body)

    assert request.tool_choice == ToolChoice(mode="tool", name="get_weather")
    assert request.stop == ("a", "b")
    assert request.max_tokens == 10
    assert request.temperature is None
    assert "max_completion_tokens" not in request.extensions.get("openai", {})


def test_parse_request_parallel_tool_calls_alone() -> None:
    with_tools = oc.parse_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER_TOOL],
            "parallel_tool_calls": False,
        }
    )
    without_tools = oc.parse_request(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "parallel_tool_calls": True}
    )

    assert with_tools.tool_choice == ToolChoice(mode="auto", parallel=False)
    assert without_tools.tool_choice is None
    assert without_tools.extensions == {"openai": {"parallel_tool_calls": True}}


def test_parse_request_keeps_strict_tools_verbatim_for_openai() -> None:
    strict_tool = {"type": "function", "function": {**WEATHER_TOOL["function"], "strict": True}}
    request = oc.parse_request({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [strict_tool]})

    assert request.tools[0].name == "get_weather"
    body = orjson.loads(oc.build_upstream_request(request, upstream_model="gpt-4.1"))
    assert body["tools"] == [strict_tool]


def test_parse_request_assistant_empty_content_beside_tool_calls_is_dropped() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
    }
    request = oc.parse_request(body)

    assert request.messages[1].parts == (ToolCallPart(id="c1", name="f", arguments="{}"),)
    assert request.messages[2] == Message(
        role="user", parts=(ToolResultPart(tool_call_id="c1", content=(TextPart(text="ok"),)),)
    )


BAD_BODIES: list[tuple[object, str | None, str]] = [
    ([{"model": "m"}], None, "JSON object"),
    ({"messages": [{"role": "user", "content": "x"}]}, "model", "model"),
    ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "model", "model"),
    ({"model": "m"}, "messages", "messages"),
    ({"model": "m", "messages": []}, "messages", "at least one"),
    ({"model": "m", "messages": ["hi"]}, "messages[0]", "object"),
    ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "unknown role"),
    ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content", "content"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content", "string or an array"),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "video"}]}],
        },
        "messages[1].content[0]",
        "'video'",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
        "messages[0].content[0].text",
        "string",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        "messages[0].content[0].type",
        "not supported",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        "messages[0].content[0].image_url",
        "url",
    ),
    (
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,xx"}}]}
            ],
        },
        "messages[0].content[0].image_url.url",
        "base64",
    ),
    (
        {"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]},
        "messages[0].content[0]",
        "not allowed",
    ),
    ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "tool_call_id"),
    (
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]}]},
        "messages[0].tool_calls[0].id",
        "id",
    ),
    (
        {
            "model": "m",
            "messages": [
                {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]}
            ],
        },
        "messages[0].tool_calls[0].function.arguments",
        "JSON string",
    ),
    ({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role", "legacy"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": {}}, "tools", "array"),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "custom"}]},
        "tools[0].type",
        "custom",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {}}]},
        "tools[0].function.name",
        "name",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}],
        },
        "tools[0].function.parameters",
        "schema",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "any"},
        "tool_choice",
        "tool_choice",
    ),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "100"}, "max_tokens", "integer"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens", "at least 1"),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 1.5},
        "max_completion_tokens",
        "integer",
    ),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature", "number"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature", "between"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": True}, "top_p", "number"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream", "boolean"),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": 1}},
        "stream_options.include_usage",
        "boolean",
    ),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", 1]}, "stop", "string"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n", "n=1"),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]},
        "functions",
        "legacy",
    ),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "user": 5}, "user", "string"),
]


@pytest.mark.parametrize(("body", "param", "fragment"), BAD_BODIES)
def test_parse_request_rejects_bad_input(body: object, param: str | None, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        oc.parse_request(body)

    assert caught.value.param == param
    assert fragment in caught.value.message
    assert caught.value.http_status == 400


@pytest.mark.parametrize("body", [None, "text", 3, []])
def test_parse_request_rejects_non_object_bodies(body: object) -> None:
    with pytest.raises(InvalidRequest, match="JSON object"):
        oc.parse_request(body)


# --- render_response -----------------------------------------------------------------------------------------


def test_render_response_validates_as_sdk_chat_completion() -> None:
    response = ChatResponse(
        id="chatcmpl-1",
        model="claude-sonnet-4-5",
        parts=(
            ThinkingPart(text="hmm", signature="sig"),
            TextPart(text="Checking "),
            TextPart(text="now."),
            ToolCallPart(id="toolu_1", name="get_weather", arguments='{"city":"Paris"}'),
        ),
        stop_reason="tool_use",
        usage=Usage(
            input_tokens=120, output_tokens=30, cache_read_tokens=100, cache_write_tokens=5, reasoning_tokens=10
        ),
    )
    completion = ChatCompletion.model_validate(orjson.loads(oc.render_response(response)))

    assert completion.object == "chat.completion"
    assert completion.model == "claude-sonnet-4-5"
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking now."  # the thinking is not in it
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.id, call.function.name, call.function.arguments) == ("toolu_1", "get_weather", '{"city":"Paris"}')
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        120,
        30,
        150,
    )
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 100
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 10


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("content_filter", "content_filter"),
        ("refusal", "stop"),  # with the text moved to message.refusal
        (None, "stop"),
    ],
)
def test_render_response_maps_stop_reasons(stop_reason: Any, finish_reason: str) -> None:
    response = ChatResponse(id="x", model="m", parts=(TextPart(text="hi"),), stop_reason=stop_reason)
    completion = ChatCompletion.model_validate(orjson.loads(oc.render_response(response)))

    assert completion.choices[0].finish_reason == finish_reason
    message = completion.choices[0].message
    assert (message.refusal if stop_reason == "refusal" else message.content) == "hi"
    assert message.tool_calls is None


# --- StreamRenderer ------------------------------------------------------------------------------------------

TOOL_STREAM: list[StreamEvent] = [
    StreamStart(id="msg_1", model="claude-haiku-4-5"),
    ThinkingStart(index=0),
    ThinkingDelta(index=0, text="plan"),
    BlockStop(index=0),
    TextStart(index=1),
    TextDelta(index=1, text="Let me check."),
    BlockStop(index=1),
    ToolCallStart(index=2, id="toolu_a", name="get_weather"),
    ToolCallDelta(index=2, arguments='{"city":'),
    ToolCallDelta(index=2, arguments='"Paris"}'),
    BlockStop(index=2),
    ToolCallStart(index=3, id="toolu_b", name="get_weather"),
    ToolCallDelta(index=3, arguments='{"city":"Oslo"}'),
    BlockStop(index=3),
    StreamEnd(stop_reason="tool_use", usage=Usage(input_tokens=50, output_tokens=20, cache_read_tokens=8)),
]


def _render(events: list[StreamEvent], *, include_usage: bool) -> list[ChatCompletionChunk]:
    renderer = oc.StreamRenderer(include_usage=include_usage)
    raw = b"".join(renderer.event(ev) for ev in events) + renderer.done()
    decoded = SseDecoder().feed(raw)
    assert decoded[-1].data == "[DONE]"
    return [ChatCompletionChunk.model_validate(orjson.loads(ev.data)) for ev in decoded[:-1]]


def test_stream_renderer_tool_calls_with_usage() -> None:
    chunks = _render(TOOL_STREAM, include_usage=True)

    assert {(c.id, c.model, c.object) for c in chunks} == {("msg_1", "claude-haiku-4-5", "chat.completion.chunk")}
    assert len({c.created for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check."  # no thinking
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            assert call.function is not None
            entry["name"] += call.function.name or ""
            entry["arguments"] += call.function.arguments or ""
    # Tool calls are numbered from 0, not by block index.
    assert calls == {
        0: {"id": "toolu_a", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        1: {"id": "toolu_b", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    finish, usage_chunk = chunks[-2], chunks[-1]
    assert finish.choices[0].finish_reason == "tool_calls" and finish.usage is None
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (50, 20)
    assert usage_chunk.usage.prompt_tokens_details is not None
    assert usage_chunk.usage.prompt_tokens_details.cached_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_renderer_without_usage_sends_no_usage_key() -> None:
    renderer = oc.StreamRenderer(include_usage=False)
    frames = [renderer.event(ev) for ev in TOOL_STREAM]

    assert all(b'"usage"' not in f for f in frames)
    assert frames[1] == b"" and frames[3] == b""  # thinking and block stops produce nothing
    chunks = _render(TOOL_STREAM, include_usage=False)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_stream_renderer_error_and_done_frames() -> None:
    renderer = oc.StreamRenderer(include_usage=False)
    frame = renderer.error(UpstreamTimeout("the upstream took too long"))

    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    payload = orjson.loads(frame[len(b"data: ") :])
    assert payload == {
        "error": {"message": "the upstream took too long", "type": "server_error", "param": None, "code": "timeout"}
    }
    assert renderer.done() == b"data: [DONE]\n\n"


# --- render_error --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "status", "error_type", "code"),
    [
        (InvalidRequest("bad", param="messages[0]"), 400, "invalid_request_error", None),
        (AuthenticationFailed("no key"), 401, "invalid_request_error", "invalid_api_key"),
        (NotFound("model 'x' does not exist", param="model"), 404, "invalid_request_error", "model_not_found"),
        (NotFound("no such route"), 404, "invalid_request_error", None),
        (RateLimited("slow down"), 429, "requests", "rate_limit_exceeded"),
        (BudgetExceeded("budget spent"), 429, "insufficient_quota", "insufficient_quota"),
        (UpstreamConnectionError("reset"), 502, "server_error", None),
        (
            UpstreamStatusError("context too long", upstream_status=400, kind="invalid_request"),
            400,
            "invalid_request_error",
            None,
        ),
        (UpstreamStatusError("boom", upstream_status=500, kind="api_error"), 502, "server_error", None),
    ],
)
def test_render_error(err: TierwiseError, status: int, error_type: str, code: str | None) -> None:
    got_status, body = oc.render_error(err)

    error = orjson.loads(body)["error"]
    assert got_status == status
    assert (error["type"], error["code"]) == (error_type, code)
    assert error["message"] == str(err)
    assert set(error) == {"message", "type", "param", "code"}


# --- build_upstream_request ------------------------------------------------------------------------------


def test_build_upstream_request_from_openai_client() -> None:
    request = oc.parse_request(AGENT_BODY)
    body = orjson.loads(oc.build_upstream_request(request, upstream_model="gpt-4.1-mini", default_max_tokens=4096))

    assert body["model"] == "gpt-4.1-mini"
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": AGENT_BODY["messages"][3]["tool_calls"],
        },
        {"role": "tool", "tool_call_id": "call_a1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b2", "content": "4C"},
        {"role": "user", "content": AGENT_BODY["messages"][6]["content"]},
    ]
    assert body["max_completion_tokens"] == 256 and "max_tokens" not in body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [WEATHER_TOOL]
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", False)
    assert (body["temperature"], body["top_p"], body["stop"]) == (0.2, 0.9, ["END"])
    assert (body["user"], body["reasoning_effort"], body["seed"]) == ("u-42", "low", 7)
    assert body["response_format"] == {"type": "json_object"}


def test_build_upstream_request_from_anthropic_shaped_request() -> None:
    request = ChatRequest(
        model="claude-x",
        system=(TextPart(text="sys", cache_control={"type": "ephemeral"}),),
        messages=(
            Message(role="user", parts=(TextPart(text="look"),)),
            Message(
                role="assistant",
                parts=(
                    ThinkingPart(text="private", signature="s"),
                    TextPart(text="Taking a screenshot."),
                    ToolCallPart(id="toolu_1", name="screenshot", arguments="{}"),
                ),
            ),
            Message(
                role="user",
                parts=(
                    ToolResultPart(
                        tool_call_id="toolu_1",
                        content=(TextPart(text="done"), ImagePart(media_type="image/jpeg", data="AAAA")),
                        is_error=False,
                    ),
                    TextPart(text="What do you see?"),
                ),
            ),
        ),
        tools=(ToolSpec(name="screenshot", parameters={"type": "object", "properties": {}}),),
        tool_choice=ToolChoice(mode="tool", name="screenshot", parallel=False),
        max_tokens=1024,
        thinking=Thinking(mode="enabled", budget_tokens=2048),
        extensions={"anthropic": {"metadata": {"user_id": "x"}, "service_tier": "auto"}},
    )
    body = orjson.loads(oc.build_upstream_request(request, upstream_model="gpt-4o", default_max_tokens=4096))
    # Sampling that Chat Completions cannot reproduce is refused, naming the field.
    with pytest.raises(InvalidRequest) as err:
        oc.build_upstream_request(dataclasses.replace(request, top_k=40), upstream_model="gpt-4o")
    assert err.value.param == "top_k" and "gpt-4o" in err.value.message

    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "look"},
        {
            "role": "assistant",
            "content": "Taking a screenshot.",
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "screenshot", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "done"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                {"type": "text", "text": "What do you see?"},
            ],
        },
    ]
    assert body["max_tokens"] == 1024
    assert body["tool_choice"] == {"type": "function", "function": {"name": "screenshot"}}
    assert body["parallel_tool_calls"] is False
    for absent in ("top_k", "thinking", "metadata", "service_tier", "stream", "stream_options", "reasoning_effort"):
        assert absent not in body
    assert "cache_control" not in orjson.dumps(body).decode()


def test_build_upstream_request_max_tokens_field_override_and_minimal() -> None:
    request = ChatRequest(model="m", messages=(Message(role="user", parts=(TextPart(text="hi"),)),), max_tokens=5)

    forced = orjson.loads(
        oc.build_upstream_request(request, upstream_model="o4-mini", max_tokens_field="max_completion_tokens")
    )
    assert forced == {
        "model": "o4-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 5,
    }
    bare = ChatRequest(model="m", messages=(Message(role="user", parts=(TextPart(text="hi"),)),))
    assert orjson.loads(oc.build_upstream_request(bare, upstream_model="x", default_max_tokens=99)) == {
        "model": "x",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_upstream_headers() -> None:
    assert oc.upstream_headers("sk-test") == {"content-type": "application/json", "authorization": "Bearer sk-test"}
    assert oc.upstream_headers(None) == {"content-type": "application/json"}
    assert oc.UPSTREAM_PATH == "/chat/completions"


# --- parse_upstream_response ---------------------------------------------------------------------------------


def test_parse_upstream_response_openai_tool_call() -> None:
    body = {
        "id": "chatcmpl-B9",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_x",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 82,
            "completion_tokens": 17,
            "total_tokens": 99,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_1",
    }
    response = oc.parse_upstream_response(orjson.dumps(body))

    assert response == ChatResponse(
        id="chatcmpl-B9",
        model="gpt-4.1-2025-04-14",
        parts=(ToolCallPart(id="call_x", name="get_weather", arguments='{"city":"Paris"}'),),
        stop_reason="tool_use",
        usage=Usage(input_tokens=82, output_tokens=17, cache_read_tokens=64, reasoning_tokens=5),
    )


def test_parse_upstream_response_tolerates_sparse_servers() -> None:
    # Ollama-like: no details, reasoning in "reasoning"; a length stop.
    body = {
        "id": "chatcmpl-9",
        "model": "qwen3:8b",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "reasoning": "think"},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": None},
    }
    response = oc.parse_upstream_response(orjson.dumps(body))

    assert response.parts == (ThinkingPart(text="think"), TextPart(text="Hi"))
    assert response.stop_reason == "max_tokens"
    assert response.usage == Usage(input_tokens=3, output_tokens=2)
    no_usage = oc.parse_upstream_response(
        b'{"choices":[{"message":{"content":"ok","tool_calls":null},"finish_reason":"stop"}]}'
    )
    assert no_usage.usage == Usage() and no_usage.stop_reason == "end_turn"


@pytest.mark.parametrize(
    "body",
    [b"<html>502</html>", b"[]", b'{"choices": []}', b'{"choices": [{"message": "x"}]}', b""],
)
def test_parse_upstream_response_malformed(body: bytes) -> None:
    with pytest.raises(UpstreamConnectionError):
        oc.parse_upstream_response(body)


def test_parse_upstream_response_error_payload_in_200() -> None:
    with pytest.raises(UpstreamStatusError) as caught:
        oc.parse_upstream_response(b'{"error": {"message": "Provider returned error", "code": 429}}')

    assert caught.value.upstream_status == 429
    assert caught.value.message == "Provider returned error"


# --- UpstreamStreamParser ------------------------------------------------------------------------------------


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None, choices: bool = True) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-S1",
        "object": "chat.completion.chunk",
        "created": 1741570000,
        "model": "gpt-4.1-mini-2025-04-14",
        "service_tier": "default",
        "system_fingerprint": "fp_2",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
        "usage": usage,
    }
    return "data: " + orjson.dumps(body).decode() + "\n\n"


def _wire(*frames: str) -> bytes:
    return "".join(frames).encode()


def _parse_split(raw: bytes, size: int) -> list[StreamEvent]:
    decoder, parser = SseDecoder(), oc.UpstreamStreamParser()
    events: list[StreamEvent] = []
    for start in range(0, len(raw), size):
        for sse in decoder.feed(raw[start : start + size]):
            events.extend(parser.feed(sse))
    for sse in decoder.close():
        events.extend(parser.feed(sse))
    events.extend(parser.finish())
    return events


USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}

TEXT_STREAM = _wire(
    _chunk({"role": "assistant", "content": "", "refusal": None}),
    _chunk({"content": "Héllo"}),
    _chunk({"content": " wörld 🌍"}),
    _chunk({}, "stop"),
    _chunk(None, usage=USAGE, choices=False),
    "data: [DONE]\n\n",
)


@pytest.mark.parametrize("size", [1, 3, 7, 64, 100_000])
def test_upstream_stream_text_split_anywhere(size: int) -> None:
    events = _parse_split(TEXT_STREAM, size)

    assert events == [
        StreamStart(id="chatcmpl-S1", model="gpt-4.1-mini-2025-04-14"),
        TextStart(index=0),
        TextDelta(index=0, text="Héllo"),
        TextDelta(index=0, text=" wörld 🌍"),
        BlockStop(index=0),
        StreamEnd(stop_reason="end_turn", usage=Usage(input_tokens=19, output_tokens=10)),
    ]


def _tool_delta(index: int, call_id: str | None = None, name: str | None = None, args: str = "") -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if call_id is not None:
        call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
    return {"tool_calls": [call]}


PARALLEL_STREAM = _wire(
    _chunk({"role": "assistant", "content": None, "refusal": None}),
    _chunk({"content": "Checking."}),
    _chunk(_tool_delta(0, "call_P", "get_weather")),
    _chunk(_tool_delta(0, args='{"ci')),
    _chunk(_tool_delta(0, args='ty": "Paris"}')),
    _chunk(_tool_delta(1, "call_O", "get_weather")),
    _chunk(_tool_delta(1, args='{"city": "Oslo"}')),
    _chunk({}, "tool_calls"),
    _chunk(None, usage={**USAGE, "prompt_tokens_details": {"cached_tokens": 12}}, choices=False),
    "data: [DONE]\n\n",
)


@pytest.mark.parametrize("size", [1, 5, 13, 100_000])
def test_upstream_stream_parallel_tool_calls(size: int) -> None:
    events = _parse_split(PARALLEL_STREAM.replace(b"\n", b"\r\n"), size)

    assert events == [
        StreamStart(id="chatcmpl-S1", model="gpt-4.1-mini-2025-04-14"),
        TextStart(index=0),
        TextDelta(index=0, text="Checking."),
        BlockStop(index=0),
        ToolCallStart(index=1, id="call_P", name="get_weather"),
        ToolCallDelta(index=1, arguments='{"ci'),
        ToolCallDelta(index=1, arguments='ty": "Paris"}'),
        BlockStop(index=1),
        ToolCallStart(index=2, id="call_O", name="get_weather"),
        ToolCallDelta(index=2, arguments='{"city": "Oslo"}'),
        BlockStop(index=2),
        StreamEnd(stop_reason="tool_use", usage=Usage(input_tokens=19, output_tokens=10, cache_read_tokens=12)),
    ]


def test_upstream_stream_whole_calls_without_index_and_no_done() -> None:
    # Gemini-style: every call complete in one chunk, no index, finish "stop", and no [DONE].
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": '{"x":1}'}},
    ]
    raw = _wire(_chunk({"role": "assistant", "tool_calls": calls}, "stop", usage=USAGE))
    events = _parse_split(raw, 10)

    assert [type(e).__name__ for e in events] == [
        "StreamStart",
        "ToolCallStart",
        "ToolCallDelta",
        "BlockStop",
        "ToolCallStart",
        "ToolCallDelta",
        "BlockStop",
        "StreamEnd",
    ]
    assert events[4] == ToolCallStart(index=1, id="b", name="g")
    assert events[-1] == StreamEnd(stop_reason="tool_use", usage=Usage(input_tokens=19, output_tokens=10))


def test_upstream_stream_reasoning_then_text() -> None:
    raw = _wire(
        _chunk({"role": "assistant", "reasoning_content": "Let me think"}),
        _chunk({"reasoning_content": " more."}),
        _chunk({"content": "42"}),
        _chunk({}, "stop"),
        "data: [DONE]\n\n",
    )
    events = _parse_split(raw, 100_000)

    assert events[1:7] == [
        ThinkingStart(index=0),
        ThinkingDelta(index=0, text="Let me think"),
        ThinkingDelta(index=0, text=" more."),
        BlockStop(index=0),
        TextStart(index=1),
        TextDelta(index=1, text="42"),
    ]


def test_upstream_stream_ended_early() -> None:
    parser = oc.UpstreamStreamParser()
    assert isinstance(parser.feed(SseEvent(None, _chunk({"content": "Hi"})[6:-2]))[0], StreamStart)

    with pytest.raises(UpstreamConnectionError, match="ended early"):
        parser.finish()
    with pytest.raises(UpstreamConnectionError, match="ended early"):
        oc.UpstreamStreamParser().feed(SseEvent(None, "[DONE]"))


def test_upstream_stream_error_payload_and_garbage() -> None:
    parser = oc.UpstreamStreamParser()
    parser.feed(SseEvent(None, _chunk({"content": "Hi"})[6:-2]))
    error = (
        '{"error": {"message": "Rate limit reached", "type": "tokens", "param": null, "code": "rate_limit_exceeded"}}'
    )

    with pytest.raises(UpstreamStatusError) as caught:
        parser.feed(SseEvent(None, error))
    assert caught.value.upstream_status == 429 and caught.value.upstream_kind == "rate_limit"
    with pytest.raises(UpstreamConnectionError, match="not JSON"):
        oc.UpstreamStreamParser().feed(SseEvent(None, "{oops"))


# --- parse_upstream_error ------------------------------------------------------------------------------------


def test_parse_upstream_error_openai_body_and_retry_after_ms() -> None:
    body = orjson.dumps(
        {
            "error": {
                "message": "Rate limit reached for gpt-4.1",
                "type": "tokens",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
    )
    err = oc.parse_upstream_error(429, body, {"retry-after-ms": "1500", "retry-after": "9"})

    assert err.message == "Rate limit reached for gpt-4.1"
    assert (err.upstream_status, err.upstream_kind, err.http_status) == (429, "rate_limit", 429)
    assert err.retry_after_s == 1.5
    assert err.retryable


def test_parse_upstream_error_retry_after_seconds_and_date() -> None:
    assert oc.parse_upstream_error(503, b"", {"Retry-After": "7"}).retry_after_s == 7.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    from_date = oc.parse_upstream_error(503, b"", {"retry-after": future}).retry_after_s
    assert from_date is not None and 25 <= from_date <= 31
    assert oc.parse_upstream_error(503, b"", {"retry-after": "soon"}).retry_after_s is None
    assert oc.parse_upstream_error(503, b"", {}).retry_after_s is None


@pytest.mark.parametrize(
    ("status", "body", "message", "kind", "param"),
    [
        (
            400,
            b'{"error": {"message": "maximum context length exceeded", "type": "invalid_request_error", '
            b'"param": "messages", "code": "context_length_exceeded"}}',
            "maximum context length exceeded",
            "invalid_request",
            "messages",
        ),
        (
            401,
            b'{"error": {"message": "Incorrect API key provided: sk-proj-****MxYA. You can find your API key at '
            b'https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", '
            b'"code": "invalid_api_key"}}',
            "Incorrect API key provided: [redacted]. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "authentication",
            None,
        ),
        (
            404,
            b'[{"error": {"code": 404, "message": "models/x is not found", "status": "NOT_FOUND"}}]',
            "models/x is not found",
            "not_found",
            None,
        ),
        (
            400,
            b'{"object": "error", "message": "bad temperature", "type": "BadRequestError", "code": 400}',
            "bad temperature",
            "invalid_request",
            None,
        ),
        (
            500,
            b'{"error": "llama runner process has terminated"}',
            "llama runner process has terminated",
            "api_error",
            None,
        ),
        (502, b"<html><body>Bad Gateway</body></html>", "<html><body>Bad Gateway</body></html>", "api_error", None),
        (529, b"", "upstream returned HTTP 529", "overloaded", None),
        (504, b'{"detail": "timed out"}', "timed out", "timeout", None),
        (413, b"{}", "upstream returned HTTP 413", "request_too_large", None),
    ],
)
def test_parse_upstream_error_shapes(status: int, body: bytes, message: str, kind: str, param: str | None) -> None:
    err = oc.parse_upstream_error(status, body, {})

    assert isinstance(err, UpstreamStatusError)
    assert err.message == message
    assert err.upstream_kind == kind
    assert err.param == param
    assert err.upstream_status == status


def test_a_refusal_keeps_openais_refusal_shape() -> None:
    from openai.types.chat import ChatCompletion

    from tierwise.types import ChatResponse, TextPart

    body = oc.render_response(
        ChatResponse(id="x", model="m", parts=(TextPart(text="I can't help with that."),), stop_reason="refusal")
    )
    message = ChatCompletion.model_validate(orjson.loads(body)).choices[0]
    assert message.message.refusal == "I can't help with that." and message.message.content is None
    assert message.finish_reason == "stop"


def test_parse_and_build_structured_output_seed_strict_and_files() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": schema, "strict": True, "description": "a place"},
    }
    file_part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "a.pdf"}}
    strict_tool = {"type": "function", "function": {**WEATHER_TOOL["function"], "strict": True}}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "read"}, file_part]}],
        "response_format": response_format,
        "seed": 11,
        "tools": [strict_tool],
        "reasoning_effort": "minimal",
    }
    request = oc.parse_request(body)
    assert request.response_format == ResponseFormat(
        kind="json_schema", name="place", schema=schema, strict=True, description="a place"
    )
    assert (request.seed, request.reasoning_effort, request.tools[0].strict) == (11, "minimal", True)
    assert request.messages[0].parts[1] == DocumentPart(media_type="application/pdf", data="JVBERi0x", filename="a.pdf")
    assert request.extensions == {}
    upstream = orjson.loads(oc.build_upstream_request(request, upstream_model="up"))
    assert upstream["response_format"] == response_format
    assert upstream["seed"] == 11
    assert upstream["tools"] == [strict_tool]
    assert upstream["messages"][0]["content"][1] == file_part


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("reasoning_effort", "extreme", "reasoning_effort"),
        ("seed", "7", "seed"),
        ("response_format", {"type": "yaml"}, "response_format"),
        ("response_format", {"type": "json_schema", "json_schema": {"schema": {}}}, "response_format.json_schema.name"),
    ],
)
def test_parse_rejects_bad_new_fields(field: str, value: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        oc.parse_request({"model": "m", "messages": [{"role": "user", "content": "x"}], field: value})
    assert err.value.param == param


@pytest.mark.parametrize(
    ("extensions", "param"),
    [
        ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
        ({"container": "c1"}, "container"),
        ({"output_config": {"task_budget": 5}}, "output_config"),
    ],
)
def test_anthropic_fields_an_openai_model_cannot_honour_are_refused(extensions: dict[str, Any], param: str) -> None:
    request = ChatRequest(
        model="m", messages=(Message(role="user", parts=(TextPart(text="hi"),)),), extensions={"anthropic": extensions}
    )
    with pytest.raises(InvalidRequest) as err:
        oc.build_upstream_request(request, upstream_model="gpt-x")
    assert err.value.param == param


def test_anthropic_structured_output_effort_and_documents_reach_an_openai_model() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    parsed = am.parse_request(
        {
            "model": "m",
            "max_tokens": 100,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "title": "a.pdf",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
                        },
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                        {"type": "text", "text": "sum up"},
                    ],
                }
            ],
            "output_config": {"effort": "max", "format": {"type": "json_schema", "schema": schema}},
            "context_management": {"edits": []},
        }
    )
    body = orjson.loads(oc.build_upstream_request(parsed, upstream_model="gpt-x"))
    assert body["reasoning_effort"] == "xhigh"
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    assert body["messages"][0]["content"] == [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "a.pdf"}},
        {"type": "text", "text": "notes"},
        {"type": "text", "text": "sum up"},
    ]
    assert "context_management" not in body
