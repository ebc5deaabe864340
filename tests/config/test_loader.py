"""The configuration is parsed once, unknown keys rejected with their line, and resolved against the env."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierwise.config.loader import default_config_text, load_settings, parse_settings
from tierwise.errors import ConfigError

MINIMAL = """\
providers:
  local:
    kind: ollama
models:
  small:
    provider: local
    id: llama3.2
    context_window: 8000
tiers:
  speed: [small]
  default: [small]
  escalation: [small]
"""


def test_shipped_default_resolves_and_reads_the_conventional_variables() -> None:
    env = {
        "ANTHROPIC_API_KEY": "a-key",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/",
        "OPENAI_API_KEY": "o-key",
        "OPENAI_BASE_URL": "http://127.0.0.1:10/v1",
    }
    settings = parse_settings(default_config_text(), source="default", environ=env)
    assert settings.tiers["speed"][0] == "claude-haiku-4-5"
    assert settings.tiers["default"][0] == "claude-sonnet-4-6"
    assert settings.tiers["escalation"][0] == "claude-opus-4-7"
    anthropic = settings.providers["anthropic"]
    assert anthropic.base_url == "http://127.0.0.1:9" and anthropic.api_key == "a-key"
    assert settings.providers["openai"].base_url == "http://127.0.0.1:10/v1"
    assert settings.warnings() == []


def test_missing_keys_are_warnings_not_failures() -> None:
    settings = parse_settings(default_config_text(), source="default", environ={})
    notes = settings.warnings()
    assert any("$ANTHROPIC_API_KEY is not set" in note for note in notes)
    assert any("$OPENAI_API_KEY is not set" in note for note in notes)
    assert settings.providers["anthropic"].base_url == "https://api.anthropic.com"


def test_unknown_key_names_the_key_and_its_line() -> None:
    text = MINIMAL.replace("    context_window: 8000\n", "    context_window: 8000\n    contxt: 5\n")
    with pytest.raises(ConfigError) as err:
        parse_settings(text, source="my.yaml", environ={})
    assert "my.yaml line 9: unknown key 'contxt' in models.small" in err.value.message


def test_wrong_type_names_the_field_and_line() -> None:
    text = MINIMAL.replace("context_window: 8000", "context_window: lots")
    with pytest.raises(ConfigError) as err:
        parse_settings(text, source="c.yaml", environ={})
    assert "c.yaml line 8" in err.value.message and "models.small.context_window" in err.value.message


def test_unknown_provider_and_unknown_tier_model_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown provider 'nowhere'"):
        parse_settings(MINIMAL.replace("provider: local", "provider: nowhere"), source="c", environ={})
    with pytest.raises(ConfigError, match="line 10: tier 'speed' names unknown model 'big'"):
        parse_settings(MINIMAL.replace("speed: [small]", "speed: [big]"), source="c", environ={})


def test_local_providers_need_no_key_and_get_their_default_url() -> None:
    settings = parse_settings(MINIMAL, source="c", environ={})
    local = settings.providers["local"]
    assert local.base_url == "http://localhost:11434/v1"
    assert not local.missing_key and local.api == "openai"


def test_price_override_and_file_errors(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "    context_window: 8000\n", "    context_window: 8000\n    prices: {input: 0.1, output: 0.2}\n"
    )
    path = tmp_path / "c.yaml"
    path.write_text(text)
    settings = load_settings(path, environ={})
    prices = settings.models["small"].prices
    assert prices is not None and str(prices.output) == "0.2"
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.yaml", environ={})
    path.write_text("providers: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(path, environ={})


def test_context_window_from_config_then_price_data_then_a_fallback() -> None:
    text = """\
providers:
  a: {kind: anthropic, api_key_env: K}
  local: {kind: ollama}
models:
  sonnet: {provider: a, id: claude-sonnet-4-6}
  pinned: {provider: a, id: claude-sonnet-4-6, context_window: 200000}
  old-sonnet: {provider: a, id: claude-sonnet-4-5, long_context_beta: context-1m-2025-08-07}
  plain-old: {provider: a, id: claude-sonnet-4-5}
  unknown: {provider: local, id: my-finetune}
tiers:
  default: [sonnet]
"""
    models = parse_settings(text, source="t", environ={}).models
    assert models["sonnet"].context_window == 1_000_000  # genai-prices
    assert models["pinned"].context_window == 200_000  # the config wins
    assert models["old-sonnet"].context_window == 1_000_000  # what its beta opens
    assert models["old-sonnet"].long_context_beta == "context-1m-2025-08-07"
    assert models["plain-old"].context_window == 200_000
    assert models["unknown"].context_window == 128_000
