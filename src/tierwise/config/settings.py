"""The resolved configuration: frozen objects the rest of tierwise reads, built once at start-up."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from tierwise.routing.decision import Tier
from tierwise.types import ApiName, Effort

ProviderKind = Literal["anthropic", "openai", "openai-compatible", "openrouter", "ollama", "vllm"]
# thinking: takes a thinking budget (Anthropic) or reasoning_effort (OpenAI reasoning models);
# adaptive_thinking: takes Anthropic's thinking {type: adaptive}; effort: takes Anthropic's output_config.effort.
Capability = Literal["tools", "vision", "thinking", "adaptive_thinking", "effort"]
PolicyName = Literal["rules", "learned", "cascade"]
# Anthropic's standard context window, and the window its long-context beta opens.
STANDARD_CONTEXT_WINDOW = 200_000
LONG_CONTEXT_WINDOW = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    connect_s: float = 10.0
    first_token_s: float = 120.0
    total_s: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseLimits:
    """How much of an upstream's answer the gateway will hold: past these, the call fails (502, retried on
    the next model), so a hostile or broken upstream cannot exhaust memory or stall the event loop."""

    max_body_bytes: int = 32 * 1024 * 1024  # a non-streamed answer or error body, counted after decompression
    max_sse_line_bytes: int = 4 * 1024 * 1024  # one line, or one event's data, of a stream


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSettings:
    name: str
    kind: ProviderKind
    api: ApiName  # the wire format it speaks
    base_url: str
    api_key: str | None  # resolved from the environment; never logged
    api_key_env: str | None
    requires_key: bool
    timeouts: Timeouts
    headers: dict[str, str] = field(default_factory=dict)
    limits: ResponseLimits = field(default_factory=ResponseLimits)

    @property
    def missing_key(self) -> bool:
        return self.requires_key and not self.api_key


@dataclass(frozen=True, slots=True, kw_only=True)
class Prices:
    """USD per million tokens; an explicit override of the genai-prices data."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None  # a five-minute cache write
    cache_write_1h: Decimal | None = None  # a one-hour cache write


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSettings:
    alias: str
    provider: ProviderSettings
    upstream_id: str
    context_window: int
    max_output_tokens: int
    capabilities: frozenset[Capability]
    prices: Prices | None = None  # None: look the model up in genai-prices
    price_ref: str | None = None  # the genai-prices model name when it differs from upstream_id
    # An Anthropic beta that opens the context window past the standard 200K (sent only when a request needs it).
    long_context_beta: str | None = None
    # The reasoning efforts the model accepts; another one asked for becomes the nearest of these. Empty: any.
    efforts: tuple[Effort, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleCondition:
    """All set fields must hold for the rule to match."""

    latency: frozenset[str] = frozenset()
    task: frozenset[str] = frozenset()
    min_tokens: int | None = None
    max_tokens: int | None = None
    tools: bool | None = None
    images: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    name: str
    when: RuleCondition
    tier: Tier


@dataclass(frozen=True, slots=True, kw_only=True)
class LearnedSettings:
    artifact: str | None = None  # None: the router shipped in the package
    threshold: float = 0.5
    weak_tier: Tier = "default"
    strong_tier: Tier = "escalation"


@dataclass(frozen=True, slots=True, kw_only=True)
class CascadeSettings:
    """Answer with ``cheap_tier``; escalate when two cheap answers disagree (non-streaming requests only)."""

    cheap_tier: Tier = "default"
    checker_tier: Tier = "speed"
    strong_tier: Tier = "escalation"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPattern:
    """Requested model ids matching ``match`` (a case-insensitive glob) go to ``tier``; None: the policy decides."""

    match: str
    tier: Tier | None

    def matches(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model.lower(), self.match.lower())


# Shipped so that agents' own default model ids are routed: first match wins. Claude by family; OpenAI's small
# models to speed, its pro and o-series reasoning models to escalation, the rest (codex included) to default.
_SHIPPED_PATTERNS: tuple[tuple[str, Tier], ...] = (
    ("*claude*opus*", "escalation"),
    ("*claude*sonnet*", "default"),
    ("*claude*haiku*", "speed"),
    ("gpt-*mini*", "speed"),
    ("gpt-*nano*", "speed"),
    ("o[0-9]*-mini*", "speed"),
    ("gpt-*-pro*", "escalation"),
    ("o[0-9]*-pro*", "escalation"),
    ("o[0-9]", "escalation"),
    ("o[0-9]-*", "escalation"),
    ("gpt-*", "default"),
)
DEFAULT_MODEL_PATTERNS = tuple(ModelPattern(match=match, tier=tier) for match, tier in _SHIPPED_PATTERNS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSettings:
    """How long sessions are remembered, and the operational signals that move one up (see routing.sessions)."""

    ttl_s: float = 6 * 3600.0
    capacity: int = 100_000
    escalate: bool = True
    tool_errors: int = 2
    repeated_calls: int = 3
    corrections: int = 1
    context_tokens: int = 150_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingTarget:
    """What the evidence loop holds: a quality (share of the stronger tier's judged quality) or a cost (share
    of always-stronger cost). Exactly one is set."""

    quality: float | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingSettings:
    policy: PolicyName = "rules"
    default_tier: Tier = "default"
    rules: tuple[Rule, ...] = ()
    fallback_to_next_tier: bool = True
    sticky_sessions: bool = True
    sessions: SessionSettings = field(default_factory=SessionSettings)
    model_patterns: tuple[ModelPattern, ...] = DEFAULT_MODEL_PATTERNS
    learned: LearnedSettings = field(default_factory=LearnedSettings)
    cascade: CascadeSettings = field(default_factory=CascadeSettings)
    target: RoutingTarget | None = None  # set: the learned policy's operating point comes from evidence

    def pattern_for(self, model: str) -> ModelPattern | None:
        """The first model pattern matching a requested id, or None."""
        return next((pattern for pattern in self.model_patterns if pattern.matches(model)), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerSettings:
    """A model's circuit opens after ``failures`` retryable failures in a row, for ``cooldown_s``."""

    enabled: bool = True
    failures: int = 5
    cooldown_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReliabilitySettings:
    """Retries on the same model, then its fallbacks, then (optionally) the tiers above."""

    retries: int = 1
    backoff_base_s: float = 0.25
    backoff_max_s: float = 2.0
    max_retry_after_s: float = 5.0
    fallback_to_next_tier: bool = True
    breaker: BreakerSettings = field(default_factory=BreakerSettings)


JudgeKind = Literal["agreement", "llm", "http"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeSettings:
    kind: JudgeKind = "agreement"
    model: str | None = None  # llm: the alias of the judge model
    rubric: str | None = None  # llm: what a better answer is; None: the built-in rubric
    url: str | None = None  # http: where comparisons are POSTed
    timeout_s: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceSettings:
    """Sampled requests, shadow answers from another tier, judged; see docs/EVIDENCE.md."""

    enabled: bool = False
    sample_rate: float = 0.05
    tier_rates: dict[str, float] = field(default_factory=dict)  # overrides sample_rate for a tier
    key_rates: dict[str, float] = field(default_factory=dict)  # overrides both for a gateway key id
    max_rows: int = 100_000
    max_days: float = 30.0
    shadow: bool = True
    shadow_usd_per_day: Decimal = Decimal(5)
    shadow_concurrency: int = 2
    queue: int = 256  # captured entries waiting for their shadow call; more are dropped, never waited for
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    recalibrate_every_s: float = 300.0
    min_samples: int = 50
    confidence: float = 0.95

    def rate(self, tier: str | None, key_id: str | None) -> float:
        if key_id is not None and key_id in self.key_rates:
            return self.key_rates[key_id]
        return self.tier_rates.get(tier or "", self.sample_rate)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 32 * 1024 * 1024
    max_messages: int = 10_000  # a longer messages array gets 400
    require_keys: bool = False  # refuse to start without gateway keys
    header_timeout_s: float = 15.0  # a connection whose request headers take longer is closed


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerSettings:
    backend: Literal["sqlite", "postgres"] = "sqlite"
    url: str | None = None  # postgres only; may hold a password: never printed whole


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSettings:
    """Where budgets, rate windows, circuit breakers and sessions live: this process, or Redis (shared)."""

    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    namespace: str = "tierwise"  # the prefix of every Redis key and channel

    @property
    def shared(self) -> bool:
        return self.backend != "memory"


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetrySettings:
    metrics: bool = True
    access_log: str | None = None
    otlp_endpoint: str | None = None
    otlp_headers: dict[str, str] = field(default_factory=dict)
    service_name: str = "tierwise"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSettings:
    """How ``tierwise report`` and the console count savings."""

    baseline: str | None = None  # the model savings are counted against; None: the default tier's first model


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    server: ServerSettings
    ledger_path: str
    providers: dict[str, ProviderSettings]
    models: dict[str, ModelSettings]
    tiers: dict[Tier, tuple[str, ...]]
    routing: RoutingSettings
    source: str  # the file it came from, or "<default>"
    reliability: ReliabilitySettings = field(default_factory=ReliabilitySettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    state: StateSettings = field(default_factory=StateSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    report: ReportSettings = field(default_factory=ReportSettings)

    def tier_of(self, alias: str) -> Tier | None:
        for tier, aliases in self.tiers.items():
            if alias in aliases:
                return tier
        return None

    def warnings(self) -> list[str]:
        """Problems worth reporting at start-up that do not stop the gateway (e.g. missing keys)."""
        notes = []
        for provider in self.providers.values():
            if provider.missing_key:
                users = sorted(m.alias for m in self.models.values() if m.provider is provider)
                notes.append(
                    f"provider '{provider.name}': ${provider.api_key_env} is not set; "
                    f"requests routed to {', '.join(users) or 'its models'} will get a clear error"
                )
        return notes
