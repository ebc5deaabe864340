"""What the Responses API costs on the request path, for a request shaped like Codex's.

    uv run python scripts/bench_responses.py [--rounds 2000]

The request is synthetic but has the shape and size Codex 0.169 sends with its default model (measured: about
40 KB): about 30 KB of developer instructions, its tools in an ``additional_tools`` item (namespaces, one freeform
tool with a grammar), and a history of 20 tool calls with their outputs. Printed, in microseconds per request
(median of 5 runs): parsing it, rendering it for each kind of upstream, rendering a non-streamed answer, and
rendering a streamed answer of 200 text deltas and a tool call. The figures are in docs/AGENTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from tierwise.types import (
    BlockStop,
    ChatResponse,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    TextStart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
)
from tierwise.wire import anthropic_messages, openai_chat, responses

SCHEMA = {"type": "object", "properties": {"cmd": {"type": "string"}, "timeout": {"type": "number"}}}


def codex_like() -> dict[str, Any]:
    functions = [
        {"type": "function", "name": f"tool_{i}", "description": "does a thing " * 20, "parameters": SCHEMA}
        for i in range(6)
    ]
    custom = {
        "type": "custom",
        "name": "exec",
        "description": "Run JavaScript. " * 100,
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /[\\s\\S]+/"},
    }
    tools = [
        {"type": "namespace", "name": "functions", "description": "", "tools": [custom, *functions[:3]]},
        {"type": "namespace", "name": "collaboration", "description": "", "tools": functions[3:]},
    ]
    history: list[dict[str, Any]] = []
    for i in range(20):
        history.append({"type": "function_call", "call_id": f"c{i}", "name": "tool_1", "namespace": "functions",
                        "arguments": '{"cmd": "ls -la src"}'})  # fmt: skip
        history.append({"type": "function_call_output", "call_id": f"c{i}", "output": "file.py\n" * 40})
    return {
        "model": "gpt-6.1-sol",
        "stream": True,
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": tools},
            {"role": "developer", "content": [{"type": "input_text", "text": "You are a coding agent. " * 1250}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Fix the failing test."}]},
            *history,
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "low", "context": "all_turns"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0123",
        "text": {"verbosity": "low"},
    }


def stream_events() -> list[StreamEvent]:
    events: list[StreamEvent] = [StreamStart(id="m", model="claude-sonnet-4-6"), TextStart(index=0)]
    events += [TextDelta(index=0, text="word ") for _ in range(200)]
    events += [BlockStop(index=0), ToolCallStart(index=1, id="t1", name="functions__tool_1")]
    events += [ToolCallDelta(index=1, arguments='{"cmd": "ls"}'), BlockStop(index=1)]
    events.append(StreamEnd(stop_reason="tool_use", usage=Usage(input_tokens=13000, output_tokens=250)))
    return events


def timed(fn: Callable[[], object], rounds: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    raw = orjson.dumps(codex_like())
    request = responses.parse_request(orjson.loads(raw))
    answer = ChatResponse(
        id="m",
        model="claude-sonnet-4-6",
        parts=(TextPart(text="word " * 200), ToolCallPart(id="t1", name="functions__tool_1", arguments='{"cmd":"ls"}')),
        stop_reason="tool_use",
        usage=Usage(input_tokens=13000, output_tokens=250),
    )
    events = stream_events()

    def stream() -> bytes:
        renderer = responses.StreamRenderer(request=request, response_id="resp_1")
        return b"".join(renderer.event(ev) for ev in events)

    print(f"request: {len(raw):,} bytes, {len(request.messages)} messages, {len(request.tools)} tools")
    rows = [
        ("decode JSON + parse the Responses request", lambda: responses.parse_request(orjson.loads(raw))),
        ("render it for an Anthropic Messages upstream", lambda: anthropic_messages.build_upstream_request(
            request, upstream_model="claude-sonnet-4-6", default_max_tokens=64000)),
        ("render it for a Chat Completions upstream", lambda: openai_chat.build_upstream_request(
            request, upstream_model="gpt-5.1")),
        ("render it for a Responses upstream", lambda: responses.build_upstream_request(
            request, upstream_model="gpt-5.1")),
        ("render a non-streamed answer", lambda: responses.render_response(answer, request=request)),
        ("render a streamed answer (204 events)", stream),
    ]  # fmt: skip
    for name, fn in rows:
        print(f"{name:48s} {timed(fn, rounds):8.1f} us")


if __name__ == "__main__":
    main()
