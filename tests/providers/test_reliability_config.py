"""The ``reliability:`` section: shipped defaults, overrides, and unknown keys rejected with their line."""

from __future__ import annotations

import pytest

from tierwise.config.loader import load_settings, parse_settings
from tierwise.config.settings import BreakerSettings, ReliabilitySettings
from tierwise.errors import ConfigError

BASE = """\
providers:
  local: {kind: vllm, base_url: "http://127.0.0.1:9/v1"}
models:
  m: {provider: local, id: m}
tiers:
  default: [m]
"""


def parse(extra: str = "") -> ReliabilitySettings:
    return parse_settings(BASE + extra, source="test.yaml", environ={}).reliability


def test_the_shipped_default_turns_everything_on() -> None:
    reliability = load_settings(environ={}).reliability
    assert reliability.retries >= 1 and reliability.fallback_to_next_tier
    assert reliability.breaker.enabled and reliability.breaker.failures >= 2
    assert 0 < reliability.backoff_base_s <= reliability.backoff_max_s


def test_omitted_section_means_defaults() -> None:
    assert parse() == ReliabilitySettings()


def test_every_key_is_read() -> None:
    reliability = parse(
        "reliability:\n"
        "  retries: 4\n"
        "  backoff_base: 0.5\n"
        "  backoff_max: 8\n"
        "  max_retry_after: 20\n"
        "  fallback_to_next_tier: false\n"
        "  circuit_breaker: {enabled: false, failures: 9, cooldown: 2.5}\n"
    )
    assert reliability == ReliabilitySettings(
        retries=4,
        backoff_base_s=0.5,
        backoff_max_s=8.0,
        max_retry_after_s=20.0,
        fallback_to_next_tier=False,
        breaker=BreakerSettings(enabled=False, failures=9, cooldown_s=2.5),
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("reliability:\n  retry: 2\n", "line 8: unknown key 'retry' in reliability"),
        ("reliability:\n  circuit_breaker:\n    window: 10\n", "line 9: unknown key 'window'"),
        ("reliability:\n  retries: -1\n", "line 8: reliability.retries"),
        ("reliability:\n  circuit_breaker: {failures: 0}\n", "reliability.circuit_breaker.failures"),
        ("reliability:\n  backoff_base: 2\n  backoff_max: 1\n", "line 9: reliability.backoff_max must not be below"),
    ],
)
def test_mistakes_are_rejected_with_their_line(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(extra)
    assert expected in str(err.value)
