"""Text tables and JSON documents of evaluation reports."""

from __future__ import annotations

from collections.abc import Sequence

from tierwise.brain.evaluation import ModelsReport, PairReport


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def format_pair_report(report: PairReport) -> str:
    weak, strong = report.references["weak"], report.references["strong"]
    lines = [
        f"{report.test} ({report.n_prompts} prompts): {report.pair}   [{report.protocol}]",
        f"  weak quality {weak['quality']:.3f} at {_pct(weak['cost_share']).strip()} of strong cost; "
        f"strong quality {strong['quality']:.3f}",
        "  CPT = share of calls to strong; cost@ = share of always-strong cost",
        f"  {'strategy':<26} {'APGR':>6} {'CPT50':>7} {'CPT80':>7} {'cost@PGR50':>10} "
        f"{'cost@95%q':>9} {'cost@98%q':>9}",
    ]
    for s in report.strategies:
        lines.append(
            f"  {s.name:<26} {s.apgr:6.3f} {_pct(s.cpt50):>7} {_pct(s.cpt80):>7} {_pct(s.cost_cpt50):>10} "
            f"{_pct(s.cost_at_95):>9} {_pct(s.cost_at_98):>9}"
        )
    examples = [f"    {s.name}: {s.example}" for s in report.strategies if s.kind != "reference"]
    return "\n".join([*lines, "  why (first prompt):", *examples, ""])


def format_models_report(report: ModelsReport) -> str:
    best = report.models[report.best_model]
    lines = [
        f"{report.test}: all {len(report.models)} models   [{report.protocol}]",
        f"  best single model {report.best_model}: quality {best['quality']:.3f} at "
        f"${1000 * best['cost']:.4f} per 1k calls",
        f"  {'strategy':<20} {'cost to best (share of its cost)':>34} {'frontier area':>14}",
    ]
    for s in report.strategies:
        lines.append(f"  {s.name:<20} {_pct(s.cost_to_best):>34} {s.area:14.3f}")
    return "\n".join([*lines, ""])


def reports_json(reports: Sequence[PairReport | ModelsReport]) -> dict[str, object]:
    """One report: its object; several: ``{"reports": [...]}``. References are split from strategies."""
    docs = []
    for report in reports:
        doc = report.as_json()
        if isinstance(report, PairReport):
            strategies = doc["strategies"]
            assert isinstance(strategies, dict)
            refs: dict[str, object] = dict(report.references)
            refs.update({k: v for k, v in strategies.items() if v["kind"] == "reference"})
            doc["references"] = refs
            doc["strategies"] = {k: v for k, v in strategies.items() if v["kind"] != "reference"}
        docs.append(doc)
    return docs[0] if len(docs) == 1 else {"reports": docs}
