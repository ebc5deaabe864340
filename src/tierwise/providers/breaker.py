"""Circuit breakers, one per model alias: a model that keeps failing is skipped for a while, then probed.

    closed ──(``failures`` retryable failures in a row)──> open ──(``cooldown_s`` later)──> half-open
    half-open: one probe call is let through; its success closes the circuit, its failure re-opens it.

In memory, per gateway process. Every method is O(1) and does not await, so on the event loop no two
requests can interleave inside one: no locks are needed. With shared state, ``on_change`` tells the other
replicas when a circuit opens or closes, and ``apply_remote`` takes in what they tell.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Literal

from tierwise.config.settings import BreakerSettings

CircuitState = Literal["closed", "open", "half-open"]


class Circuit:
    __slots__ = (
        "_clock",
        "_cooldown_s",
        "_failures_to_open",
        "_opened_at",
        "_probe_since",
        "failures",
        "on_change",
        "state",
    )

    def __init__(
        self, *, failures_to_open: float, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._failures_to_open = failures_to_open
        self._cooldown_s = cooldown_s
        self._clock = clock
        self.state: CircuitState = "closed"
        self.failures = 0  # retryable failures in a row
        self._opened_at = 0.0
        self._probe_since: float | None = None  # when the half-open probe started, while it runs
        self.on_change: Callable[[CircuitState], None] | None = None  # told when it opens, or closes again

    def allow(self) -> bool:
        """Whether a call may go out now. In half-open, True means "you are the probe": report its outcome."""
        if self.state == "closed":
            return True
        now = self._clock()
        if self.state == "open":
            if now - self._opened_at < self._cooldown_s:
                return False
            self.state, self._probe_since = "half-open", None
        # A probe whose outcome never came (a bug, a lost task) must not hold the circuit forever.
        if self._probe_since is not None and now - self._probe_since < self._cooldown_s:
            return False
        self._probe_since = now
        return True

    def succeeded(self) -> None:
        """The model answered (a request-caused 4xx counts: the model is up)."""
        if self.state == "open":
            return  # a call that started before the circuit opened proves nothing about now
        was = self.state
        self.state, self.failures, self._probe_since = "closed", 0, None
        if was != "closed" and self.on_change is not None:
            self.on_change("closed")

    def failed(self) -> None:
        """A retryable failure: 429, 5xx, 529, timeout, connection failure."""
        if self.state == "half-open":
            self._open()
        elif self.state == "closed":
            self.failures += 1
            if self.failures >= self._failures_to_open:
                self._open()

    def abandoned(self) -> None:
        """The call ended with no verdict (cancelled): a probe slot is freed for the next request."""
        self._probe_since = None

    def reopens_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self._cooldown_s - (self._clock() - self._opened_at))

    def apply_remote(self, state: str) -> None:
        """Another replica's circuit for this model opened (this one opens for a full cooldown) or closed."""
        if state == "open" and self.state != "open" and self._failures_to_open != float("inf"):
            self.state, self._opened_at, self._probe_since = "open", self._clock(), None
        elif state == "closed" and self.state != "closed":
            self.state, self.failures, self._probe_since = "closed", 0, None

    def _open(self) -> None:
        self.state, self._opened_at, self._probe_since = "open", self._clock(), None
        if self.on_change is not None:
            self.on_change("open")


def circuits_for(
    aliases: Iterable[str], settings: BreakerSettings, *, clock: Callable[[], float] = time.monotonic
) -> dict[str, Circuit]:
    """One circuit per alias; a disabled breaker is one that never opens."""
    threshold = float(settings.failures) if settings.enabled else float("inf")
    return {
        alias: Circuit(failures_to_open=threshold, cooldown_s=settings.cooldown_s, clock=clock) for alias in aliases
    }
