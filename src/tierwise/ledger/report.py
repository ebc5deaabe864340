"""Spend and savings from the ledger: what was spent, and what running everything on the premium tier
would have cost for the same tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tierwise.ledger.store import read_only


@dataclass(slots=True)
class Bucket:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    spend: Decimal = Decimal(0)
    baseline: Decimal = Decimal(0)
    unpriced: int = 0  # successful rows whose model has no known price

    def add(self, row: Any) -> None:
        self.requests += 1
        if row["status"] != 200:
            self.errors += 1
        self.input_tokens += row["input_tokens"]
        self.output_tokens += row["output_tokens"]
        if row["cost_usd"] is None:
            if row["status"] == 200:
                self.unpriced += 1
        else:
            self.spend += Decimal(row["cost_usd"])
        if row["baseline_cost_usd"] is not None:
            self.baseline += Decimal(row["baseline_cost_usd"])

    def as_dict(self) -> dict[str, Any]:
        savings = self.baseline - self.spend
        return {
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "spend_usd": _money(self.spend),
            "premium_baseline_usd": _money(self.baseline),
            "savings_usd": _money(savings),
            "savings_pct": round(float(savings / self.baseline * 100), 1) if self.baseline else None,
            "unpriced_requests": self.unpriced,
        }


@dataclass(slots=True)
class Evidence:
    """What live traffic says about the routing's quality, beside what it cost."""

    cascade_checked: int = 0  # cheap answers checked by a second cheap model
    cascade_agreed: int = 0  # ... and kept because the two agreed
    cascade_escalated: int = 0  # ... and replaced by the strong tier because they differed
    retried_or_fell_back: int = 0  # requests that needed more than one attempt
    session_held: int = 0  # turns kept on a conversation's tier instead of dropping to a weaker one

    def add(self, row: Any) -> None:
        reasons = row["reasons"] or ""
        if "cascade: answers agree" in reasons:
            self.cascade_checked += 1
            self.cascade_agreed += 1
        elif "cascade: answers differ" in reasons:
            self.cascade_checked += 1
            self.cascade_escalated += 1
        if row["attempts"] > 1:
            self.retried_or_fell_back += 1
        if "session stays on" in reasons:
            self.session_held += 1

    def as_dict(self) -> dict[str, Any]:
        agreement = self.cascade_agreed / self.cascade_checked if self.cascade_checked else None
        return {
            "cascade_checked": self.cascade_checked,
            "cascade_agreement_rate": round(agreement, 4) if agreement is not None else None,
            "cascade_escalated": self.cascade_escalated,
            "retried_or_fell_back": self.retried_or_fell_back,
            "session_held": self.session_held,
        }


@dataclass(slots=True)
class Report:
    ledger: str
    evidence: Evidence = field(default_factory=Evidence)
    total: Bucket = field(default_factory=Bucket)
    by_tier: dict[str, Bucket] = field(default_factory=dict)
    by_model: dict[str, Bucket] = field(default_factory=dict)
    by_policy: dict[str, Bucket] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            **self.total.as_dict(),
            "by_tier": {k: v.as_dict() for k, v in sorted(self.by_tier.items())},
            "by_model": {k: v.as_dict() for k, v in sorted(self.by_model.items())},
            "by_policy": {k: v.as_dict() for k, v in sorted(self.by_policy.items())},
            "quality_evidence": self.evidence.as_dict(),
        }


def build_report(path: str | Path, *, since: float | None = None) -> Report:
    report = Report(ledger=str(path))
    query = "SELECT * FROM requests" + (" WHERE started_at >= ?" if since is not None else "")
    with read_only(path) as connection:
        for row in connection.execute(query, () if since is None else (since,)):
            report.total.add(row)
            report.by_tier.setdefault(row["tier"] or "(direct)", Bucket()).add(row)
            report.by_model.setdefault(row["model"] or "(none)", Bucket()).add(row)
            report.by_policy.setdefault(row["policy"] or "(rejected)", Bucket()).add(row)
            report.evidence.add(row)
    return report


def format_report(report: Report) -> str:
    lines = [f"ledger {report.ledger}", ""]
    header = f"{'':<24}{'requests':>9}{'errors':>8}{'spend $':>14}{'premium $':>14}{'saved $':>14}{'saved':>8}"
    for title, buckets in (("tier", report.by_tier), ("model", report.by_model)):
        lines.append(f"by {title}")
        lines.append(header)
        for name, bucket in sorted(buckets.items()):
            lines.append(_line(name, bucket))
        lines.append("")
    lines.append(header)
    lines.append(_line("TOTAL", report.total))
    e = report.evidence.as_dict()
    lines.append("")
    lines.append(
        f"quality evidence: {e['retried_or_fell_back']} requests retried or fell back; "
        f"{e['session_held']} turns held on their session's tier"
    )
    if e["cascade_checked"]:
        lines.append(
            f"cascade: {e['cascade_checked']} cheap answers checked, agreement {e['cascade_agreement_rate']:.1%}, "
            f"{e['cascade_escalated']} escalated"
        )
    if report.total.unpriced:
        lines.append(f"({report.total.unpriced} successful requests used models with no known price)")
    return "\n".join(lines)


def _line(name: str, b: Bucket) -> str:
    d = b.as_dict()
    pct = f"{d['savings_pct']:.1f}%" if d["savings_pct"] is not None else "-"
    return (
        f"{name[:23]:<24}{b.requests:>9}{b.errors:>8}{d['spend_usd']:>14}{d['premium_baseline_usd']:>14}"
        f"{d['savings_usd']:>14}{pct:>8}"
    )


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.000001")), "f")
