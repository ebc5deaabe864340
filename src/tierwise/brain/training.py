"""Fitting routers: TF-IDF and embedding features, logistic and k-NN heads, regularisation by inner CV.

Training-only (scikit-learn); the results are plain ``ScoringRouter`` objects that ``artifact`` saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tierwise.brain.artifact import Embedder, ScoringRouter
from tierwise.brain.features import Tfidf, surface
from tierwise.brain.heads import KnnHead, LinearHead
from tierwise.brain.table import FloatArray

KNN_K_GRID = (10, 25, 50, 100)
KNN_MEMORY = 4000  # neighbours kept: bounds the artifact's size and the per-request scan
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


def fit_logistic(features: Any, labels: FloatArray, *, c: float) -> LinearHead:
    """Logistic regression on soft labels: each row counts as a positive with weight y, negative 1 - y."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    n = features.shape[0]
    stacked = sparse.vstack([features, features]) if sparse.issparse(features) else np.vstack([features] * 2)
    y = np.concatenate([np.ones(n), np.zeros(n)])
    weight = np.concatenate([labels, 1.0 - labels]) + 1e-9
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(stacked, y, sample_weight=weight)
    return LinearHead(weights=model.coef_[0].astype(np.float32), bias=float(model.intercept_[0]))


def choose_c(features: Any, labels: FloatArray, *, seed: int = 0) -> float:
    """The regularisation strength with the lowest 3-fold Brier score on the training data alone."""
    from sklearn.model_selection import KFold

    folds = list(KFold(3, shuffle=True, random_state=seed).split(np.arange(features.shape[0])))
    best, best_loss = C_GRID[0], np.inf
    for c in C_GRID:
        loss = 0.0
        for train, test in folds:
            head = fit_logistic(features[train], labels[train], c=c)
            loss += float(np.mean((_predict(head, features[test]) - labels[test]) ** 2))
        if loss < best_loss:
            best, best_loss = c, loss
    return best


def choose_k(keys: npt.NDArray[np.float32], labels: FloatArray) -> int:
    """The neighbour count with the lowest leave-one-out Brier score on the training data alone."""
    n = keys.shape[0]
    sample = np.arange(n) if n <= 3000 else np.random.default_rng(0).choice(n, 3000, replace=False)
    sims = keys[sample] @ keys.T
    sims[np.arange(len(sample)), sample] = -np.inf  # leave each prompt out of its own neighbours
    order = np.argsort(-sims, axis=1)[:, : max(KNN_K_GRID)]
    best, best_loss = KNN_K_GRID[0], np.inf
    for k in KNN_K_GRID:
        if k >= n:
            break
        top = order[:, :k]
        w = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0) + 1e-6
        pred = (w * labels[top]).sum(axis=1) / w.sum(axis=1)
        loss = float(np.mean((pred - labels[sample]) ** 2))
        if loss < best_loss:
            best, best_loss = k, loss
    return best


def tfidf_matrix(tfidf: Tfidf, texts: Sequence[str]) -> Any:
    from scipy import sparse

    indptr, indices, data = tfidf.rows(texts)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(texts), tfidf.dim))


def fit_tfidf_router(texts: Sequence[str], labels: FloatArray, *, c: float = 1.0) -> ScoringRouter:
    """The text baseline: TF-IDF word 1-2-grams and a logistic head."""
    tfidf = Tfidf.fit(texts)
    head = fit_logistic(tfidf_matrix(tfidf, texts), labels, c=c)
    return ScoringRouter(name="tfidf-lr", version="1", linear=head, knn=None, knn_weight=0.0, tfidf=tfidf)


def dense_features(embeddings: npt.NDArray[np.float32], texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """What the linear head of an embedding router sees: the embedding and the surface statistics."""
    return np.hstack([embeddings, np.stack([surface(t) for t in texts])]).astype(np.float32)


def fit_embedding_router(
    texts: Sequence[str],
    labels: FloatArray,
    *,
    embedder: Embedder,
    embeddings: npt.NDArray[np.float32] | None = None,
    heads: str = "knn+lr",
    knn_weight: float = 0.5,
    memory: int = KNN_MEMORY,
    seed: int = 0,
) -> ScoringRouter:
    """A router on static embeddings with a linear head, a k-NN head, or both (``heads``).

    The k-NN head keeps at most ``memory`` training prompts (a seeded uniform sample); the linear head
    learns from all of them.
    """
    emb = embedder.encode(list(texts)) if embeddings is None else embeddings
    linear = knn = None
    if "lr" in heads:
        feats = dense_features(emb, texts)
        linear = fit_logistic(feats, labels, c=choose_c(feats, labels))
    if "knn" in heads:
        kept = np.arange(len(labels))
        if len(kept) > memory:
            kept = np.sort(np.random.default_rng(seed).choice(len(kept), memory, replace=False))
        keys, kept_labels = emb[kept].astype(np.float32), labels[kept]
        knn = KnnHead(keys=keys, labels=kept_labels.astype(np.float32), k=choose_k(keys, kept_labels))
    weight = knn_weight if (linear is not None and knn is not None) else (1.0 if linear is None else 0.0)
    return ScoringRouter(
        name=f"embed-{heads}", version="1", linear=linear, knn=knn, knn_weight=weight, embedder=embedder
    )


def _predict(head: LinearHead, features: Any) -> FloatArray:
    return head.predict(features) if isinstance(features, np.ndarray) else _sparse_predict(head, features)


def _sparse_predict(head: LinearHead, features: Any) -> FloatArray:
    from tierwise.brain.heads import sigmoid

    return sigmoid(np.asarray(features @ head.weights).ravel() + head.bias)


def fit_irt(
    scores: FloatArray, *, steps: int = 2000, rate: float = 0.5, shrink: float = 1e-3
) -> tuple[FloatArray, FloatArray]:
    """A one-parameter item-response model of a score table: ``P(model m right on prompt p) = sigmoid(a_m - d_p)``.

    Returns the abilities ``a`` (one per model) and difficulties ``d`` (one per prompt), fitted by gradient
    ascent on the log-likelihood (scores in [0, 1] act as soft outcomes) with a small pull of ``d`` to 0.
    """
    n, k = scores.shape
    ability, difficulty = np.zeros(k), np.zeros(n)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(ability[None, :] - difficulty[:, None])))
        residual = scores - p
        ability += rate * residual.mean(axis=0)
        difficulty -= rate * residual.mean(axis=1) + shrink * difficulty
    return ability, difficulty


def fit_ridge(features: npt.NDArray[np.float32], target: FloatArray) -> tuple[FloatArray, float]:
    """Ridge regression with the penalty chosen by efficient leave-one-out on the training data."""
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=np.logspace(-2, 3, 12)).fit(features, target)
    return np.asarray(model.coef_, dtype=np.float64), float(model.intercept_)
