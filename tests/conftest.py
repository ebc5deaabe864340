"""Shared fixtures: fake upstream providers and a real gateway process pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running

ANTHROPIC_KEY = "sk-ant-test-upstream-SECRET-1234"
OPENAI_KEY = "sk-openai-test-upstream-SECRET-5678"
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with running(FakeAnthropic(api_key=ANTHROPIC_KEY)) as server:
        yield server


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with running(FakeOpenAI(api_key=OPENAI_KEY)) as server:
        yield server


def upstream_env(fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI) -> dict[str, str]:
    return {
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_BASE_URL": fake_openai.url,
        "OPENAI_API_KEY": OPENAI_KEY,
    }


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    """The gateway on its shipped default config, upstreams replaced through the conventional variables."""
    process = GatewayProcess(tmp_path_factory.mktemp("gateway"), env=upstream_env(fake_anthropic, fake_openai))
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def _clean_fakes(request: pytest.FixtureRequest) -> None:
    """Forget recorded requests and pending faults between tests that use the fakes."""
    for name in ("fake_anthropic", "fake_openai"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()
