"""The shape of the YAML configuration file, validated once at start-up (pydantic lives only here)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TierName = Literal["speed", "default", "escalation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutsFile(_Strict):
    connect: float = Field(10.0, gt=0)
    first_token: float = Field(120.0, gt=0)
    total: float = Field(600.0, gt=0)


class ResponseLimitsFile(_Strict):
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)  # an upstream answer, after decompression
    max_sse_line_bytes: int = Field(4 * 1024 * 1024, gt=0)  # one line (or one event's data) of a stream


class ProviderFile(_Strict):
    kind: Literal["anthropic", "openai", "openai-compatible", "openrouter", "ollama", "vllm"]
    # Which OpenAI API an OpenAI-style provider is called with: Chat Completions (default) or Responses.
    api: Literal["chat", "responses"] | None = None
    base_url: str | None = None
    base_url_env: str | None = None  # when this variable is set, it overrides base_url
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeouts: TimeoutsFile = Field(default_factory=lambda: TimeoutsFile())
    limits: ResponseLimitsFile = Field(default_factory=lambda: ResponseLimitsFile())


class PricesFile(_Strict):
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None


class ModelFile(_Strict):
    provider: str
    id: str
    context_window: int | None = Field(None, gt=0)  # None: from the genai-prices data
    max_output_tokens: int = Field(8_192, gt=0)
    capabilities: list[Literal["tools", "vision", "thinking", "adaptive_thinking", "effort"]] = Field(
        default_factory=list
    )
    prices: PricesFile | None = None
    price_ref: str | None = None
    long_context_beta: str | None = None
    efforts: list[Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]] = Field(default_factory=list)


class ConditionFile(_Strict):
    latency: str | list[str] | None = None
    task: str | list[str] | None = None
    min_tokens: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0)
    tools: bool | None = None
    images: bool | None = None


class RuleFile(_Strict):
    name: str | None = None
    when: ConditionFile
    tier: TierName


class LearnedFile(_Strict):
    artifact: str | None = None
    threshold: float = Field(0.5, ge=0, le=1)
    weak_tier: TierName = "default"
    strong_tier: TierName = "escalation"


class CascadeFile(_Strict):
    cheap_tier: TierName = "default"
    checker_tier: TierName = "speed"
    strong_tier: TierName = "escalation"


class ModelPatternFile(_Strict):
    match: str = Field(min_length=1)  # a glob over requested model ids, e.g. "claude-*opus*" (case-insensitive)
    tier: TierName | Literal["auto"]  # auto: the routing policy decides, as for model "auto"


class SessionsFile(_Strict):
    ttl: float = Field(6 * 3600.0, gt=0)  # seconds a session is remembered after its last request
    capacity: int = Field(100_000, ge=1)  # sessions kept in memory; the least recently used go first
    escalate: bool = True  # act on the operational signals below (False: only hold the tier)
    tool_errors: int = Field(2, ge=1)  # failed tool results in a row
    repeated_calls: int = Field(3, ge=2)  # the same tool call (name and arguments) made this many times in a row
    corrections: int = Field(1, ge=1)  # user turns that correct the model (counted over the conversation)
    context_tokens: int = Field(150_000, ge=1)  # the conversation grew past this many tokens


class TargetFile(_Strict):
    quality: float | None = Field(None, gt=0, le=1)  # share of the stronger tier's judged quality
    cost: float | None = Field(None, gt=0, le=1)  # share of the always-stronger cost


class RoutingFile(_Strict):
    policy: Literal["rules", "learned", "cascade"] = "rules"
    default_tier: TierName = "default"
    fallback_to_next_tier: bool = True
    sticky_sessions: bool = True
    sessions: SessionsFile = Field(default_factory=lambda: SessionsFile())
    model_patterns: list[ModelPatternFile] | None = None  # None: the shipped patterns (docs/AGENTS.md)
    rules: list[RuleFile] = Field(default_factory=list)
    learned: LearnedFile = Field(default_factory=lambda: LearnedFile())
    cascade: CascadeFile = Field(default_factory=lambda: CascadeFile())
    target: TargetFile | None = None


class ServerFile(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)
    max_messages: int = Field(10_000, gt=0)
    require_keys: bool = False  # refuse to start when the ledger holds no gateway keys (never serve openly)
    header_timeout: float = Field(15.0, gt=0)  # seconds for a request's headers to arrive (also the idle keep-alive)


class LedgerFile(_Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "tierwise.db"  # the SQLite file (backend: sqlite)
    url: str | None = None  # postgresql://user:password@host/db (backend: postgres)
    url_env: str | None = None  # when this variable is set, it overrides url (keeps passwords out of the file)


class StateFile(_Strict):
    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None  # redis://host:6379/0
    url_env: str | None = None  # when this variable is set, it overrides url
    # Prefixes every Redis key and channel: deployments that share one Redis never see each other's state.
    namespace: str = Field("tierwise", pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class TelemetryFile(_Strict):
    metrics: bool = True  # GET /metrics in the Prometheus text format
    access_log: str | None = None  # a file for one JSON line per request ("-": standard error); off when unset
    otlp_endpoint: str | None = None  # OTLP/HTTP traces (e.g. http://collector:4318); off when unset
    otlp_endpoint_env: str | None = None  # when this variable is set, it overrides otlp_endpoint
    otlp_headers: dict[str, str] = Field(default_factory=dict)
    service_name: str = "tierwise"


class CircuitBreakerFile(_Strict):
    enabled: bool = True
    failures: int = Field(5, ge=1)  # consecutive retryable failures that open a model's circuit
    cooldown: float = Field(30.0, gt=0)  # seconds open before one probe request is let through


class ReliabilityFile(_Strict):
    retries: int = Field(1, ge=0)  # extra attempts on the same model after a retryable failure
    backoff_base: float = Field(0.25, ge=0)
    backoff_max: float = Field(2.0, ge=0)
    max_retry_after: float = Field(5.0, ge=0)  # a longer retry-after moves on to the next model instead
    fallback_to_next_tier: bool = True
    circuit_breaker: CircuitBreakerFile = Field(default_factory=lambda: CircuitBreakerFile())


class JudgeFile(_Strict):
    kind: Literal["agreement", "llm", "http"] = "agreement"
    model: str | None = None
    rubric: str | None = None
    url: str | None = None
    timeout: float = Field(60.0, gt=0)


class RetentionFile(_Strict):
    max_rows: int = Field(100_000, ge=1)
    max_days: float = Field(30.0, gt=0)


class ShadowFile(_Strict):
    enabled: bool = True
    max_usd_per_day: Decimal = Field(Decimal(5), ge=0)
    concurrency: int = Field(2, ge=1)


class EvidenceFile(_Strict):
    enabled: bool = False
    sample_rate: float = Field(0.05, ge=0, le=1)
    tier_rates: dict[TierName, float] = Field(default_factory=dict)
    key_rates: dict[str, float] = Field(default_factory=dict)
    retention: RetentionFile = Field(default_factory=lambda: RetentionFile())
    shadow: ShadowFile = Field(default_factory=lambda: ShadowFile())
    judge: JudgeFile = Field(default_factory=lambda: JudgeFile())
    queue: int = Field(256, ge=1)
    recalibrate_every: float = Field(300.0, ge=0)  # seconds; 0: only `tierwise calibrate --from-evidence`
    min_samples: int = Field(50, ge=2)
    confidence: float = Field(0.95, gt=0.5, lt=1)


class ReportFile(_Strict):
    baseline: str | None = None  # a model alias; default: the default tier's first model


class ConfigFile(_Strict):
    server: ServerFile = Field(default_factory=lambda: ServerFile())
    ledger: LedgerFile = Field(default_factory=lambda: LedgerFile())
    providers: dict[str, ProviderFile]
    models: dict[str, ModelFile]
    tiers: dict[TierName, list[str]]
    routing: RoutingFile = Field(default_factory=lambda: RoutingFile())
    reliability: ReliabilityFile = Field(default_factory=lambda: ReliabilityFile())
    state: StateFile = Field(default_factory=lambda: StateFile())
    telemetry: TelemetryFile = Field(default_factory=lambda: TelemetryFile())
    evidence: EvidenceFile = Field(default_factory=lambda: EvidenceFile())
    report: ReportFile = Field(default_factory=lambda: ReportFile())
