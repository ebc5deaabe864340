"""The OpenAI Responses wire format, checked against the official SDK's own models (openai.types.responses)."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from tierwise.errors import InvalidRequest, NotFound, RateLimited, UpstreamStatusError
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
    ThinkingDelta,
    ThinkingPart,
    ThinkingStart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from tierwise.wire import responses as rw
from tierwise.wire.format import wire_for
from tierwise.wire.sse import SseDecoder

EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
# The shape Codex 0.169 sends with its default model (trimmed): tools inside an additional_tools input item,
# in namespaces, one of them a freeform custom tool with a grammar.
CODEX_LIKE: dict[str, Any] = {
    "model": "gpt-6.1-sol",
    "stream": True,
    "input": [
        {
            "type": "additional_tools",
            "id": "at_1",
            "role": "developer",
            "tools": [
                {
                    "type": "namespace",
                    "name": "functions",
                    "description": "",
                    "tools": [
                        {
                            "type": "custom",
                            "name": "exec",
                            "description": "Run JavaScript",
                            "format": {"type": "grammar", "syntax": "lark", "definition": "start: /[\\s\\S]+/"},
                        },
                        {"type": "function", "name": "wait", "strict": False, "parameters": {"type": "object"}},
                    ],
                }
            ],
        },
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say hi"}]},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "low", "context": "all_turns"},
    "store": False,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0123",
    "text": {"verbosity": "low"},
    "client_metadata": {"session_id": "0123"},
}


def test_the_module_implements_every_member_of_the_wire_format_interface() -> None:
    from tierwise.wire import format as wire_format

    members = [name for name in vars(wire_format.WireFormat) if not name.startswith("_")]
    assert "build_upstream_request" in members and "request_headers" in members
    assert [name for name in members if not hasattr(rw, name)] == []


def request(**fields: Any) -> ChatRequest:
    return rw.parse_request({"model": "auto", "input": "hi", **fields})


# --- parsing ---------------------------------------------------------------------------------------------


def test_string_input_and_instructions() -> None:
    chat = request(instructions="Be terse.", max_output_tokens=100, temperature=0.3, top_p=0.9, user="u1")
    assert chat.system == (TextPart(text="Be terse."),)
    assert chat.messages == (Message(role="user", parts=(TextPart(text="hi"),)),)
    assert (chat.max_tokens, chat.temperature, chat.top_p, chat.user) == (100, 0.3, 0.9, "u1")
    assert chat.stream_usage  # a Responses stream always ends with usage


def test_items_fold_into_alternating_messages() -> None:
    chat = rw.parse_request(
        {
            "model": "m",
            "input": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
                {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
                {"type": "function_call_output", "call_id": "c1", "output": "rain"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "sun"}]},
                {"role": "user", "content": "thanks"},
            ],
            "tools": [WEATHER],
        }
    )
    assert chat.system == (TextPart(text="sys"),)
    assert [m.role for m in chat.messages] == ["user", "assistant", "user"]
    assert chat.messages[1].parts == (
        TextPart(text="Checking."),
        ToolCallPart(id="c1", name="get_weather", arguments='{"city":"Oslo"}'),
        ToolCallPart(id="c2", name="get_weather", arguments='{"city":"Rome"}'),
    )
    assert chat.messages[2].parts == (
        ToolResultPart(tool_call_id="c1", content=(TextPart(text="rain"),)),
        ToolResultPart(tool_call_id="c2", content=(TextPart(text="sun"),)),
        TextPart(text="thanks"),
    )
    assert chat.tools == (
        ToolSpec(
            name="get_weather",
            description="Weather for a city",
            parameters=WEATHER["parameters"],
            strict=False,
        ),
    )


def test_images_and_files() -> None:
    chat = rw.parse_request(
        {
            "model": "m",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                        {"type": "input_image", "image_url": "https://example.invalid/cat.png"},
                        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                    ],
                }
            ],
        }
    )
    assert chat.messages[0].parts == (
        ImagePart(media_type="image/png", data="AAAA", detail="low"),
        ImagePart(url="https://example.invalid/cat.png"),
        DocumentPart(media_type="application/pdf", data="JVBE", filename="a.pdf"),
    )


def test_structured_output_effort_and_choice() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    chat = request(
        text={"format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}},
        reasoning={"effort": "high", "summary": "auto"},
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )
    assert chat.response_format == ResponseFormat(kind="json_schema", name="A", schema=schema, strict=True)
    assert chat.reasoning_effort == "high"
    assert chat.tool_choice is not None
    assert (chat.tool_choice.mode, chat.tool_choice.name, chat.tool_choice.parallel) == ("tool", "get_weather", False)


def test_codex_request_namespaces_and_custom_tools_become_flat_tools() -> None:
    chat = rw.parse_request(CODEX_LIKE)
    names = [t.name for t in chat.tools]
    assert names == ["functions__exec", "functions__wait"]
    exec_tool = chat.tools[0]
    assert exec_tool.parameters["properties"] == {
        "input": {"type": "string", "description": "The tool's input, as free text."}
    }
    assert exec_tool.description is not None and "lark grammar" in exec_tool.description
    assert chat.system == (TextPart(text="You are Codex."),)
    assert chat.reasoning_effort == "low" and chat.stream


def test_codex_tool_calls_come_back_in_their_own_shape() -> None:
    chat = rw.parse_request(CODEX_LIKE)
    response = ChatResponse(
        id="x",
        model="claude",
        parts=(
            ToolCallPart(id="call_1", name="functions__exec", arguments='{"input": "console.log(1)"}'),
            ToolCallPart(id="call_2", name="functions__wait", arguments="{}"),
        ),
        stop_reason="tool_use",
    )
    body = Response.model_validate(orjson.loads(rw.render_response(response, request=chat, response_id="resp_1")))
    custom, function = body.output
    assert custom.type == "custom_tool_call" and function.type == "function_call"
    assert (custom.name, custom.namespace, custom.input, custom.call_id) == (
        "exec",
        "functions",
        "console.log(1)",
        "call_1",
    )
    assert (function.name, function.namespace, function.arguments) == ("wait", "functions", "{}")


def test_custom_tool_calls_in_the_input_become_json_arguments() -> None:
    chat = rw.parse_request(
        {
            **CODEX_LIKE,
            "input": [
                *CODEX_LIKE["input"],
                {"type": "custom_tool_call", "call_id": "c9", "namespace": "functions", "name": "exec", "input": "1+1"},
                {"type": "custom_tool_call_output", "call_id": "c9", "output": "2"},
            ],
        }
    )
    assert chat.messages[-2].parts == (ToolCallPart(id="c9", name="functions__exec", arguments='{"input":"1+1"}'),)
    assert chat.messages[-1].parts == (ToolResultPart(tool_call_id="c9", content=(TextPart(text="2"),)),)


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type", "web_search"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["v"]}]}, "tools[0].type", "file_search"),
        ({"tools": [{"type": "computer_use_preview"}]}, "tools[0].type", "computer_use"),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools[0].type", "code_interpreter"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice", "web_search"),
        ({"input": [{"type": "web_search_call", "id": "ws", "status": "completed"}]}, "input[0].type", "web_search"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "item_reference"),
        ({"conversation": "conv_1"}, "conversation", "conversations"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt", "prompt"),
        ({"background": True}, "background", "background"),
        ({"top_logprobs": 3}, "top_logprobs", "log probabilities"),
        ({"include": ["message.output_text.logprobs"]}, "include", "log probabilities"),
        ({"frobnicate": 1}, "frobnicate", "unknown"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "one of"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema", "schema"),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type", "audio"),
        ({"input": 5}, "input", "input"),
        ({"model": ""}, "model", "model"),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(fields: dict[str, Any], param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        request(**fields)
    assert caught.value.param == param
    assert words in caught.value.message


def test_advisory_fields_are_kept_for_a_responses_upstream() -> None:
    chat = rw.parse_request(CODEX_LIKE)
    body = orjson.loads(rw.build_upstream_request(chat, upstream_model="gpt-5.1"))
    assert body["model"] == "gpt-5.1"
    assert body["prompt_cache_key"] == "0123" and body["client_metadata"] == {"session_id": "0123"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["reasoning"] == {"effort": "low", "context": "all_turns"}
    assert body["text"] == {"verbosity": "low"}
    assert body["store"] is False and body["stream"] is True
    # The client's own tool declarations, namespaces and the freeform tool as they were.
    namespace = body["tools"][0]
    assert namespace["type"] == "namespace" and namespace["name"] == "functions"
    assert [t["type"] for t in namespace["tools"]] == ["custom", "function"]
    assert body["instructions"] == "You are Codex."


def test_upstream_request_from_a_chat_completions_request() -> None:
    chat = ChatRequest(
        model="m",
        system=(TextPart(text="sys"),),
        messages=(
            Message(role="user", parts=(TextPart(text="weather?"),)),
            Message(role="assistant", parts=(ToolCallPart(id="c1", name="get_weather", arguments="{}"),)),
            Message(role="user", parts=(ToolResultPart(tool_call_id="c1", content=(TextPart(text="rain"),)),)),
            Message(role="system", parts=(TextPart(text="Answer in French."),)),
        ),
        tools=(ToolSpec(name="get_weather", parameters={"type": "object"}),),
        max_tokens=50,
        response_format=ResponseFormat(kind="json_object"),
        extensions={"openai": {"metadata": {"a": "b"}}},
    )
    body = orjson.loads(rw.build_upstream_request(chat, upstream_model="gpt-5.1"))
    assert body["instructions"] == "sys"
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "rain"},
        {"type": "message", "role": "developer", "content": "Answer in French."},
    ]
    assert body["tools"][0]["strict"] is False  # Responses tools are strict by default; these never were
    assert body["max_output_tokens"] == 50 and body["text"] == {"format": {"type": "json_object"}}
    assert body["metadata"] == {"a": "b"}


def test_chat_fields_without_a_responses_equivalent_are_refused() -> None:
    chat = ChatRequest(model="m", messages=(), extensions={"openai": {"logit_bias": {"1": 2}}})
    with pytest.raises(InvalidRequest) as caught:
        rw.build_upstream_request(chat, upstream_model="gpt-5.1")
    assert caught.value.param == "logit_bias"
    for refused in ({"seed": 3}, {"top_k": 5}, {"stop": ("END",)}):
        with pytest.raises(InvalidRequest) as caught:
            rw.build_upstream_request(ChatRequest(model="m", messages=(), **refused), upstream_model="gpt-5.1")
        assert caught.value.param == next(iter(refused))
    anthropic_only = ChatRequest(model="m", messages=(), extensions={"anthropic": {"mcp_servers": [{"url": "u"}]}})
    with pytest.raises(InvalidRequest) as caught:
        rw.build_upstream_request(anthropic_only, upstream_model="gpt-5.1")
    assert caught.value.param == "mcp_servers"


# --- rendering, checked against the SDK's types ---------------------------------------------------------


def test_rendered_response_is_an_sdk_response() -> None:
    chat = request(tools=[WEATHER], metadata={"k": "v"}, instructions="I", max_output_tokens=64)
    response = ChatResponse(
        id="msg_1",
        model="claude-sonnet-4-6",
        parts=(
            ThinkingPart(text="Let me think.", signature="sig"),
            TextPart(text="Looking it up."),
            ToolCallPart(id="toolu_1", name="get_weather", arguments='{"city":"Oslo"}'),
        ),
        stop_reason="tool_use",
        usage=Usage(
            input_tokens=100, output_tokens=20, cache_read_tokens=40, cache_write_tokens=10, reasoning_tokens=5
        ),
    )
    body = Response.model_validate(orjson.loads(rw.render_response(response, request=chat, response_id="resp_9")))
    assert (body.id, body.object, body.status, body.model) == ("resp_9", "response", "completed", "claude-sonnet-4-6")
    assert [item.type for item in body.output] == ["reasoning", "message", "function_call"]
    assert body.output_text == "Looking it up."
    assert body.metadata == {"k": "v"} and body.instructions == "I" and body.max_output_tokens == 64
    assert body.tools[0].type == "function" and body.tool_choice == "auto" and body.parallel_tool_calls is True
    assert body.usage is not None
    assert (body.usage.input_tokens, body.usage.output_tokens, body.usage.total_tokens) == (100, 20, 120)
    assert body.usage.input_tokens_details.cached_tokens == 40
    assert body.usage.output_tokens_details.reasoning_tokens == 5
    reasoning = body.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Let me think."


def test_signed_thinking_round_trips_through_a_reasoning_item() -> None:
    response = ChatResponse(
        id="m",
        model="c",
        parts=(ThinkingPart(text="hmm", signature="SIG"), TextPart(text="ok")),
        stop_reason="end_turn",
    )
    item = orjson.loads(rw.render_response(response))["output"][0]
    chat = rw.parse_request({"model": "m", "input": [item, {"role": "user", "content": "next"}]})
    assert chat.messages[0].parts == (ThinkingPart(text="hmm", signature="SIG"),)
    # OpenAI's own reasoning is carried, to go back only to a Responses upstream: OpenAI alone can read it.
    own = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"}
    chat = rw.parse_request({"model": "m", "input": [own, {"role": "user", "content": "x"}]})
    assert chat.messages[0].parts == (ThinkingPart(encrypted="rs_1:gAAAA"),)
    sent = orjson.loads(rw.build_upstream_request(chat, upstream_model="gpt-5.1"))["input"]
    assert sent[0] == {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"}
    to_anthropic = orjson.loads(wire_for("anthropic").build_upstream_request(chat, upstream_model="claude"))
    assert to_anthropic["messages"] == [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
    # An OpenAI upstream's reasoning shown to the client under our item id comes back as it was.
    shown = ChatResponse(
        id="m", model="gpt", parts=(ThinkingPart(text="p", encrypted="rs_9:CIPHER"),), stop_reason="end_turn"
    )
    item = Response.model_validate(orjson.loads(rw.render_response(shown))).output[0]
    assert item.type == "reasoning" and item.id != "rs_9"
    back = rw.parse_request(
        {"model": "m", "input": [item.model_dump(exclude_none=True), {"role": "user", "content": "x"}]}
    )
    assert back.messages[0].parts == (ThinkingPart(text="p", encrypted="rs_9:CIPHER"),)
    # Reasoning without anything replayable (no ciphertext) is left out.
    bare = {"type": "reasoning", "id": "rs_2", "summary": []}
    assert (
        rw.parse_request({"model": "m", "input": [bare, {"role": "user", "content": "x"}]}).messages[0].role == "user"
    )


@pytest.mark.parametrize(
    ("stop", "status", "reason"),
    [("max_tokens", "incomplete", "max_output_tokens"), ("content_filter", "incomplete", "content_filter")],
)
def test_incomplete_answers(stop: Any, status: str, reason: str) -> None:
    response = ChatResponse(id="m", model="c", parts=(TextPart(text="cut"),), stop_reason=stop)
    body = Response.model_validate(orjson.loads(rw.render_response(response)))
    assert body.status == status and body.incomplete_details is not None
    assert body.incomplete_details.reason == reason


def test_refusal_is_a_refusal_part() -> None:
    response = ChatResponse(id="m", model="c", parts=(TextPart(text="I can't."),), stop_reason="refusal")
    body = Response.model_validate(orjson.loads(rw.render_response(response)))
    content = body.output[0].content[0]  # type: ignore[union-attr]
    assert content.type == "refusal" and content.refusal == "I can't."


def test_errors_use_openai_envelope() -> None:
    status, body = rw.render_error(NotFound("Previous response with id 'r' not found.", param="previous_response_id"))
    assert status == 404
    assert orjson.loads(body)["error"]["param"] == "previous_response_id"
    status, _ = rw.render_error(RateLimited("slow down"))
    assert status == 429


def _render_stream(chat: ChatRequest | None, events: list[StreamEvent]) -> tuple[list[Any], rw.StreamRenderer]:
    renderer = rw.StreamRenderer(request=chat, response_id="resp_s")
    raw = b"".join(renderer.event(ev) for ev in events) + renderer.done()
    decoded = SseDecoder().feed(raw)
    parsed = [EVENTS.validate_python(orjson.loads(ev.data)) for ev in decoded]
    assert [ev.event for ev in decoded] == [p.type for p in parsed]  # the event: line names the type
    assert [p.sequence_number for p in parsed] == list(range(len(parsed)))
    return parsed, renderer


STREAM: list[StreamEvent] = [
    StreamStart(id="msg_1", model="claude-sonnet-4-6", usage=Usage(input_tokens=10)),
    ThinkingStart(index=0),
    ThinkingDelta(index=0, text="Think"),
    ThinkingDelta(index=0, text="ing."),
    ThinkingDelta(index=0, signature="SIG"),
    BlockStop(index=0),
    TextStart(index=1),
    TextDelta(index=1, text="Hel"),
    TextDelta(index=1, text="lo"),
    BlockStop(index=1),
    ToolCallStart(index=2, id="toolu_1", name="get_weather"),
    ToolCallDelta(index=2, arguments='{"city":'),
    ToolCallDelta(index=2, arguments='"Oslo"}'),
    BlockStop(index=2),
    StreamEnd(stop_reason="tool_use", usage=Usage(input_tokens=10, output_tokens=7)),
]


def test_stream_events_in_documented_order_and_sdk_shapes() -> None:
    parsed, renderer = _render_stream(request(tools=[WEATHER]), STREAM)
    assert [p.type for p in parsed] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = parsed[-1].response
    assert final.id == "resp_s" and final.status == "completed" and final.output_text == "Hello"
    assert final.usage.output_tokens == 7
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert final.output[2].arguments == '{"city":"Oslo"}'
    assert parsed[13].text == "Hello" and parsed[19].arguments == '{"city":"Oslo"}'
    assert renderer.result is not None
    assert renderer.result.parts == (
        ThinkingPart(text="Thinking.", signature="SIG"),
        TextPart(text="Hello"),
        ToolCallPart(id="toolu_1", name="get_weather", arguments='{"city":"Oslo"}'),
    )


def test_stream_of_a_custom_tool_call_and_a_truncated_answer() -> None:
    chat = rw.parse_request(CODEX_LIKE)
    events: list[StreamEvent] = [
        StreamStart(id="m", model="c"),
        ToolCallStart(index=0, id="call_1", name="functions__exec"),
        ToolCallDelta(index=0, arguments='{"input": "1+'),
        ToolCallDelta(index=0, arguments='1"}'),
        BlockStop(index=0),
        StreamEnd(stop_reason="max_tokens"),
    ]
    parsed, _ = _render_stream(chat, events)
    kinds = [p.type for p in parsed]
    assert "response.custom_tool_call_input.done" in kinds and kinds[-1] == "response.incomplete"
    done = parsed[kinds.index("response.output_item.done")].item
    assert (done.type, done.name, done.namespace, done.input) == ("custom_tool_call", "exec", "functions", "1+1")


def test_mid_stream_error_is_an_error_event_then_failed() -> None:
    renderer = rw.StreamRenderer(request=None, response_id="resp_e")
    raw = renderer.event(StreamStart(id="m", model="c")) + renderer.error(
        UpstreamStatusError("boom", upstream_status=503, kind="overloaded")
    )
    parsed = [EVENTS.validate_python(orjson.loads(ev.data)) for ev in SseDecoder().feed(raw)]
    assert [p.type for p in parsed] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert parsed[-1].response.status == "failed" and parsed[-1].response.error.message == "boom"


# --- tierwise as the client of a Responses upstream -----------------------------------------------------


def test_upstream_response_is_parsed() -> None:
    body = {
        "id": "resp_u",
        "object": "response",
        "model": "gpt-5.1",
        "status": "completed",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "plan"}],
                "encrypted_content": "E",
            },
            {
                "type": "message",
                "id": "m1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc1",
                "call_id": "c1",
                "namespace": "functions",
                "name": "wait",
                "arguments": "{}",
            },
        ],
        "usage": {
            "input_tokens": 9,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 1},
            "total_tokens": 12,
        },
    }
    response = rw.parse_upstream_response(orjson.dumps(body))
    assert response.parts == (
        ThinkingPart(text="plan", encrypted="rs_1:E"),
        TextPart(text="hi"),
        ToolCallPart(id="c1", name="functions__wait", arguments="{}"),
    )
    assert response.stop_reason == "tool_use"
    assert response.usage == Usage(input_tokens=9, output_tokens=3, cache_read_tokens=4, reasoning_tokens=1)


def test_upstream_stream_round_trips_through_our_renderer() -> None:
    """Our own rendered stream, parsed as an upstream's, gives back the events it was made from."""
    renderer = rw.StreamRenderer(request=request(tools=[WEATHER]), response_id="resp_r")
    raw = b"".join(renderer.event(ev) for ev in STREAM)
    parser = wire_for("responses").UpstreamStreamParser()
    got = [ev for sse in SseDecoder().feed(raw) for ev in parser.feed(sse)] + parser.finish()
    texts = "".join(ev.text for ev in got if isinstance(ev, TextDelta))
    arguments = "".join(ev.arguments for ev in got if isinstance(ev, ToolCallDelta))
    assert texts == "Hello" and arguments == '{"city":"Oslo"}'
    assert isinstance(got[0], StreamStart) and got[0].id == "resp_r"
    assert isinstance(got[-1], StreamEnd) and got[-1].stop_reason == "tool_use" and got[-1].usage.output_tokens == 7
    starts = [ev for ev in got if isinstance(ev, ToolCallStart)]
    assert starts == [ToolCallStart(index=2, id="toolu_1", name="get_weather")]


def test_upstream_stream_failure_raises() -> None:
    parser = rw.UpstreamStreamParser()
    failed = {
        "type": "response.failed",
        "sequence_number": 3,
        "response": {"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "slow"}},
    }
    decoded = SseDecoder().feed(b"event: response.failed\ndata: " + orjson.dumps(failed) + b"\n\n")
    with pytest.raises(UpstreamStatusError) as caught:
        parser.feed(decoded[0])
    assert caught.value.upstream_status == 429
    cut = rw.UpstreamStreamParser()
    with pytest.raises(Exception, match="ended early"):
        cut.finish()
