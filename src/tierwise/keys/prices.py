"""Per-token prices of each configured model, looked up once, so a key's budget costs a multiply-add a request.

The rates come from the same PriceBook as the ledger's costs (genai-prices, or the config's override), read
off a 1,000-token probe of each kind of token. A model with no known price costs nothing towards budgets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tierwise.config.settings import ModelSettings
from tierwise.pricing import PriceBook
from tierwise.types import Usage

_PROBE = 1000
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRates:
    """USD per token."""

    input: Decimal = ZERO
    output: Decimal = ZERO
    cache_read: Decimal = ZERO
    cache_write: Decimal = ZERO
    max_output_tokens: int = 0

    def most(self, input_tokens: int, max_tokens: int | None) -> Decimal:
        """The most a call can cost: every input token uncached, every output token it may write (a max_tokens
        above the model's limit is capped at the limit before the call)."""
        if not max_tokens or (self.max_output_tokens and max_tokens > self.max_output_tokens):
            max_tokens = self.max_output_tokens
        return input_tokens * self.input + max_tokens * self.output


def model_rates(models: Mapping[str, ModelSettings]) -> dict[str, ModelRates]:
    book = PriceBook()
    return {alias: _rates(book, model) for alias, model in models.items()}


def _rates(book: PriceBook, model: ModelSettings) -> ModelRates:
    def per_token(**tokens: int) -> Decimal:
        cost = book.cost(model, Usage(**tokens))
        return ZERO if cost is None else cost / _PROBE

    return ModelRates(
        input=per_token(input_tokens=_PROBE),
        output=per_token(output_tokens=_PROBE),
        cache_read=per_token(input_tokens=_PROBE, cache_read_tokens=_PROBE),
        cache_write=per_token(input_tokens=_PROBE, cache_write_tokens=_PROBE),
        max_output_tokens=model.max_output_tokens,
    )


def most_of(
    rates: Mapping[str, ModelRates], aliases: Iterable[str], input_tokens: int, max_tokens: int | None
) -> Decimal:
    """The most any of these models can cost for the call (a request may end on any of its fallbacks)."""
    most = ZERO
    for alias in aliases:
        model = rates.get(alias)
        if model is not None:
            most = max(most, model.most(input_tokens, max_tokens))
    return most
