"""Local servers that speak the OpenAI and Anthropic wire protocols, for tests that must not reach the internet.

    with run_fake_openai(api_key="sk-test") as server:
        client = openai.OpenAI(base_url=server.url, api_key="sk-test")

Answers are derived from the request (``"[{model}] echo: {last user text}"``); faults come from
``server.inject(...)``, from markers in the prompt (``[[fail:429]]``, ``[[slow:2.5]]``, ``[[drop]]``, ...)
or from a seeded ``failure_rate``.
"""

from ._faults import FAULT_KINDS, Fault, FaultKind, parse_markers
from ._replies import count_tokens, example_arguments
from ._server import FakeUpstream, RecordedRequest, running
from .fake_anthropic import FakeAnthropic, run_fake_anthropic
from .fake_openai import FakeOpenAI, run_fake_openai

__all__ = [
    "FAULT_KINDS",
    "FakeAnthropic",
    "FakeOpenAI",
    "FakeUpstream",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "count_tokens",
    "example_arguments",
    "parse_markers",
    "run_fake_anthropic",
    "run_fake_openai",
    "running",
]
