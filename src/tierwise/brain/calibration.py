"""Calibration: turn a quality target or a cost budget into a router threshold, and write it to the config.

The threshold is picked on an outcome table scored by the router: escalate when ``score >= threshold``.
Pick it on data other than the test data you report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tierwise.brain.table import FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """The chosen threshold and what it did on the calibration table."""

    threshold: float
    share: float  # share of calls that reach the strong model
    quality_share: float  # quality as a share of always-strong quality
    cost_share: float  # mean cost as a share of always-strong cost


def pick_threshold(
    scores: FloatArray,
    *,
    kept_quality: FloatArray,
    escalated_quality: FloatArray,
    kept_cost: FloatArray,
    escalated_cost: FloatArray,
    kept_calls: FloatArray | None = None,
    target_quality: float | None = None,
    max_cost: float | None = None,
) -> Calibration:
    """The threshold escalating fewest prompts that reaches ``target_quality`` (share of strong quality), or
    the one of highest quality whose cost stays within ``max_cost`` (share of always-strong cost).

    ``kept_*`` are each prompt's quality and cost below the threshold (the weak model; for the cascade
    policy the checked weak answer), ``escalated_*`` at or above it (the strong model alone);
    ``kept_calls`` counts the strong calls a kept prompt still makes (the cascade's escalations).
    """
    if (target_quality is None) == (max_cost is None):
        raise ValueError("give exactly one of target_quality and max_cost")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    ends = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True)) + 1
    n = len(scores)
    quality = (
        kept_quality.sum() + np.concatenate(([0.0], np.cumsum((escalated_quality - kept_quality)[order])[ends - 1]))
    ) / n
    cost = (kept_cost.sum() + np.concatenate(([0.0], np.cumsum((escalated_cost - kept_cost)[order])[ends - 1]))) / n
    q_strong, c_strong = float(escalated_quality.mean()), float(escalated_cost.mean())
    # point 0 escalates nothing (threshold above every score); point i escalates the first ends[i-1] prompts
    thresholds = np.concatenate(([math.nextafter(float(sorted_scores[0]), math.inf)], sorted_scores[ends - 1]))
    kept_n = np.zeros(n) if kept_calls is None else kept_calls
    shares = (kept_n.sum() + np.concatenate(([0.0], np.cumsum((1.0 - kept_n)[order])[ends - 1]))) / n
    if target_quality is not None:
        ok = np.flatnonzero(quality >= target_quality * q_strong - 1e-12)
        i = int(ok[0]) if len(ok) else len(quality) - 1
    else:
        assert max_cost is not None
        ok = np.flatnonzero(cost <= max_cost * c_strong + 1e-12)
        i = int(ok[np.argmax(quality[ok])]) if len(ok) else 0
    return Calibration(
        threshold=min(1.0, max(0.0, float(thresholds[i]))),  # the config accepts [0, 1]
        share=float(shares[i]),
        quality_share=float(quality[i] / q_strong),
        cost_share=float(cost[i] / c_strong),
    )


def write_learned_config(
    config: str | Path,
    *,
    threshold: float,
    artifact: str | None,
    weak_tier: str | None = None,
    strong_tier: str | None = None,
    policy: str | None = None,
) -> dict[str, Any]:
    """Set ``routing.learned`` (and ``routing.policy``) in a YAML config, creating keys, keeping the rest.

    Plain PyYAML round trip: values and key order are kept, comments are not. The policy becomes ``policy``
    if given, else ``learned`` unless it already is ``cascade`` (which uses the same threshold).
    """
    import yaml

    path = Path(config)
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    routing = data.setdefault("routing", {})
    if not isinstance(routing, dict):
        raise ValueError(f"{path}: 'routing' is not a mapping")
    current = routing.get("policy")
    routing["policy"] = policy or ("cascade" if current == "cascade" else "learned")
    learned = routing.setdefault("learned", {})
    if not isinstance(learned, dict):
        raise ValueError(f"{path}: 'routing.learned' is not a mapping")
    learned["artifact"] = artifact
    learned["threshold"] = round(threshold, 6)
    learned["weak_tier"] = weak_tier or learned.get("weak_tier", "default")
    learned["strong_tier"] = strong_tier or learned.get("strong_tier", "escalation")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return data
