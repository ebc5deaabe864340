"""Evidence from live traffic: sampled requests, shadow answers from another tier, judges, and the loop that
holds ``routing.target`` (docs/EVIDENCE.md).

The request path makes one call, ``EvidenceService.observe(Finished(...))``, which samples and enqueues and
never waits. Everything else runs in the background or from the command line.

Query API, for ``report`` and the console (read-only; each call opens and closes the ledger file)::

    relative_quality(ledger, *, since=None, until=None, cheap_tier=None, strong_tier=None, confidence=0.95)
        -> QualityEstimate   # ratio = mean judged score of the cheaper answers / of the stronger ones on the
                             # same requests, with low/high (95% interval; None below 5 comparisons) and n,
                             # cheap_quality, strong_quality
    quality_by_pair(ledger, *, since=None, until=None, confidence=0.95) -> list[QualityEstimate]
    quality_by_period(ledger, *, period_s=86400, since=None, until=None, cheap_tier=None, strong_tier=None,
                      confidence=0.95) -> list[QualityEstimate]    # one per period with comparisons
    shadow_answers(ledger, *, since=None, until=None) -> list[ShadowAnswer]
        # request_id (the client request shadowed), shadow_request_id (its row in `requests`, traffic
        # 'shadow'), tier, model, input_tokens, output_tokens: real counts for counterfactual cost
    routing_changes(ledger) -> list[RoutingChange]    # every apply / rollback of the loop, oldest first

Ledger rows: ``requests.traffic`` is 'client', 'shadow' (a shadow call) or 'judge' (an llm judge call).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tierwise.evidence.query import (
        QualityEstimate,
        ShadowAnswer,
        quality_by_pair,
        quality_by_period,
        relative_quality,
        routing_changes,
        shadow_answers,
    )
    from tierwise.evidence.records import Answer, Comparison, Finished, RoutingChange, Sample

_HOMES = {
    "QualityEstimate": "tierwise.evidence.query",
    "ShadowAnswer": "tierwise.evidence.query",
    "quality_by_pair": "tierwise.evidence.query",
    "quality_by_period": "tierwise.evidence.query",
    "relative_quality": "tierwise.evidence.query",
    "routing_changes": "tierwise.evidence.query",
    "shadow_answers": "tierwise.evidence.query",
    "Answer": "tierwise.evidence.records",
    "Comparison": "tierwise.evidence.records",
    "Finished": "tierwise.evidence.records",
    "RoutingChange": "tierwise.evidence.records",
    "Sample": "tierwise.evidence.records",
}

__all__ = [
    "Answer",
    "Comparison",
    "Finished",
    "QualityEstimate",
    "RoutingChange",
    "Sample",
    "ShadowAnswer",
    "quality_by_pair",
    "quality_by_period",
    "relative_quality",
    "routing_changes",
    "shadow_answers",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tierwise.evidence' has no attribute {name!r}")
    return getattr(import_module(home), name)
