"""``tierwise keys create|list|revoke``: manage gateway keys in the ledger file of the config (``ledger.path``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tierwise.keys.guard import KEY_REFRESH_S
from tierwise.keys.limits import Periods
from tierwise.keys.spend import KeySpend, spend_by_key
from tierwise.keys.store import KeyLimits, KeyRecord, KeyStore
from tierwise.routing.decision import TIERS, Tier


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``keys`` (with ``create``, ``list`` and ``revoke``) to the ``tierwise`` command."""
    keys = subparsers.add_parser("keys", help="create, list and revoke gateway keys")
    actions = keys.add_subparsers(title="actions", metavar="ACTION")

    create = actions.add_parser("create", help="create a key; prints it once, on stdout")
    create.add_argument("name", help="who or what the key is for")
    create.add_argument("--daily-budget", type=_usd, metavar="USD", help="spend limit per UTC day")
    create.add_argument("--monthly-budget", type=_usd, metavar="USD", help="spend limit per UTC calendar month")
    create.add_argument("--rpm", type=int, metavar="N", help="requests per minute")
    create.add_argument("--tpm", type=int, metavar="N", help="tokens (input + output) per minute")
    create.add_argument(
        "--tiers", type=_tiers, metavar="LIST", help=f"allowed tiers, comma-separated: {','.join(TIERS)}"
    )
    create.add_argument(
        "--admin", action="store_true", help="a key for the console (/console), read-only; not accepted on the API"
    )
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="keys with their limits and spend (never the keys themselves)")
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser("revoke", help=f"revoke a key (a running gateway refuses it within {KEY_REFRESH_S:g}s)")
    revoke.add_argument("key_id", help="the key's id, as `tierwise keys list` shows it (tw-xxxxxxxx)")
    revoke.set_defaults(handler=_revoke)

    for action in (create, listing, revoke):
        action.add_argument("--config", help="YAML config file (to find the ledger file)")
        action.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
        action.add_argument("--json", action="store_true", help="print JSON")
    keys.set_defaults(handler=lambda args: _usage(keys))


def _store(args: argparse.Namespace) -> KeyStore:
    if args.ledger:
        return KeyStore(args.ledger)
    from tierwise.config.loader import load_settings
    from tierwise.ledger.database import Database

    return KeyStore(Database.of(load_settings(args.config)))


def _create(args: argparse.Namespace) -> int:
    store = _store(args)
    first = not any(not record.admin for record in store.list())
    limits = KeyLimits(
        daily_budget=args.daily_budget,
        monthly_budget=args.monthly_budget,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        tiers=args.tiers,
    )
    new = store.create(args.name, limits, admin=args.admin)
    if args.json:
        print(json.dumps({"key": new.key, **_describe(new.record, None)}, indent=2))
    else:
        print(new.key)
    note = sys.stderr
    print(f"tierwise: created gateway key {new.record.key_id} ({new.record.name}) in {store.path}", file=note)
    print("tierwise: the key is shown this once; only its SHA-256 is kept", file=note)
    if args.admin:
        print(
            "tierwise: an admin key: sign in at http://HOST:PORT/console with it (the API does not accept it)",
            file=note,
        )
    elif first:
        print("tierwise: the first key: restart a running gateway so that it begins to require keys", file=note)
    return 0


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    records = store.list()
    spend = spend_by_key(store.database, Periods.at(time.time()))
    if args.json:
        print(json.dumps([_describe(r, spend.get(r.key_id)) for r in records], indent=2))
        return 0
    if not records:
        print(f"no gateway keys in {store.path}: the gateway lets every request in")
        return 0
    print(
        f"{'id':<12} {'name':<20} {'status':<8} {'created':<11} {'tiers':<24} {'rpm':>6} {'tpm':>8}  today $ / month $"
    )
    for r in records:
        d = _describe(r, spend.get(r.key_id))
        day = f"{d['spent_today_usd']}/{d['daily_budget_usd'] or '-'}"
        month = f"{d['spent_this_month_usd']}/{d['monthly_budget_usd'] or '-'}"
        status = d["status"] + (" admin" if r.admin else "")
        print(
            f"{r.key_id:<12} {r.name[:20]:<20} {status:<8} {d['created'][:10]:<11} "
            f"{','.join(d['tiers'] or ['all']):<24} {d['rpm'] or '-':>6} {d['tpm'] or '-':>8}  {day}  {month}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    record = _store(args).revoke(args.key_id)
    if args.json:
        print(json.dumps(_describe(record, None), indent=2))
    else:
        print(f"revoked {record.key_id} ({record.name}); a running gateway refuses it within {KEY_REFRESH_S:g}s")
    return 0


def _describe(r: KeyRecord, spend: KeySpend | None) -> dict[str, Any]:
    lim = r.limits
    return {
        "key_id": r.key_id,
        "name": r.name,
        "status": "revoked" if r.revoked else "active",
        "admin": r.admin,
        "created": _iso(r.created_at),
        "revoked": _iso(r.revoked_at) if r.revoked_at is not None else None,
        "tiers": None if lim.tiers is None else [t for t in TIERS if t in lim.tiers],
        "rpm": lim.requests_per_minute,
        "tpm": lim.tokens_per_minute,
        "daily_budget_usd": None if lim.daily_budget is None else str(lim.daily_budget),
        "monthly_budget_usd": None if lim.monthly_budget is None else str(lim.monthly_budget),
        "spent_today_usd": _money(spend.today if spend else Decimal(0)),
        "spent_this_month_usd": _money(spend.this_month if spend else Decimal(0)),
    }


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _usd(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"a budget must be a positive amount, not {text!r}")
    return value


def _tiers(text: str) -> frozenset[Tier]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in TIERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected tiers among {', '.join(TIERS)}, not {text!r}")
    return frozenset(t for t in TIERS if t in names)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.000001")), "f")
