"""What-if replay: re-decide the captured requests under another configuration (routing only, no upstream
calls) and estimate its cost and judged quality from the evidence, beside the current configuration's."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from tierwise.config.settings import Settings
from tierwise.errors import TierwiseError
from tierwise.evidence.records import Comparison, Sample
from tierwise.evidence.stats import ratio_of_means, z_value
from tierwise.evidence.store import EvidenceStore
from tierwise.pricing import PriceBook
from tierwise.routing.decision import Router
from tierwise.routing.features import route_input
from tierwise.types import Usage
from tierwise.wire.format import wire_for


@dataclass(slots=True, kw_only=True)
class Estimate:
    """One configuration over the captured requests."""

    label: str
    requests: int = 0
    tiers: Counter[str] = field(default_factory=Counter)
    cost_per_request: float | None = None
    cost_low: float | None = None
    cost_high: float | None = None
    cost_estimated: int = 0  # requests whose tier was neither served nor shadowed: served tokens, other price
    quality: float | None = None  # judged quality relative to the stronger tier of each comparison
    quality_low: float | None = None
    quality_high: float | None = None
    judged: int = 0
    refused: int = 0  # requests this configuration could not route

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "requests": self.requests,
            "tiers": dict(self.tiers),
            "cost_per_request_usd": self.cost_per_request,
            "cost_interval": [self.cost_low, self.cost_high],
            "cost_estimated_requests": self.cost_estimated,
            "relative_quality": self.quality,
            "quality_interval": [self.quality_low, self.quality_high],
            "judged": self.judged,
            "refused": self.refused,
        }


def replay(
    store: EvidenceStore, settings: Settings, router: Router, *, label: str, confidence: float = 0.95
) -> Estimate:
    samples = store.samples()
    comparisons = {c.sample_id: c for c in store.comparisons()}
    prices = PriceBook()
    result = Estimate(label=label)
    costs: list[float] = []
    xs: list[float] = []
    ys: list[float] = []
    for sample in samples:
        try:
            chat = wire_for(sample.api).parse_request(orjson.loads(sample.request_body))  # type: ignore[arg-type]
            decision = router.decide(route_input(chat, {}, caller=sample.key_id))
        except (TierwiseError, orjson.JSONDecodeError):
            result.refused += 1
            continue
        result.requests += 1
        tier = decision.tier or "(direct)"
        result.tiers[tier] += 1
        comparison = comparisons.get(sample.sample_id)
        usage, exact = _usage_for(tier, sample, comparison)
        result.cost_estimated += 0 if exact else 1
        model = settings.models.get(decision.model)
        cost = prices.cost(model, usage) if model is not None else None
        costs.append(float(cost if cost is not None else Decimal(0)))
        if comparison is not None and tier in (comparison.cheap_tier, comparison.strong_tier):
            xs.append(comparison.cheap_score if tier == comparison.cheap_tier else comparison.strong_score)
            ys.append(comparison.strong_score)
    if costs:
        mean = sum(costs) / len(costs)
        sd = math.sqrt(sum((c - mean) ** 2 for c in costs) / max(1, len(costs) - 1))
        half = z_value(confidence) * sd / math.sqrt(len(costs))
        result.cost_per_request, result.cost_low, result.cost_high = mean, mean - half, mean + half
    found = ratio_of_means(xs, ys, confidence)
    result.judged = len(xs)
    if found is not None:
        result.quality, result.quality_low, result.quality_high = found.ratio, found.low, found.high
    return result


def _usage_for(tier: str, sample: Sample, comparison: Comparison | None) -> tuple[Usage, bool]:
    """The real token counts of the answer from ``tier`` when the evidence has one (served or shadow)."""
    if tier == sample.tier:
        return Usage(input_tokens=sample.input_tokens, output_tokens=sample.output_tokens), True
    if comparison is not None and tier in (comparison.cheap_tier, comparison.strong_tier):
        return Usage(input_tokens=comparison.shadow_input_tokens, output_tokens=comparison.shadow_output_tokens), True
    return Usage(input_tokens=sample.input_tokens, output_tokens=sample.output_tokens), False


def format_estimates(estimates: list[Estimate]) -> str:
    lines = [
        f"{'':<10}{'requests':>9}{'$ / request':>16}{'95% interval':>26}{'quality':>9}{'95% interval':>18}{'n':>6}"
    ]
    for e in estimates:
        cost = f"{e.cost_per_request:.6f}" if e.cost_per_request is not None else "-"
        cost_i = f"[{e.cost_low:.6f}, {e.cost_high:.6f}]" if e.cost_low is not None and e.cost_high is not None else "-"
        quality = f"{e.quality:.3f}" if e.quality is not None else "-"
        quality_i = (
            f"[{e.quality_low:.3f}, {e.quality_high:.3f}]"
            if e.quality_low is not None and e.quality_high is not None
            else "-"
        )
        lines.append(f"{e.label:<10}{e.requests:>9}{cost:>16}{cost_i:>26}{quality:>9}{quality_i:>18}{e.judged:>6}")
        shares = ", ".join(f"{tier} {count / max(1, e.requests):.0%}" for tier, count in sorted(e.tiers.items()))
        lines.append(f"{'':<10}tiers: {shares or '-'}; cost estimated for {e.cost_estimated}; refused {e.refused}")
    lines.append(
        "quality: judged score relative to the stronger tier of each comparison, over requests whose tier has a "
        "judged answer; cost: real token counts where the evidence has the tier's answer"
    )
    return "\n".join(lines)
