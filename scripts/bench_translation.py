"""What translating a request across APIs costs on the request path: parse, fit to the model, render upstream.

    uv run python scripts/bench_translation.py [--rounds 20000]

Times, in microseconds per request (median of 5 runs), a Chat Completions request with structured output,
reasoning effort, a strict tool and a PDF going to an Anthropic model, and an Anthropic request with thinking,
output_config and a PDF going to an OpenAI model; each beside the same request sent to its own API. The
figures are in docs/TRANSLATION.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from tierwise.config.loader import load_settings
from tierwise.config.settings import ModelSettings
from tierwise.providers.adapt import adapt
from tierwise.wire.format import WireFormat, wire_for

PDF = "JVBERi0xLjQK" * 200
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["name", "population"],
    "additionalProperties": False,
}
CHAT = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "You extract facts."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Which city is this about? " * 20},
                {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"}},
            ],
        },
    ],
    "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA, "strict": True}},
    "reasoning_effort": "medium",
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": SCHEMA, "strict": True}}],
    "max_completion_tokens": 2000,
    "store": True,
}
MESSAGES = {
    "model": "auto",
    "max_tokens": 4000,
    "system": [{"type": "text", "text": "You extract facts.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
                {"type": "text", "text": "Which city is this about? " * 20},
            ],
        }
    ],
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
}


def per_call_us(work: Callable[[], object], rounds: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds
    models = load_settings(environ={}).models
    sonnet, gpt = models["claude-sonnet-4-6"], models["gpt-5.1"]

    def translate(source: WireFormat, body: dict[str, Any], target: WireFormat, model: ModelSettings) -> bytes:
        fitted = adapt(source.parse_request(body), model).request
        return target.build_upstream_request(fitted, upstream_model=model.upstream_id)

    chat, messages = wire_for("openai"), wire_for("anthropic")
    parsed = chat.parse_request(CHAT)
    rows = [
        ("fitting alone (providers.adapt), Chat Completions request to Sonnet 4.6", lambda: adapt(parsed, sonnet)),
        ("Chat Completions -> Anthropic model", lambda: translate(chat, CHAT, messages, sonnet)),
        ("Chat Completions -> OpenAI model (same API)", lambda: translate(chat, CHAT, chat, gpt)),
        ("Anthropic Messages -> OpenAI model", lambda: translate(messages, MESSAGES, chat, gpt)),
        ("Anthropic Messages -> Anthropic model (same API)", lambda: translate(messages, MESSAGES, messages, sonnet)),
    ]
    print("| request | parse + fit + render, µs per request |")
    print("|---|---|")
    for name, work in rows:
        print(f"| {name} | {per_call_us(work, rounds):.1f} |")


if __name__ == "__main__":
    main()
