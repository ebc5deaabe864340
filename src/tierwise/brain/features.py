"""Prompt features that a router scores: TF-IDF word n-grams and a few surface statistics.

numpy only, so the same code computes features offline and on the serving path. Dense sentence embeddings
come from ``tierwise.brain.embedding``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"(?u)\b\w\w+\b")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of two characters or more (scikit-learn's default token pattern)."""
    return _WORD.findall(text.lower())


def ngrams(text: str, n_max: int) -> list[str]:
    """Word n-grams from 1 to ``n_max``, joined by single spaces."""
    tokens = words(text)
    grams = list(tokens)
    for n in range(2, n_max + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


@dataclass(frozen=True, slots=True, kw_only=True)
class Tfidf:
    """A fitted TF-IDF vocabulary: sublinear term frequency, smoothed idf, L2-normalised rows."""

    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float32]
    n_max: int = 2

    @property
    def dim(self) -> int:
        return len(self.vocabulary)

    @classmethod
    def fit(cls, texts: Sequence[str], *, n_max: int = 2, min_df: int = 2, max_terms: int = 50_000) -> Tfidf:
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(ngrams(text, n_max)))
        kept = [(term, count) for term, count in df.items() if count >= min_df]
        kept.sort(key=lambda tc: (-tc[1], tc[0]))
        kept = sorted(kept[:max_terms])
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + count)) + 1.0 for _, count in kept], dtype=np.float32)
        return cls(vocabulary={term: i for i, (term, _) in enumerate(kept)}, idf=idf, n_max=n_max)

    def sparse(self, text: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """The non-zero columns and values of one prompt's row."""
        counts: Counter[int] = Counter()
        vocab = self.vocabulary
        for gram in ngrams(text, self.n_max):
            col = vocab.get(gram)
            if col is not None:
                counts[col] += 1
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        cols = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = ((1.0 + np.log(tf)) * self.idf[cols]).astype(np.float32)
        values /= np.linalg.norm(values)
        return cols, values

    def rows(self, texts: Iterable[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """CSR arrays (indptr, indices, data) of many prompts, for building a sparse matrix offline."""
        indptr, indices, data = [0], [], []
        for text in texts:
            cols, values = self.sparse(text)
            indices.append(cols)
            data.append(values)
            indptr.append(indptr[-1] + len(cols))
        return (
            np.array(indptr, dtype=np.intp),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.intp),
            np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
        )


SURFACE_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_lines",
    "digit_share",
    "math_share",
    "code_share",
    "upper_share",
    "question_marks",
    "option_lines",
)
_OPTION = re.compile(r"(?m)^\s*\(?[A-J][).:]\s")


def _char_classes() -> npt.NDArray[np.int8]:
    """ASCII code point -> class: 0 other, 1 digit, 2 maths symbol, 3 code symbol, 4 upper-case letter."""
    classes = np.zeros(128, dtype=np.int8)
    for chars, cls in (("0123456789", 1), ("$\\^_{}=+*/<>|", 2), ("()[]:;'\"#", 3)):
        classes[[ord(c) for c in chars]] = cls
    classes[ord("A") : ord("Z") + 1] = 4
    return classes


_CLASSES = _char_classes()


SURFACE_WINDOW = 1500  # characters read from each end of a long prompt: bounds the cost per request


def surface(text: str) -> npt.NDArray[np.float32]:
    """Cheap statistics of a prompt's shape (length, digits, maths and code symbols, answer options).

    Shares are read from the first and last ``SURFACE_WINDOW`` characters, so long prompts cost no more.
    """
    length = len(text)
    if length > 2 * SURFACE_WINDOW:
        text = text[:SURFACE_WINDOW] + "\n" + text[-SURFACE_WINDOW:]
    n = max(len(text), 1)
    codes = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)
    counts = np.bincount(_CLASSES[codes & 0x7F], minlength=5)
    return np.array(
        [
            math.log1p(length) / 10.0,
            math.log1p(text.count("\n")) / 5.0,
            counts[1] / n,
            counts[2] / n,
            counts[3] / n,
            counts[4] / n,
            min(text.count("?"), 5) / 5.0,
            min(len(_OPTION.findall(text)), 10) / 10.0,
        ],
        dtype=np.float32,
    )
