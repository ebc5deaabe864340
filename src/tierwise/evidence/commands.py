"""The evidence sub-commands: ``tierwise evidence export``, ``tierwise replay``, and the body of
``tierwise calibrate --from-evidence``."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tierwise.ledger.database import Database

if TYPE_CHECKING:
    from tierwise.config.settings import Settings
    from tierwise.evidence.store import EvidenceStore
    from tierwise.routing.decision import Router


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ev = subparsers.add_parser("evidence", help="the evidence captured from live traffic")
    ev_commands = ev.add_subparsers(title="evidence commands", metavar="COMMAND")
    ex = ev_commands.add_parser("export", help="write judged comparisons as an outcome table (shared format)")
    ex.add_argument("dir", help="folder to write prompts.jsonl, outcomes.csv, models.csv into")
    ex.add_argument("--config", help="YAML config (for the ledger and the model prices)")
    ex.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    ex.add_argument("--models", help="CHEAP,STRONG: the model pair to export (default: the most compared)")
    ex.set_defaults(handler=_export)
    sh = ev_commands.add_parser("show", help="judged relative quality by tier pair, shadow spend, routing changes")
    sh.add_argument("--config", help="YAML config (to find the ledger)")
    sh.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(handler=_show)

    rp = subparsers.add_parser("replay", help="re-decide captured requests under another config; estimate it")
    rp.add_argument("--config", required=True, help="the configuration to try")
    rp.add_argument("--current", help="the configuration in use (default: the shipped default)")
    rp.add_argument("--ledger", help="ledger file (default: the current config's ledger.path)")
    rp.add_argument("--json", action="store_true", help="print JSON")
    rp.set_defaults(handler=_replay)


def _export(args: argparse.Namespace) -> int:
    from tierwise.config.loader import load_settings
    from tierwise.evidence.export import export_table
    from tierwise.evidence.store import LedgerEvidenceStore

    settings = load_settings(args.config)
    store = LedgerEvidenceStore(args.ledger or Database.of(settings), read_only=True)
    try:
        pair = tuple(args.models.split(",", 1)) if args.models else None
        done = export_table(store, settings, args.dir, models=(pair[0], pair[1]) if pair else None)
    finally:
        store.close()
    print(f"wrote {done.prompts} judged requests of {done.models[0]} and {done.models[1]} to {done.folder}")
    if done.left_out:
        print(f"({done.left_out} comparisons of other model pairs left out; choose with --models)")
    return 0


def _show(args: argparse.Namespace) -> int:
    import time
    from dataclasses import asdict

    from tierwise.config.loader import load_settings
    from tierwise.evidence.query import quality_by_pair, routing_changes
    from tierwise.evidence.shadow import DAY_S
    from tierwise.evidence.store import LedgerEvidenceStore

    ledger = args.ledger or Database.of(load_settings(args.config))
    pairs = quality_by_pair(ledger)
    changes = routing_changes(ledger)
    store = LedgerEvidenceStore(ledger, read_only=True)
    try:
        samples = len(store.samples())
        spent = store.spend_since("shadow", (time.time() // DAY_S) * DAY_S)
    finally:
        store.close()
    if args.json:
        payload = {
            "ledger": _where(ledger),
            "samples": samples,
            "shadow_spend_today_usd": format(spent, "f"),
            "pairs": [asdict(p) for p in pairs],
            "routing_changes": [asdict(c) for c in changes],
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"ledger {_where(ledger)}: {samples} sampled requests; shadow spend today ${spent:.4f}")
    for p in pairs:
        interval = f" [{p.low:.3f}, {p.high:.3f}]" if p.low is not None and p.high is not None else ""
        ratio = f"{p.ratio:.3f}" if p.ratio is not None else "-"
        print(f"{p.cheap_tier} vs {p.strong_tier}: judged relative quality {ratio}{interval} (95%), n={p.n}")
    if not pairs:
        print("no judged comparisons yet")
    for c in changes[-10:]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.changed_at))
        print(f"{when}  {c.action:<8} {c.weak_tier}->{c.strong_tier} ({c.target}): {c.reason}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from tierwise.config.loader import default_config_text, load_settings
    from tierwise.evidence.replay import format_estimates, replay
    from tierwise.evidence.store import LedgerEvidenceStore

    current = load_settings(args.current)
    other = load_settings(args.config)
    ledger = args.ledger or Database.of(current)
    store = LedgerEvidenceStore(ledger, read_only=True)
    try:
        estimates = [
            replay(store, settings, _router(settings, store), label=label)
            for label, settings in (("current", current), ("other", other))
        ]
    finally:
        store.close()
    current_text = Path(args.current).read_text(encoding="utf-8") if args.current else default_config_text()
    other_text = Path(args.config).read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            current_text.splitlines(keepends=True),
            other_text.splitlines(keepends=True),
            fromfile=args.current or "<default>",
            tofile=args.config,
        )
    )
    if args.json:
        print(
            json.dumps(
                {"ledger": _where(ledger), "estimates": [e.as_dict() for e in estimates], "diff": diff}, indent=2
            )
        )
    else:
        print(f"ledger {_where(ledger)}: captured requests re-decided (routing only, no upstream calls)\n")
        print(format_estimates(estimates))
        print("\nconfig diff:\n" + (diff or "(no difference)"))
    return 0


def _router(settings: Settings, store: EvidenceStore) -> Router:
    """The configuration's router; with a routing.target, at the operating point the evidence last recorded."""
    from tierwise.evidence.loop import Loop
    from tierwise.routing.policies import build_router
    from tierwise.routing.tuning import Tuning

    if settings.routing.target is None:
        return build_router(replace(settings, routing=replace(settings.routing, sticky_sessions=False)))
    tuning = Tuning()
    Loop(settings, store, tuning).sync()
    return build_router(replace(settings, routing=replace(settings.routing, sticky_sessions=False)), tuning=tuning)


def calibrate_from_evidence(config: str, *, target_quality: float | None, max_cost: float | None) -> int:
    from tierwise.config.loader import load_settings
    from tierwise.config.settings import RoutingTarget
    from tierwise.evidence.loop import Loop
    from tierwise.evidence.store import LedgerEvidenceStore
    from tierwise.routing.tuning import Tuning

    settings = load_settings(config)
    target = settings.routing.target
    if target_quality is not None or max_cost is not None:
        target = RoutingTarget(quality=target_quality, cost=max_cost)
    if target is None:
        print("tierwise calibrate: no target: set routing.target in the config, or --target-quality / --max-cost")
        return 2
    settings = replace(settings, routing=replace(settings.routing, target=target))
    store = LedgerEvidenceStore(Database.of(settings))
    try:
        loop = Loop(settings, store, Tuning())
        change = loop.recalibrate()
        n = len(
            store.comparisons(
                cheap_tier=settings.routing.learned.weak_tier, strong_tier=settings.routing.learned.strong_tier
            )
        )
    finally:
        store.close()
    if change is None:
        current = loop.current
        need = settings.evidence.min_samples
        if n < need:
            print(f"not enough evidence yet: {n} judged comparisons, {need} needed; routing stays on the default tier")
        elif current is not None:
            print(f"no change: the current point (threshold {current.threshold}, {current.reason}) still holds")
        else:
            print("no change")
        return 0
    print(f"routing {change.action}: {change.reason}", file=sys.stdout)
    print("recorded in routing_changes; a running gateway adopts it at its next recalibration")
    return 0


def _where(ledger: str | Database) -> str:
    """For output: the file, or the database URL without its password."""
    return ledger.where if isinstance(ledger, Database) else str(ledger)
