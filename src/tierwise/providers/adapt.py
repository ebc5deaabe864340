"""Fit a request to the model that will answer it: output limit, and reasoning in the form the model takes.

The wire formats translate vocabulary (field names, value sets); what depends on the *model* is decided here,
from its configured limits and capabilities, before the wire format renders the request:
- ``max_tokens`` above the model's output limit is capped at the limit (the real APIs answer 400 otherwise);
- effort and thinking are turned into what the model accepts: Anthropic models without ``effort`` get a
  thinking budget instead, adaptive-only models get adaptive thinking instead of a budget, models with only a
  budget get one for adaptive thinking, and OpenAI reasoning models get a ``reasoning_effort`` for a budget;
- thinking asked of a model that cannot think is refused (routing already skips such models when it chooses);
- an effort the model does not take becomes the nearest one it does (``efforts`` in the config);
- a model whose window past 200K needs a beta (``long_context_beta``) gets it when the request needs the room.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tierwise.config.settings import STANDARD_CONTEXT_WINDOW, ModelSettings
from tierwise.errors import InvalidRequest
from tierwise.routing.features import estimate_tokens
from tierwise.types import EFFORTS, ChatRequest, Effort, Thinking

# A thinking budget for an effort, and the effort a budget stands for. Anthropic needs a budget of at least
# 1024 tokens, below max_tokens.
_BUDGET_FOR_EFFORT: dict[Effort, int] = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768, "max": 65536}
_MIN_BUDGET = 1024


@dataclass(frozen=True, slots=True)
class Adapted:
    request: ChatRequest
    notes: tuple[str, ...]  # what was changed, for the decision's reasons (x-tierwise-reason, the ledger)


def effort_for_budget(budget: int) -> Effort:
    if budget <= 4096:
        return "low"
    if budget <= 16384:
        return "medium"
    return "high"


def nearest_effort(effort: Effort, accepted: tuple[Effort, ...]) -> Effort:
    """The accepted effort nearest ``effort`` on the scale; between two equally near, the higher."""
    rank = EFFORTS.index(effort)
    return min(accepted, key=lambda e: (abs(EFFORTS.index(e) - rank), -EFFORTS.index(e)))


def adapt(request: ChatRequest, model: ModelSettings) -> Adapted:
    notes: list[str] = []
    max_tokens = request.max_tokens
    if max_tokens is not None and max_tokens > model.max_output_tokens:
        max_tokens = model.max_output_tokens
        notes.append(f"max_tokens {request.max_tokens} capped at {model.alias}'s output limit {max_tokens}")
    effort, thinking = request.reasoning_effort, request.thinking
    if effort is not None and model.efforts and effort not in model.efforts:
        nearest = nearest_effort(effort, model.efforts)
        notes.append(f"reasoning effort {effort} -> {nearest}, the nearest {model.alias} takes")
        effort = nearest
    if model.provider.api == "anthropic":
        effort, thinking = _anthropic_reasoning(effort, thinking, model, max_tokens or model.max_output_tokens)
    elif "thinking" not in model.capabilities:
        if thinking is not None and thinking.mode == "enabled":
            raise InvalidRequest(f"thinking cannot be honoured by {model.alias}: it does not reason", param="thinking")
        if effort is not None:
            notes.append(f"{model.alias} does not reason: reasoning effort {effort} not sent")
            effort = None
    elif thinking is not None and thinking.budget_tokens is not None and effort is None:
        effort = effort_for_budget(thinking.budget_tokens)  # what an OpenAI reasoning model takes instead
    betas = request.betas
    beta = model.long_context_beta
    if beta is not None and beta not in betas:
        needed = estimate_tokens(request) + (max_tokens or model.max_output_tokens)
        if needed > STANDARD_CONTEXT_WINDOW:
            betas = (*betas, beta)
            notes.append(f"~{needed // 1000}k tokens: long-context beta {beta} sent to {model.alias}")
    if (max_tokens, effort, thinking, betas) == (
        request.max_tokens,
        request.reasoning_effort,
        request.thinking,
        request.betas,
    ):
        return Adapted(request, ())
    adapted = dataclasses.replace(
        request, max_tokens=max_tokens, reasoning_effort=effort, thinking=thinking, betas=betas
    )
    return Adapted(adapted, tuple(notes))


def _anthropic_reasoning(
    effort: Effort | None, thinking: Thinking | None, model: ModelSettings, max_tokens: int
) -> tuple[Effort | None, Thinking | None]:
    caps = model.capabilities
    if effort is not None and "effort" not in caps:
        # No effort dial: the model's way to reason harder is a thinking budget; "none"/"minimal" ask for none.
        if effort not in ("none", "minimal") and (thinking is None or thinking.mode == "adaptive"):
            thinking = _budgeted(_BUDGET_FOR_EFFORT[effort], max_tokens, thinking, "reasoning_effort")
        effort = None
    if thinking is None or thinking.mode == "disabled":
        return effort, thinking
    if thinking.mode == "enabled" and "thinking" not in caps:
        if "adaptive_thinking" not in caps:
            raise InvalidRequest(f"thinking cannot be honoured by {model.alias}: it does not think", param="thinking")
        if effort is None and "effort" in caps and thinking.budget_tokens is not None:
            effort = effort_for_budget(thinking.budget_tokens)
        thinking = Thinking(mode="adaptive", display=thinking.display)
    elif thinking.mode == "adaptive" and "adaptive_thinking" not in caps:
        if "thinking" not in caps:
            raise InvalidRequest(f"thinking cannot be honoured by {model.alias}: it does not think", param="thinking")
        budget = _BUDGET_FOR_EFFORT.get(effort or "medium", _BUDGET_FOR_EFFORT["medium"])
        thinking = _budgeted(budget, max_tokens, thinking, "thinking")
    return effort, thinking


def _budgeted(budget: int, max_tokens: int, thinking: Thinking | None, field: str) -> Thinking:
    budget = min(budget, max_tokens - 1)
    if budget < _MIN_BUDGET:
        raise InvalidRequest(
            f"{field} needs a thinking budget of at least {_MIN_BUDGET} tokens below max_tokens on this model; "
            f"raise max_tokens above {_MIN_BUDGET}",
            param="max_tokens",
        )
    return Thinking(mode="enabled", budget_tokens=budget, display=thinking.display if thinking else None)
