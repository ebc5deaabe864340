"""Charts as inline SVG, drawn from figures the query layer computed (only their positions are computed here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

TIER_COLOURS = {"speed": "#0f9d8a", "default": "#4f5bd5", "escalation": "#d9822b"}
OTHER_COLOUR = "#9aa3ad"
_W, _H = 760, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 44


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    label: str  # under the bar (a date or an hour)
    parts: tuple[tuple[str, float], ...]  # (series name, value), stacked bottom up


def colour(series: str) -> str:
    return TIER_COLOURS.get(series, OTHER_COLOUR)


def stacked_bars(bars: Sequence[Bar], *, unit: str, title: str) -> str:
    """A stacked bar chart with a legend; ``unit`` prefixes the axis values ("$" or "")."""
    if not bars:
        return _empty(title, "no requests in this period")
    top = max((sum(v for _, v in bar.parts) for bar in bars), default=0.0) or 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / len(bars)
    width = max(1.0, min(slot * 0.72, 56.0))
    out = [_open(title)]
    for i in range(5):
        value = top * i / 4
        y = _TOP + plot_h - plot_h * i / 4
        out.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_num(value, unit)}</text>')
    every = max(1, len(bars) // 8)
    series_seen: list[str] = []
    for i, bar in enumerate(bars):
        x = _LEFT + i * slot + (slot - width) / 2
        base = float(_TOP + plot_h)
        for name, value in bar.parts:
            if name not in series_seen:
                series_seen.append(name)
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            out.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{colour(name)}">'
                f"<title>{escape(bar.label)} {escape(name)}: {_num(value, unit)}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x + width / 2:.1f}" y="{_TOP + plot_h + 16}" class="axis" text-anchor="middle">'
                f"{escape(bar.label)}</text>"
            )
    out.append(_legend(series_seen))
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    label: str
    x: float  # cost relative to the baseline (1.0 = the baseline's cost)
    y: float  # judged quality relative to the stronger answer
    low: float | None = None
    high: float | None = None
    current: bool = False


def cost_quality(
    points: Sequence[Point], *, target: float | None, title: str, empty: str, x_label: str = "relative cost"
) -> str:
    """Quality (y) against relative cost (x), intervals as whiskers, the operating point ringed, the target dashed."""
    if not points:
        return _empty(title, empty)
    xs = [p.x for p in points]
    ys = [v for p in points for v in (p.y, p.low, p.high, target) if v is not None]
    x_max = max(max(xs) * 1.1, 1.1)
    y_min = min(min(ys) - 0.05, 0.5)
    y_max = max(1.0, max(ys) + 0.02)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + plot_w * x / x_max

    def py(y: float) -> float:
        return _TOP + plot_h * (1 - (y - y_min) / (y_max - y_min))

    out = [_open(title)]
    for i in range(5):
        y = y_min + (y_max - y_min) * i / 4
        out.append(f'<line x1="{_LEFT}" y1="{py(y):.1f}" x2="{_W - _RIGHT}" y2="{py(y):.1f}" class="grid"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" class="axis" text-anchor="end">{y:.2f}</text>')
        x = x_max * i / 4
        out.append(f'<text x="{px(x):.1f}" y="{_TOP + plot_h + 16}" class="axis" text-anchor="middle">{x:.2f}x</text>')
    out.append(
        f'<text x="{_LEFT + plot_w / 2:.0f}" y="{_H - 6}" class="axis" text-anchor="middle">{escape(x_label)}</text>'
    )
    if target is not None:
        out.append(
            f'<line x1="{_LEFT}" y1="{py(target):.1f}" x2="{_W - _RIGHT}" y2="{py(target):.1f}" class="target"/>'
            f'<text x="{_W - _RIGHT - 4}" y="{py(target) - 5:.1f}" class="axis" text-anchor="end">'
            f"target {target:.2f}</text>"
        )
    ordered = sorted(points, key=lambda p: p.x)
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(p.x):.1f},{py(p.y):.1f}" for i, p in enumerate(ordered))
    out.append(f'<path d="{path}" class="curve"/>')
    for p in ordered:
        if p.low is not None and p.high is not None:
            out.append(f'<line x1="{px(p.x):.1f}" y1="{py(p.low):.1f}" x2="{px(p.x):.1f}" y2="{py(p.high):.1f}" '
                       'class="whisker"/>')  # fmt: skip
        radius, css = (7, "current") if p.current else (4, "point")
        out.append(
            f'<circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="{radius}" class="{css}">'
            f"<title>{escape(p.label)}: cost {p.x:.2f}x, quality {p.y:.3f}</title></circle>"
        )
        if p.current:
            out.append(f'<text x="{px(p.x) + 10:.1f}" y="{py(p.y) - 8:.1f}" class="axis">{escape(p.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _open(title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )


def _empty(title: str, note: str) -> str:
    return (
        f"{_open(title)}"
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" height="{_H - _TOP - _BOTTOM}" class="empty"/>'
        f'<text x="{_W / 2:.0f}" y="{_H / 2:.0f}" class="note" text-anchor="middle">{escape(note)}</text></svg>'
    )


def _legend(series: Sequence[str]) -> str:
    out = []
    x = float(_LEFT)
    for name in series:
        out.append(f'<rect x="{x}" y="{_H - 14}" width="10" height="10" fill="{colour(name)}"/>')
        out.append(f'<text x="{x + 14}" y="{_H - 5}" class="axis">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(out)


def _num(value: float, unit: str) -> str:
    if unit == "$":
        return f"${value:.4f}" if value < 1 else f"${value:,.2f}"
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:.1f}"
