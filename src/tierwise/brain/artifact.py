"""Router artifacts: a trained ``ScoringRouter`` saved as JSON plus ``.npz`` arrays, and loaded for serving.

An artifact is a directory holding ``router.json`` (format version, recipe, provenance, vocabulary) and
``arrays.npz`` (weights and neighbour memory). No pickle and no torch: loading is numpy, the static
embedder and ``json``. ``load_router()`` with no path loads the default router shipped in the package.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tierwise.brain.features import Tfidf, surface
from tierwise.brain.heads import KnnHead, LinearHead
from tierwise.errors import ConfigError

FORMAT_VERSION = 1
DEFAULT_ARTIFACT = Path(__file__).parent / "assets" / "default-router"


class ArtifactError(ConfigError, ValueError):
    """A router artifact is missing, malformed, or of a format version this code does not read."""


class Embedder(Protocol):
    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoringRouter:
    """Scores a prompt in [0, 1]: the estimated probability that it needs the stronger model.

    Features are either TF-IDF n-grams (linear head only) or a static sentence embedding followed by a few
    surface statistics (linear head, k-NN head over the embedding, or both blended by ``knn_weight``).
    """

    name: str  # the recipe, e.g. "embed-knn+lr"
    version: str  # the artifact's own version label, e.g. "1"
    linear: LinearHead | None
    knn: KnnHead | None
    knn_weight: float  # blend: (1 - w) * linear + w * knn
    tfidf: Tfidf | None = None
    embedder: Embedder | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A short phrase for the x-tierwise-reason header."""
        return f"learned {self.name} v{self.version}"

    def score(self, prompt: str) -> float:
        return float(self.score_many([prompt])[0])

    def score_many(self, prompts: Sequence[str]) -> npt.NDArray[np.float64]:
        linear, knn, _ = self._parts(prompts)
        w = self.knn_weight
        if linear is None:
            assert knn is not None
            return knn
        if knn is None:
            return linear
        return (1.0 - w) * linear + w * knn

    def explain(self, prompt: str) -> str:
        """Why this prompt scores as it does, in one line."""
        linear, knn, neighbours = self._parts([prompt])
        bits = []
        if linear is not None:
            bits.append(f"linear {linear[0]:.2f}")
        if knn is not None and neighbours is not None and self.knn is not None:
            needed = round(float(self.knn.labels[neighbours[0]].sum()))
            bits.append(f"{needed} of {len(neighbours[0])} similar prompts needed strong ({knn[0]:.2f})")
        return f"{self.describe()}: score {self.score(prompt):.2f} = " + ", ".join(bits)

    def score_embedded(self, prompt: str, embedding: npt.NDArray[np.float32]) -> float:
        """``score`` for a prompt whose embedding (a row of ``embedder.encode``) the caller already has."""
        linear, knn, _ = self._parts([prompt], embedding.reshape(1, -1))
        if linear is None:
            assert knn is not None
            return float(knn[0])
        if knn is None:
            return float(linear[0])
        return float((1.0 - self.knn_weight) * linear[0] + self.knn_weight * knn[0])

    def _parts(
        self, prompts: Sequence[str], embedded: npt.NDArray[np.float32] | None = None
    ) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64] | None, npt.NDArray[np.intp] | None]:
        if self.tfidf is not None:
            assert self.linear is not None
            linear_scores = np.array([self.linear.predict_sparse(*self.tfidf.sparse(p)) for p in prompts])
            return linear_scores, None, None
        assert self.embedder is not None
        emb = embedded if embedded is not None else self.embedder.encode(list(prompts)).astype(np.float32)
        linear = knn = neighbours = None
        if self.linear is not None:
            feats = np.hstack([emb, np.stack([surface(p) for p in prompts])])
            linear = self.linear.predict(feats)
        if self.knn is not None:
            knn, neighbours = self.knn.predict(emb)
        return linear, knn, neighbours


def save_router(router: ScoringRouter, directory: str | Path) -> Path:
    """Write ``router`` to ``directory`` (created if needed); returns the directory."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[Any]] = {}
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": router.name,
        "version": router.version,
        "knn_weight": router.knn_weight,
        "features": "tfidf" if router.tfidf is not None else "embedding+surface",
        "embedding_dim": router.embedder.dim if router.embedder is not None else None,
        "metadata": router.metadata,
    }
    if router.linear is not None:
        arrays["linear_weights"] = router.linear.weights.astype(np.float32)
        meta["linear_bias"] = router.linear.bias
    if router.knn is not None:
        arrays["knn_keys"] = router.knn.keys.astype(np.float16)
        arrays["knn_labels"] = router.knn.labels.astype(np.float32)
        meta["knn_k"] = router.knn.k
    if router.tfidf is not None:
        meta["tfidf_n_max"] = router.tfidf.n_max
        meta["tfidf_terms"] = sorted(router.tfidf.vocabulary, key=router.tfidf.vocabulary.__getitem__)
        arrays["tfidf_idf"] = router.tfidf.idf.astype(np.float32)
    (root / "router.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    np.savez_compressed(root / "arrays.npz", allow_pickle=False, **arrays)
    return root


def load_router(path: str | Path | None = None, *, embedder: Embedder | None = None) -> ScoringRouter:
    """Load a router artifact; ``None`` loads the default router shipped in the package.

    ``embedder`` overrides the packaged static embedder (tests, or a router trained on another one).
    """
    root = DEFAULT_ARTIFACT if path is None else Path(path)
    try:
        meta = json.loads((root / "router.json").read_text(encoding="utf-8"))
        arrays = dict(np.load(root / "arrays.npz", allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read router artifact at {root}: {exc}") from None
    found = meta.get("format_version")
    if found != FORMAT_VERSION:
        raise ArtifactError(
            f"router artifact at {root} has format version {found!r}; this tierwise reads version "
            f"{FORMAT_VERSION}: retrain it with `tierwise train`"
        )
    linear = knn = tfidf = None
    if "linear_weights" in arrays:
        linear = LinearHead(weights=arrays["linear_weights"], bias=float(meta["linear_bias"]))
    if "knn_keys" in arrays:
        knn = KnnHead(keys=arrays["knn_keys"].astype(np.float32), labels=arrays["knn_labels"], k=int(meta["knn_k"]))
    if meta["features"] == "tfidf":
        terms = meta["tfidf_terms"]
        tfidf = Tfidf(
            vocabulary={t: i for i, t in enumerate(terms)},
            idf=arrays["tfidf_idf"],
            n_max=int(meta["tfidf_n_max"]),
        )
    else:
        if embedder is None:
            from tierwise.brain.embedding import StaticEmbedder

            embedder = StaticEmbedder.load()
        expected = arrays["knn_keys"].shape[1] if knn is not None else int(meta.get("embedding_dim", 0))
        if expected and embedder.dim != expected:
            raise ArtifactError(
                f"router artifact at {root} was trained on {expected}-dimensional embeddings, but the static "
                f"embedder gives {embedder.dim}: retrain it with `tierwise train`"
            )
    return ScoringRouter(
        name=str(meta["name"]),
        version=str(meta["version"]),
        linear=linear,
        knn=knn,
        knn_weight=float(meta["knn_weight"]),
        tfidf=tfidf,
        embedder=None if tfidf is not None else embedder,
        metadata=dict(meta.get("metadata", {})),
    )
