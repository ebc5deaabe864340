"""``tierwise report --html``: one self-contained page (inline CSS and SVG, nothing fetched) with the overview,
spend by tier over time and cost against quality."""

from __future__ import annotations

from tierwise.console import views
from tierwise.console.html import page
from tierwise.query import Report


def report_page(report: Report) -> str:
    shown = report.as_dict()
    body = "".join([
        views.overview(shown, view_period=None),
        '<hr style="margin:30px 0;border:0;border-top:1px solid #e3e7ec">',
        views.quality(shown, view_period=None),
    ])  # fmt: skip
    return page("Report", body, view=None, period=None, links=False)
