"""The configured telemetry of one gateway process: which observers listen to the ledger, and ``/metrics``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tierwise.config.settings import Settings
from tierwise.ledger.store import RowObserver
from tierwise.telemetry.metrics import Labels, Metrics, MetricsShare, circuit_gauges


@dataclass(slots=True, kw_only=True)
class Telemetry:
    metrics: Metrics | None
    share: MetricsShare | None
    observers: tuple[RowObserver, ...]
    workers: int

    @classmethod
    def start(
        cls, settings: Settings, *, metrics_dir: str | None = None, worker: int = 0, workers: int = 1
    ) -> Telemetry:
        t = settings.telemetry
        observers: list[RowObserver] = []
        metrics = share = None
        if t.metrics:
            metrics = Metrics({alias: settings.tier_of(alias) for alias in settings.models})
            observers.append(metrics)
            if metrics_dir is not None:
                share = MetricsShare(metrics, metrics_dir, worker)
        if t.access_log:
            from tierwise.telemetry.access_log import AccessLog

            observers.append(AccessLog(t.access_log))
        if t.otlp_endpoint:
            from tierwise.telemetry.tracing import SpanExport  # imports the OpenTelemetry SDK: only when configured

            observers.append(SpanExport(t, settings))
        return cls(metrics=metrics, share=share, observers=tuple(observers), workers=workers)

    def render(self, circuits: Mapping[str, str], pending_rows: int) -> bytes | None:
        """The ``/metrics`` page (None when metrics are off)."""
        if self.metrics is None:
            return None
        total = self.metrics.merged(self.share.others()) if self.share is not None else self.metrics
        gauges: dict[tuple[str, Labels], float] = circuit_gauges(circuits)
        gauges[("tierwise_ledger_pending_rows", ())] = float(pending_rows)
        gauges[("tierwise_workers", ())] = float(self.workers)
        return total.render(gauges)

    def close(self) -> None:
        """After the ledger has written its last rows: flush what the observers hold."""
        if self.share is not None:
            self.share.close()
        for observer in self.observers:
            close = getattr(observer, "close", None)
            if close is not None and observer is not self.metrics:
                close()
