"""Serve both fake upstreams in the foreground.

python -m tests.upstreams --openai-port 8001 --anthropic-port 8002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ._server import FakeUpstream, start_runner
from .fake_anthropic import FakeAnthropic
from .fake_openai import FakeOpenAI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.upstreams", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--openai-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--anthropic-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--openai-key", default="sk-test-openai")
    parser.add_argument("--anthropic-key", default="sk-ant-test")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of requests given a random fault")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-delay", type=float, default=2.0, help="stall of a random timeout fault, seconds")
    parser.add_argument("--stream-delay", type=float, default=0.0, help="pause between SSE events, seconds")
    args = parser.parse_args(argv)
    options = {
        "failure_rate": args.failure_rate,
        "seed": args.seed,
        "fault_delay": args.fault_delay,
        "stream_delay": args.stream_delay,
    }
    upstreams: list[tuple[FakeUpstream, int]] = [
        (FakeOpenAI(api_key=args.openai_key, **options), args.openai_port),
        (FakeAnthropic(api_key=args.anthropic_key, **options), args.anthropic_port),
    ]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(upstreams, args.host))


async def _serve(upstreams: list[tuple[FakeUpstream, int]], host: str) -> None:
    runners = [await start_runner(upstream, host=host, port=port) for upstream, port in upstreams]
    for upstream, _ in upstreams:
        print(f"fake {upstream.name}: {upstream.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()


if __name__ == "__main__":
    main()
