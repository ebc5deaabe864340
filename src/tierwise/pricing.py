"""What a call cost, in USD as Decimal, from the genai-prices data or a configured override."""

from __future__ import annotations

from decimal import Decimal

import genai_prices

from tierwise.config.settings import ModelSettings
from tierwise.types import Usage

_PER_MTOK = Decimal(1_000_000)
# genai-prices names providers by its own ids; kinds it cannot identify are looked up by model name alone.
_PRICE_PROVIDER = {"anthropic": "anthropic", "openai": "openai", "openrouter": "openrouter"}


class PriceBook:
    """Prices the tokens of a call on a given model. Not for the request path: the ledger writer calls it."""

    def __init__(self) -> None:
        self._unknown: set[str] = set()

    def cost(self, model: ModelSettings, usage: Usage) -> Decimal | None:
        """None when no price is known for the model (a local model without an override, say)."""
        if model.prices is not None:
            return _cost_from_override(model, usage)
        ref = model.price_ref or model.upstream_id
        if ref in self._unknown:
            return None
        try:
            result = genai_prices.calc_price(
                genai_prices.Usage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens or None,
                    cache_write_tokens=usage.cache_write_tokens or None,
                ),
                model_ref=ref,
                provider_id=_PRICE_PROVIDER.get(model.provider.kind),
            )
        except LookupError:
            self._unknown.add(ref)
            return None
        return Decimal(result.total_price)


def _cost_from_override(model: ModelSettings, usage: Usage) -> Decimal:
    prices = model.prices
    assert prices is not None
    cache_read = prices.cache_read if prices.cache_read is not None else prices.input
    cache_write = prices.cache_write if prices.cache_write is not None else prices.input
    uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    total = (
        uncached * prices.input
        + usage.cache_read_tokens * cache_read
        + usage.cache_write_tokens * cache_write
        + usage.output_tokens * prices.output
    )
    return total / _PER_MTOK
