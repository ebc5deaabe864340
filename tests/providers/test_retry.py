"""The retry arithmetic: jittered exponential backoff, retry-after honoured up to a cap, then move on."""

from __future__ import annotations

import pytest

from tierwise.config.settings import ReliabilitySettings
from tierwise.errors import UpstreamConnectionError, UpstreamStatusError, UpstreamTimeout
from tierwise.providers.retry import backoff_s, retry_delay

SETTINGS = ReliabilitySettings(retries=3, backoff_base_s=0.1, backoff_max_s=1.0, max_retry_after_s=2.0)


def status(code: int, retry_after: float | None = None) -> UpstreamStatusError:
    return UpstreamStatusError(f"upstream said {code}", upstream_status=code, kind="x", retry_after_s=retry_after)


def no_random() -> float:
    raise AssertionError("jitter must not be drawn when the upstream said how long to wait")


@pytest.mark.parametrize(("retry", "ceiling"), [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (60, 1.0)])
def test_backoff_doubles_up_to_the_cap(retry: int, ceiling: float) -> None:
    assert backoff_s(retry, base_s=0.1, max_s=1.0, jitter=0.0) == pytest.approx(ceiling / 2)
    assert backoff_s(retry, base_s=0.1, max_s=1.0, jitter=0.999999) == pytest.approx(ceiling, rel=1e-5)


def test_jitter_spreads_the_wait_over_the_upper_half() -> None:
    waits = [backoff_s(2, base_s=0.1, max_s=1.0, jitter=j / 10) for j in range(10)]
    assert all(0.2 <= w < 0.4 for w in waits)
    assert waits == sorted(waits) and len(set(waits)) == 10


def test_backoff_is_used_when_the_upstream_gave_no_retry_after() -> None:
    assert retry_delay(status(529), 0, SETTINGS, random=lambda: 0.0) == pytest.approx(0.05)
    assert retry_delay(UpstreamTimeout("slow"), 1, SETTINGS, random=lambda: 0.0) == pytest.approx(0.1)
    assert retry_delay(UpstreamConnectionError("reset"), 2, SETTINGS, random=lambda: 0.5) == pytest.approx(0.3)


@pytest.mark.parametrize("asked", [0.0, 0.3, 2.0])
def test_retry_after_within_the_cap_is_honoured_exactly(asked: float) -> None:
    assert retry_delay(status(429, asked), 0, SETTINGS, random=no_random) == asked


def test_retry_after_beyond_the_cap_moves_on_instead_of_sleeping() -> None:
    assert retry_delay(status(429, 2.01), 0, SETTINGS, random=no_random) is None
    assert retry_delay(status(503, 3600), 0, SETTINGS, random=no_random) is None


def test_retries_run_out() -> None:
    assert retry_delay(status(500), 2, SETTINGS, random=lambda: 0.0) is not None
    assert retry_delay(status(500), 3, SETTINGS, random=no_random) is None
    assert retry_delay(status(500), 0, ReliabilitySettings(retries=0), random=no_random) is None


@pytest.mark.parametrize("code", [400, 413, 422])
def test_a_request_fault_is_never_retried(code: int) -> None:
    assert retry_delay(status(code, 0.1), 0, SETTINGS, random=no_random) is None
