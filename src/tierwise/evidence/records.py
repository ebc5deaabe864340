"""What the evidence package keeps: a captured request, a judged comparison of two tiers, a routing change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tierwise.ledger.entry import LedgerEntry
from tierwise.types import ChatRequest, ChatResponse

Served = Literal["cheap", "strong"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """An answer's text and tool calls (name and JSON arguments), as the judges compare them."""

    text: str
    tool_calls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """A request the gateway has answered, as handed over by the request path (never copied there)."""

    entry: LedgerEntry
    body: object  # the client's JSON body as received
    request: ChatRequest
    response: ChatResponse | None = None  # a complete answer
    streamed: list[str] | None = None  # or the text deltas of a streamed one
    score: float | None = None  # the learned router's score, when one decided


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One captured request and the answer the client got (upstream keys already redacted)."""

    sample_id: str
    request_id: str
    created_at: float  # when the client's request started
    api: str
    key_id: str | None
    policy: str | None
    tier: str
    model: str
    score: float | None
    prompt: str  # the last user turn
    request_body: str  # JSON text of the client's body
    answer: Answer
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A sample's answer and a shadow answer from another tier, scored by a judge (each score in [0, 1])."""

    sample_id: str
    created_at: float
    judge: str
    cheap_tier: str
    cheap_model: str
    cheap_score: float
    cheap_cost_usd: float | None
    strong_tier: str
    strong_model: str
    strong_score: float
    strong_cost_usd: float | None
    served: Served  # which of the two the client got
    shadow_answer: Answer
    shadow_input_tokens: int
    shadow_output_tokens: int
    shadow_request_id: str
    prompt: str = ""  # filled in when read back (joined with its sample)
    policy: str | None = None  # the policy that served the sample (read back with it)
    served_at: float = 0.0  # when the client's request started (read back with its sample)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingChange:
    """An operating point the loop applied, or a rollback to an earlier one."""

    changed_at: float
    action: Literal["apply", "rollback", "conservative"]
    weak_tier: str
    strong_tier: str
    threshold: float | None  # None: everything to the default tier (not enough evidence)
    evidence_until: float  # the scorer learned from comparisons up to this time
    target: str  # e.g. "quality 0.97" or "cost 0.6"
    estimate: float | None
    lower: float | None
    upper: float | None
    n: int
    escalated_share: float | None
    reason: str
