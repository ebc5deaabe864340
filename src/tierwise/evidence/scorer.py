"""A prompt scorer that starts as the shipped router and moves to the user's judged evidence as it grows.

score = w * (the prior's percentile among the evidence prompts) + (1 - w) * (the k nearest judged prompts'
mean gain of the stronger tier, mapped to [0, 1]); w = PRIOR_WEIGHT / (PRIOR_WEIGHT + n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tierwise.brain.artifact import ScoringRouter
from tierwise.brain.heads import KnnHead

PRIOR_WEIGHT = 50.0  # evidence comparisons worth as much as the shipped router
K = 20
MAX_MEMORY = 3000  # the most recent comparisons kept in the k-NN memory

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceScorer:
    prior: ScoringRouter
    knn: KnnHead
    prior_sorted: F64  # the prior's scores of the evidence prompts, ascending
    prior_weight: float

    @property
    def n(self) -> int:
        return int(self.knn.labels.shape[0])

    def describe(self) -> str:
        return f"evidence k-NN (n={self.n}, prior weight {self.prior_weight:.2f})"

    def score(self, prompt: str) -> float:
        assert self.prior.embedder is not None
        emb = self.prior.embedder.encode([prompt]).astype(np.float32)  # once, for both heads
        prior = self.prior.score_embedded(prompt, emb[0])
        knn, _ = self.knn.predict(emb)
        percentile = float(np.searchsorted(self.prior_sorted, prior, side="right")) / max(1, len(self.prior_sorted))
        return self.prior_weight * percentile + (1.0 - self.prior_weight) * float(knn[0])


def gain_labels(cheap: Sequence[float], strong: Sequence[float]) -> F32:
    """The stronger tier's judged gain, mapped from [-1, 1] to [0, 1]."""
    return ((np.asarray(strong, dtype=np.float64) - np.asarray(cheap, dtype=np.float64) + 1.0) / 2.0).astype(np.float32)


def fit_scorer(
    prior: ScoringRouter, prompts: Sequence[str], cheap: Sequence[float], strong: Sequence[float]
) -> tuple[EvidenceScorer, F64]:
    """The scorer learned from judged comparisons, and each comparison's leave-one-out score (for picking a
    threshold without grading the scorer on its own memory)."""
    assert prior.embedder is not None
    prompts, cheap, strong = list(prompts)[-MAX_MEMORY:], list(cheap)[-MAX_MEMORY:], list(strong)[-MAX_MEMORY:]
    n = len(prompts)
    keys = prior.embedder.encode(prompts).astype(np.float32)
    labels = gain_labels(cheap, strong)
    priors = prior.score_many(prompts)
    weight = PRIOR_WEIGHT / (PRIOR_WEIGHT + n)
    k = min(K, max(1, n - 1))
    scorer = EvidenceScorer(
        prior=prior, knn=KnnHead(keys=keys, labels=labels, k=k), prior_sorted=np.sort(priors), prior_weight=weight
    )
    return scorer, _leave_one_out(keys, labels, priors, k, weight)


def _leave_one_out(keys: F32, labels: F32, priors: F64, k: int, weight: float) -> F64:
    n = len(labels)
    if n < 2:
        return np.full(n, 0.5)
    sims = keys @ keys.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, axis=1).astype(np.float64)
    weights = np.maximum(top_sims, 0.0) + 1e-6
    knn = (weights * labels[top]).sum(axis=1) / weights.sum(axis=1)
    ranks = np.argsort(np.argsort(priors, kind="stable"), kind="stable")
    percentile = (ranks + 1.0) / n
    result: F64 = weight * percentile + (1.0 - weight) * knn
    return result
