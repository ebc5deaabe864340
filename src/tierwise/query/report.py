"""Everything about a period at once: what ``tierwise report`` prints and ``--json`` writes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tierwise.query.context import QueryContext
from tierwise.query.keys import KeyUsage, keys_usage
from tierwise.query.overview import Overview, overview
from tierwise.query.period import Period
from tierwise.query.quality import QualityCurve, comparisons, quality_curve
from tierwise.query.rows import fetch_rows
from tierwise.query.sessions import SessionSummary, sessions
from tierwise.query.source import LedgerSource, open_source
from tierwise.query.timeline import Timeline, tier_timeline


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    overview: Overview
    timeline: Timeline
    sessions: tuple[SessionSummary, ...]
    keys: tuple[KeyUsage, ...]
    curve: QualityCurve
    baseline: str | None
    baseline_source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.overview.as_dict(),
            "baseline": {"model": self.baseline, "chosen_as": self.baseline_source},
            "tiers_over_time": self.timeline.as_dict(),
            "sessions": [s.as_dict() for s in self.sessions],
            "keys": [k.as_dict() for k in self.keys],
            "cost_quality": self.curve.as_dict(),
        }


def build_report(
    source: LedgerSource | str, period: Period | None = None, context: QueryContext | None = None, *,
    now: float | None = None,
) -> Report:  # fmt: skip
    """``source`` is a ledger (or its path); ``context`` defaults to the shipped configuration's."""
    if isinstance(source, str):
        source = open_source(source)
    period = period or Period()
    if context is None:
        from tierwise.config.loader import load_settings

        context = QueryContext.from_settings(load_settings(None))
    rows = fetch_rows(source, period)  # read once, for the overview, the timeline and the sessions
    summary = overview(source, period, context, rows=rows)
    return Report(
        overview=summary,
        timeline=tier_timeline(source, period, rows=rows),
        sessions=tuple(sessions(source, period, rows=rows)),
        keys=tuple(keys_usage(source, period, now=time.time() if now is None else now)),
        curve=quality_curve(comparisons(source, period), pair=context.curve_pair, target=context.quality_target),
        baseline=context.baseline,
        baseline_source=context.baseline_source,
    )
