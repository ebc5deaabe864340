"""The overview of a period: requests, spend, how each request reached its model, and savings with quality."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tierwise.query.context import QueryContext
from tierwise.query.period import Period
from tierwise.query.quality import comparisons, judged_quality, shadow_usage
from tierwise.query.rows import ROUTE_LABELS, ROUTES, RequestRow, Route, fetch_rows, money
from tierwise.query.savings import Savings, savings_against
from tierwise.query.source import LedgerSource


@dataclass(slots=True)
class Tally:
    """Requests and their spend; filled row by row."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    spend: Decimal = Decimal(0)
    unpriced: int = 0  # successful requests whose model has no known price

    def add(self, row: RequestRow) -> None:
        self.requests += 1
        self.errors += not row.ok
        self.input_tokens += row.usage.input_tokens
        self.output_tokens += row.usage.output_tokens
        if row.cost is not None:
            self.spend += row.cost
        elif row.ok:
            self.unpriced += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "spend_usd": money(self.spend),
            "unpriced_requests": self.unpriced,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    ledger: str
    period: Period
    total: Tally
    routes: dict[Route, Tally]
    savings: tuple[Savings, ...]  # against the baseline, then against all-escalation
    by_tier: dict[str, Tally] = field(default_factory=dict)
    by_model: dict[str, Tally] = field(default_factory=dict)
    by_policy: dict[str, Tally] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    evidence_calls: Tally = field(default_factory=Tally)  # shadow and judge calls: paid for, not client traffic

    def as_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "period": self.period.as_dict(),
            **self.total.as_dict(),
            "routes": {route: {"label": ROUTE_LABELS[route], **self.routes[route].as_dict()} for route in ROUTES},
            "savings": [s.as_dict() for s in self.savings],
            "by_tier": {k: v.as_dict() for k, v in sorted(self.by_tier.items())},
            "by_model": {k: v.as_dict() for k, v in sorted(self.by_model.items())},
            "by_policy": {k: v.as_dict() for k, v in sorted(self.by_policy.items())},
            "signals": dict(self.signals),
            "evidence_calls": self.evidence_calls.as_dict(),
        }


def overview(
    source: LedgerSource, period: Period, context: QueryContext, *, rows: list[RequestRow] | None = None
) -> Overview:
    """``rows``: the period's client rows when the caller has them already (``build_report`` reads them once)."""
    rows = fetch_rows(source, period) if rows is None else rows
    total = Tally()
    routes: dict[Route, Tally] = {route: Tally() for route in ROUTES}
    by_tier: dict[str, Tally] = {}
    by_model: dict[str, Tally] = {}
    by_policy: dict[str, Tally] = {}
    signals = {"escalated": 0, "fell_back": 0, "retried": 0, "session_held": 0, "cascade_checked": 0,
               "cascade_agreed": 0, "cascade_escalated": 0}  # fmt: skip
    for row in rows:
        total.add(row)
        routes[row.route].add(row)
        by_tier.setdefault(row.tier or "(none)", Tally()).add(row)
        by_model.setdefault(row.model or "(none)", Tally()).add(row)
        by_policy.setdefault(row.policy or "(refused)", Tally()).add(row)
        signals["escalated"] += row.ok and row.escalated
        signals["fell_back"] += row.ok and row.fell_back
        signals["retried"] += row.attempt_count > 1
        signals["session_held"] += "session stays on" in row.reasons
        signals["cascade_checked"] += "cascade: answers" in row.reasons
        signals["cascade_agreed"] += "cascade: answers agree" in row.reasons
        signals["cascade_escalated"] += "cascade: answers differ" in row.reasons
    routed = [row for row in rows if row.route == "routed"]
    judged = comparisons(source, period)
    shadows = shadow_usage(judged)
    lines = []
    for name, against, explanation in (
        ("baseline", context.baseline, f"against {context.baseline}, {context.baseline_source}"),
        ("all-escalation", context.premium, f"against {context.premium}, sending every request to the escalation tier"),
    ):
        tier = context.tier_of(against)
        quality = judged_quality(judged, strong_tier=tier, against=f"the {tier or '-'} tier's answers")
        lines.append(savings_against(name, against, explanation, routed, context, shadows, quality))
    evidence_calls = Tally()
    for kind in ("shadow", "judge"):
        for row in fetch_rows(source, period, traffic=kind):
            evidence_calls.add(row)
    return Overview(
        evidence_calls=evidence_calls,
        ledger=source.name,
        period=period,
        total=total,
        routes=routes,
        savings=tuple(lines),
        by_tier=by_tier,
        by_model=by_model,
        by_policy=by_policy,
        signals=signals,
    )
