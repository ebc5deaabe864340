"""The span of time a question is asked over, and the step of its time series."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tierwise.errors import InvalidRequest

_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_HOUR, _DAY = 3600, 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """``since`` inclusive, ``until`` exclusive, as unix seconds; None leaves that side open."""

    since: float | None = None
    until: float | None = None
    label: str = "all time"

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidRequest("the period ends before it starts (--until must be after --since)")

    def contains(self, moment: float) -> bool:
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)

    def where(self, column: str = "started_at") -> tuple[str, list[object]]:
        """A portable WHERE clause (or "") and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        if self.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{column} < ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def step(self, first: float | None, last: float | None) -> int:
        """Seconds per bucket of a time series over this period: hours up to two days, else days."""
        start = self.since if self.since is not None else first
        end = self.until if self.until is not None else last
        if start is None or end is None:
            return _HOUR
        return _HOUR if end - start <= 2 * _DAY else _DAY

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "since": iso(self.since), "until": iso(self.until)}


def parse_period(
    period: str | None = None, *, since: str | None = None, until: str | None = None, now: float | None = None
) -> Period:
    """``period`` is relative to now (``24h``, ``7d``, ``4w``, ``all``); ``since``/``until`` are ISO dates or
    times (UTC when no zone is given) or unix seconds. Raises InvalidRequest naming what it could not read."""
    now = time.time() if now is None else now
    if period and (since or until):
        raise InvalidRequest("give either a period (like 7d) or since/until, not both")
    if period and period != "all":
        found = _RELATIVE.match(period.strip())
        if found is None:
            raise InvalidRequest(f"not a period: {period!r}; expected a number and m, h, d or w (like 24h, 7d) or all")
        span = int(found.group(1)) * _UNITS[found.group(2)]
        if span <= 0:
            raise InvalidRequest(f"the period must be longer than nothing, not {period!r}")
        return Period(since=now - span, until=None, label=f"last {period.strip()}")
    start = _moment(since, "since") if since else None
    end = _moment(until, "until") if until else None
    if start is None and end is None:
        return Period()
    label = f"{iso(start) or 'the start'} to {iso(end) or 'now'}"
    return Period(since=start, until=end, label=label)


def _moment(text: str, name: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"{name}: not a date or time: {text!r} (expected e.g. 2026-12-01 or 2026-12-01T08:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
