"""What a call cost, in USD as Decimal, from the genai-prices data or a configured override.

A model's per-token rates are looked up once and kept: genai-prices' own ``calc_price`` searches its
tables on every call (milliseconds), which would cost the gateway more CPU than the request itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genai_prices import Usage as PriceUsage
from genai_prices import data_snapshot

from tierwise.config.settings import ModelSettings
from tierwise.types import Usage

_PER_MTOK = Decimal(1_000_000)
# genai-prices names providers by its own ids; kinds it cannot identify are looked up by model name alone.
_PRICE_PROVIDER = {"anthropic": "anthropic", "openai": "openai", "openrouter": "openrouter"}


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens. ``tiered`` holds genai-prices' own price object when rates depend on volume."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal  # a five-minute cache write
    cache_write_1h: Decimal | None = None  # a one-hour cache write; None: priced as a five-minute one
    tiered: Any = None

    def cost(self, usage: Usage) -> Decimal:
        if self.tiered is not None:
            return Decimal(self.tiered.calc_price(_price_usage(usage))["total_price"])
        uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        write_1h = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        total = (
            uncached * self.input
            + usage.cache_read_tokens * self.cache_read
            + (usage.cache_write_tokens - write_1h) * self.cache_write
            + write_1h * (self.cache_write if self.cache_write_1h is None else self.cache_write_1h)
            + usage.output_tokens * self.output
        )
        return total / _PER_MTOK


class PriceBook:
    """Prices the tokens of a call on a given model; rates are resolved on first use of each model."""

    def __init__(self) -> None:
        self._rates: dict[str, Rates | None] = {}

    def rates(self, model: ModelSettings) -> Rates | None:
        """None when no price is known for the model (a local model without an override, say)."""
        if model.alias not in self._rates:
            self._rates[model.alias] = _resolve(model)
        return self._rates[model.alias]

    def cost(self, model: ModelSettings, usage: Usage) -> Decimal | None:
        rates = self.rates(model)
        return None if rates is None else rates.cost(usage)


def _resolve(model: ModelSettings) -> Rates | None:
    if model.prices is not None:
        p = model.prices
        write_5m = p.cache_write if p.cache_write is not None else p.input
        return Rates(
            input=p.input,
            output=p.output,
            cache_read=p.cache_read if p.cache_read is not None else p.input,
            cache_write=write_5m,
            cache_write_1h=p.cache_write_1h if p.cache_write_1h is not None else write_5m,
        )
    found = _price_model(model.price_ref or model.upstream_id, model.provider.kind)
    if found is None:
        return None
    price = found.get_prices(datetime.now(tz=UTC))
    rates = [
        _plain(price.input_mtok),
        _plain(price.output_mtok),
        _plain(price.cache_read_mtok),
        _plain(price.cache_write_mtok),
        _plain(getattr(price, "cache_write_1h_mtok", None)),
    ]
    if any(rate is _TIERED for rate in rates):
        zero = Decimal(0)
        return Rates(input=zero, output=zero, cache_read=zero, cache_write=zero, tiered=price)
    given_input, output, cache_read, cache_write, cache_write_1h = (
        r if isinstance(r, Decimal) else None for r in rates
    )
    base = given_input or Decimal(0)
    return Rates(
        input=base,
        output=output or Decimal(0),
        cache_read=base if cache_read is None else cache_read,
        cache_write=base if cache_write is None else cache_write,
        cache_write_1h=cache_write_1h,
    )


def _price_model(model_id: str, provider_kind: str) -> Any:
    try:
        _, found = data_snapshot.get_snapshot().find_provider_model(
            model_id, None, _PRICE_PROVIDER.get(provider_kind), None
        )
    except LookupError:
        return None
    return found


def context_window_of(model_id: str, provider_kind: str) -> int | None:
    """The model's context window according to the genai-prices data, None when it does not say."""
    found = _price_model(model_id, provider_kind)
    window = getattr(found, "context_window", None) if found is not None else None
    return window if isinstance(window, int) and window > 0 else None


_TIERED = object()


def _plain(value: object) -> Decimal | object | None:
    """A flat rate as Decimal, None when absent, or _TIERED when it depends on volume."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(value)
    return _TIERED


def _price_usage(usage: Usage) -> PriceUsage:
    return PriceUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
        cache_write_1h_tokens=min(usage.cache_write_1h_tokens, usage.cache_write_tokens) or None,
    )
