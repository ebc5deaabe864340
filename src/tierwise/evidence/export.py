"""Judged comparisons as an outcome table in the shared folder format, so ``eval``, ``train`` and
``calibrate`` run on the user's own traffic. One table holds one pair of models (the format wants every
prompt answered by every model), by default the pair with the most comparisons."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tierwise.brain.agreement import final_answer
from tierwise.config.settings import Settings
from tierwise.evidence.records import Comparison, Sample
from tierwise.evidence.store import EvidenceStore
from tierwise.pricing import PriceBook


@dataclass(frozen=True, slots=True, kw_only=True)
class Exported:
    folder: Path
    models: tuple[str, str]
    prompts: int
    left_out: int  # comparisons of other model pairs


def export_table(
    store: EvidenceStore, settings: Settings, folder: str | Path, *, models: tuple[str, str] | None = None
) -> Exported:
    comparisons = store.comparisons()
    if not comparisons:
        raise FileNotFoundError("no judged comparisons in the ledger yet (is evidence enabled?)")
    pairs = Counter((c.cheap_model, c.strong_model) for c in comparisons)
    pair = models or pairs.most_common(1)[0][0]
    chosen = [c for c in comparisons if (c.cheap_model, c.strong_model) == pair]
    if not chosen:
        known = ", ".join(f"{a},{b}" for a, b in pairs)
        raise FileNotFoundError(f"no comparisons of {pair[0]} and {pair[1]} (pairs: {known})")
    samples = {s.sample_id: s for s in store.samples()}
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "prompts.jsonl", "w", encoding="utf-8") as out:
        for c in chosen:
            row = {
                "id": c.sample_id,
                "task": f"evidence/{c.cheap_tier}-vs-{c.strong_tier}",
                "prompt": c.prompt,
                "input_tokens": c.shadow_input_tokens,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(root / "outcomes.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "model", "score", "output_tokens", "cost_usd", "answer"])
        for c in chosen:
            writer.writerows(_outcomes(c, samples.get(c.sample_id)))
    prices = PriceBook()
    with open(root / "models.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["model", "input_usd_per_mtok", "output_usd_per_mtok", "price_source"])
        for alias in pair:
            model = settings.models.get(alias)
            rates = prices.rates(model) if model is not None else None
            source = "tierwise configuration / genai-prices" if rates is not None else "unknown"
            writer.writerow([alias, rates.input if rates else 0, rates.output if rates else 0, source])
    (root / "README.md").write_text(
        f"# Evidence from live traffic\n\nExported by `tierwise evidence export`: {len(chosen)} requests answered "
        f"by {pair[0]} and {pair[1]} (one served, the other a shadow call), scored by the "
        f"{chosen[0].judge} judge. Token counts are the upstreams' own; cost_usd is the configured price of "
        f"those tokens.\n",
        encoding="utf-8",
    )
    return Exported(folder=root, models=pair, prompts=len(chosen), left_out=len(comparisons) - len(chosen))


def _outcomes(c: Comparison, sample: Sample | None) -> list[list[object]]:
    served_tokens = sample.output_tokens if sample is not None else 0
    served_text = sample.answer.text if sample is not None else ""
    shadow = (c.shadow_output_tokens, c.shadow_answer.text)
    served = (served_tokens, served_text)
    cheap, strong = (served, shadow) if c.served == "cheap" else (shadow, served)
    return [
        [c.sample_id, c.cheap_model, c.cheap_score, cheap[0], _money(c.cheap_cost_usd), final_answer(cheap[1]) or ""],
        [
            c.sample_id,
            c.strong_model,
            c.strong_score,
            strong[0],
            _money(c.strong_cost_usd),
            final_answer(strong[1]) or "",
        ],
    ]


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.10f}"
