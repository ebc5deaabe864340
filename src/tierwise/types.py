"""The internal chat types every layer speaks: wire formats translate to and from these.

Conventions (chosen once, here, so that no translator has to guess):
- ``Usage.input_tokens`` counts *all* prompt tokens, cached ones included (OpenAI's and genai-prices'
  convention). Anthropic reports uncached input separately, so its translator adds the cache counts in on the
  way in and subtracts them on the way out.
- ``Usage.output_tokens`` includes reasoning/thinking tokens; ``reasoning_tokens`` says how many of them were.
- A tool call's ``arguments`` is the JSON text of the arguments, exactly as the model produced it.
- ``extensions`` carries request fields that only one API understands, keyed by API name (``"openai"`` or
  ``"anthropic"``). They are forwarded only to an upstream that speaks the same API, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]
ApiName = Literal["openai", "anthropic"]
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "content_filter", "refusal", "pause_turn"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TextPart:
    text: str
    # Anthropic prompt-caching marker, e.g. {"type": "ephemeral"}; ignored by OpenAI upstreams.
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagePart:
    """An image given either inline (base64 ``data`` with ``media_type``) or by ``url``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    detail: str | None = None  # OpenAI's "low" / "high" / "auto"
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str  # JSON text
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResultPart:
    tool_call_id: str
    content: tuple[TextPart | ImagePart, ...]
    is_error: bool = False
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ThinkingPart:
    """Anthropic extended thinking (``redacted`` holds the opaque data of a redacted block)."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


Part = TextPart | ImagePart | ToolCallPart | ToolResultPart | ThinkingPart


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # JSON schema
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None  # when mode == "tool"
    parallel: bool | None = None  # None: the client did not say


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRequest:
    """One chat call as the client asked for it. Optional fields are None when the client did not send them."""

    model: str
    messages: tuple[Message, ...]
    system: tuple[TextPart, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    stream_usage: bool = False  # OpenAI's stream_options.include_usage
    thinking_budget: int | None = None  # Anthropic thinking.budget_tokens
    reasoning_effort: str | None = None  # OpenAI reasoning_effort
    user: str | None = None  # OpenAI user / Anthropic metadata.user_id
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResponse:
    id: str
    model: str  # the upstream model that answered
    parts: tuple[TextPart | ToolCallPart | ThinkingPart, ...]
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


# --- Streaming -------------------------------------------------------------------------------------------
# A stream is: StreamStart, then content blocks (each opened by a *Start event, filled by deltas, closed by
# BlockStop, identified by a block ``index`` that counts from 0 in order of appearance), then StreamEnd.
# Upstream parsers emit exactly this order; renderers may rely on it.


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStart:
    id: str
    model: str
    usage: Usage = field(default_factory=Usage)  # whatever is known at the start (Anthropic: the input)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextStart:
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta:
    index: int
    arguments: str  # a fragment of the JSON text


@dataclass(frozen=True, slots=True, kw_only=True)
class ThinkingStart:
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ThinkingDelta:
    index: int
    text: str = ""
    signature: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockStop:
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEnd:
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)  # the final, complete usage of the call


StreamEvent = (
    StreamStart
    | TextStart
    | TextDelta
    | ToolCallStart
    | ToolCallDelta
    | ThinkingStart
    | ThinkingDelta
    | BlockStop
    | StreamEnd
)
