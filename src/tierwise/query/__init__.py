"""The one query layer: what happened over a period, read from the ledger.

``tierwise report``, the console pages and the console's JSON endpoints all call these functions, so every
figure is computed in one place.
"""

from __future__ import annotations

from tierwise.query.context import QueryContext
from tierwise.query.keys import KeyUsage, keys_usage
from tierwise.query.overview import Overview, Tally, overview
from tierwise.query.period import Period, parse_period
from tierwise.query.quality import (
    NO_EVIDENCE,
    QualityCurve,
    QualityEstimate,
    comparisons,
    judged_quality,
    quality_curve,
)
from tierwise.query.report import Report, build_report
from tierwise.query.requests import RequestDetail, describe, recent_requests, request_detail
from tierwise.query.rows import ROUTE_LABELS, RequestRow, fetch_rows
from tierwise.query.savings import Savings
from tierwise.query.sessions import SessionSummary, session_rows, sessions
from tierwise.query.source import LedgerSource, SqliteSource, ledger_location, open_source
from tierwise.query.text import format_report
from tierwise.query.timeline import Timeline, tier_timeline

__all__ = [
    "NO_EVIDENCE",
    "ROUTE_LABELS",
    "KeyUsage",
    "LedgerSource",
    "Overview",
    "Period",
    "QualityCurve",
    "QualityEstimate",
    "QueryContext",
    "Report",
    "RequestDetail",
    "RequestRow",
    "Savings",
    "SessionSummary",
    "SqliteSource",
    "Tally",
    "Timeline",
    "build_report",
    "comparisons",
    "describe",
    "fetch_rows",
    "format_report",
    "judged_quality",
    "keys_usage",
    "ledger_location",
    "open_source",
    "overview",
    "parse_period",
    "quality_curve",
    "recent_requests",
    "request_detail",
    "session_rows",
    "sessions",
    "tier_timeline",
]
