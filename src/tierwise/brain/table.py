"""Outcome tables: the recorded scores and costs of several models on the same prompts.

Reads the folder format of ``shared/data/FORMAT.md`` (``prompts.jsonl``, ``outcomes.csv``, ``models.csv``)
into dense numpy arrays indexed ``[prompt, model]``, which every strategy and metric works on.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tierwise.errors import TierwiseError

FloatArray = npt.NDArray[np.float64]


class TableFormatError(TierwiseError, ValueError):
    """An outcome folder does not follow the documented format."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """One prompt of a table, as the router sees it."""

    id: str
    task: str
    text: str
    input_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeTable:
    """Scores, costs and extracted answers of every model on every prompt of one data set."""

    name: str
    prompts: tuple[Prompt, ...]
    models: tuple[str, ...]  # in models.csv order
    scores: FloatArray  # (n_prompts, n_models), in [0, 1]
    costs: FloatArray  # (n_prompts, n_models), USD per call
    output_tokens: FloatArray  # (n_prompts, n_models), answer lengths (0 where the source has none)
    answers: tuple[tuple[str, ...], ...]  # [prompt][model], "" when the source has none

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.prompts]

    def __len__(self) -> int:
        return len(self.prompts)

    def model_index(self, model: str) -> int:
        """The column of ``model``; accepts a unique case-insensitive substring of a model name."""
        if model in self.models:
            return self.models.index(model)
        hits = [i for i, m in enumerate(self.models) if model.lower() in m.lower()]
        if len(hits) != 1:
            known = ", ".join(self.models)
            what = "matches several models" if hits else "is not in"
            raise KeyError(f"model {model!r} {what} table {self.name!r} (models: {known})")
        return hits[0]

    def has_model(self, model: str) -> bool:
        try:
            self.model_index(model)
        except KeyError:
            return False
        return True

    def subset(self, rows: npt.NDArray[np.intp]) -> OutcomeTable:
        """The same table restricted to the prompts at ``rows`` (used for folds)."""
        return OutcomeTable(
            name=self.name,
            prompts=tuple(self.prompts[i] for i in rows),
            models=self.models,
            scores=self.scores[rows],
            costs=self.costs[rows],
            output_tokens=self.output_tokens[rows],
            answers=tuple(self.answers[i] for i in rows),
        )

    def has_answers(self, model: str) -> bool:
        j = self.model_index(model)
        return any(row[j] for row in self.answers)


def load_table(folder: str | Path) -> OutcomeTable:
    """Read one outcome folder; raises ``TableFormatError`` naming the file and line at fault."""
    root = Path(folder)
    for required in ("prompts.jsonl", "outcomes.csv", "models.csv"):
        if not (root / required).is_file():
            raise TableFormatError(f"{root}: missing {required} (see shared/data/FORMAT.md)")
    prompts = _read_prompts(root / "prompts.jsonl")
    prices = _read_prices(root / "models.csv")
    models = tuple(prices)
    row_of = {p.id: i for i, p in enumerate(prompts)}
    col_of = {m: j for j, m in enumerate(models)}
    n, k = len(prompts), len(models)
    scores = np.full((n, k), np.nan)
    costs = np.full((n, k), np.nan)
    output_tokens = np.zeros((n, k))
    answers = [[""] * k for _ in range(n)]
    path = root / "outcomes.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        for line, rec in enumerate(csv.DictReader(handle), start=2):
            try:
                i, j = row_of[rec["id"]], col_of[rec["model"]]
            except KeyError as exc:
                raise TableFormatError(f"{path}:{line}: unknown prompt id or model {exc}") from None
            scores[i, j] = float(rec["score"])
            output_tokens[i, j] = float(rec.get("output_tokens") or 0)
            if rec.get("cost_usd"):
                costs[i, j] = float(rec["cost_usd"])
            else:
                price_in, price_out = prices[rec["model"]]
                costs[i, j] = (prompts[i].input_tokens * price_in + output_tokens[i, j] * price_out) / 1e6
            answers[i][j] = (rec.get("answer") or "").strip()
    if np.isnan(scores).any():
        i, j = np.argwhere(np.isnan(scores))[0]
        raise TableFormatError(f"{path}: no outcome for prompt {prompts[i].id!r} and model {models[j]!r}")
    return OutcomeTable(
        name=root.name,
        prompts=tuple(prompts),
        models=models,
        scores=np.clip(scores, 0.0, 1.0),
        costs=costs,
        output_tokens=output_tokens,
        answers=tuple(tuple(row) for row in answers),
    )


def _read_prompts(path: Path) -> list[Prompt]:
    prompts: list[Prompt] = []
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                text = str(rec["prompt"])
                prompts.append(
                    Prompt(
                        id=str(rec["id"]),
                        task=str(rec.get("task", "")),
                        text=text,
                        input_tokens=int(rec.get("input_tokens") or max(1, len(text) // 4)),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise TableFormatError(f"{path}:{line}: {exc}") from None
    if not prompts:
        raise TableFormatError(f"{path}: no prompts")
    return prompts


def _read_prices(path: Path) -> dict[str, tuple[float, float]]:
    prices: dict[str, tuple[float, float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for line, rec in enumerate(csv.DictReader(handle), start=2):
            try:
                prices[rec["model"]] = (float(rec["input_usd_per_mtok"]), float(rec["output_usd_per_mtok"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise TableFormatError(f"{path}:{line}: {exc}") from None
    return prices
