"""When to call the same model again after a failure, and how long to wait first.

Jittered exponential backoff, except where the upstream said how long to wait (``retry-after-ms`` or
``retry-after``): that is honoured up to a cap, and a longer wait moves on to the next model instead.
"""

from __future__ import annotations

from collections.abc import Callable

from tierwise.config.settings import ReliabilitySettings
from tierwise.errors import UpstreamError, UpstreamStatusError

_MAX_DOUBLINGS = 32  # keeps base * 2**n finite for absurd retry counts; the cap applies long before


def backoff_s(retry: int, *, base_s: float, max_s: float, jitter: float) -> float:
    """The wait before retry number ``retry`` (0 is the first): ``base_s * 2**retry``, capped at ``max_s``,
    then scaled into its upper half by ``jitter`` in [0, 1) so that callers failing together spread out."""
    ceiling = min(max_s, base_s * 2.0 ** min(retry, _MAX_DOUBLINGS))
    return ceiling * (0.5 + 0.5 * jitter)


def retry_delay(
    err: UpstreamError, retry: int, settings: ReliabilitySettings, *, random: Callable[[], float]
) -> float | None:
    """Seconds to wait before retry number ``retry`` of the same model after ``err``; None: move on.

    ``random`` is only called when a backoff is computed (``random.random`` in the gateway).
    """
    if not err.retryable or retry >= settings.retries:
        return None
    if isinstance(err, UpstreamStatusError) and err.retry_after_s is not None:
        if err.retry_after_s > settings.max_retry_after_s:
            return None  # the server wants a long pause: another model answers sooner
        return max(0.0, err.retry_after_s)
    return backoff_s(retry, base_s=settings.backoff_base_s, max_s=settings.backoff_max_s, jitter=random())
