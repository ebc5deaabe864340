"""The ``tierwise`` command: serve, route, report, keys, and the routing-brain commands (eval, train, calibrate)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from tierwise.errors import TierwiseError

if TYPE_CHECKING:
    from tierwise.query.source import LedgerSource


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        code: int = args.handler(args)
    except TierwiseError as err:
        print(f"tierwise: {err.message}", file=sys.stderr)
        return 1
    except FileNotFoundError as err:
        print(f"tierwise: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tierwise", description=__doc__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="YAML config file (default: the shipped default config)")
    serve.add_argument("--host", help="address to listen on (default: from the config, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: from the config, 8787)")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="gateway processes on the one port (default: one per core with state.backend redis, else 1)",
    )
    serve.add_argument(
        "--require-keys",
        action="store_true",
        help="refuse to start unless the ledger holds gateway keys (as server.require_keys: true)",
    )
    serve.set_defaults(handler=_serve)

    route = commands.add_parser("route", help="show the routing decision for a prompt, calling nobody")
    route.add_argument("prompt", help="the user prompt")
    route.add_argument("--config", help="YAML config file")
    route.add_argument("--model", default="auto", help="auto, tier/NAME or a model alias (default: auto)")
    route.add_argument("--latency", help="as the x-tierwise-latency header, e.g. realtime")
    route.add_argument("--tier", help="as the x-tierwise-tier header")
    route.add_argument("--tools", action="store_true", help="the request offers tools")
    route.add_argument("--json", action="store_true", help="print JSON")
    route.set_defaults(handler=_route)

    report = commands.add_parser("report", help="requests, spend, savings and quality evidence from the ledger")
    report.add_argument("--config", help="YAML config file (to find the ledger, the models and their prices)")
    report.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    report.add_argument("--period", help="the last 24h, 7d, 4w, ... (default: all time)")
    report.add_argument("--since", help="from this UTC date or time (2026-12-01, 2026-12-01T08:00)")
    report.add_argument("--until", help="up to (not including) this UTC date or time")
    report.add_argument("--baseline", metavar="MODEL", help="count savings against this model alias")
    report.add_argument("--json", action="store_true", help="print JSON")
    report.add_argument("--html", metavar="FILE", help="also write a self-contained page with plots to FILE")
    report.add_argument("--sessions", action="store_true", help="agent sessions instead: tiers, switches, cost")
    report.add_argument("--session", help="one session, turn by turn (its id as the ledger shows it)")
    report.set_defaults(handler=_report)

    from tierwise.keys.commands import register as register_keys

    register_keys(commands)

    from tierwise.evidence.commands import register as register_evidence

    register_evidence(commands)

    try:
        from tierwise.brain.commands import register
    except ImportError:  # the routing brain is optional at run time
        pass
    else:
        register(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from tierwise.config.loader import load_settings
    from tierwise.server.app import serve
    from tierwise.server.workers import default_workers, serve_workers

    settings = load_settings(args.config)
    if args.require_keys:
        settings = replace(settings, server=replace(settings.server, require_keys=True))
    host, port = args.host or settings.server.host, args.port if args.port is not None else settings.server.port
    workers = default_workers(settings) if args.workers is None else args.workers
    if workers < 1:
        print("tierwise: --workers must be at least 1", file=sys.stderr)
        return 2
    if workers == 1:
        return serve(settings, host=host, port=port)
    if not settings.state.shared:
        print(
            f"tierwise: warning: {workers} workers with state.backend memory: each worker keeps its own budgets, "
            "rate limits, circuit breakers and sessions (use state.backend redis to share them)",
            file=sys.stderr,
        )
    return serve_workers(settings, host=host, port=port, workers=workers)


def _route(args: argparse.Namespace) -> int:
    from tierwise.config.loader import load_settings
    from tierwise.routing.features import route_input
    from tierwise.routing.policies import build_router
    from tierwise.types import ChatRequest, Message, TextPart, ToolSpec

    settings = load_settings(args.config)
    request = ChatRequest(
        model=args.model,
        messages=(Message(role="user", parts=(TextPart(text=args.prompt),)),),
        tools=(ToolSpec(name="tool"),) if args.tools else (),
    )
    headers = {k: v for k, v in (("x-tierwise-latency", args.latency), ("x-tierwise-tier", args.tier)) if v}
    features = route_input(request, headers)
    decision = build_router(settings).decide(features)
    model = settings.models[decision.model]
    result = {
        "model": decision.model,
        "upstream_model": model.upstream_id,
        "provider": model.provider.name,
        "tier": decision.tier,
        "policy": decision.policy,
        "reasons": list(decision.reasons),
        "fallbacks": list(decision.fallbacks),
        "score": decision.score,
        "estimated_tokens": features.estimated_tokens,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"model     {decision.model} ({model.provider.name}: {model.upstream_id})")
        print(f"tier      {decision.tier or '-'}   policy {decision.policy}")
        print(f"reason    {decision.reason}")
        print(f"fallbacks {', '.join(decision.fallbacks) or '-'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from tierwise.config.loader import load_settings
    from tierwise.query import QueryContext, build_report, format_report, ledger_location, open_source, parse_period

    settings = load_settings(args.config)
    location = args.ledger or ledger_location(settings)
    if args.sessions or args.session:
        return _report_sessions(open_source(location), args)
    context = QueryContext.from_settings(settings, baseline=args.baseline)
    period = parse_period(args.period, since=args.since, until=args.until)
    report = build_report(open_source(location), period, context)
    if args.html:
        from pathlib import Path

        from tierwise.console.page import report_page

        Path(args.html).write_text(report_page(report), encoding="utf-8")
        print(f"tierwise: wrote {args.html}", file=sys.stderr)
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0


def _report_sessions(source: LedgerSource, args: argparse.Namespace) -> int:
    from tierwise.query.agent_sessions import format_sessions, session_summaries

    summaries = session_summaries(source, session=args.session)
    if args.json:
        print(json.dumps([s.as_dict() for s in summaries], indent=2))
    else:
        print(format_sessions(summaries, detail=args.session is not None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
