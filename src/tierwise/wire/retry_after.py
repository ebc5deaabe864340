"""How long an upstream asks us to wait: ``retry-after-ms``, then ``retry-after`` (seconds or an HTTP date).

Both APIs use the same headers, so both wire formats read them here.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; aiohttp's headers are not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait (never negative), or None when the upstream did not say or said nonsense."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = _header(headers, name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
