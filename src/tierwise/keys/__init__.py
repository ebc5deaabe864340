"""Gateway keys: virtual keys with allowed tiers, per-minute rate limits and USD budgets, kept (hashed) in the
ledger's SQLite file and checked by ``KeyGuard`` on every request."""

from tierwise.keys.guard import KEY_REFRESH_S, KeyGrant, KeyGuard
from tierwise.keys.store import KeyLimits, KeyRecord, KeyStore, NewKey, has_keys

__all__ = ["KEY_REFRESH_S", "KeyGrant", "KeyGuard", "KeyLimits", "KeyRecord", "KeyStore", "NewKey", "has_keys"]
