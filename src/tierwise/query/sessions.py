"""Sessions: one row per conversation, with its tier history, every switch between tiers and why."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tierwise.query.period import Period, iso
from tierwise.query.rows import RequestRow, fetch_rows, money
from tierwise.query.source import LedgerSource


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSwitch:
    at: float
    request_id: str
    from_tier: str | None
    to_tier: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "request_id": self.request_id,
            "from": self.from_tier,
            "to": self.to_tier,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSummary:
    session: str
    key_id: str | None
    first: float
    last: float
    requests: int
    errors: int
    spend: Decimal
    tiers: tuple[str, ...]  # the tier of each successive stretch: default -> escalation -> ...
    switches: tuple[TierSwitch, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "key_id": self.key_id,
            "first": iso(self.first),
            "last": iso(self.last),
            "requests": self.requests,
            "errors": self.errors,
            "spend_usd": money(self.spend),
            "tier_history": list(self.tiers),
            "switches": [s.as_dict() for s in self.switches],
        }


def sessions(source: LedgerSource, period: Period, *, rows: list[RequestRow] | None = None) -> list[SessionSummary]:
    """Every session with a request in the period, the most recently active first."""
    rows = fetch_rows(source, period, extra="session IS NOT NULL") if rows is None else rows
    grouped: dict[tuple[str, str | None], list[RequestRow]] = {}
    for row in rows:
        if row.session is not None:
            grouped.setdefault((row.session, row.key_id), []).append(row)
    found = [summarize(session, key_id, members) for (session, key_id), members in grouped.items()]
    return sorted(found, key=lambda s: (-s.last, s.session))


def session_rows(source: LedgerSource, session: str, key_id: str | None, period: Period) -> list[RequestRow]:
    if key_id is None:
        return fetch_rows(source, period, extra="session = ? AND key_id IS NULL", params=[session])
    return fetch_rows(source, period, extra="session = ? AND key_id = ?", params=[session, key_id])


def summarize(session: str, key_id: str | None, rows: list[RequestRow]) -> SessionSummary:
    tiers: list[str] = []
    switches: list[TierSwitch] = []
    spend = Decimal(0)
    previous: str | None = None
    for row in rows:
        spend += row.cost or 0
        if not row.ok:
            continue  # a failed turn ran on no tier
        tier = row.tier or "(direct)"
        if not tiers:
            tiers.append(tier)
        elif tier != previous:
            tiers.append(tier)
            switches.append(
                TierSwitch(at=row.started_at, request_id=row.request_id, from_tier=previous, to_tier=tier,
                           reason=row.reasons)
            )  # fmt: skip
        previous = tier
    return SessionSummary(
        session=session,
        key_id=key_id,
        first=rows[0].started_at,
        last=rows[-1].started_at,
        requests=len(rows),
        errors=sum(not row.ok for row in rows),
        spend=spend,
        tiers=tuple(tiers),
        switches=tuple(switches),
    )
