"""Prices come from genai-prices (resolved once per model) or a configured override, as Decimal."""

from __future__ import annotations

from decimal import Decimal

import genai_prices

from tierwise.config.loader import default_config_text, parse_settings
from tierwise.pricing import PriceBook
from tierwise.types import Usage

SETTINGS = parse_settings(default_config_text(), source="default", environ={})


def test_matches_genai_prices_own_calculation() -> None:
    book = PriceBook()
    usage = Usage(input_tokens=12_345, output_tokens=678, cache_read_tokens=2_000, cache_write_tokens=1_000)
    for alias, provider in (
        ("claude-sonnet-4-6", "anthropic"),
        ("gpt-5.1", "openai"),
        ("claude-haiku-4-5", "anthropic"),
    ):
        model = SETTINGS.models[alias]
        expected = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=12_345, output_tokens=678, cache_read_tokens=2_000, cache_write_tokens=1_000
            ),
            model_ref=model.upstream_id,
            provider_id=provider,
        ).total_price
        assert book.cost(model, usage) == Decimal(expected)


def test_premium_costs_more_and_cost_is_decimal() -> None:
    book = PriceBook()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    opus = book.cost(SETTINGS.models["claude-opus-4-7"], usage)
    sonnet = book.cost(SETTINGS.models["claude-sonnet-4-6"], usage)
    assert isinstance(opus, Decimal) and isinstance(sonnet, Decimal)
    assert opus > sonnet > 0


def test_override_and_unknown_model() -> None:
    text = """
providers: {local: {kind: ollama}}
models:
  priced: {provider: local, id: llama3.2, prices: {input: "0.5", output: "1.5", cache_read: "0.05"}}
  free: {provider: local, id: some-local-model-nobody-prices}
tiers: {default: [priced, free]}
"""
    settings = parse_settings(text, source="t", environ={})
    book = PriceBook()
    usage = Usage(input_tokens=2_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000)
    # 1M uncached at 0.5 + 1M cached at 0.05 + 1M out at 1.5
    assert book.cost(settings.models["priced"], usage) == Decimal("2.05")
    assert book.cost(settings.models["free"], usage) is None


def test_one_hour_cache_writes_cost_twice_the_input_price_five_minute_ones_one_and_a_quarter() -> None:
    book = PriceBook()
    for alias in ("claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5"):
        model = SETTINGS.models[alias]
        rates = book.rates(model)
        assert rates is not None
        five_min = book.cost(model, Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000))
        one_hour = book.cost(
            model, Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000, cache_write_1h_tokens=1_000_000)
        )
        assert five_min == rates.input * Decimal("1.25")
        assert one_hour == rates.input * 2
        expected = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000, cache_write_1h_tokens=400_000),
            model_ref=model.upstream_id,
            provider_id="anthropic",
        ).total_price
        mixed = Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000, cache_write_1h_tokens=400_000)
        assert book.cost(model, mixed) == Decimal(expected)


def test_context_windows_come_from_the_price_data() -> None:
    windows = {alias: model.context_window for alias, model in SETTINGS.models.items()}
    assert windows["claude-sonnet-4-6"] == windows["claude-opus-4-7"] == 1_000_000
    assert windows["claude-haiku-4-5"] == 200_000
    assert windows["gpt-5.1"] == windows["gpt-5.2"] == windows["gpt-5-mini"] == 400_000
