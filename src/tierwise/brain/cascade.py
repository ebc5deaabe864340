"""Cascades, offline: answer with the weak model and escalate when its answer looks unreliable.

The offline cascade reads the cheap models' extracted answers (the ``answer`` column) and their lengths;
online the gateway uses ``tierwise.brain.agreement`` on the real responses.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tierwise.brain.agreement import normalise_answer
from tierwise.brain.labels import Pair, needs_strong, pair_present
from tierwise.brain.strategies import (
    Outcomes,
    Routing,
    Strategy,
    Task,
    average_ranks,
    strong_outcomes,
    weak_outcomes,
)
from tierwise.brain.table import FloatArray, OutcomeTable

CHECKER_MAX_COST_SHARE = 0.05  # a checker costs no more than the weak model or 5% of the strong one


def answer_pattern(table: OutcomeTable, weak: str, panel: Sequence[str], *, lengths: bool = False) -> FloatArray:
    """Agreement features of the weak model and its checkers, one row per prompt.

    Columns: the weak answer is missing; for every pair of (weak, checker, ...), whether both answers exist
    and are equal (column 1 is weak against the first checker); with ``lengths``, the log length of each
    answer. Checkers agreeing with each other against the weak model is the strongest hint that the prompt
    is solvable and the weak model got it wrong; a long, rambling weak answer is another.
    """
    cols = [table.model_index(m) for m in (weak, *panel)]
    answers = [[normalise_answer(row[j]) for j in cols] for row in table.answers]
    features = [[0.0 if a[0] else 1.0] for a in answers]
    for x, y in itertools.combinations(range(len(cols)), 2):
        for row, a in zip(features, answers, strict=True):
            row.append(1.0 if a[x] and a[x] == a[y] else 0.0)
    out = np.array(features)
    if lengths:
        out = np.hstack([out, np.log1p(table.output_tokens[:, cols]) / 8.0])
    return out


@dataclass(frozen=True, slots=True)
class Cascade:
    """Answer with the weak model; escalate when its answer looks unreliable.

    ``checkers`` other cheap models (each no dearer than the weak one or 5% of the strong one, with
    extracted answers) answer too. A logistic model of the answers' agreement pattern and lengths
    (``answer_pattern``), fitted on the training tables, says how likely the strong model is to be needed;
    the learned ``prior`` breaks its ties. The threshold sweep runs from "escalate nothing" to "escalate
    everything"; every call pays for the weak and the checkers' answers, an escalated one for the strong
    answer on top. Checkers are picked greedily by training APGR; without the pair in the training tables,
    the cheapest are used and the score is the share of checkers that disagree.
    """

    prior: Strategy | None = None
    checkers: int = 1
    lengths: bool = True  # answer lengths join the agreement pattern
    kind: str = "cascade"

    @property
    def name(self) -> str:
        base = "cascade" if self.checkers == 1 else f"cascade{self.checkers}"
        return base if self.prior is None else f"{base}+{self.prior.name}"

    def candidates(self, task: Task) -> list[str]:
        test, pair = task.test, task.pair
        weak = test.model_index(pair.weak)
        weak_cost = test.costs[:, weak].mean()
        strong_cost = test.costs[:, test.model_index(pair.strong)].mean()
        return [
            m
            for j, m in enumerate(test.models)
            if j not in (weak, test.model_index(pair.strong))
            and test.costs[:, j].mean() <= max(weak_cost, CHECKER_MAX_COST_SHARE * strong_cost)
            and test.has_answers(m)
        ]

    def choose_panel(self, task: Task) -> tuple[tuple[str, ...], list[OutcomeTable]]:
        candidates = self.candidates(task)
        if len(candidates) < self.checkers:
            raise ValueError(f"fewer than {self.checkers} cheap models with answers to check {task.pair.weak}")
        judged = [t for t in task.train if pair_present(t, task.pair)]
        seen = [m for m in candidates if all(t.has_model(m) for t in judged)]
        if not judged or len(seen) < self.checkers:
            by_cost = sorted(candidates, key=lambda m: task.test.costs[:, task.test.model_index(m)].mean())
            return tuple(by_cost[: self.checkers]), []
        panel: tuple[str, ...] = ()
        for _ in range(self.checkers):
            rest = [m for m in seen if m not in panel]
            panel = max(
                ((*panel, m) for m in rest),
                key=lambda p: self._training_apgr(judged, task.pair, p, lengths=self.lengths),
            )
        return panel, judged

    def route(self, task: Task) -> Routing:
        from sklearn.linear_model import LogisticRegression

        test, pair = task.test, task.pair
        if not test.has_answers(pair.weak):
            raise ValueError(f"{test.name} has no extracted answers for {pair.weak}: no cascade")
        panel, judged = self.choose_panel(task)
        features = answer_pattern(test, pair.weak, panel, lengths=self.lengths)
        if judged:
            x = np.vstack([answer_pattern(t, pair.weak, panel, lengths=self.lengths) for t in judged])
            y = np.concatenate([needs_strong(t, pair) for t in judged])
            alarm = (
                LogisticRegression(C=1.0).fit(x, y > 0.5).predict_proba(features)[:, 1]
                if 0 < y.mean() < 1
                else features[:, 0]
            )
        else:
            alarm = 1.0 - features[:, 1 : 1 + len(panel)].mean(axis=1)  # share of checkers disagreeing
        levels = np.unique(np.round(alarm, 9), return_inverse=True)[1].astype(np.float64)
        prior = self.prior.route(task).scores if self.prior is not None else np.zeros(len(test))
        ranks = average_ranks(prior)
        extra = sum((test.costs[:, test.model_index(m)] for m in panel), np.zeros(len(test)))
        weak, strong = weak_outcomes(test, pair), strong_outcomes(test, pair)
        return Routing(
            scores=levels + 0.999 * ranks,
            kept=Outcomes(quality=weak.quality, cost=weak.cost + extra, strong_calls=weak.strong_calls),
            escalated=Outcomes(
                quality=strong.quality, cost=weak.cost + extra + strong.cost, strong_calls=strong.strong_calls
            ),
            example=(
                f"cascade: checked {pair.weak} against {', '.join(panel)}; alarm {alarm[0]:.2f}, "
                f"prior rank {ranks[0]:.2f}"
            ),
            details={"checkers": ", ".join(panel)},
        )

    @staticmethod
    def _training_apgr(tables: Sequence[OutcomeTable], pair: Pair, panel: Sequence[str], *, lengths: bool) -> float:
        from sklearn.linear_model import LogisticRegression

        from tierwise.brain.metrics import apgr, sweep

        total = 0.0
        for t in tables:
            w, s = t.model_index(pair.weak), t.model_index(pair.strong)
            x, y = answer_pattern(t, pair.weak, panel, lengths=lengths), needs_strong(t, pair)
            if not 0 < y.mean() < 1:
                continue
            alarm = LogisticRegression(C=1.0).fit(x, y > 0.5).predict_proba(x)[:, 1]
            extra = sum((t.costs[:, t.model_index(m)] for m in panel), np.zeros(len(t)))
            curve = sweep(
                alarm,
                quality_kept=t.scores[:, w],
                quality_escalated=t.scores[:, s],
                cost_kept=t.costs[:, w] + extra,
                cost_escalated=t.costs[:, s] + extra,
                q_weak=float(t.scores[:, w].mean()),
                q_strong=float(t.scores[:, s].mean()),
            )
            total += apgr(curve)
        return total


@dataclass(frozen=True, slots=True)
class GatedCascade:
    """The gateway's ``cascade`` policy: a confident prior goes straight to strong, the rest is checked.

    At threshold ``t``, prompts whose prior scores ``>= t`` go to the strong model alone; every other prompt
    is answered by the weak model and one checker, and goes to the strong model when the two disagree.
    Sweeping ``t`` runs from "check everything" to "always strong"; below the first point the curve mixes
    with always-weak. ``tierwise calibrate --policy cascade`` picks ``t`` the same way.
    """

    prior: Strategy
    kind: str = "cascade"

    @property
    def name(self) -> str:
        return f"gated-cascade+{self.prior.name}"

    def route(self, task: Task) -> Routing:
        test, pair = task.test, task.pair
        if not test.has_answers(pair.weak):
            raise ValueError(f"{test.name} has no extracted answers for {pair.weak}: no cascade")
        (checker,), _ = Cascade(checkers=1).choose_panel(task)
        dis = disagreement(test, pair.weak, checker)
        prior = self.prior.route(task).scores
        return Routing(
            scores=prior,
            kept=checked_outcomes(test, pair, checker, dis),
            escalated=strong_outcomes(test, pair),
            example=f"gated cascade: prior {prior[0]:.2f}; {pair.weak} checked by {checker}",
            details={"checkers": checker},
        )


def disagreement(table: OutcomeTable, weak: str, checker: str) -> FloatArray:
    """1 where the weak model's answer is missing or differs from the checker's, else 0."""
    features = answer_pattern(table, weak, (checker,))
    return 1.0 - features[:, 1]


def checked_outcomes(table: OutcomeTable, pair: Pair, checker: str, dis: FloatArray) -> Outcomes:
    """Weak answers, checked by ``checker``; the strong model answers where they disagree (``dis`` = 1)."""
    weak, strong = weak_outcomes(table, pair), strong_outcomes(table, pair)
    checker_cost = table.costs[:, table.model_index(checker)]
    return Outcomes(
        quality=np.where(dis > 0, strong.quality, weak.quality),
        cost=weak.cost + checker_cost + dis * strong.cost,
        strong_calls=dis,
    )
