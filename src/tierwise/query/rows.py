"""Ledger rows as typed records, and what kind of request each was: decided by routing, or not."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from tierwise.query.period import Period
from tierwise.query.source import LedgerSource
from tierwise.types import Usage

# How a request reached its model; only "routed" requests count towards savings.
Route = Literal["routed", "direct", "explicit", "fallback", "refused", "failed"]
ROUTES: tuple[Route, ...] = ("routed", "explicit", "direct", "fallback", "failed", "refused")
ROUTE_LABELS: dict[Route, str] = {
    "routed": "decided by routing",
    "explicit": "explicit tier (tier/NAME or x-tierwise-tier)",
    "direct": "model named by the client",
    "fallback": "answered by a fallback model",
    "failed": "failed after reaching an upstream",
    "refused": "refused by the gateway (auth, limits, bad input)",
}

_COLUMNS = (
    "request_id", "started_at", "api", "requested_model", "stream", "policy", "tier", "model", "upstream_model",
    "provider", "reasons", "status", "error", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "latency_ms", "ttft_ms", "attempts", "attempts_detail",
    "session", "key_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRecord:
    model: str
    status: int
    error: str | None
    latency_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRow:
    request_id: str
    started_at: float
    api: str
    requested_model: str
    stream: bool
    policy: str | None
    tier: str | None
    model: str | None
    upstream_model: str | None
    provider: str | None
    reasons: str
    status: int
    error: str | None
    usage: Usage
    cost: Decimal | None  # everything the request paid, side calls included; None: unpriced
    latency_ms: float
    ttft_ms: float | None
    attempt_count: int
    attempts_detail: str  # JSON, read only when a question needs it (most rows never do)
    session: str | None
    key_id: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def route(self) -> Route:
        if not self.ok:
            return "failed" if self.attempt_count else "refused"
        if self.policy == "direct":
            return "direct"
        if self.requested_model.startswith("tier/") or self.reasons.split(";")[0].endswith(" requested"):
            return "explicit"
        if self.fell_back:
            return "fallback"
        return "routed"

    @property
    def attempts(self) -> tuple[AttemptRecord, ...]:
        return _attempts(self.attempts_detail)

    @property
    def fell_back(self) -> bool:
        """Answered by another model than the first one tried, because that one failed."""
        if self.attempt_count < 2 or self.model is None:
            return False
        first = self.attempts[0]
        return first.model != self.model and first.status != 200

    @property
    def escalated(self) -> bool:
        """Moved up a tier while running: a cascade's disagreement, or a fallback to the tier above."""
        return "escalated to" in self.reasons or "session moved up" in self.reasons

    @property
    def tokens(self) -> int:
        return self.usage.input_tokens + self.usage.output_tokens


def fetch_rows(
    source: LedgerSource,
    period: Period,
    *,
    extra: str = "",
    params: list[object] | None = None,
    traffic: str = "client",
) -> list[RequestRow]:
    """The period's request rows of one kind of traffic (the clients', by default; ``shadow`` and ``judge``
    calls are the evidence loop's), oldest first. ``extra`` adds ``AND ...`` conditions (with ``params``)."""
    columns = source.columns("requests")
    if not columns:
        return []
    where, args = period.where()
    if "traffic" in columns:
        where = (where + " AND " if where else " WHERE ") + "traffic = ?"
        args.append(traffic)
    elif traffic != "client":
        return []
    if extra:
        where = (where + " AND " if where else " WHERE ") + extra
        args += params or []
    sql = f"SELECT {', '.join(_COLUMNS)} FROM requests{where} ORDER BY started_at, request_id"
    return [to_row(raw) for raw in source.fetch(sql, args)]


def to_row(raw: dict[str, Any]) -> RequestRow:
    return RequestRow(
        request_id=raw["request_id"],
        started_at=float(raw["started_at"]),
        api=raw["api"],
        requested_model=raw["requested_model"] or "",
        stream=bool(raw["stream"]),
        policy=raw["policy"],
        tier=raw["tier"],
        model=raw["model"],
        upstream_model=raw["upstream_model"],
        provider=raw["provider"],
        reasons=raw["reasons"] or "",
        status=int(raw["status"]),
        error=raw["error"],
        usage=Usage(
            input_tokens=int(raw["input_tokens"]),
            output_tokens=int(raw["output_tokens"]),
            cache_read_tokens=int(raw["cache_read_tokens"]),
            cache_write_tokens=int(raw["cache_write_tokens"]),
            reasoning_tokens=int(raw["reasoning_tokens"]),
        ),
        cost=None if raw["cost_usd"] is None else Decimal(str(raw["cost_usd"])),
        latency_ms=float(raw["latency_ms"]),
        ttft_ms=None if raw["ttft_ms"] is None else float(raw["ttft_ms"]),
        attempt_count=int(raw["attempts"]),
        attempts_detail=raw["attempts_detail"] or "[]",
        session=raw["session"],
        key_id=raw["key_id"],
    )


def _attempts(text: str | None) -> tuple[AttemptRecord, ...]:
    try:
        items = orjson.loads(text or "[]")
    except orjson.JSONDecodeError:
        return ()
    return tuple(
        AttemptRecord(
            model=str(item.get("model")),
            status=int(item.get("status") or 0),
            error=item.get("error"),
            latency_ms=float(item.get("latency_ms") or 0.0),
        )
        for item in items
        if isinstance(item, dict)
    )


def money(value: Decimal | None) -> str | None:
    """USD as text with six decimals (JSON keeps Decimal exact as a string)."""
    return None if value is None else format(value.quantize(Decimal("0.000001")), "f")
