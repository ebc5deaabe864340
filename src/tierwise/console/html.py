"""The page shell and small HTML pieces the views are made of. Every value shown goes through ``value``,
which tags it with its path in ``tierwise report --json`` (``data-key``), so tests can hold the two equal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from html import escape
from importlib import resources

Key = str | tuple[str, ...]
NAV = (
    ("overview", "Overview"),
    ("tiers", "Tiers over time"),
    ("quality", "Cost vs quality"),
    ("sessions", "Sessions"),
    ("keys", "Keys"),
    ("requests", "Requests"),
)
SIGN_OUT = (
    '<form method="post" action="/console/signout" class="signout"><button type="submit">Sign out</button></form>'
)
PERIODS = (("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("all", "All time"))


def value(key: Key, shown: object, *, prefix: str = "", suffix: str = "") -> str:
    """One figure from the report, tagged with its JSON path (a JSON list of names and indexes); None shows as a
    dash. A path is dotted text, or a tuple where a part may hold a dot (a model alias)."""
    parts = key if isinstance(key, tuple) else tuple(key.split("."))
    text = "-" if shown is None else str(shown)
    return f'{escape(prefix)}<span data-key="{escape(json.dumps(parts))}">{escape(text)}</span>{escape(suffix)}'


def usd(key: Key, shown: object) -> str:
    return value(key, shown, prefix="$") if shown is not None else value(key, None)


def pct(key: Key, shown: object) -> str:
    return value(key, shown, suffix="%") if shown is not None else value(key, None)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: frozenset[int] = frozenset()) -> str:
    """Cells are HTML already (built from ``value`` and ``escape``)."""
    head = "".join(f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(headers))  # fmt: skip
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    if not body:
        body = f'<tr><td colspan="{len(headers)}" class="muted">nothing in this period</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def chip(tier: str | None) -> str:
    from tierwise.console.svg import colour

    name = tier or "-"
    return f'<span class="chip" style="background:{colour(name)}">{escape(name)}</span>'


def page(title: str, body: str, *, view: str | None, period: str | None, links: bool = True) -> str:
    """A whole document; ``links=False`` for the self-contained ``report --html`` file (no console around it)."""
    nav = ""
    if links:
        query = f"?period={escape(period)}" if period else ""
        nav = "<nav>" + "".join(
            f'<a href="/console/{name}{query}" class="{"on" if name == view else ""}">{escape(label)}</a>'
            for name, label in NAV
        ) + "</nav>" + SIGN_OUT  # fmt: skip
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - tierwise</title><style>{_css()}</style></head><body>"
        f'<header><span class="brand">tierwise</span>{nav}</header><main>{body}'
        "<footer>Read-only. Every figure comes from the ledger through the same queries as "
        "<code>tierwise report --json</code>.</footer></main></body></html>"
    )


def period_picker(view: str, current: str) -> str:
    return '<div class="periods">' + "".join(
        f'<a href="/console/{view}?period={p}" class="{"on" if p == current else ""}">{escape(label)}</a>'
        for p, label in PERIODS
    ) + "</div>"  # fmt: skip


@cache
def _css() -> str:
    return resources.files("tierwise.console").joinpath("console.css").read_text(encoding="utf-8")
