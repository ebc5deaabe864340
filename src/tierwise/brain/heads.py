"""Scoring heads over prompt features: a linear (logistic) head and a k-nearest-neighbour head.

numpy only; trained offline (``tierwise.brain.training``) and evaluated on the serving path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def sigmoid(z: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=np.float64), -30.0, 30.0)))


@dataclass(frozen=True, slots=True, kw_only=True)
class LinearHead:
    """``sigmoid(x . weights + bias)``: a logistic model's probability that the prompt needs strong."""

    weights: F32  # (dim,)
    bias: float

    def predict(self, features: F32) -> npt.NDArray[np.float64]:
        """Probabilities for dense rows ``(n, dim)``."""
        return sigmoid(features @ self.weights + self.bias)

    def predict_sparse(self, cols: npt.NDArray[np.intp], values: F32) -> float:
        """The probability for one sparse row."""
        return float(sigmoid(np.array([values @ self.weights[cols] + self.bias]))[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class KnnHead:
    """Similarity-weighted mean label of the ``k`` most cosine-similar training prompts."""

    keys: F32  # (n_train, dim), rows L2-normalised
    labels: F32  # (n_train,), in [0, 1]
    k: int

    def predict(self, features: F32) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Scores for rows ``(n, dim)`` of L2-normalised queries, and each query's neighbour indices."""
        sims = (self.keys @ features.astype(np.float32).T).T
        k = min(self.k, self.keys.shape[0])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1).astype(np.float64)
        weights = np.maximum(top_sims, 0.0) + 1e-6
        scores = (weights * self.labels[top]).sum(axis=1) / weights.sum(axis=1)
        return scores, top
