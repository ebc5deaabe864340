"""Requests: lists for a period, a session or a key, and one request in full with its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tierwise.query.context import QueryContext
from tierwise.query.period import Period, iso
from tierwise.query.quality import Comparison, comparisons
from tierwise.query.rows import ROUTE_LABELS, RequestRow, fetch_rows, money
from tierwise.query.source import LedgerSource


def describe(row: RequestRow) -> dict[str, Any]:
    """A request as one list line."""
    return {
        "request_id": row.request_id,
        "at": iso(row.started_at),
        "api": row.api,
        "requested_model": row.requested_model,
        "route": row.route,
        "policy": row.policy,
        "tier": row.tier,
        "model": row.model,
        "status": row.status,
        "input_tokens": row.usage.input_tokens,
        "output_tokens": row.usage.output_tokens,
        "cost_usd": money(row.cost),
        "latency_ms": round(row.latency_ms, 1),
        "session": row.session,
        "key_id": row.key_id,
    }


def recent_requests(source: LedgerSource, period: Period, *, limit: int = 100) -> list[RequestRow]:
    """The latest ``limit`` requests of the period, newest first."""
    return list(reversed(fetch_rows(source, period)))[:limit]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDetail:
    row: RequestRow
    baseline_cost: Decimal | None  # the same tokens on the savings baseline
    premium_cost: Decimal | None  # ... and on the escalation tier's first model
    baseline: str | None
    premium: str | None
    comparisons: tuple[Comparison, ...]

    def as_dict(self) -> dict[str, Any]:
        row = self.row
        return {
            **describe(row),
            "route_label": ROUTE_LABELS[row.route],
            "upstream_model": row.upstream_model,
            "provider": row.provider,
            "stream": row.stream,
            "reasons": [part.strip() for part in row.reasons.split(";") if part.strip()],
            "error": row.error,
            "cache_read_tokens": row.usage.cache_read_tokens,
            "cache_write_tokens": row.usage.cache_write_tokens,
            "reasoning_tokens": row.usage.reasoning_tokens,
            "ttft_ms": None if row.ttft_ms is None else round(row.ttft_ms, 1),
            "attempts": [
                {"model": a.model, "status": a.status, "error": a.error, "latency_ms": round(a.latency_ms, 1)}
                for a in row.attempts
            ],
            "baseline": self.baseline,
            "baseline_cost_usd": money(self.baseline_cost),
            "premium": self.premium,
            "premium_cost_usd": money(self.premium_cost),
            "comparisons": [c.as_dict() for c in self.comparisons],
        }


def request_detail(source: LedgerSource, request_id: str, context: QueryContext) -> RequestDetail | None:
    found = fetch_rows(source, Period(), extra="request_id = ?", params=[request_id])
    if not found:
        return None
    row = found[0]
    return RequestDetail(
        row=row,
        baseline_cost=context.cost(context.baseline, row.usage) if row.ok else None,
        premium_cost=context.cost(context.premium, row.usage) if row.ok else None,
        baseline=context.baseline,
        premium=context.premium,
        comparisons=tuple(comparisons(source, Period(), request_id=request_id)),
    )
