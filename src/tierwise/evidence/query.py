"""The evidence's answers for ``report`` and the console: judged relative quality, and shadow token counts.

Read-only; each function opens the ledger file, reads, and closes it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tierwise.evidence.records import Comparison, RoutingChange
from tierwise.evidence.stats import ratio_of_means
from tierwise.evidence.store import LedgerEvidenceStore
from tierwise.ledger.database import Database

Ledger = str | Path | Database  # a SQLite file, or the configured database (``Database.of(settings)``)


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEstimate:
    """Judged quality of the cheaper tier relative to the stronger one on the same requests: ``ratio`` =
    mean(cheap score) / mean(strong score), with its interval (None below 5 comparisons) and ``n``."""

    cheap_tier: str | None  # None: every pair pooled
    strong_tier: str | None
    ratio: float | None
    low: float | None
    high: float | None
    n: int
    cheap_quality: float | None  # mean judged score of the cheaper answers
    strong_quality: float | None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShadowAnswer:
    """The real token counts of one shadow answer, for counterfactual cost."""

    request_id: str  # the client request it shadowed
    shadow_request_id: str
    tier: str
    model: str
    input_tokens: int
    output_tokens: int


def relative_quality(
    ledger: Ledger,
    *,
    since: float | None = None,
    until: float | None = None,
    cheap_tier: str | None = None,
    strong_tier: str | None = None,
    confidence: float = 0.95,
) -> QualityEstimate:
    """Overall (or one tier pair's) judged relative quality in a time window."""
    return estimate(
        _read(ledger, since, until, cheap_tier, strong_tier), cheap_tier, strong_tier, since, until, confidence
    )


def quality_by_pair(
    ledger: Ledger, *, since: float | None = None, until: float | None = None, confidence: float = 0.95
) -> list[QualityEstimate]:
    """One estimate per (cheaper tier, stronger tier) pair that has comparisons."""
    groups: dict[tuple[str, str], list[Comparison]] = defaultdict(list)
    for c in _read(ledger, since, until, None, None):
        groups[(c.cheap_tier, c.strong_tier)].append(c)
    return [estimate(cs, cheap, strong, since, until, confidence) for (cheap, strong), cs in sorted(groups.items())]


def quality_by_period(
    ledger: Ledger,
    *,
    period_s: float = 86_400.0,
    since: float | None = None,
    until: float | None = None,
    cheap_tier: str | None = None,
    strong_tier: str | None = None,
    confidence: float = 0.95,
) -> list[QualityEstimate]:
    """One estimate per period (aligned to multiples of ``period_s`` in unix time) that has comparisons."""
    groups: dict[int, list[Comparison]] = defaultdict(list)
    for c in _read(ledger, since, until, cheap_tier, strong_tier):
        groups[int(c.created_at // period_s)].append(c)
    return [
        estimate(cs, cheap_tier, strong_tier, k * period_s, (k + 1) * period_s, confidence)
        for k, cs in sorted(groups.items())
    ]


def shadow_answers(ledger: Ledger, *, since: float | None = None, until: float | None = None) -> list[ShadowAnswer]:
    store = LedgerEvidenceStore(ledger, read_only=True)
    try:
        comparisons = store.comparisons(since=since, until=until)
        request_ids = {s.sample_id: s.request_id for s in store.samples(since=None, until=until)}
    except sqlite3.OperationalError:  # a ledger from before evidence existed
        return []
    finally:
        store.close()
    answers = []
    for c in comparisons:
        tier, model = (c.strong_tier, c.strong_model) if c.served == "cheap" else (c.cheap_tier, c.cheap_model)
        answers.append(
            ShadowAnswer(
                request_id=request_ids.get(c.sample_id, ""),
                shadow_request_id=c.shadow_request_id,
                tier=tier,
                model=model,
                input_tokens=c.shadow_input_tokens,
                output_tokens=c.shadow_output_tokens,
            )
        )
    return answers


def estimate(
    comparisons: list[Comparison],
    cheap_tier: str | None,
    strong_tier: str | None,
    since: float | None = None,
    until: float | None = None,
    confidence: float = 0.95,
) -> QualityEstimate:
    cheap = [c.cheap_score for c in comparisons]
    strong = [c.strong_score for c in comparisons]
    found = ratio_of_means(cheap, strong, confidence)
    n = len(comparisons)
    return QualityEstimate(
        cheap_tier=cheap_tier,
        strong_tier=strong_tier,
        ratio=found.ratio if found else (sum(cheap) / sum(strong) if n and sum(strong) > 0 else None),
        low=found.low if found else None,
        high=found.high if found else None,
        n=n,
        cheap_quality=sum(cheap) / n if n else None,
        strong_quality=sum(strong) / n if n else None,
        since=since,
        until=until,
    )


def _read(
    ledger: Ledger, since: float | None, until: float | None, cheap_tier: str | None, strong_tier: str | None
) -> list[Comparison]:
    store = LedgerEvidenceStore(ledger, read_only=True)
    try:
        return store.comparisons(since=since, until=until, cheap_tier=cheap_tier, strong_tier=strong_tier)
    except sqlite3.OperationalError:  # a ledger from before evidence existed: nothing judged yet
        return []
    finally:
        store.close()


def routing_changes(ledger: Ledger) -> list[RoutingChange]:
    """Every operating point the loop applied and every rollback, oldest first."""
    store = LedgerEvidenceStore(ledger, read_only=True)
    try:
        return store.changes()
    except sqlite3.OperationalError:  # a ledger from before evidence existed
        return []
    finally:
        store.close()
