"""Keep the gateway's own upstream keys out of every text it shows or stores (error messages, ledger rows).

The rule: no run of ``WINDOW`` (8) or more consecutive characters of a configured key survives, whether it
appears as it is (the whole key, its first 20 characters, its last 12) or base64-encoded (alone, or inside
``user:key`` as HTTP Basic auth carries it), at any alignment. Shorter fragments pass: four or five characters,
as providers themselves print (``sk-...wxyz``), identify a key without giving it away. A key shorter than the
window is matched whole.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

WINDOW = 8
REDACTED = "[redacted]"
# Runs that could be base64 (standard or URL-safe alphabet): the shortest that can hold WINDOW bytes is 11.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{11,}={0,2}")


class Redactor:
    """Built once from the configured keys; ``redact`` is pure and safe to call from any thread."""

    __slots__ = ("_byte_grams", "_grams", "_keys", "_width")

    def __init__(self, keys: Iterable[str | None]) -> None:
        self._keys = tuple(sorted({k for k in keys if k}, key=len, reverse=True))
        self._width = min([WINDOW, *(len(k) for k in self._keys)]) if self._keys else WINDOW
        self._grams = frozenset(k[i : i + self._width] for k in self._keys for i in range(len(k) - self._width + 1))
        self._byte_grams = frozenset(g.encode("utf-8", "surrogateescape") for g in self._grams)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def redact(self, text: str) -> str:
        if not self._keys or not text:
            return text
        text = _BASE64_RUN.sub(self._encoded, text) if len(text) >= 11 else text
        return self._plain(text)

    def _plain(self, text: str) -> str:
        w, grams = self._width, self._grams
        spans: list[list[int]] = []
        for i in range(len(text) - w + 1):
            if text[i : i + w] in grams:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = i + w
                else:
                    spans.append([i, i + w])
        if not spans:
            return text
        pieces, last = [], 0
        for start, end in spans:
            pieces += [text[last:start], REDACTED]
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def _encoded(self, match: re.Match[str]) -> str:
        run = match.group(0)
        for decoded in _decodings(run):
            if self._holds_key_bytes(decoded):
                return REDACTED
        return run

    def _holds_key_bytes(self, data: bytes) -> bool:
        w, grams = self._width, self._byte_grams
        return any(data[i : i + w] in grams for i in range(len(data) - w + 1))


def _decodings(run: str) -> Iterable[bytes]:
    """``run`` decoded as base64 from each of the four character offsets (a key need not start on a quantum)."""
    body = run.rstrip("=").replace("-", "+").replace("_", "/")
    for offset in range(4):
        chunk = body[offset:]
        chunk = chunk[: len(chunk) - len(chunk) % 4] if len(chunk) % 4 == 1 else chunk
        try:
            yield base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
