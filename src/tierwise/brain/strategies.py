"""Offline routing strategies: references, learned routers and the multi-model predictors.

Every strategy answers one question the same way: given training tables and a test table, how eager is it
to escalate each test prompt from the weak to the strong model (a score, higher = sooner), what does it pay
whatever it decides (the cascade's second cheap answer), and why (one explained example).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tierwise.brain.artifact import Embedder, ScoringRouter
from tierwise.brain.labels import Pair, needs_strong, pair_present, tier_split
from tierwise.brain.table import FloatArray, OutcomeTable


class EmbeddingCache:
    """Encodes each distinct prompt once per run, whichever strategy and fold asks."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for start in range(0, len(missing), 512):
            batch = missing[start : start + 512]
            for text, vector in zip(batch, self.embedder.encode(batch), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One train/test split for one model pair."""

    train: tuple[OutcomeTable, ...]
    test: OutcomeTable
    pair: Pair
    embeddings: EmbeddingCache | None = None

    @property
    def train_texts(self) -> list[str]:
        return [t for table in self.train for t in table.texts]

    def train_labels(self) -> FloatArray:
        return np.concatenate([needs_strong(table, self.pair) for table in self.train])


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcomes:
    """What each prompt gets under one branch of a decision: quality, cost, and calls to the strong model."""

    quality: FloatArray
    cost: FloatArray
    strong_calls: FloatArray  # 0 or 1 per prompt


def weak_outcomes(table: OutcomeTable, pair: Pair) -> Outcomes:
    j = table.model_index(pair.weak)
    return Outcomes(quality=table.scores[:, j], cost=table.costs[:, j], strong_calls=np.zeros(len(table)))


def strong_outcomes(table: OutcomeTable, pair: Pair) -> Outcomes:
    j = table.model_index(pair.strong)
    return Outcomes(quality=table.scores[:, j], cost=table.costs[:, j], strong_calls=np.ones(len(table)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """A strategy's verdict on a test table: the order of escalation, and what each branch yields.

    A plain router keeps a prompt on the weak model or sends it to the strong one (``kept`` and
    ``escalated`` default to those); a cascade's branches carry its checks and its own escalations.
    """

    scores: FloatArray  # escalate in descending order
    kept: Outcomes | None = None
    escalated: Outcomes | None = None
    example: str = ""  # why the first test prompt scored as it did
    details: dict[str, str] = field(default_factory=dict)


class Strategy(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str:  # "reference" | "baseline" | "learned" | "cascade"
        ...

    def route(self, task: Task) -> Routing: ...


@dataclass(frozen=True, slots=True)
class RandomMix:
    """Escalates a random share of calls: every prompt scores alike (expected curve, exact APGR 0.5)."""

    name: str = "random"
    kind: str = "reference"

    def route(self, task: Task) -> Routing:
        return Routing(scores=np.zeros(len(task.test)), example="random: no prompt is preferred")


@dataclass(frozen=True, slots=True)
class Oracle:
    """Knows the outcomes: escalates exactly the prompts where strong beats weak (the cheapest best model)."""

    name: str = "oracle"
    kind: str = "reference"

    def route(self, task: Task) -> Routing:
        t = task.test
        gain = t.scores[:, t.model_index(task.pair.strong)] - t.scores[:, t.model_index(task.pair.weak)]
        return Routing(scores=gain, example=f"oracle: strong gains {gain[0]:+.2f} on the first prompt")


def _router_routing(router: ScoringRouter, task: Task) -> Routing:
    texts = task.test.texts
    return Routing(scores=router.score_many(texts), example=router.explain(texts[0]))


@dataclass(frozen=True, slots=True)
class TfidfLogistic:
    """Baseline: TF-IDF word 1-2-grams and logistic regression (C = 1)."""

    name: str = "tfidf-lr"
    kind: str = "baseline"

    def route(self, task: Task) -> Routing:
        from tierwise.brain.training import fit_tfidf_router

        return _router_routing(fit_tfidf_router(task.train_texts, task.train_labels()), task)


@dataclass(frozen=True, slots=True)
class TfidfKnn:
    """Baseline: the mean label of the 25 most cosine-similar training prompts under TF-IDF."""

    name: str = "tfidf-knn"
    kind: str = "baseline"
    k: int = 25

    def route(self, task: Task) -> Routing:
        from tierwise.brain.features import Tfidf
        from tierwise.brain.training import tfidf_matrix

        texts = task.train_texts
        labels = task.train_labels()
        tfidf = Tfidf.fit(texts)
        train, test = tfidf_matrix(tfidf, texts), tfidf_matrix(tfidf, task.test.texts)
        scores = np.empty(len(task.test))
        k = min(self.k, len(texts))
        for start in range(0, len(task.test), 1024):
            sims = (test[start : start + 1024] @ train.T).toarray()
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            scores[start : start + 1024] = labels[top].mean(axis=1)
        return Routing(scores=scores, example=f"tfidf-knn: {scores[0]:.2f} of {k} neighbours needed strong")


@dataclass(frozen=True, slots=True)
class EmbeddingRouter:
    """Static sentence embeddings with a k-NN head, a logistic head (plus surface features), or both."""

    heads: str = "knn+lr"  # "knn", "lr" or "knn+lr"
    kind: str = "learned"

    @property
    def name(self) -> str:
        return f"embed-{self.heads}"

    def fit(self, task: Task) -> ScoringRouter:
        from tierwise.brain.training import fit_embedding_router

        assert task.embeddings is not None, "embedding strategies need an embedder"
        texts = task.train_texts
        return fit_embedding_router(
            texts,
            task.train_labels(),
            embedder=task.embeddings,
            embeddings=task.embeddings.encode(texts),
            heads=self.heads,
        )

    def route(self, task: Task) -> Routing:
        return _router_routing(self.fit(task), task)


@dataclass(frozen=True, slots=True)
class MultiModel:
    """Predicts every training model's score on the prompt, one logistic head per model.

    For the named pair it escalates by predicted gain ``p(strong) - p(weak)``; when the pair is not in the
    training tables, by the predicted gain of the premium half of the models over the cheap half.
    """

    name: str = "multi-model"
    kind: str = "learned"

    def predict(self, task: Task, table: OutcomeTable) -> FloatArray:
        """Predicted scores ``(n_test, n_models_of_table)`` for the models of one training table."""
        from tierwise.brain.training import choose_c, fit_logistic

        train_feats, test_feats = prompt_features(task, table.texts), prompt_features(task, task.test.texts)
        c = choose_c(train_feats, table.scores.mean(axis=1))  # one strength for all heads
        heads = [fit_logistic(train_feats, table.scores[:, j], c=c) for j in range(len(table.models))]
        return np.stack([head.predict(test_feats) for head in heads], axis=1)

    def route(self, task: Task) -> Routing:
        gains = []
        for table in task.train:
            preds = self.predict(task, table)
            if pair_present(table, task.pair):
                gain = preds[:, table.model_index(task.pair.strong)] - preds[:, table.model_index(task.pair.weak)]
            else:
                cheap, premium = tier_split(table)
                gain = preds[:, premium].mean(axis=1) - preds[:, cheap].mean(axis=1)
            gains.append(gain)
        scores = np.mean(gains, axis=0)
        return Routing(scores=scores, example=f"multi-model: predicted gain of strong {scores[0]:+.2f}")


def prompt_features(task: Task, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """The dense features of the multi-model predictors: static embedding and surface statistics."""
    from tierwise.brain.training import dense_features

    assert task.embeddings is not None, "the multi-model predictors need an embedder"
    return dense_features(task.embeddings.encode(texts), texts)


@dataclass(frozen=True, slots=True)
class Difficulty:
    """A prompt difficulty shared across models, predicted from the prompt; escalation by expected gain.

    On each training table a one-parameter item-response model (``training.fit_irt``) gives every model an
    ability ``a`` and every prompt a difficulty ``d``; ridge regression learns ``d`` from the embedding and
    surface features. A test prompt escalates by ``sigmoid(a_strong - d) - sigmoid(a_weak - d)``: the gain
    peaks on middling prompts, since on the hardest both models fail. Without the pair in a table, the mean
    abilities of its premium and cheap halves stand in.
    """

    name: str = "difficulty"
    kind: str = "learned"

    def route(self, task: Task) -> Routing:
        from tierwise.brain.heads import sigmoid
        from tierwise.brain.training import fit_irt, fit_ridge

        test_feats = prompt_features(task, task.test.texts)
        gains = []
        for table in task.train:
            train_feats = prompt_features(task, table.texts)
            ability, difficulty = fit_irt(table.scores)
            coef, intercept = fit_ridge(train_feats, difficulty)
            predicted = test_feats @ coef + intercept
            if pair_present(table, task.pair):
                a_weak = ability[table.model_index(task.pair.weak)]
                a_strong = ability[table.model_index(task.pair.strong)]
            else:
                cheap, premium = tier_split(table)
                a_weak, a_strong = float(ability[cheap].mean()), float(ability[premium].mean())
            gains.append(sigmoid(a_strong - predicted) - sigmoid(a_weak - predicted))
        scores = np.mean(gains, axis=0)
        return Routing(scores=scores, example=f"difficulty: expected gain of strong {scores[0]:+.2f}")


@dataclass(frozen=True, slots=True)
class Ensemble:
    """The mean rank of several strategies' scores: weak signals that disagree in their errors add up."""

    members: tuple[Strategy, ...]
    kind: str = "learned"

    @property
    def name(self) -> str:
        return "ensemble(" + ",".join(m.name for m in self.members) + ")"

    def route(self, task: Task) -> Routing:
        routings = [m.route(task) for m in self.members]
        scores = np.mean([average_ranks(r.scores) for r in routings], axis=0)
        return Routing(scores=scores, example="; ".join(r.example for r in routings))


def average_ranks(values: FloatArray) -> FloatArray:
    """Ranks scaled into (0, 1), ties sharing their mean rank (so a constant prior orders nothing)."""
    ordered = np.sort(values)
    low = np.searchsorted(ordered, values, side="left")
    high = np.searchsorted(ordered, values, side="right")
    return (low + high) / (2.0 * len(values))
