"""OpenAI's Responses API (``POST /v1/responses``) as the fake OpenAI server answers it.

Answers follow the same rules as the other fakes (``_replies.plan_reply``); streams send the typed events in the
order OpenAI documents, each with ``event:`` and a ``sequence_number``. Checks mirror the real API's answers to
the mistakes a translator could make (a tool output for an unknown call, tool_choice without tools, ...).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from ._replies import IdMaker, Reply, ToolSpec, count_tokens, plan_reply, split_text, truncate
from ._server import sse

REASONING_TOKENS = {"none": 0, "minimal": 0, "low": 16, "medium": 64, "high": 256, "xhigh": 512}
Problem = tuple[int, str, str | None, str | None]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("input_text", "output_text")
        )
    return ""


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []


def marker_text(body: dict[str, Any]) -> str:
    items = _items(body)
    last = items[-1] if items else {}
    return _text(last.get("content")) if last.get("role") == "user" else ""


def _flat_tools(tools: list[Any]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            for inner in tool.get("tools") or []:
                yield tool.get("name"), inner
        elif isinstance(tool, dict):
            yield None, tool


def check_body(body: dict[str, Any], models: tuple[str, ...] | None) -> Problem | None:
    model = body.get("model")
    if not model:
        return 400, "Missing required parameter: 'model'.", "model", "missing_required_parameter"
    if models is not None and model not in models:
        return 400, f"The requested model '{model}' does not exist.", "model", "model_not_found"
    if "input" not in body:
        return 400, "Missing required parameter: 'input'.", "input", "missing_required_parameter"
    calls: set[str] = set()
    for i, item in enumerate(_items(body)):
        kind = item.get("type", "message")
        if kind in ("function_call", "custom_tool_call"):
            calls.add(str(item.get("call_id")))
        elif kind in ("function_call_output", "custom_tool_call_output") and item.get("call_id") not in calls:
            return (
                400,
                f"No tool call found for {kind} with call_id {item.get('call_id')}.",
                f"input[{i}]",
                None,
            )
        elif kind == "message" and item.get("role") not in ("user", "assistant", "system", "developer"):
            return 400, f"Invalid value: '{item.get('role')}'.", f"input[{i}].role", "invalid_value"
    tools = body.get("tools") or []
    names = [t.get("name") for _, t in _flat_tools(tools)]
    for i, (_, tool) in enumerate(_flat_tools(tools)):
        if tool.get("type") in ("function", "custom") and not tool.get("name"):
            return (
                400,
                f"Missing required parameter: 'tools[{i}].name'.",
                f"tools[{i}].name",
                "missing_required_parameter",
            )
    choice = body.get("tool_choice")
    if choice is not None and choice != "auto" and not tools:
        return 400, "Tool choice requires tools to be set.", "tool_choice", None
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom") and choice.get("name") not in names:
        return 400, f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.", "tool_choice", None
    if body.get("stream_options") is not None and not body.get("stream"):
        return 400, "stream_options can only be set if stream is true.", "stream_options", None
    if "max_tokens" in body or "messages" in body:
        key = "max_tokens" if "max_tokens" in body else "messages"
        return 400, f"Unsupported parameter: '{key}'.", key, "unsupported_parameter"
    return None


def reply_for(body: dict[str, Any]) -> Reply:
    items = _items(body)
    results: list[str] = []
    for item in reversed(items):
        if item.get("type") not in ("function_call_output", "custom_tool_call_output"):
            break
        output = item.get("output")
        results.insert(0, output if isinstance(output, str) else _text(output))
    user = next((_text(i.get("content")) for i in reversed(items) if i.get("role") == "user"), "")
    tools = [
        ToolSpec(
            name=(f"{namespace}.{t['name']}" if namespace else t["name"]),
            schema=t.get("parameters") or {} if t.get("type") == "function" else {"type": "string"},
        )
        for namespace, t in _flat_tools(body.get("tools") or [])
        if t.get("type") in ("function", "custom")
    ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        choice = choice.get("name")
    fmt = (body.get("text") or {}).get("format") or {}
    return plan_reply(
        model=body["model"],
        user_text=user,
        tool_results=results,
        tools=tools,
        tool_choice=choice,
        parallel_allowed=body.get("parallel_tool_calls") is not False,
        output_schema=fmt.get("schema") if fmt.get("type") == "json_schema" else None,
    )


def _kinds(body: dict[str, Any]) -> dict[str, str]:
    return {
        (f"{namespace}.{t['name']}" if namespace else t["name"]): t["type"]
        for namespace, t in _flat_tools(body.get("tools") or [])
        if t.get("type") in ("function", "custom") and t.get("name")
    }


def output_and_usage(
    body: dict[str, Any], reply: Reply, ids: IdMaker
) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """The finished output items, the usage, and whether the answer was cut by max_output_tokens."""
    effort = (body.get("reasoning") or {}).get("effort")
    reasoning = REASONING_TOKENS.get(str(effort), 0)
    output: list[dict[str, Any]] = []
    if reasoning:
        item: dict[str, Any] = {"id": ids.make("rs_", 40), "type": "reasoning", "summary": []}
        if (body.get("reasoning") or {}).get("summary"):
            item["summary"] = [{"type": "summary_text", "text": "**Planning** Working out the answer."}]
        if "reasoning.encrypted_content" in (body.get("include") or []):
            item["encrypted_content"] = "gAAAAB" + ids.make("", 48)
        output.append(item)
    text, cut = truncate(reply.text, body.get("max_output_tokens"))
    kinds = _kinds(body)
    for call in reply.tool_calls:
        namespace, _, name = call.name.rpartition(".")
        entry: dict[str, Any] = {"id": ids.make("fc_", 40), "call_id": ids.make("call_", 24), "name": name}
        if kinds.get(call.name) == "custom":
            entry.update(type="custom_tool_call", input="x")  # freeform input: the fakes' stand-in text
        else:
            entry.update(type="function_call", arguments=orjson.dumps(call.arguments).decode(), status="completed")
        if namespace:
            entry["namespace"] = namespace
        output.append(entry)
    if not reply.tool_calls:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        status = "incomplete" if cut else "completed"
        output.append(
            {"id": ids.make("msg_", 40), "type": "message", "role": "assistant", "status": status, "content": content}
        )
    prompt = count_tokens(len(orjson.dumps(body.get("input"))) + len(body.get("instructions") or ""))
    completion = count_tokens(len(text) + sum(len(orjson.dumps(c.arguments)) for c in reply.tool_calls))
    completion = max(completion, 1) + reasoning
    usage = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }
    return output, usage, cut


def response_object(
    body: dict[str, Any],
    response_id: str,
    created: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    cut: bool,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if cut and status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"] + "-2026-01-01" if not body["model"].endswith("-2026-01-01") else body["model"],
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def events(
    body: dict[str, Any],
    response_id: str,
    created: int,
    output: list[dict[str, Any]],
    usage: dict[str, Any],
    cut: bool,
    size: int,
) -> list[bytes]:
    """The whole stream of one answer: every event as OpenAI sends it."""
    frames: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": len(frames), **fields}
        frames.append(sse(orjson.dumps(payload), kind))

    start = response_object(body, response_id, created, "in_progress", [], None, False)
    emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(output):
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            emit(
                "response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []}
            )
            emit(
                "response.content_part.added",
                **where,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            )
            for piece in split_text(text, size):
                emit("response.output_text.delta", **where, content_index=0, delta=piece, logprobs=[])
            emit("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            emit("response.content_part.done", **where, content_index=0, part=item["content"][0])
        elif item["type"] == "function_call":
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            for piece in split_text(item["arguments"], max(1, size // 2)):
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"], name=item["name"])
        elif item["type"] == "custom_tool_call":
            emit("response.output_item.added", output_index=index, item={**item, "input": ""})
            emit("response.custom_tool_call_input.delta", **where, delta=item["input"])
            emit("response.custom_tool_call_input.done", **where, input=item["input"])
        else:  # reasoning
            emit("response.output_item.added", output_index=index, item={**item, "summary": []})
            for s, part in enumerate(item["summary"]):
                emit(
                    "response.reasoning_summary_part.added",
                    **where,
                    summary_index=s,
                    part={"type": "summary_text", "text": ""},
                )
                emit("response.reasoning_summary_text.delta", **where, summary_index=s, delta=part["text"])
                emit("response.reasoning_summary_text.done", **where, summary_index=s, text=part["text"])
                emit("response.reasoning_summary_part.done", **where, summary_index=s, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    status = "incomplete" if cut else "completed"
    final = response_object(body, response_id, created, status, output, usage, cut)
    emit("response.incomplete" if cut else "response.completed", response=final)
    return frames


def failed_event(body: dict[str, Any], response_id: str, created: int) -> bytes:
    failed = response_object(body, response_id, created, "failed", [], None, False)
    failed["error"] = {"code": "server_error", "message": "The server had an error while processing your request."}
    return sse(orjson.dumps({"type": "response.failed", "sequence_number": 99, "response": failed}), "response.failed")


def now() -> int:
    return int(time.time())
