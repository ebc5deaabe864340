"""The console's views: each turns what a query returned (its ``as_dict()``) into HTML, adding no figure."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from tierwise.console.html import chip, pct, period_picker, table, usd, value
from tierwise.console.svg import Bar, Point, cost_quality, stacked_bars

Json = dict[str, Any]
NUMERIC_3 = frozenset({1, 2, 3})

SAVINGS_NOTE = (
    "Savings count only requests that routing decided. Requests that named a model, asked for a tier, or were "
    "answered by a fallback after a failure are listed apart below: routing did not choose their model."
)
QUALITY_NOTE = (
    "Judged quality: how the answers routing served compare with the other model's answers to the same requests "
    "(shadow calls scored by a judge). 1.00 means as good; the interval is 95%; n is the number of judged pairs."
)


def overview(report: Json, *, view_period: str | None) -> str:
    period = report["period"]["label"]
    cards = [
        _card("Requests", value("requests", report["requests"]),
              f"{value('errors', report['errors'])} errors (refused or failed)"),
        _card("Spend", usd("spend_usd", report["spend_usd"]),
              f"{value('input_tokens', report['input_tokens'])} input / "
              f"{value('output_tokens', report['output_tokens'])} output tokens"),
    ]  # fmt: skip
    for i, line in enumerate(report["savings"]):
        key = f"savings.{i}"
        title = "Saved vs baseline" if line["name"] == "baseline" else "Saved vs all-escalation"
        if (line["saved_usd"] or "").startswith("-"):
            title += " (negative: routing cost more)"
        sub = (
            f"routing spent {usd(key + '.spend_usd', line['spend_usd'])} where "
            f"<b>{escape(line['against'] or '-')}</b> would have cost "
            f"{usd(key + '.counterfactual_usd', line['counterfactual_usd'])}, over "
            f"{value(key + '.requests', line['requests'])} routed requests"
        )
        saved_pct = pct(key + ".saved_pct", line["saved_pct"])
        big = f"{usd(key + '.saved_usd', line['saved_usd'])} <small>({saved_pct})</small>"
        cards.append(_card(title, big, sub, quality=_quality(key + ".quality", line["quality"])))
    parts = [
        "<h1>Overview</h1>",
        f'<p class="lead">What routing did over <b>{escape(period)}</b>: requests, spend, and what routing saved '
        "against a stated baseline, with the judged quality of what it served beside each saving.</p>",
        period_picker("overview", view_period) if view_period else "",
        f'<div class="cards">{"".join(cards)}</div>',
        f'<p class="lead" style="margin-top:12px">{escape(SAVINGS_NOTE)} {escape(QUALITY_NOTE)} '
        "Evidence calls (shadow answers and judges; paid for, not in the figures above): "
        f"{value('evidence_calls.requests', report['evidence_calls']['requests'])} costing "
        f"{usd('evidence_calls.spend_usd', report['evidence_calls']['spend_usd'])}. "
        f"Baseline: <b>{escape(report['baseline']['model'] or '-')}</b> "
        f"({escape(report['baseline']['chosen_as'])}).</p>",
        "<h2>How requests reached their model</h2>",
        table(
            ("route", "requests", "errors", "spend"),
            (
                (
                    escape(r["label"]),
                    value(f"routes.{name}.requests", r["requests"]),
                    value(f"routes.{name}.errors", r["errors"]),
                    usd(f"routes.{name}.spend_usd", r["spend_usd"]),
                )
                for name, r in report["routes"].items()
            ),
            numeric=NUMERIC_3,
        ),
        "<h2>Spend by tier over time</h2>",
        _tier_bars(report["tiers_over_time"], "spend_usd", "$", "spend by tier over time"),
        "<h2>By tier</h2>",
        _tally_table("tier", "by_tier", report["by_tier"], chips=True),
        "<h2>By model</h2>",
        _tally_table("model", "by_model", report["by_model"]),
    ]
    return "".join(parts)


def tiers(report: Json, *, view_period: str | None) -> str:
    timeline = report["tiers_over_time"]
    step = "hour" if timeline["step_s"] <= 3600 else "day" if timeline["step_s"] <= 86_400 else "period"
    names = timeline["tiers"]
    rows = []
    for i, b in enumerate(timeline["buckets"]):
        key = f"tiers_over_time.buckets.{i}"
        cells = [_when(b["start"]), value(key + ".requests", b["requests"])]
        for tier in names:
            shown = b["tiers"].get(tier)
            cells.append(value((*key.split("."), "tiers", tier, "requests"), shown["requests"]) if shown else "0")
        cells += [value(key + ".escalations", b["escalations"]), value(key + ".fallbacks", b["fallbacks"]),
                  value(key + ".errors", b["errors"]), usd(key + ".spend_usd", b["spend_usd"])]  # fmt: skip
        rows.append(cells)
    headers = (f"{step} starting (UTC)", "requests", *names, "escalations", "fallbacks", "errors", "spend")
    return "".join([
        "<h1>Tiers over time</h1>",
        f'<p class="lead">Where traffic went, {escape(step)} by {escape(step)}, over '
        f'<b>{escape(report["period"]["label"])}</b>. Escalations moved up a tier while running (a cascade that '
        "disagreed, or a session moving up); fallbacks were answered by another model after a failure.</p>",
        period_picker("tiers", view_period) if view_period else "",
        _tier_bars(timeline, "requests", "", "requests by tier over time"),
        "<h2>Spend by tier</h2>",
        _tier_bars(timeline, "spend_usd", "$", "spend by tier over time"),
        "<h2>Per " + escape(step) + "</h2>",
        table(headers, rows, numeric=frozenset(range(1, len(headers)))),
    ])  # fmt: skip


def quality(report: Json, *, view_period: str | None) -> str:
    curve = report["cost_quality"]
    points = [
        Point(label=p["label"], x=p["relative_cost"], y=p["quality"],
              low=(p["interval_95"] or [None, None])[0], high=(p["interval_95"] or [None, None])[1])
        for p in curve["points"]
    ]  # fmt: skip
    current = curve["operating_point"]
    if current is not None:
        points.append(Point(label=current["label"], x=current["relative_cost"], y=current["quality"], current=True))
    rows = [
        (escape(p["label"]), value(f"cost_quality.points.{i}.relative_cost", p["relative_cost"]),
         value(f"cost_quality.points.{i}.quality", p["quality"]), escape(_interval(p["interval_95"])),
         value(f"cost_quality.points.{i}.n", p["n"]))
        for i, p in enumerate(curve["points"])
    ]  # fmt: skip
    target = curve["target"]
    return "".join([
        "<h1>Cost against quality</h1>",
        '<p class="lead">Each point is a way of routing between two tiers, placed by judged comparisons from your '
        "own traffic: its cost relative to always using the stronger tier (x) and the judged quality of its answers "
        "relative to the stronger tier's (y). Points between the ends send the requests the router scores highest "
        "to the stronger tier. The ringed point is what was actually served; the dashed line is the quality target "
        "(<code>routing.target</code>), when one is set.</p>",
        period_picker("quality", view_period) if view_period else "",
        cost_quality(points, target=target, title="cost against quality",
                     x_label=f"cost relative to always {curve['strong_tier'] or 'the stronger tier'}",
                     empty=f"{curve['text']}: turn evidence capture on to draw this curve"),
        f'<p class="lead" style="margin-top:10px">Evidence: {value("cost_quality.n", curve["n"])} judged '
        f'comparisons. Target: {value("cost_quality.target", target)}. {escape(QUALITY_NOTE)}</p>',
        table(("operating point", "relative cost", "quality", "95% interval", "n"), rows,
              numeric=frozenset({1, 2, 4})),
    ])  # fmt: skip


def sessions(report: Json, *, view_period: str | None) -> str:
    rows = []
    for i, s in enumerate(report["sessions"]):
        key = f"sessions.{i}"
        link = _session_link(s["session"], s["key_id"], view_period)
        history = '<span class="arrow">&rarr;</span>'.join(chip(t) for t in s["tier_history"]) or "-"
        rows.append((
            f'<a href="{link}" data-session="{escape(s["session"])}">{escape(s["session"])}</a>',
            escape(s["key_id"] or "-"), _when(s["first"]), _when(s["last"]),
            value(key + ".requests", s["requests"]), usd(key + ".spend_usd", s["spend_usd"]), history,
            "<br>".join(f"{chip(w['from'])}<span class='arrow'>&rarr;</span>{chip(w['to'])} {escape(w['reason'])}"
                       for w in s["switches"])
            or '<span class="muted">none</span>',
        ))  # fmt: skip
    return "".join([
        "<h1>Sessions</h1>",
        '<p class="lead">One row per conversation (named by the <code>x-tierwise-session</code> header), with '
        "its tier history. A session may move up a tier; it never silently drops to a weaker one. Each switch "
        "shows the routing reason recorded with it. Open a session to see its requests.</p>",
        period_picker("sessions", view_period) if view_period else "",
        table(("session", "key", "first", "last", "requests", "spend", "tier history", "switches and why"), rows,
              numeric=frozenset({4, 5})),
    ])  # fmt: skip


def session_detail(session: str, key_id: str | None, summary: Json | None, requests: list[Json]) -> str:
    head = f"<h1>Session {escape(session)}</h1>"
    if summary is None:
        return head + '<p class="lead">No requests of this session in the ledger.</p>'
    history = '<span class="arrow">&rarr;</span>'.join(chip(t) for t in summary["tier_history"])
    switches = table(
        ("at", "from", "to", "reason", "request"),
        ((_when(w["at"]), chip(w["from"]), chip(w["to"]), escape(w["reason"]), _request_link(w["request_id"]))
         for w in summary["switches"]),
    )  # fmt: skip
    return "".join([
        head,
        '<dl class="kv">',
        f"<dt>key</dt><dd>{escape(key_id or '-')}</dd>",
        f"<dt>requests</dt><dd>{value('session.requests', summary['requests'])}</dd>",
        f"<dt>spend</dt><dd>{usd('session.spend_usd', summary['spend_usd'])}</dd>",
        f"<dt>tier history</dt><dd>{history}</dd>",
        "</dl><h2>Tier switches</h2>",
        switches,
        "<h2>Requests</h2>",
        _requests_table(requests, "requests"),
    ])  # fmt: skip


def keys(report: Json, *, view_period: str | None) -> str:
    rows = []
    for i, k in enumerate(report["keys"]):
        key = f"keys.{i}"
        rows.append((
            f"<b>{escape(k['key_id'])}</b><br><span class='muted'>{escape(k['name'])}</span>"
            + (" <span class='chip' style='background:#1d2430'>admin</span>" if k["admin"] else ""),
            escape(k["status"]),
            _budget(key, k["spent_today_usd"], k["daily_budget_usd"], k["daily_budget_used_pct"], "daily"),
            _budget(key, k["spent_this_month_usd"], k["monthly_budget_usd"], k["monthly_budget_used_pct"], "monthly"),
            value(key + ".requests", k["requests"]), usd(key + ".spend_usd", k["spend_usd"]),
            value(key + ".rate_limited", k["rate_limited"]), value(key + ".budget_refused", k["budget_refused"]),
        ))  # fmt: skip
    return "".join([
        "<h1>Keys</h1>",
        '<p class="lead">Each gateway key\'s spend against its budgets (this UTC day and month), and in '
        f'<b>{escape(report["period"]["label"])}</b> its requests, spend, and the requests its limits refused: '
        "rate-limited (over requests or tokens per minute) or refused because a budget was spent.</p>",
        period_picker("keys", view_period) if view_period else "",
        table(("key", "status", "today / daily budget", "this month / monthly budget", "requests", "spend",
               "rate-limited", "budget refused"), rows, numeric=frozenset({4, 5, 6, 7})),
    ])  # fmt: skip


def requests(rows: list[Json], *, label: str, view_period: str | None) -> str:
    return "".join([
        "<h1>Requests</h1>",
        f'<p class="lead">The latest requests of <b>{escape(label)}</b>, newest first. Open one to see its '
        "routing decision, reasons, attempts, tokens, cost, and any shadow comparison.</p>",
        period_picker("requests", view_period) if view_period else "",
        _requests_table(rows, "requests"),
    ])  # fmt: skip


def request_detail(d: Json) -> str:
    k = "request"
    attempts = table(
        ("model", "status", "error", "latency ms"),
        ((escape(a["model"]), escape(str(a["status"])), escape(a["error"] or ""), escape(str(a["latency_ms"])))
         for a in d["attempts"]),
        numeric=frozenset({1, 3}),
    )  # fmt: skip
    comparisons = table(
        ("shadow model", "tier", "shadow tokens in / out", "judge", "verdict", "served score", "shadow score"),
        ((escape(c["shadow_model"]), chip(c["shadow_tier"]),
          f"{c['shadow_input_tokens']} / {c['shadow_output_tokens']}", escape(c["judge"] or "-"),
          escape(c["verdict"] or "not judged yet"), escape(str(c["served_score"])), escape(str(c["shadow_score"])))
         for c in d["comparisons"]),
    ) if d["comparisons"] else '<p class="muted">No shadow comparison for this request (evidence capture samples ' \
        "a share of requests when it is turned on).</p>"  # fmt: skip
    reasons = "".join(f"<li>{escape(r)}</li>" for r in d["reasons"]) or "<li class='muted'>none recorded</li>"
    fields = [
        ("when (UTC)", _when(d["at"])), ("API", escape(d["api"])),
        ("requested model", escape(d["requested_model"])), ("route", escape(d["route_label"])),
        ("policy", escape(d["policy"] or "-")), ("tier", chip(d["tier"])),
        ("model", f"{escape(d['model'] or '-')} <span class='muted'>{escape(d['upstream_model'] or '')} via "
                  f"{escape(d['provider'] or '-')}</span>"),
        ("status", value(k + ".status", d["status"]) + (f" <span class='bad'>{escape(d['error'])}</span>"
                                                       if d["error"] else "")),
        ("tokens in / out", f"{value(k + '.input_tokens', d['input_tokens'])} / "
                            f"{value(k + '.output_tokens', d['output_tokens'])}"),
        ("cache read / write, reasoning", f"{d['cache_read_tokens']} / {d['cache_write_tokens']}, "
                                          f"{d['reasoning_tokens']}"),
        ("cost", usd(k + ".cost_usd", d["cost_usd"])),
        (f"same tokens on {escape(d['baseline'] or '-')} (baseline)", usd(k + ".baseline_cost_usd",
                                                                       d["baseline_cost_usd"])),
        (f"same tokens on {escape(d['premium'] or '-')} (all-escalation)", usd(k + ".premium_cost_usd",
                                                                            d["premium_cost_usd"])),
        ("latency / first token", f"{d['latency_ms']} ms / {d['ttft_ms'] if d['ttft_ms'] is not None else '-'} ms"),
        ("session", escape(d["session"] or "-")), ("key", escape(d["key_id"] or "-")),
    ]  # fmt: skip
    return "".join([
        f"<h1>Request <code>{escape(d['request_id'])}</code></h1>",
        '<dl class="kv">', "".join(f"<dt>{name}</dt><dd>{shown}</dd>" for name, shown in fields), "</dl>",
        "<h2>Routing decision: why this model</h2>", f"<ul>{reasons}</ul>",
        "<h2>Attempts</h2>", attempts,
        "<h2>Shadow comparison and judge verdict</h2>", comparisons,
    ])  # fmt: skip


def _card(label: str, big: str, sub: str, *, quality: str = "") -> str:
    return (
        f'<div class="card"><div class="label">{escape(label)}</div><div class="big">{big}</div>'
        f'<div class="sub">{sub}</div>{quality}</div>'
    )


def _quality(key: str, q: Json) -> str:
    if q["n"] == 0:
        return (
            f'<div class="quality none">Judged quality: {value(key + ".text", q["text"])}'
            "<br>Turn evidence capture on to see whether quality held.</div>"
        )
    low, high = q["interval_95"]
    return (
        f'<div class="quality">Judged quality vs {escape(q["against"])}: '
        f"{value(key + '.relative_quality', q['relative_quality'])} "
        f"(95% interval {value(key + '.interval_95.0', low)}-{value(key + '.interval_95.1', high)}, "
        f"n={value(key + '.n', q['n'])})</div>"
    )


def _tier_bars(timeline: Json, field: str, unit: str, title: str) -> str:
    bars = []
    hourly = timeline["step_s"] <= 3600
    for b in timeline["buckets"]:
        label = b["start"][11:16] if hourly else b["start"][5:10]
        parts = tuple((tier, float(b["tiers"].get(tier, {}).get(field) or 0)) for tier in timeline["tiers"])
        bars.append(Bar(label=label, parts=parts))
    return stacked_bars(bars, unit=unit, title=title)


def _tally_table(title: str, prefix: str, tallies: Json, *, chips: bool = False) -> str:
    return table(
        (title, "requests", "errors", "spend"),
        ((chip(name) if chips else escape(name), value((prefix, name, "requests"), t["requests"]),
          value((prefix, name, "errors"), t["errors"]), usd((prefix, name, "spend_usd"), t["spend_usd"]))
         for name, t in tallies.items()),
        numeric=NUMERIC_3,
    )  # fmt: skip


def _requests_table(rows: list[Json], prefix: str) -> str:
    return table(
        ("when (UTC)", "request", "route", "tier", "model", "status", "tokens in / out", "cost"),
        ((_when(r["at"]), _request_link(r["request_id"]), escape(r["route"]), chip(r["tier"]),
          escape(r["model"] or "-"), value(f"{prefix}.{i}.status", r["status"]),
          f"{value(f'{prefix}.{i}.input_tokens', r['input_tokens'])} / "
          f"{value(f'{prefix}.{i}.output_tokens', r['output_tokens'])}",
          usd(f"{prefix}.{i}.cost_usd", r["cost_usd"]))
         for i, r in enumerate(rows)),
        numeric=frozenset({5, 6, 7}),
    )  # fmt: skip


def _budget(key: str, spent: str, budget: str | None, used: float | None, which: str) -> str:
    span = "today" if which == "daily" else "this_month"
    shown = usd(f"{key}.spent_{span}_usd", spent)
    if budget is None:
        return f"{shown} <span class='muted'>/ no budget</span>"
    width = min(100.0, used or 0.0)
    over = " over" if (used or 0) >= 100 else ""
    return (
        f"{shown} / {usd(f'{key}.{which}_budget_usd', budget)} ({pct(f'{key}.{which}_budget_used_pct', used)})"
        f'<div class="bar"><span class="{over.strip()}" style="width:{width:.0f}%"></span></div>'
    )


def _when(moment: str | None) -> str:
    """An ISO time from the report, as a reader expects it (UTC, to the second)."""
    return f'<span class="when">{escape((moment or "-").replace("T", " ").rstrip("Z"))}</span>'


def _interval(bounds: list[float] | None) -> str:
    return "-" if bounds is None else f"{bounds[0]}-{bounds[1]}"


def _session_link(session: str, key_id: str | None, period: str | None) -> str:
    query = f"?key={quote(key_id)}" if key_id else ""
    return f"/console/sessions/{quote(session, safe='')}{query}"


def _request_link(request_id: str) -> str:
    return f'<a href="/console/requests/{quote(request_id, safe="")}">{escape(request_id)}</a>'
