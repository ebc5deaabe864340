"""Static sentence embeddings for routing: a distilled MiniLM token table, pooled with numpy alone.

The table and tokenizer are built by scripts/distill_embeddings.py (model2vec); encoding here reproduces
model2vec's StaticModel.encode (no special tokens, unknown tokens dropped, mean of rows, L2 norm), except
that long prompts keep only their first and last tokens so that encoding stays fast at any length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

ARTIFACT_DIR: Final = Path(__file__).resolve().parent / "assets" / "minilm-static"

# Tokens kept from a long prompt, half from its start and half from its end: the task statement tends to
# open a prompt and the actual question to close it. Tokenising costs about 3 µs a token, so this bounds
# encode at well under 2 ms whatever the prompt's length.
DEFAULT_MAX_TOKENS: Final = 256

# Characters read per wanted token before tokenising one end of a long prompt; WordPiece averages about
# 4.3 characters a token on English prose and code, and a window that comes up short is doubled.
_CHARS_PER_TOKEN: Final = 5
_WHITESPACE = re.compile(r"\s")


class StaticEmbedder:
    """Maps texts to unit vectors by averaging the rows of a static token-embedding table."""

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        table: npt.NDArray[np.float32],
        max_tokens: int | None,
    ) -> None:
        vocab = tokenizer.get_vocab_size()
        if table.ndim != 2 or table.shape[0] != vocab:
            raise ValueError(f"table shape {table.shape} does not fit a vocabulary of {vocab}")
        if max_tokens is not None and max_tokens < 2:
            raise ValueError("max_tokens must be at least 2 (one from each end), or None for no limit")
        # Truncation is ours (head and tail); the tokenizer must hand back every token of what it is given.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._table = table
        self._max_tokens = max_tokens
        unk = getattr(tokenizer.model, "unk_token", None)
        self._unk_id: int | None = tokenizer.token_to_id(unk) if isinstance(unk, str) else None

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
    ) -> StaticEmbedder:
        """Load tokenizer.json and embeddings.npy from `path`; None loads the packaged artifact."""
        folder = ARTIFACT_DIR if path is None else Path(path)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        table = np.load(folder / "embeddings.npy", allow_pickle=False).astype(np.float32)
        return cls(tokenizer=tokenizer, table=table, max_tokens=max_tokens)

    @property
    def dim(self) -> int:
        return int(self._table.shape[1])

    @property
    def max_tokens(self) -> int | None:
        return self._max_tokens

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised float32 row per text; a text with no known token maps to the zero vector."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = self.token_ids(text)
            if ids.size:
                out[i] = self._table[ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def token_ids(self, text: str) -> npt.NDArray[np.int64]:
        """The ids `encode` averages for `text`: known tokens only, and past max_tokens its head and tail."""
        limit = self._max_tokens
        if limit is None:
            return self._tokenize(text)
        head, tail = _split(limit)
        if len(text) > limit * _CHARS_PER_TOKEN:
            # Long text: tokenise only a window at each end (tokenising is most of encode's cost).
            head_ids, tail_ids = self._head_ids(text, head), self._tail_ids(text, tail)
            if head_ids is not None and tail_ids is not None:
                return np.concatenate([head_ids, tail_ids])
        ids = self._tokenize(text)
        return ids if ids.size <= limit else np.concatenate([ids[:head], ids[ids.size - tail :]])

    def _tokenize(self, text: str) -> npt.NDArray[np.int64]:
        ids = np.asarray(self._tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)
        return ids[ids != self._unk_id] if self._unk_id is not None else ids

    # Both ends cut at whitespace, where WordPiece never joins tokens, so the ids are exactly those the
    # whole text would give there; a window that holds too few tokens doubles, up to half the text, beyond
    # which the two ends could overlap and the caller tokenises the whole text instead.

    def _head_ids(self, text: str, n: int) -> npt.NDArray[np.int64] | None:
        window = n * _CHARS_PER_TOKEN
        while window <= len(text) // 2:
            ids = self._tokenize(text[: _last_whitespace(text, window)])
            if ids.size >= n:
                return ids[:n]
            window *= 2
        return None

    def _tail_ids(self, text: str, n: int) -> npt.NDArray[np.int64] | None:
        window = n * _CHARS_PER_TOKEN
        while window <= len(text) // 2:
            ids = self._tokenize(text[_first_whitespace(text, len(text) - window) :])
            if ids.size >= n:
                return ids[ids.size - n :]
            window *= 2
        return None


def _split(limit: int) -> tuple[int, int]:
    head = limit // 2
    return head, limit - head


def _last_whitespace(text: str, end: int) -> int:
    """The index of the last whitespace before `end`, or `end` itself when the window has none."""
    for i in range(end - 1, max(end - 200, 0) - 1, -1):
        if text[i].isspace():
            return i
    return end


def _first_whitespace(text: str, start: int) -> int:
    """The index of the first whitespace at or after `start`, or `start` itself when there is none nearby."""
    match = _WHITESPACE.search(text, start, min(start + 200, len(text)))
    return match.start() if match else start


def artifact_meta(path: str | Path | None = None) -> dict[str, object]:
    """The meta.json written beside the table: source model, dims, dtype, versions, date."""
    folder = ARTIFACT_DIR if path is None else Path(path)
    meta: dict[str, object] = json.loads((folder / "meta.json").read_text())
    return meta
