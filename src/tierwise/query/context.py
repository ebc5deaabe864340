"""What the queries need from the configuration: prices, the tiers, the savings baseline and the target."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tierwise.config.settings import ModelSettings, Settings
from tierwise.errors import ConfigError
from tierwise.pricing import PriceBook
from tierwise.routing.decision import TIERS, Tier
from tierwise.types import Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryContext:
    """``baseline`` is what a team would run without routing (by default the default tier's first model);
    ``premium`` is the all-escalation comparison (the escalation tier's first model)."""

    models: dict[str, ModelSettings]
    tiers: dict[Tier, tuple[str, ...]]
    baseline: str | None
    premium: str | None
    baseline_source: str  # how the baseline was chosen, said beside it
    quality_target: float | None = None  # routing.target.quality, when the evidence loop holds one
    curve_pair: tuple[str, str] = ("default", "escalation")  # the tiers the cost-quality curve compares
    prices: PriceBook = field(default_factory=PriceBook)

    @classmethod
    def from_settings(cls, settings: Settings, *, baseline: str | None = None) -> QueryContext:
        """``baseline`` overrides the configured one (``report.baseline``)."""
        configured = baseline or settings.report.baseline
        chosen: str | None
        if configured is not None:
            if configured not in settings.models:
                known = ", ".join(settings.models)
                raise ConfigError(f"savings baseline '{configured}' is not a configured model; use one of: {known}")
            chosen, source = configured, "configured (report.baseline)" if baseline is None else "chosen (--baseline)"
        else:
            default = settings.tiers.get(settings.routing.default_tier) or ()
            chosen = default[0] if default else None
            source = f"the {settings.routing.default_tier} tier's first model: what runs without routing"
        escalation = settings.tiers.get("escalation") or ()
        return cls(
            models=settings.models,
            tiers=settings.tiers,
            baseline=chosen,
            premium=escalation[0] if escalation else None,
            baseline_source=source,
            quality_target=settings.routing.target.quality if settings.routing.target else None,
            curve_pair=(settings.routing.learned.weak_tier, settings.routing.learned.strong_tier),
        )

    def cost(self, alias: str | None, usage: Usage) -> Decimal | None:
        """What ``usage`` costs on the model ``alias``; None when it has no known price (or no such model)."""
        model = self.models.get(alias) if alias else None
        return None if model is None else self.prices.cost(model, usage)

    def tier_of(self, alias: str | None) -> Tier | None:
        for tier, aliases in self.tiers.items():
            if alias in aliases:
                return tier
        return None

    def rank(self, tier: str | None) -> int:
        return TIERS.index(tier) if tier in TIERS else -1
