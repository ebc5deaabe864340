"""An upstream and a judge that replay a recorded outcome table (``shared/data/FORMAT.md``).

``TableUpstream`` speaks OpenAI Chat Completions and answers as each model of the table did: the prompt (the
last user turn) picks the row, the request's ``model`` the column; the answer is the recorded final answer
("The answer is X") or, where the table has none, a text naming the row and model; ``usage`` carries the
recorded input and output token counts, so the gateway's cost is the table's cost.

``TableJudge`` is an ``http`` judge: it scores each answer by the table's score of that model on that prompt,
flipping each verdict (s -> 1 - s) with probability ``noise``.

    python -m tests.upstreams.outcome_table DATA_DIR [--port 0] [--judge-port 0] [--noise 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from ._server import running


@dataclass(frozen=True, kw_only=True)
class Outcome:
    score: float
    output_tokens: int
    answer: str


@dataclass(kw_only=True)
class Table:
    prompts: dict[str, str] = field(default_factory=dict)  # prompt text -> id
    input_tokens: dict[str, int] = field(default_factory=dict)
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)  # (id, model) -> outcome
    models: list[str] = field(default_factory=list)
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)  # USD per million input, output

    @classmethod
    def load(cls, folder: str | Path) -> Table:
        root = Path(folder)
        table = cls()
        with open(root / "prompts.jsonl", encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    row = json.loads(line)
                    table.prompts.setdefault(row["prompt"], str(row["id"]))
                    table.input_tokens[str(row["id"])] = int(row["input_tokens"])
        with open(root / "models.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                table.models.append(row["model"])
                table.prices[row["model"]] = (float(row["input_usd_per_mtok"]), float(row["output_usd_per_mtok"]))
        with open(root / "outcomes.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                table.outcomes[(str(row["id"]), row["model"])] = Outcome(
                    score=float(row["score"]), output_tokens=int(float(row["output_tokens"] or 0)), answer=row["answer"]
                )
        return table

    def find(self, prompt: str) -> str | None:
        return self.prompts.get(prompt)

    def text(self, prompt_id: str, model: str) -> str:
        outcome = self.outcomes[(prompt_id, model)]
        if outcome.answer:
            return f"The answer is {outcome.answer}"
        return f"[{model}] recorded answer to prompt {prompt_id}"


def last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


class TableUpstream:
    name = "openai"

    def __init__(self, table: Table, *, api_key: str = "sk-table") -> None:
        self.table = table
        self.api_key = api_key
        self.calls: list[str] = []  # the model of each answered call
        self.origin: str | None = None

    @property
    def url(self) -> str:
        assert self.origin is not None
        return self.origin + "/v1"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        body = orjson.loads(await request.read())
        model = body.get("model")
        prompt_id = self.table.find(last_user_text(body.get("messages") or []))
        if prompt_id is None or (prompt_id, model) not in self.table.outcomes:
            return _error(404, f"no recorded answer of {model!r} to this prompt", "model_not_found")
        self.calls.append(str(model))
        text = self.table.text(prompt_id, model)
        usage = {
            "prompt_tokens": self.table.input_tokens[prompt_id],
            "completion_tokens": self.table.outcomes[(prompt_id, model)].output_tokens,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": f"chatcmpl-{prompt_id}", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text, "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            payload = {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            return web.Response(body=orjson.dumps(payload), content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        chunk = {**head, "object": "chat.completion.chunk"}
        deltas = [{"role": "assistant", "content": ""}, {"content": text}]
        for delta in deltas:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
            await response.write(b"data: " + orjson.dumps({**chunk, "choices": [choice]}) + b"\n\n")
        end = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
        await response.write(b"data: " + orjson.dumps({**chunk, "choices": [end]}) + b"\n\n")
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(b"data: " + orjson.dumps({**chunk, "choices": [], "usage": usage}) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


class TableJudge:
    """The ``http`` judge protocol, scoring from the table (with optional noise)."""

    name = "judge"

    def __init__(self, table: Table, *, noise: float = 0.0, seed: int = 0) -> None:
        self.table = table
        self.noise = noise
        self.forced: dict[str, float] = {}  # model -> the score every answer of it gets (a changed evaluator)
        self._random = random.Random(seed)
        self.calls = 0
        self.origin: str | None = None

    @property
    def url(self) -> str:
        assert self.origin is not None
        return self.origin + "/judge"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/judge", self._judge)
        return app

    async def _judge(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        client_body = body.get("request") or {}
        prompt = last_user_text(client_body.get("messages") or [])
        prompt_id = self.table.find(prompt)
        if prompt_id is None:
            return web.json_response({"error": "unknown prompt"}, status=400)
        scores = []
        for answer in body["answers"]:
            outcome = self.table.outcomes.get((prompt_id, answer["model"]))
            if outcome is None:
                return web.json_response({"error": f"unknown model {answer['model']}"}, status=400)
            score = self.forced.get(answer["model"], outcome.score)
            if self.noise and self._random.random() < self.noise:
                score = 1.0 - score
            scores.append(score)
        self.calls += 1
        return web.json_response({"scores": scores})


def _error(status: int, message: str, code: str) -> web.Response:
    payload = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.upstreams.outcome_table", description=__doc__)
    parser.add_argument("data", help="an outcome table folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--judge-port", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--api-key", default="sk-table")
    args = parser.parse_args(argv)
    table = Table.load(args.data)
    upstream = TableUpstream(table, api_key=args.api_key)
    judge = TableJudge(table, noise=args.noise)
    with running(upstream, port=args.port), running(judge, port=args.judge_port):  # type: ignore[type-var,unused-ignore]
        print(f"upstream {upstream.url}\njudge {judge.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(asyncio.Event().wait())


if __name__ == "__main__":
    main()
