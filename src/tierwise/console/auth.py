"""Who may open the console: a holder of an admin key (``tierwise keys create NAME --admin``), sent as a bearer
token or entered once in the sign-in form, which keeps it in an HttpOnly cookie scoped to ``/console``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tierwise.keys.store import KeyStore, hash_key
from tierwise.ledger.database import Database

COOKIE = "tierwise_console"
Verdict = Literal["admin", "missing", "unknown", "revoked", "not admin"]
MESSAGES: dict[Verdict, str] = {
    "admin": "",
    "missing": "the console needs an admin key: create one with `tierwise keys create NAME --admin`",
    "unknown": "that is not a key of this gateway",
    "revoked": "that key has been revoked",
    "not admin": "that key is an API key; the console needs an admin key (`tierwise keys create NAME --admin`)",
}


@dataclass(frozen=True, slots=True)
class AdminKeys:
    """Checks a presented key against the ledger's keys table (either backend). Reads the database: call it off
    the event loop."""

    database: Database

    def check(self, key: str | None) -> Verdict:
        if not key:
            return "missing"
        digest = hash_key(key)
        for record in KeyStore(self.database).list():
            if record.key_sha256 == digest:
                if record.revoked:
                    return "revoked"
                return "admin" if record.admin else "not admin"
        return "unknown"


def presented_key(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The bearer token, else the x-api-key header, else the sign-in cookie."""
    scheme, _, token = (headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key") or cookies.get(COOKIE) or None
