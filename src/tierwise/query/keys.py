"""Gateway keys: spend against budget (this UTC day and month), and the requests their limits refused."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tierwise.keys.limits import Periods
from tierwise.query.period import Period, iso
from tierwise.query.rows import money
from tierwise.query.source import LedgerSource


@dataclass(slots=True)
class KeyUsage:
    key_id: str
    name: str
    status: str  # active or revoked
    admin: bool
    daily_budget: Decimal | None
    monthly_budget: Decimal | None
    created: float | None = None
    spent_today: Decimal = Decimal(0)
    spent_this_month: Decimal = Decimal(0)
    requests: int = 0  # in the period
    spend: Decimal = Decimal(0)  # in the period
    rate_limited: int = 0  # in the period: refused for --rpm or --tpm
    budget_refused: int = 0  # in the period: refused because a budget was spent

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "status": self.status,
            "admin": self.admin,
            "created": iso(self.created),
            "daily_budget_usd": None if self.daily_budget is None else str(self.daily_budget),
            "monthly_budget_usd": None if self.monthly_budget is None else str(self.monthly_budget),
            "spent_today_usd": money(self.spent_today),
            "spent_this_month_usd": money(self.spent_this_month),
            "daily_budget_used_pct": _pct(self.spent_today, self.daily_budget),
            "monthly_budget_used_pct": _pct(self.spent_this_month, self.monthly_budget),
            "requests": self.requests,
            "spend_usd": money(self.spend),
            "rate_limited": self.rate_limited,
            "budget_refused": self.budget_refused,
        }


def keys_usage(source: LedgerSource, period: Period, *, now: float) -> list[KeyUsage]:
    """Every key (revoked ones too), oldest first; rows of keys no longer in the table are left out."""
    columns = source.columns("gateway_keys")
    if not columns:
        return []
    admin = ", admin" if "admin" in columns else ""
    found: dict[str, KeyUsage] = {}
    for raw in source.fetch(
        f"SELECT key_id, name, created_at, revoked_at, daily_budget_usd, monthly_budget_usd{admin}"
        " FROM gateway_keys ORDER BY created_at, key_id"
    ):
        found[raw["key_id"]] = KeyUsage(
            key_id=raw["key_id"],
            name=raw["name"],
            status="revoked" if raw["revoked_at"] is not None else "active",
            admin=bool(raw.get("admin")),
            created=raw["created_at"],
            daily_budget=None if raw["daily_budget_usd"] is None else Decimal(str(raw["daily_budget_usd"])),
            monthly_budget=None if raw["monthly_budget_usd"] is None else Decimal(str(raw["monthly_budget_usd"])),
        )
    if not found or not source.columns("requests"):
        return list(found.values())
    day_start, month_start = Periods.at(now).starts()
    _add_calendar_spend(source, found, day_start, month_start)
    _add_period(source, found, period)
    return list(found.values())


def _add_calendar_spend(source: LedgerSource, found: dict[str, KeyUsage], day_start: float, month_start: float) -> None:
    for raw in source.fetch(
        "SELECT key_id, started_at, cost_usd FROM requests"
        f" WHERE started_at >= ? AND key_id IS NOT NULL AND cost_usd IS NOT NULL{_clients(source)}",
        [month_start],
    ):
        usage = found.get(raw["key_id"])
        if usage is None:
            continue
        amount = Decimal(str(raw["cost_usd"]))
        usage.spent_this_month += amount
        if raw["started_at"] >= day_start:
            usage.spent_today += amount


def _add_period(source: LedgerSource, found: dict[str, KeyUsage], period: Period) -> None:
    where, params = period.where()
    where = (where + " AND " if where else " WHERE ") + "key_id IS NOT NULL" + _clients(source)
    for raw in source.fetch(f"SELECT key_id, status, attempts, error, cost_usd FROM requests{where}", params):
        usage = found.get(raw["key_id"])
        if usage is None:
            continue
        usage.requests += 1
        if raw["cost_usd"] is not None:
            usage.spend += Decimal(str(raw["cost_usd"]))
        if raw["status"] == 429 and raw["attempts"] == 0:  # refused by the key's own limits, before any call
            if "budget" in (raw["error"] or ""):
                usage.budget_refused += 1
            else:
                usage.rate_limited += 1


def _clients(source: LedgerSource) -> str:
    """The condition that keeps the clients' own requests (not the evidence loop's calls made for them)."""
    return " AND traffic = 'client'" if "traffic" in source.columns("requests") else ""


def _pct(spent: Decimal, budget: Decimal | None) -> float | None:
    return None if not budget else round(float(spent / budget * 100), 1)
