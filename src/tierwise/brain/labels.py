"""Training labels: for every prompt of an outcome table, did it need the stronger model?

With a named pair present in the table the label is whether the strong model scored higher than the weak
one. Without it (a table of other models: next quarter's, or another vendor's) the label is model-agnostic:
the share of (cheap, premium) model pairs in which the premium model beat the cheap one, where *cheap* and
*premium* split the table's models at the median mean cost per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tierwise.brain.table import FloatArray, OutcomeTable


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    """The two tiers a two-way router chooses between."""

    weak: str
    strong: str

    def __str__(self) -> str:
        return f"{self.weak} -> {self.strong}"


def pair_present(table: OutcomeTable, pair: Pair | None) -> bool:
    return pair is not None and table.has_model(pair.weak) and table.has_model(pair.strong)


def needs_strong(table: OutcomeTable, pair: Pair | None) -> FloatArray:
    """Per-prompt label in [0, 1]: the named pair's outcome if present, else the generic tier label."""
    if pair is not None and pair_present(table, pair):
        weak, strong = table.model_index(pair.weak), table.model_index(pair.strong)
        return (table.scores[:, strong] > table.scores[:, weak]).astype(np.float64)
    cheap, premium = tier_split(table)
    wins = table.scores[:, premium][:, :, None] > table.scores[:, cheap][:, None, :]
    share: FloatArray = wins.mean(axis=(1, 2)).astype(np.float64)
    return share


def tier_split(table: OutcomeTable) -> tuple[list[int], list[int]]:
    """Model columns of the cheaper and the dearer half of a table, by mean cost per call."""
    mean_cost = table.costs.mean(axis=0)
    order = [int(j) for j in np.argsort(mean_cost, kind="stable")]
    half = max(1, len(order) // 2)
    return order[:half], order[half:]
