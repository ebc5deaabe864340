"""Agent sessions turn by turn, with what the session switched (tier or effort) and the prompt cache it
forfeited (``tierwise report --sessions`` / ``--session ID``). Beside ``query.sessions``, which summarises tier
history for the console, this one reads the session columns the gateway writes for each switch."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tierwise.query.source import LedgerSource

_COLUMNS = (
    "session, started_at, requested_model, tier, model, status, input_tokens, output_tokens, cache_read_tokens, "
    "cost_usd, baseline_cost_usd"
)
_SWITCH_COLUMNS = ("session_switch", "forfeited_cache_tokens", "forfeited_cache_usd")  # ledger migration 5


@dataclass(slots=True, kw_only=True)
class SessionTurn:
    started_at: float
    requested_model: str
    tier: str | None
    model: str | None
    status: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost: Decimal | None
    switch: str | None
    forfeited_cache_tokens: int
    forfeited_cost: Decimal | None


@dataclass(slots=True, kw_only=True)
class SessionSummary:
    session: str
    turns: list[SessionTurn] = field(default_factory=list)
    cost: Decimal = Decimal(0)
    baseline: Decimal = Decimal(0)

    @property
    def tiers(self) -> list[str]:
        """The tiers the session went through, in order (each once per stretch)."""
        path: list[str] = []
        for turn in self.turns:
            if turn.tier and (not path or path[-1] != turn.tier):
                path.append(turn.tier)
        return path

    @property
    def switches(self) -> list[SessionTurn]:
        return [turn for turn in self.turns if turn.switch]

    @property
    def forfeited_cost(self) -> Decimal:
        return sum((t.forfeited_cost for t in self.turns if t.forfeited_cost is not None), Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "requests": len(self.turns),
            "models_requested": sorted({t.requested_model for t in self.turns}),
            "tiers": self.tiers,
            "switches": [{"at": t.started_at, "switch": t.switch} for t in self.switches],
            "forfeited_cache_tokens": sum(t.forfeited_cache_tokens for t in self.turns),
            "forfeited_cache_usd": str(self.forfeited_cost),
            "cost_usd": str(self.cost),
            "baseline_cost_usd": str(self.baseline),
            "first": self.turns[0].started_at if self.turns else None,
            "last": self.turns[-1].started_at if self.turns else None,
        }


def session_summaries(source: LedgerSource, *, session: str | None = None, limit: int = 20) -> list[SessionSummary]:
    """The ``limit`` sessions active most recently (or the one named ``session``), oldest first."""
    present = source.columns("requests")
    switch = ", ".join(c if c in present else f"NULL AS {c}" for c in _SWITCH_COLUMNS)
    client = "AND traffic = 'client' " if "traffic" in present else ""
    where, params = ("AND session = ? ", [session]) if session is not None else ("", [])
    sql = f"SELECT {_COLUMNS}, {switch} FROM requests WHERE session IS NOT NULL {client}{where}ORDER BY started_at"
    sessions: dict[str, SessionSummary] = {}
    for row in source.fetch(sql, params):
        name = row["session"]
        summary = sessions.pop(name, None) or SessionSummary(session=name)
        sessions[name] = summary  # most recently active last
        cost, baseline = _decimal(row["cost_usd"]), _decimal(row["baseline_cost_usd"])
        summary.turns.append(
            SessionTurn(
                started_at=row["started_at"],
                requested_model=row["requested_model"],
                tier=row["tier"],
                model=row["model"],
                status=row["status"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cache_read_tokens=row["cache_read_tokens"],
                cost=cost,
                switch=row["session_switch"],
                forfeited_cache_tokens=row["forfeited_cache_tokens"] or 0,
                forfeited_cost=_decimal(row["forfeited_cache_usd"]),
            )
        )
        summary.cost += cost or 0
        summary.baseline += baseline or 0
    return list(sessions.values())[-limit:]


def format_sessions(summaries: list[SessionSummary], *, detail: bool = False) -> str:
    if not summaries:
        return "no sessions in the ledger yet"
    lines = []
    for s in summaries:
        models = ", ".join(sorted({t.requested_model for t in s.turns}))
        lines.append(
            f"session {s.session}: {len(s.turns)} requests for {models}; tiers {' -> '.join(s.tiers) or '-'}; "
            f"${s.cost:.4f} (baseline ${s.baseline:.4f})"
        )
        for turn in s.turns if detail else s.switches:
            if detail:
                lines.append(
                    f"  {_clock(turn.started_at)} {turn.requested_model} -> {turn.tier or '-'}/{turn.model or '-'} "
                    f"{turn.status} in {turn.input_tokens} (cached {turn.cache_read_tokens}) out {turn.output_tokens}"
                    + (f"  [{turn.switch}]" if turn.switch else "")
                )
            else:
                lines.append(f"  {_clock(turn.started_at)} switch: {turn.switch}")
            if turn.forfeited_cache_tokens:
                spent = f" (${turn.forfeited_cost:.4f} more than cache reads)" if turn.forfeited_cost else ""
                lines.append(f"    forfeited {turn.forfeited_cache_tokens} cached prompt tokens{spent}")
    return "\n".join(lines)


def _decimal(value: object) -> Decimal | None:
    return Decimal(value) if isinstance(value, str) else None


def _clock(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))
