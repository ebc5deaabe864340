"""What agent sessions add to a request's routing: route_input (signals included) and the session router's
decision, against the policy alone, on Claude Code-shaped conversations of growing length.

    uv run python scripts/bench_sessions.py [--turns 10 50 200] [--repeat 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.routing.classifier import KeywordTaskClassifier
from tierwise.routing.features import route_input
from tierwise.routing.rules import RulesRouter
from tierwise.routing.sessions import SessionRouter
from tierwise.tokens import count_input_tokens
from tierwise.types import ChatRequest, Message, TextPart, ToolCallPart, ToolResultPart, ToolSpec


def conversation(turns: int) -> ChatRequest:
    reminder = TextPart(text="<system-reminder>\n" + "context " * 500 + "</system-reminder>")
    messages = [Message(role="user", parts=(reminder, TextPart(text="fix the failing test in the parser")))]
    for n in range(turns):
        call = ToolCallPart(id=f"t{n}", name="Bash", arguments=f'{{"command": "pytest tests/test_{n}.py -x"}}')
        messages.append(Message(role="assistant", parts=(TextPart(text="Let me run it."), call)))
        result = ToolResultPart(tool_call_id=f"t{n}", content=(TextPart(text="1 passed in 0.1s\n" * 20),))
        messages.append(Message(role="user", parts=(result,)))
    tools = tuple(
        ToolSpec(name=f"Tool{i}", description="does things " * 40, parameters={"type": "object"}) for i in range(12)
    )
    system = (TextPart(text="You are an agent. " * 1500),)
    return ChatRequest(model="claude-opus-5-5", messages=tuple(messages), system=system, tools=tools)


def timed(fn: object, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    settings = parse_settings(default_config_text(), source="default", environ={})
    policy = RulesRouter(settings, KeywordTaskClassifier())
    sessions = SessionRouter(policy, settings)
    headers = {"x-claude-code-session-id": "bench"}
    print(
        "| turns | messages | policy alone: median / p99 µs | with session: median / p99 µs | o200k count_tokens ms |"
    )
    print("|---|---|---|---|---|")
    for turns in args.turns:
        request = conversation(turns)
        alone = timed(lambda r=request: policy.decide(route_input(r, headers)), args.repeat)
        with_sessions = timed(lambda r=request: sessions.decide(route_input(r, headers)), args.repeat)
        count = timed(lambda r=request: count_input_tokens(r), 5)
        print(
            f"| {turns} | {len(request.messages)} | {alone[0]:.0f} / {alone[1]:.0f} | "
            f"{with_sessions[0]:.0f} / {with_sessions[1]:.0f} | {count[0] / 1000:.1f} |"
        )


if __name__ == "__main__":
    main()
