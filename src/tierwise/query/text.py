"""``tierwise report`` for a terminal: the same figures as ``--json``, laid out to read."""

from __future__ import annotations

from decimal import Decimal

from tierwise.query.overview import Tally
from tierwise.query.report import Report
from tierwise.query.rows import ROUTE_LABELS, ROUTES, money


def format_report(report: Report) -> str:
    o = report.overview
    lines = [f"ledger {o.ledger}   period: {o.period.label}", ""]
    t = o.total
    lines.append(
        f"{t.requests} requests, {t.errors} errors, spend ${money(t.spend)} "
        f"({t.input_tokens} input / {t.output_tokens} output tokens)"
    )
    lines += ["", "savings (counted only over requests that routing decided; the rest are listed below)"]
    for s in o.savings:
        pct = f"{s.saved_pct:.1f}%" if s.saved_pct is not None else "-"
        lines.append(
            f"  vs {s.name:<15} {s.against or '(no model)':<22} routed ${money(s.spend)} instead of "
            f"${money(s.counterfactual)}: {_saved(s.saved)} ({pct}) over {s.requests} requests"
        )
        lines.append(f"  {'':<18} quality: {s.quality.text}")
        if s.from_shadow:
            lines.append(f"  {'':<18} {s.from_shadow} counterfactuals use the shadow answer's real token counts")
        if s.unpriced:
            lines.append(f"  {'':<18} {s.unpriced} routed requests left out: a model without a known price")
    lines.append(f"  baseline: {report.baseline or '-'} ({report.baseline_source})")
    lines += ["", "how requests reached their model"]
    for route in ROUTES:
        tally = o.routes[route]
        lines.append(f"  {ROUTE_LABELS[route]:<50}{tally.requests:>8}   ${money(tally.spend)}")
    header = f"  {'':<24}{'requests':>9}{'errors':>8}{'spend $':>14}"
    for title, tallies in (("tier", o.by_tier), ("model", o.by_model)):
        lines += ["", f"by {title}", header]
        lines += [_line(name, tally) for name, tally in sorted(tallies.items())]
    signals = o.signals
    lines += [
        "",
        f"signals: {signals['escalated']} escalated, {signals['fell_back']} fell back, "
        f"{signals['retried']} needed more than one attempt, {signals['session_held']} turns held on their "
        f"session's tier, {signals['cascade_checked']} cascade checks ({signals['cascade_agreed']} agreed)",
        f"evidence calls (shadow answers, judges; not counted above): {o.evidence_calls.requests}, "
        f"${money(o.evidence_calls.spend)}",
        f"sessions: {len(report.sessions)}   keys: {len(report.keys)}   cost/quality: {report.curve.as_dict()['text']}",
    ]
    if t.unpriced:
        lines.append(f"({t.unpriced} successful requests used models with no known price)")
    return "\n".join(lines)


def _saved(amount: Decimal) -> str:
    return f"saved ${money(amount)}" if amount >= 0 else f"cost ${money(-amount)} more"


def _line(name: str, tally: Tally) -> str:
    return f"  {name[:23]:<24}{tally.requests:>9}{tally.errors:>8}{money(tally.spend):>14}"
