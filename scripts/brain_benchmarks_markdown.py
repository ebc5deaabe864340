"""Render the JSON of scripts/brain_benchmarks.sh as the markdown tables of docs/BENCHMARKS.md.

uv run python scripts/brain_benchmarks_markdown.py [OUT_DIR]   (default bench-out/)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(value: object) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def pair_table(doc: dict) -> str:  # type: ignore[type-arg]
    refs = doc["references"]
    lines = [
        f"**{doc['test']}** ({doc['n_prompts']} prompts), {doc['weak']} -> {doc['strong']}, {doc['protocol']}: "
        f"weak quality {refs['weak']['quality']:.3f} at {pct(refs['weak']['cost_share'])} of strong cost, "
        f"strong quality {refs['strong']['quality']:.3f}.",
        "",
        "| strategy | APGR | CPT(50%) calls | CPT(80%) calls | cost @ PGR 50% "
        "| cost @ 95% quality | cost @ 98% quality |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [(name, refs[name]) for name in ("random", "oracle") if name in refs]
    rows += list(doc["strategies"].items())
    best = max((v["apgr"] for k, v in doc["strategies"].items()), default=None)
    for name, v in rows:
        apgr = f"{v['apgr']:.3f}"
        if v["apgr"] == best:
            apgr = f"**{apgr}**"
        label = f"*{name}*" if name in ("random", "oracle") else f"`{name}`"
        lines.append(
            f"| {label} | {apgr} | {pct(v['cpt50'])} | {pct(v['cpt80'])} | {pct(v['cost_cpt50'])} | "
            f"{pct(v['cost_at_95'])} | {pct(v['cost_at_98'])} |"
        )
    return "\n".join(lines)


def models_table(doc: dict) -> str:  # type: ignore[type-arg]
    best = doc["references"]["models"][doc["best_model"]]
    lines = [
        f"**{doc['test']}**, all {len(doc['references']['models'])} models, {doc['protocol']}: best single model "
        f"{doc['best_model']} (quality {best['quality']:.3f}, ${1000 * best['cost']:.3f} per 1k calls).",
        "",
        "| strategy | cost to reach the best model's quality (share of its cost) | frontier area |",
        "|---|---|---|",
    ]
    for name, v in doc["strategies"].items():
        lines.append(f"| {name} | {pct(v['cost_to_best'])} | {v['frontier_area']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-out")
    for path in sorted(out.glob("*.json")):
        doc = json.loads(path.read_text())
        print(f"<!-- {path.name} -->")
        for report in doc.get("reports", [doc]):
            print(models_table(report) if "best_model" in report else pair_table(report))
            print()


if __name__ == "__main__":
    main()
