"""The internal chat types every layer speaks: wire formats translate to and from these.

Conventions (chosen once, here, so that no translator has to guess):
- ``Usage.input_tokens`` counts *all* prompt tokens, cached ones included (OpenAI's and genai-prices'
  convention). Anthropic reports uncached input separately, so its translator adds the cache counts in on the
  way in and subtracts them on the way out.
- ``Usage.output_tokens`` includes reasoning/thinking tokens; ``reasoning_tokens`` says how many of them were.
- A tool call's ``arguments`` is the JSON text of the arguments, exactly as the model produced it.
- ``extensions`` carries request fields that only one API understands, keyed by API name (``"openai"`` or
  ``"anthropic"`` or ``"responses"``). They are forwarded only to an upstream that speaks the same API, never
  invented.
- Reasoning is asked for in two independent ways, as the APIs do: ``reasoning_effort`` (how hard to think,
  OpenAI's ``reasoning_effort`` / ``reasoning.effort`` and Anthropic's ``output_config.effort``, one vocabulary,
  see ``Effort``) and ``thinking`` (Anthropic's switch: enabled with a token budget, adaptive or disabled).
- ``Usage.cache_write_tokens`` counts every cache write; ``cache_write_1h_tokens`` says how many of them were
  written with the one-hour lifetime (the rest are five-minute writes), because the two are priced differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# "system" in ``messages`` is an instruction given mid-conversation, kept in its place (Claude Code sends them).
Role = Literal["user", "assistant", "system"]
ApiName = Literal["openai", "anthropic", "responses"]  # Chat Completions, Messages, OpenAI Responses
# One effort scale for every API. OpenAI accepts none..xhigh (depending on the model), Anthropic low..max;
# translators map a value the target lacks to its nearest neighbour or refuse it, and say which in TRANSLATION.md.
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
EFFORTS: tuple[Effort, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
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
    """Reasoning: Anthropic extended thinking (``redacted`` holds the opaque data of a redacted block), or an
    OpenAI Responses reasoning item (``encrypted``: its id and encrypted_content, which only OpenAI can read and
    which goes back only to a Responses upstream; ``text`` is its summary)."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    encrypted: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentPart:
    """A document the model reads: a PDF (base64 ``data`` or a ``url``) or plain ``text``.

    Anthropic's ``document`` block and OpenAI's ``file`` content part (``file_data`` as a data URL) both map here.
    ``file_id`` refers to a file uploaded to one provider's Files API and is only meaningful there.
    """

    media_type: str | None = None  # "application/pdf" with data/url, "text/plain" with text
    data: str | None = None  # base64
    url: str | None = None
    text: str | None = None
    file_id: str | None = None
    filename: str | None = None  # OpenAI file.filename
    title: str | None = None  # Anthropic document title
    context: str | None = None  # Anthropic document context
    citations: bool | None = None  # Anthropic citations.enabled
    cache_control: dict[str, Any] | None = None


Part = TextPart | ImagePart | DocumentPart | ToolCallPart | ToolResultPart | ThinkingPart


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # JSON schema
    strict: bool | None = None  # arguments must follow the schema exactly (OpenAI and Anthropic "strict")
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None  # when mode == "tool"
    parallel: bool | None = None  # None: the client did not say


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseFormat:
    """Structured output: OpenAI ``response_format`` / Responses ``text.format``, Anthropic ``output_config.format``.

    ``json_schema`` carries the schema (and OpenAI's name, description and strict); ``json_object`` asks for any
    JSON object; ``text`` is the explicit default.
    """

    kind: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Thinking:
    """Anthropic's ``thinking``: ``enabled`` with a token budget, ``adaptive`` (the model decides) or ``disabled``."""

    mode: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: int | None = None  # with mode == "enabled"
    display: str | None = None  # Anthropic thinking.display, e.g. "summarized" / "omitted"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRequest:
    """One chat call as the client asked for it. Optional fields are None when the client did not send them."""

    model: str
    messages: tuple[Message, ...]
    system: tuple[TextPart, ...] = ()
    betas: tuple[str, ...] = ()  # Anthropic beta features the client declared (anthropic-beta), in its order
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    stream_usage: bool = False  # OpenAI's stream_options.include_usage
    thinking: Thinking | None = None
    reasoning_effort: Effort | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None  # OpenAI seed; Anthropic has none
    user: str | None = None  # OpenAI user / Anthropic metadata.user_id
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def thinking_budget(self) -> int | None:
        """The thinking budget in tokens when thinking is enabled with one."""
        return self.thinking.budget_tokens if self.thinking is not None and self.thinking.mode == "enabled" else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written with the one-hour lifetime
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
    encrypted: str | None = None  # see ThinkingPart


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
