"""Offline evaluation: cross-validated or cross-data-set routing figures for a model pair or a whole table.

Cross-validation pools out-of-fold scores (k folds, fixed seed), so every prompt is scored by a router that
never saw it, and one curve is swept over the whole table. Cross-data-set trains on other tables.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tierwise.brain.labels import Pair
from tierwise.brain.metrics import (
    RoutingCurve,
    apgr,
    cost_at_pgr,
    cost_at_quality,
    cost_to_reach,
    cpt,
    frontier,
    frontier_area,
    sweep,
)
from tierwise.brain.strategies import (
    EmbeddingCache,
    MultiModel,
    Outcomes,
    Routing,
    Strategy,
    Task,
    strong_outcomes,
    weak_outcomes,
)
from tierwise.brain.table import FloatArray, OutcomeTable

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyReport:
    """One strategy's figures on one test table; shares of calls unless the name says cost."""

    name: str
    kind: str
    curve: RoutingCurve
    apgr: float
    cpt50: float | None  # share of calls
    cpt80: float | None  # share of calls
    cost_at_95: float | None  # share of always-strong cost reaching 95% of strong quality
    cost_at_98: float | None  # the same at 98%
    cost_cpt50: float | None  # share of always-strong cost reaching PGR 50%
    cost_cpt80: float | None
    example: str
    details: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "apgr": self.apgr,
            "cpt50": self.cpt50,
            "cpt80": self.cpt80,
            "cost_at_95": self.cost_at_95,
            "cost_at_98": self.cost_at_98,
            "cost_cpt50": self.cost_cpt50,
            "cost_cpt80": self.cost_cpt80,
            "example": self.example,
            **self.details,
            "curve": curve_points(self.curve),
        }


def curve_points(curve: RoutingCurve, most: int = 101) -> dict[str, list[float]]:
    """Up to ``most`` operating points of a curve (evenly spaced along it, both ends kept), for JSON."""
    rows = np.unique(np.linspace(0, len(curve.share) - 1, min(most, len(curve.share))).round().astype(int))
    return {
        "share": [round(float(v), 5) for v in curve.share[rows]],
        "quality": [round(float(v), 5) for v in curve.quality[rows]],
        "cost_share": [round(float(v), 5) for v in curve.cost_share[rows]],
        "pgr": [round(float(v), 5) for v in curve.pgr[rows]],
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class PairReport:
    """All strategies for one weak -> strong pair on one test table."""

    test: str
    pair: Pair
    protocol: str  # "5-fold CV, seed 0" or "trained on a, b"
    n_prompts: int
    references: dict[str, dict[str, float]]  # weak / strong: quality, cost_share
    strategies: tuple[StrategyReport, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "test": self.test,
            "weak": self.pair.weak,
            "strong": self.pair.strong,
            "protocol": self.protocol,
            "n_prompts": self.n_prompts,
            "references": self.references,
            "strategies": {s.name: s.as_json() for s in self.strategies},
        }


def folds(n: int, k: int, seed: int) -> list[npt.NDArray[np.intp]]:
    """``k`` disjoint test index sets covering ``range(n)``, shuffled with ``seed``."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def route_out_of_fold(
    strategy: Strategy,
    test: OutcomeTable,
    pair: Pair,
    *,
    train: Sequence[OutcomeTable] | None,
    embeddings: EmbeddingCache | None,
    k: int = 5,
    seed: int = 0,
) -> Routing:
    """The strategy's routing of every test prompt, by a model that never saw that prompt."""
    if train:
        return strategy.route(Task(train=tuple(train), test=test, pair=pair, embeddings=embeddings))
    n = len(test)
    scores = np.empty(n)
    kept, escalated = weak_outcomes(test, pair), strong_outcomes(test, pair)
    kept_arrays = [kept.quality.copy(), kept.cost.copy(), kept.strong_calls.copy()]
    escalated_arrays = [escalated.quality.copy(), escalated.cost.copy(), escalated.strong_calls.copy()]
    example, details = "", {}
    for part in folds(n, k, seed):
        rest = np.setdiff1d(np.arange(n), part)
        task = Task(train=(test.subset(rest),), test=test.subset(part), pair=pair, embeddings=embeddings)
        routing = strategy.route(task)
        scores[part] = routing.scores
        for arrays, branch in ((kept_arrays, routing.kept), (escalated_arrays, routing.escalated)):
            if branch is not None:
                for array, values in zip(arrays, (branch.quality, branch.cost, branch.strong_calls), strict=True):
                    array[part] = values
        example = example or routing.example
        details.update(routing.details)
    return Routing(
        scores=scores,
        kept=Outcomes(quality=kept_arrays[0], cost=kept_arrays[1], strong_calls=kept_arrays[2]),
        escalated=Outcomes(quality=escalated_arrays[0], cost=escalated_arrays[1], strong_calls=escalated_arrays[2]),
        example=example,
        details=details,
    )


def report_strategy(strategy: Strategy, routing: Routing, test: OutcomeTable, pair: Pair) -> StrategyReport:
    w, s = test.model_index(pair.weak), test.model_index(pair.strong)
    kept = routing.kept or weak_outcomes(test, pair)
    escalated = routing.escalated or strong_outcomes(test, pair)
    curve = sweep(
        routing.scores,
        quality_kept=kept.quality,
        quality_escalated=escalated.quality,
        cost_kept=kept.cost,
        cost_escalated=escalated.cost,
        calls_kept=kept.strong_calls,
        calls_escalated=escalated.strong_calls,
        q_weak=float(test.scores[:, w].mean()),
        q_strong=float(test.scores[:, s].mean()),
        c_weak=float(test.costs[:, w].mean()),
        c_strong=float(test.costs[:, s].mean()),
    )
    return StrategyReport(
        name=strategy.name,
        kind=strategy.kind,
        curve=curve,
        apgr=apgr(curve),
        cpt50=cpt(curve, 0.5),
        cpt80=cpt(curve, 0.8),
        cost_at_95=cost_at_quality(curve, 0.95),
        cost_at_98=cost_at_quality(curve, 0.98),
        cost_cpt50=cost_at_pgr(curve, 0.5),
        cost_cpt80=cost_at_pgr(curve, 0.8),
        example=routing.example,
        details=routing.details,
    )


def evaluate_pair(
    test: OutcomeTable,
    pair: Pair,
    strategies: Sequence[Strategy],
    *,
    train: Sequence[OutcomeTable] | None = None,
    embeddings: EmbeddingCache | None = None,
    k: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
) -> PairReport:
    """Every strategy's curve and figures for ``pair`` on ``test``: CV without ``train``, else cross-data-set."""
    w, s = test.model_index(pair.weak), test.model_index(pair.strong)
    pair = Pair(weak=test.models[w], strong=test.models[s])
    c_strong = float(test.costs[:, s].mean())
    references = {
        "weak": {"quality": float(test.scores[:, w].mean()), "cost_share": float(test.costs[:, w].mean()) / c_strong},
        "strong": {"quality": float(test.scores[:, s].mean()), "cost_share": 1.0},
    }
    reports = []
    for strategy in strategies:
        started = time.perf_counter()
        if progress:
            progress(f"{test.name}: {pair}: {strategy.name} ...")
        try:
            routing = route_out_of_fold(strategy, test, pair, train=train, embeddings=embeddings, k=k, seed=seed)
        except ValueError as exc:
            if progress:
                progress(f"{test.name}: {strategy.name} skipped: {exc}")
            continue
        reports.append(report_strategy(strategy, routing, test, pair))
        if progress:
            progress(f"{test.name}: {strategy.name} APGR {reports[-1].apgr:.3f} ({time.perf_counter() - started:.1f}s)")
    protocol = f"{k}-fold CV, seed {seed}" if not train else "trained on " + ", ".join(t.name for t in train)
    return PairReport(
        test=test.name,
        pair=pair,
        protocol=protocol,
        n_prompts=len(test),
        references=references,
        strategies=tuple(reports),
    )


# --- all models of a table --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontierReport:
    """One way of choosing among all models: its operating points, frontier and summary figures."""

    name: str
    costs: FloatArray  # mean cost per call of each operating point
    qualities: FloatArray
    cost_to_best: float | None  # share of the best single model's cost reaching its quality
    area: float  # normalised area under the frontier (log cost), see metrics.frontier_area

    def as_json(self) -> dict[str, object]:
        return {"cost_to_best": self.cost_to_best, "frontier_area": self.area}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelsReport:
    test: str
    protocol: str
    models: dict[str, dict[str, float]]  # model: quality, cost (mean USD per call)
    best_model: str
    strategies: tuple[FrontierReport, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "test": self.test,
            "protocol": self.protocol,
            "best_model": self.best_model,
            "references": {"models": self.models},
            "strategies": {s.name: s.as_json() for s in self.strategies},
        }


def _choose_per_prompt(
    utility: FloatArray, expected_cost: FloatArray, test: OutcomeTable
) -> tuple[FloatArray, FloatArray]:
    """Operating points of picking ``argmax(utility - lambda * expected_cost)`` per prompt, over lambdas."""
    lambdas = np.concatenate(([0.0], np.geomspace(1e-3, 1e3, 300)))
    scale = expected_cost.max()
    costs, qualities = [], []
    rows = np.arange(len(test))
    for lam in lambdas:
        choice = np.argmax(utility - lam * expected_cost / scale, axis=1)
        costs.append(test.costs[rows, choice].mean())
        qualities.append(test.scores[rows, choice].mean())
    return np.array(costs), np.array(qualities)


def evaluate_models(
    test: OutcomeTable,
    *,
    train: Sequence[OutcomeTable] | None = None,
    embeddings: EmbeddingCache | None = None,
    k: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
) -> ModelsReport:
    """Compares choosing among all models: single models, random mixing, the oracle, the multi-model predictor."""
    q, c = test.scores.mean(axis=0), test.costs.mean(axis=0)
    best = int(np.argmax(q - 1e-9 * c))
    cheapest = int(np.argmin(c))

    def summarise(name: str, costs: FloatArray, qualities: FloatArray) -> FrontierReport:
        front = frontier(costs, qualities)
        reach = cost_to_reach(front, float(q[best]))
        return FrontierReport(
            name=name,
            costs=costs,
            qualities=qualities,
            cost_to_best=None if reach is None else reach / float(c[best]),
            area=frontier_area(
                front, c_low=float(c[cheapest]), c_high=float(c[best]), q_low=float(q[cheapest]), q_high=float(q[best])
            ),
        )

    reports = [summarise("random-mixing", c, q)]
    reports.append(summarise("oracle", *_choose_per_prompt(test.scores, np.tile(c, (len(test), 1)), test)))
    if embeddings is not None:
        if progress:
            progress(f"{test.name}: multi-model predictor over {len(test.models)} models ...")
        predictor = MultiModel()
        if train:
            usable = [t for t in train if all(t.has_model(m) for m in test.models)]
            if not usable:
                raise ValueError("cross-data-set comparison of all models needs them all in a training table")
            preds = np.mean(
                [
                    _align(predictor, Task(train=(t,), test=test, pair=_any_pair(test), embeddings=embeddings), t, test)
                    for t in usable
                ],
                axis=0,
            )
        else:
            preds = np.empty_like(test.scores)
            for part in folds(len(test), k, seed):
                rest = np.setdiff1d(np.arange(len(test)), part)
                sub = test.subset(rest)
                task = Task(train=(sub,), test=test.subset(part), pair=_any_pair(test), embeddings=embeddings)
                preds[part] = predictor.predict(task, sub)
        reports.append(summarise("multi-model", *_choose_per_prompt(preds, np.tile(c, (len(test), 1)), test)))
    protocol = f"{k}-fold CV, seed {seed}" if not train else "trained on " + ", ".join(t.name for t in train)
    return ModelsReport(
        test=test.name,
        protocol=protocol,
        models={m: {"quality": float(q[j]), "cost": float(c[j])} for j, m in enumerate(test.models)},
        best_model=test.models[best],
        strategies=tuple(reports),
    )


def _any_pair(table: OutcomeTable) -> Pair:
    return Pair(weak=table.models[0], strong=table.models[-1])


def _align(predictor: MultiModel, task: Task, train: OutcomeTable, test: OutcomeTable) -> FloatArray:
    preds = predictor.predict(task, train)
    return preds[:, [train.model_index(m) for m in test.models]]
