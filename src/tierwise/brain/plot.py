"""Quality-against-cost plots of evaluation reports (matplotlib, training-only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tierwise.brain.evaluation import ModelsReport, PairReport


def plot_reports(reports: Sequence[PairReport | ModelsReport], path: str | Path) -> Path:
    """One panel per report: quality against cost (share of always-strong cost, or USD per 1k calls)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    colours = [plt.get_cmap("tab20")(i) for i in range(20)]
    plt.rcParams["axes.prop_cycle"] = cycler(color=colours)  # more strategies than the default 10 colours
    fig, axes = plt.subplots(1, len(reports), figsize=(6.5 * len(reports), 5), squeeze=False)
    for ax, report in zip(axes[0], reports, strict=True):
        if isinstance(report, PairReport):
            for s in report.strategies:
                style = "--" if s.kind in ("reference", "baseline") else "-"
                ax.plot(s.curve.cost_share, s.curve.quality, style, label=f"{s.name} (APGR {s.apgr:.2f})")
            for name, ref in report.references.items():
                ax.scatter([ref["cost_share"]], [ref["quality"]], marker="o", zorder=5)
                ax.annotate(name, (ref["cost_share"], ref["quality"]))
            ax.set_xlabel(f"cost, share of always-{report.pair.strong}")
            ax.set_title(f"{report.test}: {report.pair}\n{report.protocol}", fontsize=9)
        else:
            for m, ref in report.models.items():
                ax.scatter([ref["cost"] * 1000], [ref["quality"]], s=12, color="grey")
                ax.annotate(m, (ref["cost"] * 1000, ref["quality"]), fontsize=6)
            for fr in report.strategies:
                order = fr.costs.argsort()
                ax.plot(
                    fr.costs[order] * 1000, fr.qualities[order], ".-", ms=2, label=f"{fr.name} (area {fr.area:.2f})"
                )
            ax.set_xscale("log")
            ax.set_xlabel("mean cost, USD per 1,000 calls (log)")
            ax.set_title(f"{report.test}: all models\n{report.protocol}", fontsize=9)
        ax.set_ylabel("mean quality")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
