"""A ledger holding a known mix of traffic, written by the real ledger writer into a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.ledger.store import Ledger
from tierwise.types import Usage

SETTINGS = parse_settings(default_config_text(), source="default", environ={})
T0 = 1_790_000_000.0  # 2026-09-21, a Monday


def entry(request_id: str, offset: float, **fields: object) -> LedgerEntry:
    values: dict[str, object] = {
        "request_id": request_id,
        "started_at": T0 + offset,
        "api": "openai",
        "requested_model": "auto",
        "policy": "rules",
        "model": "claude-sonnet-4-6",
        "tier": "default",
        "reasons": "no rule matched: default tier",
        "status": 200,
        "usage": Usage(input_tokens=1000, output_tokens=200),
    }
    values.update(fields)
    model = values["model"]
    if "attempts" not in values and values["status"] == 200:
        values["attempts"] = [Attempt(model=str(model), status=200, latency_ms=10.0)]
    return LedgerEntry(**values)  # type: ignore[arg-type]


KNOWN = (
    entry("r-speed", 0, model="claude-haiku-4-5", tier="speed", reasons="rule 'short': <= 200 tokens"),
    entry("r-default", 60, usage=Usage(input_tokens=3000, output_tokens=500)),
    entry("r-explicit", 120, requested_model="tier/escalation", model="claude-opus-4-7", tier="escalation",
          reasons="tier escalation requested"),
    entry("r-header-tier", 180, model="claude-haiku-4-5", tier="speed", reasons="tier speed requested"),
    entry("r-direct", 240, requested_model="gpt-5.1", policy="direct", model="gpt-5.1",
          reasons="model named by the client"),
    entry("r-fallback", 300, model="gpt-5.1", attempts=[
        Attempt(model="claude-sonnet-4-6", status=503, error="overloaded", latency_ms=5.0),
        Attempt(model="gpt-5.1", status=200, latency_ms=9.0),
    ]),
    entry("r-refused", 360, policy="rules", model=None, tier="default", status=429, key_id="tw-00000001",
          error="gateway key tw-00000001 is over its limit of 1 requests per minute; retry in 60s",
          usage=Usage()),
    entry("r-failed", 420, status=502, error="upstream failed", usage=Usage(),
          attempts=[Attempt(model="claude-sonnet-4-6", status=500, error="boom", latency_ms=3.0)]),
    entry("r-s1-a", 3600, session="s1", key_id="tw-00000001"),
    entry("r-s1-b", 3660, session="s1", key_id="tw-00000001", model="claude-opus-4-7", tier="escalation",
          reasons="rule 'long'; session moved up from default to escalation"),
    entry("r-s1-c", 3720, session="s1", key_id="tw-00000001", model="claude-opus-4-7", tier="escalation",
          reasons="session stays on escalation (would have been default: no rule matched: default tier)",
          policy="sticky"),
)  # fmt: skip
ROUTED = ("r-speed", "r-default", "r-s1-a", "r-s1-b", "r-s1-c")


def write_known_ledger(path: Path) -> Path:
    ledger = Ledger(path, models=SETTINGS.models, baseline="claude-opus-4-7")
    for item in KNOWN:
        ledger.record(item)
    ledger.close()
    return path
