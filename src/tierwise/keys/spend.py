"""What each key has spent this UTC day and month, summed from the ledger's rows (their ``key_id``).

Read once when the gateway starts (and by ``tierwise keys list``): the ledger is the durable record, so
budgets survive restarts with no second table to keep in step.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tierwise.keys.limits import ZERO, Periods
from tierwise.ledger.database import Database


@dataclass(slots=True)
class KeySpend:
    today: Decimal = ZERO
    this_month: Decimal = ZERO


def spend_by_key(where: str | Path | Database, periods: Periods) -> dict[str, KeySpend]:
    """Rows from the start of the month of ``periods``; an absent ledger or requests table has none."""
    database = where if isinstance(where, Database) else Database.sqlite(where)
    if not database.exists():
        return {}
    day_start, month_start = periods.starts()
    spend: dict[str, KeySpend] = {}
    with closing(database.connect(readonly=True)) as connection:
        try:
            rows = connection.execute(
                "SELECT key_id, started_at, cost_usd FROM requests"
                " WHERE started_at >= ? AND key_id IS NOT NULL AND cost_usd IS NOT NULL",
                (month_start,),
            )
            for key_id, started_at, cost in rows:
                item = spend.setdefault(key_id, KeySpend())
                amount = Decimal(cost)
                item.this_month += amount
                if started_at >= day_start:
                    item.today += amount
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
    return spend
