"""Judged comparisons written by the evidence package's own store into a ledger (as its shadow calls would)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tierwise.evidence.records import Answer, Comparison, Sample
from tierwise.evidence.store import LedgerEvidenceStore

# (request id, served tier, served model, shadow tier, shadow model, cheap score, strong score, router score)
Judged = tuple[str, str, str, str, str, float, float, float]


def write_evidence(
    ledger: Path, judged: Sequence[Judged], *, at: float, shadow_tokens: tuple[int, int] = (900, 300)
) -> None:
    store = LedgerEvidenceStore(ledger)
    try:
        for i, (request_id, tier, model, shadow_tier, shadow_model, cheap, strong, score) in enumerate(judged):
            sample_id = f"s-{request_id}"
            store.add_sample(
                Sample(
                    sample_id=sample_id, request_id=request_id, created_at=at + i, api="openai", key_id=None,
                    policy="rules", tier=tier, model=model, score=score, prompt="p", request_body="{}",
                    answer=Answer(text="served"), input_tokens=1000, output_tokens=200,
                )
            )  # fmt: skip
            served = "cheap" if tier in ("speed", "default") and shadow_tier != "speed" else "strong"
            cheap_side = (tier, model) if served == "cheap" else (shadow_tier, shadow_model)
            strong_side = (shadow_tier, shadow_model) if served == "cheap" else (tier, model)
            store.add_comparison(
                Comparison(
                    sample_id=sample_id, created_at=at + i, judge="http", cheap_tier=cheap_side[0],
                    cheap_model=cheap_side[1], cheap_score=cheap, cheap_cost_usd=0.001, strong_tier=strong_side[0],
                    strong_model=strong_side[1], strong_score=strong, strong_cost_usd=0.005, served=served,
                    shadow_answer=Answer(text="shadow"), shadow_input_tokens=shadow_tokens[0],
                    shadow_output_tokens=shadow_tokens[1], shadow_request_id=f"shadow-{request_id}",
                )
            )  # fmt: skip
    finally:
        store.close()
