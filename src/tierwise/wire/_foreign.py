"""Request fields of one API that reach an upstream speaking the other: each is ignored on purpose or refused.

A field kept in ``extensions[api]`` is forwarded as it is to an upstream of the same API. Across APIs a field
the target cannot honour is refused with a 400 naming it, unless it is listed here as one that does not change
the answer (bookkeeping, hints) or it carries its API's default value. docs/TRANSLATION.md lists the decisions.
"""

from __future__ import annotations

from typing import Any

from tierwise.errors import InvalidRequest

# Chat Completions fields an Anthropic model can do without: they do not change what the model answers.
OPENAI_HARMLESS = frozenset(
    {
        "metadata",  # OpenAI's stored-completion tags
        "store",  # OpenAI-side storage of the completion
        "service_tier",  # OpenAI's processing tier
        "prompt_cache_key",  # OpenAI's cache routing hint
        "prompt_cache_retention",
        "safety_identifier",  # OpenAI's abuse-monitoring id
        "prediction",  # predicted output: a latency hint, the answer is the same
        "parallel_tool_calls",  # kept here only when there are no tools
        "max_completion_tokens",  # the output limit's name: its value is the request's max_tokens
    }
)
# The values that mean "as if absent" for Chat Completions fields that otherwise change the answer.
_OPENAI_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "n": (1,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "frequency_penalty": (0, 0.0),
    "presence_penalty": (0, 0.0),
    "logit_bias": ({},),
    "modalities": (["text"],),
}

# Anthropic Messages fields an OpenAI-compatible model can do without.
ANTHROPIC_HARMLESS = frozenset(
    {
        "service_tier",  # Anthropic's priority capacity
        "metadata",  # user_id is translated to user; there is nothing else in it
        "inference_geo",  # where Anthropic runs the model
        # Context editing only clears old tool results to stay inside a window; the other model gets them all.
        "context_management",
        "thinking",  # present here only for keys beyond type/budget/display, which the thinking itself carries
    }
)
_ANTHROPIC_WHY = {
    "tools": "Anthropic server tools run only on Anthropic models",
    "mcp_servers": "MCP connectors run only on Anthropic models",
    "container": "code-execution containers exist only on Anthropic",
    "output_config": "these output_config keys have no Chat Completions counterpart",
}


def check_foreign(fields: dict[str, Any], *, source: str, target_model: str) -> None:
    """Refuse any field of the ``source`` API ("openai" or "anthropic") that the target cannot honour."""
    for key, value in fields.items():
        if source == "openai":
            if key in OPENAI_HARMLESS or value is None or _is_default(key, value):
                continue
            why = "Anthropic Messages has no such field"
        else:
            if key in ANTHROPIC_HARMLESS or value is None:
                continue
            why = _ANTHROPIC_WHY.get(key, "Chat Completions has no such field")
        raise InvalidRequest(
            f"'{key}' cannot be honoured by {target_model} ({why}); remove it or choose a model of the other API",
            param=key,
        )


def _is_default(key: str, value: object) -> bool:
    return any(value == default and type(value) is type(default) for default in _OPENAI_DEFAULTS.get(key, ()))
