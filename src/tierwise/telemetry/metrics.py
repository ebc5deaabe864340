"""Prometheus metrics: counters and histograms summed in process, rendered as text when ``/metrics`` is scraped.

Fed by the ledger's writer thread with each finished, priced entry, so the request path pays nothing for them.
Labels are bounded by the configuration (api, policy, tier, model alias, error kind, status code); nothing a
client chooses (keys, sessions, request ids, requested model names) becomes a label.

With several worker processes each one writes its totals to a shared directory once a second; whichever worker
answers a scrape adds the others' latest totals to its own live ones (see docs/DEPLOYMENT.md).
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

import orjson

from tierwise.ledger.entry import LedgerEntry

Labels = tuple[str, ...]
# Seconds. Gateway latency spans sub-millisecond errors to minutes-long streams.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
_TIER_RANK = {"speed": 0, "default": 1, "escalation": 2}
_CIRCUIT_VALUE = {"closed": 0, "half-open": 1, "open": 2}

# name -> (type, help, label names)
_FAMILIES: dict[str, tuple[str, str, Labels]] = {
    "tierwise_requests_total": ("counter", "Requests answered, by status.", ("api", "policy", "tier", "model", "code")),
    "tierwise_request_errors_total": ("counter", "Requests that ended in an error, by kind.", ("api", "kind")),
    "tierwise_request_duration_seconds": (
        "histogram",
        "Time from request to the end of the answer.",
        ("api", "stream"),
    ),
    "tierwise_time_to_first_token_seconds": (
        "histogram",
        "Time from request to the first streamed byte.",
        ("api",),
    ),
    "tierwise_tokens_total": ("counter", "Tokens used, by kind.", ("tier", "model", "policy", "kind")),
    "tierwise_cost_usd_total": ("counter", "Spend in USD at the configured prices.", ("tier", "model", "policy")),
    "tierwise_fallbacks_total": ("counter", "Requests answered by a model other than the first tried.", ("tier",)),
    "tierwise_escalations_total": (
        "counter",
        "Requests answered on a higher tier than routed.",
        ("from_tier", "to_tier"),
    ),
    "tierwise_budget_rejections_total": ("counter", "Requests refused by a key's budget.", ()),
    "tierwise_rate_limit_rejections_total": ("counter", "Requests refused by a key's rate limit.", ()),
    "tierwise_circuit_state": ("gauge", "Circuit breaker per model: 0 closed, 1 half-open, 2 open.", ("model",)),
    "tierwise_ledger_pending_rows": ("gauge", "Ledger rows waiting to be written.", ()),
    "tierwise_workers": ("gauge", "Gateway worker processes whose figures are included.", ()),
}


class Histogram:
    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value


class Metrics:
    """Written by one thread (the ledger writer), read by the event loop at scrape time (copies, under the GIL)."""

    def __init__(self, tier_of: Mapping[str, str | None]) -> None:
        self._tier_of = dict(tier_of)
        self.counters: dict[tuple[str, Labels], float] = {}
        self.histograms: dict[tuple[str, Labels], Histogram] = {}

    def observe_batch(self, rows: Iterable[tuple[LedgerEntry, Decimal | None]]) -> None:
        for entry, cost in rows:
            self.observe(entry, cost)

    def observe(self, e: LedgerEntry, cost: Decimal | None) -> None:
        counters = self.counters
        policy, tier, model = e.policy or "none", e.tier or "none", e.model or "none"
        _add(counters, "tierwise_requests_total", (e.api, policy, tier, model, str(e.status)))
        if e.status >= 400 or e.status == 0:
            kind = e.error_kind or ("client_closed" if e.status == 499 else "http_" + str(e.status))
            _add(counters, "tierwise_request_errors_total", (e.api, kind))
            if kind == "BudgetExceeded":
                _add(counters, "tierwise_budget_rejections_total", ())
            elif kind == "RateLimited":
                _add(counters, "tierwise_rate_limit_rejections_total", ())
        self._histogram("tierwise_request_duration_seconds", (e.api, str(e.stream).lower()), LATENCY_BUCKETS).observe(
            e.latency_ms / 1000.0
        )
        if e.ttft_ms is not None:
            self._histogram("tierwise_time_to_first_token_seconds", (e.api,), TTFT_BUCKETS).observe(e.ttft_ms / 1000.0)
        u = e.usage
        for kind, count in (
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cache_read", u.cache_read_tokens),
            ("cache_write", u.cache_write_tokens),
            ("reasoning", u.reasoning_tokens),
        ):
            if count:
                _add(counters, "tierwise_tokens_total", (tier, model, policy, kind), count)
        for alias, side in e.side_calls:  # a cascade's checker: its tokens count under its own model
            side_tier = self._tier_of.get(alias) or "none"
            for kind, count in (("input", side.input_tokens), ("output", side.output_tokens)):
                if count:
                    _add(counters, "tierwise_tokens_total", (side_tier, alias, policy, kind), count)
        if cost is not None:
            _add(counters, "tierwise_cost_usd_total", (tier, model, policy), float(cost))
        if e.attempts and e.model and e.attempts[0].model != e.model and e.status == 200:
            _add(counters, "tierwise_fallbacks_total", (tier,))
        answered_tier = self._tier_of.get(e.model) if e.model else None
        if e.tier and answered_tier and _TIER_RANK.get(answered_tier, 0) > _TIER_RANK.get(e.tier, 0):
            _add(counters, "tierwise_escalations_total", (e.tier, answered_tier))

    def _histogram(self, name: str, labels: Labels, bounds: tuple[float, ...]) -> Histogram:
        histogram = self.histograms.get((name, labels))
        if histogram is None:
            histogram = self.histograms[(name, labels)] = Histogram(bounds)
        return histogram

    # --- sharing between worker processes ---

    def snapshot(self) -> bytes:
        counters = [[name, list(labels), value] for (name, labels), value in list(self.counters.items())]
        histograms = [
            [name, list(labels), list(h.bounds), list(h.counts), h.count, h.total]
            for (name, labels), h in list(self.histograms.items())
        ]
        return orjson.dumps({"counters": counters, "histograms": histograms})

    def merged(self, snapshots: Iterable[bytes]) -> Metrics:
        """A new Metrics with this one's figures plus those of other workers' snapshots."""
        total = Metrics(self._tier_of)
        total.counters = dict(self.counters)
        for (name, labels), h in list(self.histograms.items()):
            copy = total.histograms[(name, labels)] = Histogram(h.bounds)
            copy.counts, copy.count, copy.total = list(h.counts), h.count, h.total
        for blob in snapshots:
            try:
                data = orjson.loads(blob)
                for name, labels, value in data["counters"]:
                    _add(total.counters, name, tuple(labels), value)
                for name, labels, bounds, counts, count, value_sum in data["histograms"]:
                    h = total._histogram(name, tuple(labels), tuple(bounds))
                    if len(counts) == len(h.counts):
                        h.counts = [a + b for a, b in zip(h.counts, counts, strict=True)]
                        h.count += count
                        h.total += value_sum
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):  # a half-written or foreign file
                continue
        return total

    def render(self, gauges: Mapping[tuple[str, Labels], float]) -> bytes:
        """The Prometheus text exposition format (version 0.0.4)."""
        by_family: dict[str, list[str]] = {}
        for (name, labels), value in sorted(list(self.counters.items()) + list(gauges.items())):
            by_family.setdefault(name, []).append(f"{name}{_labels(name, labels)} {_number(value)}")
        for (name, labels), h in sorted(self.histograms.items(), key=lambda item: item[0]):
            lines = by_family.setdefault(name, [])
            names = _FAMILIES[name][2]
            cumulative = 0
            for bound, count in zip((*h.bounds, float("inf")), h.counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else _number(bound)
                lines.append(f"{name}_bucket{_label_text((*names, 'le'), (*labels, le))} {cumulative}")
            lines.append(f"{name}_sum{_label_text(names, labels)} {_number(h.total)}")
            lines.append(f"{name}_count{_label_text(names, labels)} {h.count}")
        out = []
        for name, (kind, text, _names) in _FAMILIES.items():
            found = by_family.get(name)
            if found is None and kind != "counter":
                continue
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(found or ([] if _names else [f"{name} 0"]))
        return ("\n".join(out) + "\n").encode()


class MetricsShare:
    """Worker ``index``'s totals in ``directory``, written once a second by a daemon thread."""

    def __init__(self, metrics: Metrics, directory: str, index: int, interval_s: float = 1.0) -> None:
        self.metrics = metrics
        self.directory = Path(directory)
        self.path = self.directory / f"worker-{index}.json"
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tierwise-metrics", daemon=True)
        self._thread.start()

    def others(self) -> list[bytes]:
        blobs = []
        for path in self.directory.glob("worker-*.json"):
            if path != self.path:
                try:
                    blobs.append(path.read_bytes())
                except OSError:
                    continue
        return blobs

    def write(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(self.metrics.snapshot())
        os.replace(temporary, self.path)  # a reader sees the old file or the new one, never half of one

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.write()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.write()
            except OSError:
                continue


def circuit_gauges(states: Mapping[str, str]) -> dict[tuple[str, Labels], float]:
    return {("tierwise_circuit_state", (alias,)): float(_CIRCUIT_VALUE.get(s, 0)) for alias, s in states.items()}


def _add(counters: dict[tuple[str, Labels], float], name: str, labels: Labels, amount: float = 1.0) -> None:
    key = (name, labels)
    counters[key] = counters.get(key, 0.0) + amount


def _labels(name: str, values: Labels) -> str:
    return _label_text(_FAMILIES[name][2], values)


def _label_text(names: Labels, values: Labels) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
