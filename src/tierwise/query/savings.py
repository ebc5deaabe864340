"""Savings you can trust: what routing's decisions cost against what a stated baseline model would have cost
for the same requests, counted only over requests that routing decided.

The counterfactual for a request uses the token counts of the baseline model's own shadow answer to it when
the evidence holds one, and otherwise prices the answer's tokens at the baseline model's rates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tierwise.query.context import QueryContext
from tierwise.query.quality import QualityEstimate
from tierwise.query.rows import RequestRow, money
from tierwise.types import Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class Savings:
    """Routing against one alternative model (``against``)."""

    name: str  # "baseline" or "all-escalation"
    against: str | None  # the model alias; None when the configuration names none
    explanation: str
    requests: int  # routed requests counted (priced on both sides)
    spend: Decimal
    counterfactual: Decimal
    from_shadow: int  # requests whose counterfactual used a shadow answer's real token counts
    unpriced: int  # routed requests left out because one side has no known price
    quality: QualityEstimate

    @property
    def saved(self) -> Decimal:
        return self.counterfactual - self.spend

    @property
    def saved_pct(self) -> float | None:
        return round(float(self.saved / self.counterfactual * 100), 1) if self.counterfactual else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "against": self.against,
            "explanation": self.explanation,
            "requests": self.requests,
            "spend_usd": money(self.spend),
            "counterfactual_usd": money(self.counterfactual),
            "saved_usd": money(self.saved),
            "saved_pct": self.saved_pct,
            "counterfactual_from_shadow_tokens": self.from_shadow,
            "unpriced_requests": self.unpriced,
            "quality": self.quality.as_dict(),
        }


def savings_against(
    name: str,
    against: str | None,
    explanation: str,
    routed: Iterable[RequestRow],
    context: QueryContext,
    shadows: dict[tuple[str, str], Usage],
    quality: QualityEstimate,
) -> Savings:
    requests, from_shadow, unpriced = 0, 0, 0
    spend, counterfactual = Decimal(0), Decimal(0)
    for row in routed:
        usage = shadows.get((row.request_id, against)) if against else None
        alternative = context.cost(against, usage or row.usage)
        if alternative is None or row.cost is None:
            unpriced += 1
            continue
        requests += 1
        from_shadow += usage is not None
        spend += row.cost
        counterfactual += alternative
    return Savings(
        name=name,
        against=against,
        explanation=explanation,
        requests=requests,
        spend=spend,
        counterfactual=counterfactual,
        from_shadow=from_shadow,
        unpriced=unpriced,
        quality=quality,
    )
