"""A local server that speaks OpenAI's Chat Completions wire protocol, with deterministic answers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from . import _responses as responses_api
from ._faults import Fault
from ._replies import Reply, ToolSpec, count_tokens, plan_reply, split_text, truncate
from ._server import FakeUpstream, running, sse

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "o4-mini")
REASONING_TOKENS = {"none": 0, "minimal": 0, "low": 16, "medium": 64, "high": 256, "xhigh": 512}
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-tokens": "29999000",
    "x-ratelimit-reset-tokens": "2ms",
}
_MESSAGES = {
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The server is overloaded or not ready yet.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
    403: ("You are not allowed to access this resource.", "invalid_request_error", "unsupported_country"),
    408: ("Request timed out.", "invalid_request_error", None),
    409: ("Conflict: the request could not be completed.", "invalid_request_error", None),
}


class FakeOpenAI(FakeUpstream):
    """``POST /v1/chat/completions``, ``POST /v1/responses`` and ``GET /v1/models`` as OpenAI serves them."""

    name = "openai"
    api_prefix = "/v1"
    overload_status = 503

    def __init__(self, *, api_key: str = "sk-test-openai", **options: Any) -> None:
        super().__init__(api_key=api_key, **options)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_get("/v1/models", self._models)

    # -- errors ---------------------------------------------------------------------------------------

    def error(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        return web.Response(
            status=status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers={**self.base_headers(), **(headers or {})},
        )

    def status_error(self, status: int, *, retry_after: float | None = None) -> web.Response:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = _seconds(retry_after)
            headers["retry-after-ms"] = str(round(retry_after * 1000))
        if status == 429:
            wait = _seconds(retry_after if retry_after is not None else 1.0)
            headers.update({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": f"{wait}s"})
            message = (
                "Rate limit reached for requests per min (RPM): Limit 10000, Used 10000, Requested 1. "
                f"Please try again in {wait}s. Visit https://platform.openai.com/account/rate-limits to learn more."
            )
            return self.error(429, message, type="requests", code="rate_limit_exceeded", headers=headers)
        message, kind, code = _MESSAGES.get(status, (f"Upstream error {status}.", "server_error", None))
        if status < 500 and status not in _MESSAGES:
            kind = "invalid_request_error"
        return self.error(status, message, type=kind, code=code, headers=headers)

    def invalid_json(self) -> web.Response:
        return self.error(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
            "If you have trouble figuring out how to fix this, please contact us through our help center at "
            "help.openai.com.)",
        )

    def not_found(self, request: web.Request) -> web.Response:
        return self.error(404, f"Invalid URL ({request.method} {request.path})")

    def base_headers(self) -> dict[str, str]:
        return {
            "x-request-id": self.ids.make("req_", 32),
            "openai-version": "2020-10-01",
            "openai-organization": "org-fake",
            "openai-processing-ms": "1",
            **RATE_LIMIT_HEADERS,
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms",
        }

    # -- request checks ----------------------------------------------------------------------------

    def authenticate(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
                "username) if you're accessing the API from your browser and are prompted for a username. You "
                "can obtain an API key from https://platform.openai.com/account/api-keys.",
            )
        if key.strip() != self.api_key:
            masked = key[:3] + "*" * max(0, len(key) - 7) + key[-4:]
            return self.error(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def validate(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if request.path.endswith("/responses"):
            problem = responses_api.check_body(body, self.models)
        else:
            problem = _check_body(body, self.models)
        if problem is None:
            return None
        status, message, param, code = problem
        return self.error(status, message, param=param, code=code)

    def marker_text(self, body: dict[str, Any]) -> str:
        if "messages" not in body:
            return responses_api.marker_text(body)
        last = body["messages"][-1]
        return _text(last.get("content")) if last.get("role") == "user" else ""

    # -- answers -------------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        self.record(request, None)
        if (denied := self.authenticate(request)) is not None:
            return denied
        data = [
            {"id": model, "object": "model", "created": 1715367049, "owned_by": "system"}
            for model in (self.models or DEFAULT_MODELS)
        ]
        return web.json_response(
            {"object": "list", "data": data}, dumps=lambda v: orjson.dumps(v).decode(), headers=self.base_headers()
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self.pipeline(request, self._answer)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        return await self.pipeline(request, self._answer_responses)

    async def _answer_responses(
        self, request: web.Request, body: dict[str, Any], fault: Fault | None
    ) -> web.StreamResponse:
        reply = responses_api.reply_for(body)
        output, usage, cut = responses_api.output_and_usage(body, reply, self.ids)
        response_id, created = self.ids.make("resp_", 48), responses_api.now()
        headers = self.base_headers()
        if not body.get("stream"):
            status = "incomplete" if cut else "completed"
            payload = responses_api.response_object(body, response_id, created, status, output, usage, cut)
            return await self.send_json(request, payload, headers, fault)
        events = responses_api.events(body, response_id, created, output, usage, cut, self.chunk_chars)
        failed = responses_api.failed_event(body, response_id, created)
        return await self.send_events(request, events, headers, fault, failed)

    async def _answer(self, request: web.Request, body: dict[str, Any], fault: Fault | None) -> web.StreamResponse:
        reply = _reply_for(body)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        text, cut = truncate(reply.text, limit)
        finish = "tool_calls" if reply.tool_calls else ("length" if cut else "stop")
        calls = [
            {
                "id": self.ids.make("call_", 24),
                "type": "function",
                "function": {"name": c.name, "arguments": orjson.dumps(c.arguments).decode()},
            }
            for c in reply.tool_calls
        ]
        usage = self._usage(body, text, calls)
        completion_id = self.ids.make("chatcmpl-", 29)
        created = int(time.time())
        model = body["model"]
        headers = self.base_headers()
        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None if calls else text,
                "refusal": None,
                "annotations": [],
            }
            if calls:
                message["tool_calls"] = calls
            payload = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_fake0001",
            }
            return await self.send_json(request, payload, headers, fault)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
        }
        events = [
            sse(orjson.dumps(chunk))
            for chunk in _chunks(head, text, calls, finish, usage, include_usage, self.chunk_chars)
        ]
        events.append(sse(b"[DONE]"))
        error = {"error": {"message": _MESSAGES[500][0], "type": "server_error", "param": None, "code": None}}
        return await self.send_events(request, events, headers, fault, sse(orjson.dumps(error)))

    def _usage(self, body: dict[str, Any], text: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
        messages = body["messages"]
        tools = orjson.dumps(body.get("tools") or [])
        prompt_chars = sum(len(_text(m.get("content"))) for m in messages) + (len(tools) if body.get("tools") else 0)
        prompt = self.input_tokens(prompt_chars)
        # Automatic prompt caching: a prefix (every message but the last, plus tools) seen before is cached.
        prefix = messages[:-1]
        cached = 0
        if prefix and self.cache_hit(orjson.dumps([body["model"], body.get("tools"), prefix])):
            cached = min(prompt, count_tokens(sum(len(_text(m.get("content"))) for m in prefix)))
        completion = count_tokens(len(text) + sum(len(c["function"]["arguments"]) for c in calls))
        reasoning = REASONING_TOKENS.get(str(body.get("reasoning_effort")), 0)
        completion = max(completion, 1) + reasoning
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def _chunks(
    head: dict[str, Any],
    text: str,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, Any],
    include_usage: bool,
    size: int,
) -> Iterator[dict[str, Any]]:
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**head, "choices": [choice], **extra}

    yield chunk({"role": "assistant", "content": None if calls else "", "refusal": None})
    for piece in split_text(text, size):
        yield chunk({"content": piece})
    for index, call in enumerate(calls):
        function = call["function"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": function["name"], "arguments": ""},
                    }
                ]
            }
        )
        for piece in split_text(function["arguments"], max(1, size // 2)):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, finish)
    if include_usage:
        yield {**head, "choices": [], "usage": usage}


def _reply_for(body: dict[str, Any]) -> Reply:
    messages = body["messages"]
    tool_results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        tool_results.insert(0, _text(message.get("content")))
    user_text = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    tools = [
        ToolSpec(name=t["function"]["name"], schema=t["function"].get("parameters") or {})
        for t in body.get("tools") or []
        if t.get("type") == "function"
    ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        choice = (choice.get("function") or {}).get("name")
    fmt = body.get("response_format") or {}
    return plan_reply(
        model=body["model"],
        user_text=user_text,
        tool_results=tool_results,
        tools=tools,
        tool_choice=choice,
        parallel_allowed=body.get("parallel_tool_calls") is not False,
        output_schema=(fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None,
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


Problem = tuple[int, str, str | None, str | None]


def _check_body(body: dict[str, Any], models: tuple[str, ...] | None) -> Problem | None:
    """OpenAI's answer to a malformed body, in its words, or None."""
    model = body.get("model")
    if not model:
        return 400, "you must provide a model parameter", None, None
    if models is not None and model not in models:
        return (
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            None,
            "model_not_found",
        )
    messages = body.get("messages")
    if messages is None:
        return 400, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
    if not isinstance(messages, list) or not messages:
        return (
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    if (problem := _check_messages(messages)) is not None:
        return problem
    return _check_options(body)


def _check_messages(messages: list[Any]) -> Problem | None:
    open_calls: list[str] = []
    open_at = 0
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            return (
                400,
                f"Invalid value: '{role}'. Supported values are: {supported}.",
                f"messages[{i}].role",
                ("invalid_value"),
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not call_id:
                return (
                    400,
                    f"Missing required parameter: 'messages[{i}].tool_call_id'.",
                    f"messages[{i}].tool_call_id",
                    "missing_required_parameter",
                )
            if call_id not in open_calls:
                # sic: OpenAI's own spelling.
                return (
                    400,
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    f"messages.[{i}].role",
                    None,
                )
            open_calls.remove(call_id)
            continue
        if open_calls:
            return (
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                f"{', '.join(open_calls)}",
                f"messages.[{open_at}].role",
                None,
            )
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if message.get("content") is None and not calls and not message.get("function_call"):
                return (
                    400,
                    f"Invalid value for 'content': expected a string, got null. (messages[{i}].content)",
                    f"messages.[{i}].content",
                    None,
                )
            open_calls = [c.get("id") for c in calls if isinstance(c, dict)]
            open_at = i
        elif "content" not in message:
            return (
                400,
                f"Missing required parameter: 'messages[{i}].content'.",
                f"messages[{i}].content",
                "missing_required_parameter",
            )
    if open_calls:
        return (
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(open_calls)}",
            f"messages.[{open_at}].role",
            None,
        )
    return None


def _check_options(body: dict[str, Any]) -> Problem | None:
    tools = body.get("tools")
    names: list[str] = []
    for i, tool in enumerate(tools or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            return (
                400,
                f"Missing required parameter: 'tools[{i}].function'.",
                f"tools[{i}].function",
                ("missing_required_parameter"),
            )
        if not function.get("name"):
            return (
                400,
                f"Missing required parameter: 'tools[{i}].function.name'.",
                (f"tools[{i}].function.name"),
                "missing_required_parameter",
            )
        names.append(function["name"])
    choice = body.get("tool_choice")
    if choice is not None and not tools:
        return (
            400,
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
            None,
        )
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            return (
                400,
                f"Invalid value for 'tool_choice': function '{name}' not found in 'tools'.",
                ("tool_choice"),
                "invalid_value",
            )
    elif choice not in (None, "none", "auto", "required"):
        return (
            400,
            f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
            ("tool_choice"),
            "invalid_value",
        )
    if body.get("stream_options") is not None and not body.get("stream"):
        return 400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", (None)
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 2:
        bound = "above maximum" if temperature > 2 else "below minimum"
        limit = "<= 2" if temperature > 2 else ">= 0"
        return (
            400,
            f"Invalid 'temperature': decimal {bound} value. Expected a value {limit}, but got {temperature} instead.",
            "temperature",
            "decimal_above_max_value" if temperature > 2 else "decimal_below_min_value",
        )
    return None


@contextlib.contextmanager
def run_fake_openai(
    *, host: str = "127.0.0.1", port: int = 0, api_key: str = "sk-test-openai", **options: Any
) -> Iterator[FakeOpenAI]:
    """Serve a :class:`FakeOpenAI` in a background thread; ``server.url`` ends in ``/v1``."""
    with running(FakeOpenAI(api_key=api_key, **options), host=host, port=port) as server:
        yield server
