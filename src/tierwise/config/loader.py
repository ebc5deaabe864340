"""Read the YAML configuration once: keep line numbers for errors, validate, resolve into Settings.

The environment is read here and nowhere else (provider keys and base-URL overrides).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tierwise.config import schema
from tierwise.config.settings import (
    DEFAULT_MODEL_PATTERNS,
    LONG_CONTEXT_WINDOW,
    BreakerSettings,
    CascadeSettings,
    EvidenceSettings,
    JudgeSettings,
    LearnedSettings,
    LedgerSettings,
    ModelPattern,
    ModelSettings,
    Prices,
    ProviderSettings,
    ReliabilitySettings,
    ReportSettings,
    ResponseLimits,
    RoutingSettings,
    RoutingTarget,
    Rule,
    RuleCondition,
    ServerSettings,
    SessionSettings,
    Settings,
    StateSettings,
    TelemetrySettings,
    Timeouts,
)
from tierwise.errors import ConfigError
from tierwise.pricing import context_window_of
from tierwise.routing.decision import TIERS, Tier
from tierwise.types import EFFORTS

DEFAULT_CONFIG = "<default>"

_DEFAULT_BASE_URLS: dict[str, str] = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
}
_KEYLESS_KINDS = frozenset({"ollama", "vllm"})
_FALLBACK_CONTEXT_WINDOW = 128_000  # a model neither the config nor the price data describes

Path_ = tuple[str | int, ...]


def default_config_text() -> str:
    return resources.files("tierwise.config").joinpath("default.yaml").read_text(encoding="utf-8")


def load_settings(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load the file at ``path`` (None: the shipped default) and resolve it against the environment.

    Relative paths in a config file (``ledger.path``, ``routing.learned.artifact``) are relative to the file's
    directory, so the same file finds the same ledger (and its gateway keys) whatever the working directory.
    The shipped default config has no directory of its own: its ``tierwise.db`` is in the working directory.
    """
    env = os.environ if environ is None else environ
    if path is None:
        return parse_settings(default_config_text(), source=DEFAULT_CONFIG, environ=env)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_settings(text, source=str(path), environ=env, base_dir=Path(path).resolve().parent)


def parse_settings(text: str, *, source: str, environ: Mapping[str, str], base_dir: Path | None = None) -> Settings:
    """``base_dir``: where relative paths in ``text`` start (None: the working directory)."""
    raw, lines = _load_yaml_with_lines(text, source)
    try:
        parsed = schema.ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, lines, source)) from None
    return _resolve(parsed, source=source, environ=environ, lines=lines, base_dir=base_dir)


# --- YAML with line numbers -------------------------------------------------------------------------------


def _load_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if node is None:
        raise ConfigError(f"{source}: the file is empty")
    lines: dict[Path_, int] = {}
    return _to_python(node, (), lines), lines


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _to_python(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)


def _describe_validation_error(exc: ValidationError, lines: dict[Path_, int], source: str) -> str:
    messages = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        # pydantic appends the union member or literal name to loc; walk back to the nearest known path.
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        where = ".".join(str(part) for part in loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            parent = ".".join(str(part) for part in loc[:-1]) or "the top level"
            text = f"unknown key '{loc[-1]}' in {parent}"
        else:
            text = f"{where}: {error['msg']}"
        messages.append(f"{source} line {line}: {text}" if line else f"{source}: {text}")
    return "invalid configuration:\n  " + "\n  ".join(messages)


# --- Resolution -------------------------------------------------------------------------------------------


def _resolve(
    parsed: schema.ConfigFile,
    *,
    source: str,
    environ: Mapping[str, str],
    lines: dict[Path_, int],
    base_dir: Path | None = None,
) -> Settings:
    def fail(path: Path_, message: str) -> ConfigError:
        line = lines.get(path)
        return ConfigError(f"{source} line {line}: {message}" if line else f"{source}: {message}")

    providers = {name: _resolve_provider(name, p, environ, fail) for name, p in parsed.providers.items()}
    models: dict[str, ModelSettings] = {}
    for alias, m in parsed.models.items():
        provider = providers.get(m.provider)
        if provider is None:
            raise fail(("models", alias, "provider"), f"model '{alias}' names unknown provider '{m.provider}'")
        prices = None
        if m.prices is not None:
            prices = Prices(
                input=m.prices.input,
                output=m.prices.output,
                cache_read=m.prices.cache_read,
                cache_write=m.prices.cache_write,
                cache_write_1h=m.prices.cache_write_1h,
            )
        models[alias] = ModelSettings(
            alias=alias,
            provider=provider,
            upstream_id=m.id,
            context_window=_context_window(m, provider.kind),
            max_output_tokens=m.max_output_tokens,
            capabilities=frozenset(m.capabilities),
            prices=prices,
            price_ref=m.price_ref,
            long_context_beta=m.long_context_beta,
            efforts=tuple(e for e in EFFORTS if e in m.efforts),
        )
    tiers: dict[Tier, tuple[str, ...]] = {}
    for tier in TIERS:
        aliases = parsed.tiers.get(tier, [])
        for i, alias in enumerate(aliases):
            if alias not in models:
                raise fail(("tiers", tier, i), f"tier '{tier}' names unknown model '{alias}'")
        tiers[tier] = tuple(aliases)
    if not any(tiers.values()):
        raise fail(("tiers",), "no tier names any model")
    reliability = parsed.reliability
    if reliability.backoff_max < reliability.backoff_base:
        raise fail(("reliability", "backoff_max"), "reliability.backoff_max must not be below backoff_base")
    routing = _resolve_routing(parsed.routing, base_dir)
    if routing.target is not None and (routing.target.quality is None) == (routing.target.cost is None):
        raise fail(("routing", "target"), "routing.target needs exactly one of 'quality' and 'cost'")
    evidence = _resolve_evidence(parsed.evidence)
    if routing.target is not None and routing.policy != "learned":
        raise fail(("routing", "target"), "routing.target is held by the learned policy: set routing.policy: learned")
    if routing.target is not None and not evidence.enabled:
        raise fail(("routing", "target"), "routing.target is held from evidence: set evidence.enabled: true")
    for key, rate in [*evidence.tier_rates.items(), *evidence.key_rates.items()]:
        if not 0 <= rate <= 1:
            raise fail(("evidence",), f"evidence: the sample rate of '{key}' must be within [0, 1]")
    judge = evidence.judge
    if judge.kind == "llm" and (judge.model is None or judge.model not in models):
        raise fail(("evidence", "judge", "model"), "evidence.judge.model must name a configured model alias")
    if judge.kind == "http" and not judge.url:
        raise fail(("evidence", "judge", "url"), "evidence.judge.url is needed by the http judge")
    return Settings(
        server=ServerSettings(
            host=parsed.server.host,
            port=parsed.server.port,
            max_body_bytes=parsed.server.max_body_bytes,
            max_messages=parsed.server.max_messages,
            require_keys=parsed.server.require_keys,
            header_timeout_s=parsed.server.header_timeout,
        ),
        ledger_path=_relative_to(base_dir, parsed.ledger.path),
        providers=providers,
        models=models,
        tiers=tiers,
        routing=routing,
        source=source,
        reliability=_resolve_reliability(reliability),
        ledger=_resolve_ledger(parsed.ledger, environ, fail),
        state=_resolve_state(parsed.state, environ, fail),
        telemetry=_resolve_telemetry(parsed.telemetry, environ),
        evidence=evidence,
        report=_resolve_report(parsed.report, models, fail),
    )


def _resolve_ledger(p: schema.LedgerFile, environ: Mapping[str, str], fail: Any) -> LedgerSettings:
    url = (environ.get(p.url_env) if p.url_env else None) or p.url
    if p.backend == "postgres" and not url:
        raise fail(("ledger", "url"), "ledger.backend postgres needs a url (postgresql://user@host/db) or url_env")
    return LedgerSettings(backend=p.backend, url=url if p.backend == "postgres" else None)


def _resolve_state(p: schema.StateFile, environ: Mapping[str, str], fail: Any) -> StateSettings:
    url = (environ.get(p.url_env) if p.url_env else None) or p.url
    if p.backend == "redis" and not url:
        raise fail(("state", "url"), "state.backend redis needs a url (redis://host:6379/0) or url_env")
    return StateSettings(backend=p.backend, url=url if p.backend == "redis" else None, namespace=p.namespace)


def _resolve_telemetry(p: schema.TelemetryFile, environ: Mapping[str, str]) -> TelemetrySettings:
    endpoint = (environ.get(p.otlp_endpoint_env) if p.otlp_endpoint_env else None) or p.otlp_endpoint
    return TelemetrySettings(
        metrics=p.metrics,
        access_log=p.access_log,
        otlp_endpoint=endpoint.rstrip("/") if endpoint else None,
        otlp_headers=dict(p.otlp_headers),
        service_name=p.service_name,
    )


def _context_window(m: schema.ModelFile, kind: str) -> int:
    """The configured window, else the genai-prices data's, else a conservative 128K.

    A model with a long-context beta takes 1M tokens with it: the beta is sent only when a request needs more
    than the standard window.
    """
    if m.context_window is not None:
        return m.context_window
    if m.long_context_beta is not None:
        return LONG_CONTEXT_WINDOW
    return context_window_of(m.price_ref or m.id, kind) or _FALLBACK_CONTEXT_WINDOW


def _resolve_provider(name: str, p: schema.ProviderFile, environ: Mapping[str, str], fail: Any) -> ProviderSettings:
    base_url = (environ.get(p.base_url_env) if p.base_url_env else None) or p.base_url
    base_url = base_url or _DEFAULT_BASE_URLS.get(p.kind)
    if not base_url:
        raise fail(("providers", name, "base_url"), f"provider '{name}' of kind {p.kind} needs a base_url")
    if p.kind == "anthropic" and p.api is not None:
        raise fail(("providers", name, "api"), f"provider '{name}': 'api' applies to OpenAI-style providers only")
    return ProviderSettings(
        name=name,
        kind=p.kind,
        api="anthropic" if p.kind == "anthropic" else ("responses" if p.api == "responses" else "openai"),
        base_url=base_url.rstrip("/"),
        api_key=(environ.get(p.api_key_env) or None) if p.api_key_env else None,
        api_key_env=p.api_key_env,
        requires_key=p.kind not in _KEYLESS_KINDS and p.api_key_env is not None,
        timeouts=Timeouts(connect_s=p.timeouts.connect, first_token_s=p.timeouts.first_token, total_s=p.timeouts.total),
        limits=ResponseLimits(max_body_bytes=p.limits.max_body_bytes, max_sse_line_bytes=p.limits.max_sse_line_bytes),
        headers=dict(p.headers),
    )


def _as_set(value: str | list[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else value)


def _relative_to(base_dir: Path | None, path: str) -> str:
    return str(base_dir / path) if base_dir is not None else path  # an absolute path stays as it is


def _resolve_routing(r: schema.RoutingFile, base_dir: Path | None) -> RoutingSettings:
    rules = tuple(
        Rule(
            name=rule.name or f"rule {i + 1}",
            tier=rule.tier,
            when=RuleCondition(
                latency=_as_set(rule.when.latency),
                task=_as_set(rule.when.task),
                min_tokens=rule.when.min_tokens,
                max_tokens=rule.when.max_tokens,
                tools=rule.when.tools,
                images=rule.when.images,
            ),
        )
        for i, rule in enumerate(r.rules)
    )
    patterns = DEFAULT_MODEL_PATTERNS
    if r.model_patterns is not None:
        patterns = tuple(
            ModelPattern(match=p.match, tier=None if p.tier == "auto" else p.tier) for p in r.model_patterns
        )
    s = r.sessions
    return RoutingSettings(
        policy=r.policy,
        default_tier=r.default_tier,
        rules=rules,
        fallback_to_next_tier=r.fallback_to_next_tier,
        sticky_sessions=r.sticky_sessions,
        sessions=SessionSettings(
            ttl_s=s.ttl,
            capacity=s.capacity,
            escalate=s.escalate,
            tool_errors=s.tool_errors,
            repeated_calls=s.repeated_calls,
            corrections=s.corrections,
            context_tokens=s.context_tokens,
        ),
        model_patterns=patterns,
        learned=LearnedSettings(
            artifact=_relative_to(base_dir, r.learned.artifact) if r.learned.artifact else None,
            threshold=r.learned.threshold,
            weak_tier=r.learned.weak_tier,
            strong_tier=r.learned.strong_tier,
        ),
        cascade=CascadeSettings(
            cheap_tier=r.cascade.cheap_tier,
            checker_tier=r.cascade.checker_tier,
            strong_tier=r.cascade.strong_tier,
        ),
        target=RoutingTarget(quality=r.target.quality, cost=r.target.cost) if r.target is not None else None,
    )


def _resolve_evidence(e: schema.EvidenceFile) -> EvidenceSettings:
    return EvidenceSettings(
        enabled=e.enabled,
        sample_rate=e.sample_rate,
        tier_rates={str(tier): rate for tier, rate in e.tier_rates.items()},
        key_rates=dict(e.key_rates),
        max_rows=e.retention.max_rows,
        max_days=e.retention.max_days,
        shadow=e.shadow.enabled,
        shadow_usd_per_day=e.shadow.max_usd_per_day,
        shadow_concurrency=e.shadow.concurrency,
        queue=e.queue,
        judge=JudgeSettings(
            kind=e.judge.kind, model=e.judge.model, rubric=e.judge.rubric, url=e.judge.url, timeout_s=e.judge.timeout
        ),
        recalibrate_every_s=e.recalibrate_every,
        min_samples=e.min_samples,
        confidence=e.confidence,
    )


def _resolve_report(r: schema.ReportFile, models: Mapping[str, object], fail: Any) -> ReportSettings:
    if r.baseline is not None and r.baseline not in models:
        raise fail(("report", "baseline"), f"report.baseline names unknown model '{r.baseline}'")
    return ReportSettings(baseline=r.baseline)


def _resolve_reliability(r: schema.ReliabilityFile) -> ReliabilitySettings:
    b = r.circuit_breaker
    return ReliabilitySettings(
        retries=r.retries,
        backoff_base_s=r.backoff_base,
        backoff_max_s=r.backoff_max,
        max_retry_after_s=r.max_retry_after,
        fallback_to_next_tier=r.fallback_to_next_tier,
        breaker=BreakerSettings(enabled=b.enabled, failures=b.failures, cooldown_s=b.cooldown),
    )
