"""Fault injection for the fake upstreams: a programmatic queue, prompt markers and a seeded random mode."""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

FaultKind = Literal[
    "status", "timeout", "reset", "mid_stream_drop", "mid_stream_error",
    # hostile upstreams (never drawn at random; injected by the tests that want them)
    "redirect", "quote_key", "no_usage", "huge_body", "gzip_bomb", "long_sse_line",
]  # fmt: skip
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "timeout", "reset", "mid_stream_drop", "mid_stream_error")
KeyEcho = Literal["full", "prefix20", "suffix12", "base64", "basic"]


@dataclass(frozen=True, kw_only=True)
class Fault:
    """One misbehaviour of the upstream for one request.

    - ``status``: answer ``status`` with the API's own error body (429s carry ``retry-after``).
    - ``timeout``: stall ``delay`` seconds before the first byte, then answer normally.
    - ``reset``: drop the connection (TCP RST) before any byte of the response.
    - ``mid_stream_drop``: close the connection after ``after_events`` SSE events (a non-streaming
      request gets a truncated body instead).
    - ``mid_stream_error``: send the API's in-stream error after ``after_events`` events (a
      non-streaming request gets the matching 5xx instead).
    - ``redirect``: answer ``status`` (a 3xx) with ``location``, before checking anything (another origin that
      records what it receives, say).
    - ``quote_key``: answer ``status`` with an error message quoting the key the caller sent, as ``echo`` says:
      whole, its first 20 or last 12 characters, base64, or ``user:key`` in base64 as in HTTP Basic auth.
    - ``no_usage``: answer normally but report no usage at all (no ``usage`` object, none in any stream event).
    - ``huge_body``: a 200 JSON answer of ``size`` bytes, sent in chunks with no content-length.
    - ``gzip_bomb``: a 200 JSON answer, ``content-encoding: gzip``, that inflates to ``size`` bytes.
    - ``long_sse_line``: a 200 event stream whose first line is ``size`` bytes long.
    """

    kind: FaultKind = "status"
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    after_events: int = 3
    location: str | None = None
    echo: KeyEcho = "full"
    size: int = 0


# [[fail:429]] [[fail:429:0.5]] [[fail:529@anthropic]] [[slow:2.5]] [[timeout:5]] [[drop]] [[reset]] [[error]]
_MARKER = re.compile(r"\[\[(fail|slow|timeout|drop|reset|error)(?::([0-9.]+))?(?::([0-9.]+))?(?:@([^\]]+))?\]\]")


def parse_markers(text: str, *, scopes: Iterable[str]) -> Fault | None:
    """The first marker in ``text`` that applies here (no ``@scope``, or a scope in ``scopes``)."""
    if "[[" not in text:
        return None
    allowed = set(scopes)
    for match in _MARKER.finditer(text):
        word, first, second, scope = match.groups()
        if scope is not None and scope not in allowed:
            continue
        if word == "fail":
            status = int(float(first)) if first else 500
            retry_after = float(second) if second else (1.0 if status == 429 else None)
            return Fault(kind="status", status=status, retry_after=retry_after)
        if word in ("slow", "timeout"):
            return Fault(kind="timeout", delay=float(first) if first else 5.0)
        after = int(float(first)) if first else 3
        if word == "drop":
            return Fault(kind="mid_stream_drop", after_events=after)
        if word == "error":
            return Fault(kind="mid_stream_error", after_events=after)
        return Fault(kind="reset")
    return None


class FaultPlan:
    """Which fault, if any, the next request suffers: injected first, then markers, then dice."""

    def __init__(
        self,
        *,
        failure_rate: float = 0.0,
        seed: int = 0,
        kinds: Sequence[FaultKind] = FAULT_KINDS,
        statuses: Sequence[int] = (429, 500),
        delay: float = 2.0,
        retry_after: float = 0.05,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within [0, 1], got {failure_rate}")
        self.failure_rate = failure_rate
        self._seed = seed
        self._kinds = tuple(kinds)
        self._statuses = tuple(statuses)
        self._delay = delay
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._rng = random.Random(seed)

    def inject(self, fault: Fault, *, times: int = 1) -> None:
        with self._lock:
            self._queue.extend([fault] * times)

    def take_injected(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def roll(self) -> Fault | None:
        """A random fault with probability ``failure_rate``; the sequence is fixed by the seed."""
        if self.failure_rate <= 0.0:
            return None
        with self._lock:
            if self._rng.random() >= self.failure_rate:
                return None
            kind = self._rng.choice(self._kinds)
            status = self._rng.choice(self._statuses)
            after = self._rng.randint(1, 4)
        fault = Fault(kind=kind, delay=self._delay, after_events=after)
        if kind == "status":
            fault = replace(fault, status=status, retry_after=self._retry_after if status == 429 else None)
        return fault

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rng = random.Random(self._seed)
