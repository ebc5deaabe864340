"""OpenTelemetry traces in the GenAI semantic conventions, sent over OTLP/HTTP (the ``otel`` extra).

One span per request, built after the fact on the ledger's writer thread from the finished entry (its start
and duration are the request's own), so tracing costs the request path nothing. A caller's ``traceparent``
makes the span its child. Attributes: ``gen_ai.*`` for the model call, ``tierwise.*`` for the routing decision
and the cost. No prompt or answer text is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tierwise.config.settings import Settings, TelemetrySettings
from tierwise.ledger.entry import LedgerEntry

_PROVIDER_NAMES = {"anthropic": "anthropic", "openai": "openai", "openrouter": "openrouter", "vllm": "vllm"}


class SpanExport:
    def __init__(self, telemetry: TelemetrySettings, settings: Settings) -> None:
        assert telemetry.otlp_endpoint is not None
        exporter = OTLPSpanExporter(endpoint=telemetry.otlp_endpoint + "/v1/traces", headers=telemetry.otlp_headers)
        self._provider = TracerProvider(resource=Resource.create({"service.name": telemetry.service_name}))
        self._provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
        self._tracer = self._provider.get_tracer("tierwise")
        self._propagator = TraceContextTextMapPropagator()
        self._kinds = {alias: model.provider.kind for alias, model in settings.models.items()}

    def observe_batch(self, rows: Iterable[tuple[LedgerEntry, Decimal | None]]) -> None:
        for entry, cost in rows:
            self._span(entry, cost)

    def _span(self, e: LedgerEntry, cost: Decimal | None) -> None:
        parent = self._propagator.extract({"traceparent": e.traceparent}) if e.traceparent else None
        start_ns = int(e.started_at * 1e9)
        span = self._tracer.start_span(
            f"chat {e.requested_model or 'unknown'}",
            context=parent,
            kind=SpanKind.SERVER,
            start_time=start_ns,
            attributes=attributes(e, cost, self._kinds.get(e.model or "")),
        )
        if e.status >= 400 or e.status == 0:
            span.set_status(Status(StatusCode.ERROR, e.error_kind or str(e.status)))
        span.end(end_time=start_ns + int(e.latency_ms * 1e6))

    def close(self) -> None:
        self._provider.shutdown()  # flushes what the batch processor holds


def attributes(e: LedgerEntry, cost: Decimal | None, provider_kind: str | None) -> dict[str, str | int | float | bool]:
    u = e.usage
    found: dict[str, str | int | float | bool | None] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _PROVIDER_NAMES.get(provider_kind or "", provider_kind),
        "gen_ai.request.model": e.requested_model,
        "gen_ai.response.model": e.upstream_model,
        "gen_ai.usage.input_tokens": u.input_tokens,
        "gen_ai.usage.output_tokens": u.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": u.cache_read_tokens or None,
        "gen_ai.usage.cache_creation.input_tokens": u.cache_write_tokens or None,
        "gen_ai.conversation.id": e.session,
        "error.type": e.error_kind if e.status >= 400 else None,
        "http.response.status_code": e.status,
        "tierwise.request_id": e.request_id,
        "tierwise.api": e.api,
        "tierwise.policy": e.policy,
        "tierwise.tier": e.tier,
        "tierwise.model": e.model,
        "tierwise.reasons": e.reasons or None,
        "tierwise.attempts": len(e.attempts),
        "tierwise.stream": e.stream,
        "tierwise.cost_usd": float(cost) if cost is not None else None,
        "tierwise.ttft_ms": e.ttft_ms,
        "tierwise.key_id": e.key_id,
    }
    return {name: value for name, value in found.items() if value is not None}
