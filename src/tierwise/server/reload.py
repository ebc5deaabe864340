"""SIGHUP: read the configuration file again and serve new requests with it, without dropping any in flight.

A request keeps the gateway it started with to its end; the next ones get the new one. What the new file
cannot change in a running process (the listening address, the ledger, the shared state, telemetry, evidence)
keeps its old value, and the reload says so. A file that does not load is refused with one line on stderr, and
the old configuration stays. Budgets and rate windows carry over (the same key state); sessions and circuit
breakers start afresh.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

from aiohttp import web

from tierwise.config.settings import Settings
from tierwise.errors import TierwiseError
from tierwise.server.chat import GATEWAY

_FIXED = ("server", "ledger_path", "ledger", "state", "telemetry", "evidence")  # bound at start-up


def on_sighup(app: web.Application) -> None:
    asyncio.get_running_loop().create_task(reload(app))


async def reload(app: web.Application) -> bool:
    """Whether the new configuration was taken."""
    old = app[GATEWAY]
    source = old.settings.source
    try:
        settings = await asyncio.get_running_loop().run_in_executor(None, _load, source)
        kept = [
            name
            for name in _FIXED
            if hasattr(settings, name) and getattr(settings, name) != getattr(old.settings, name)
        ]
        settings = replace(
            settings, **{name: getattr(old.settings, name) for name in _FIXED if hasattr(settings, name)}
        )
        new = old.reloaded(settings)
    except TierwiseError as err:
        why = " ".join(line.strip() for line in err.message.splitlines())  # one line, for log readers
        print(f"tierwise: reload refused, the old configuration stays: {why}", file=sys.stderr, flush=True)
        return False
    except Exception as exc:  # a bug of ours must not take the serving gateway down with it
        print(f"tierwise: reload failed, the old configuration stays: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    app[GATEWAY] = new  # requests already running hold the old one to their end
    await old.retire()
    note = f" ({', '.join(kept)} changed: restart to apply)" if kept else ""
    print(f"tierwise: configuration reloaded from {source}{note}", file=sys.stderr, flush=True)
    return True


def _load(source: str) -> Settings:
    from tierwise.config.loader import DEFAULT_CONFIG, load_settings

    return load_settings(None if source == DEFAULT_CONFIG else source)
