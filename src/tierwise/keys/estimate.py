"""Token counts the gateway makes itself: a bound for reserving budget, and estimates when the upstream's are lost.

The bound: byte-level BPE tokenizers (OpenAI's o200k/cl100k, Anthropic's) never make more tokens of a text than
it has UTF-8 bytes, so a prompt's bytes (plus its per-message framing, plus a generous per-image figure) bound
its input tokens whatever the script. It costs a length per text part (``str.isascii`` is O(1) in CPython, so
ASCII text is not even encoded). The estimate, used only when an upstream sent no usage or the client hung up
before it came, is about one token per three bytes: high for English (about four), close for CJK.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from tierwise.types import (
    ChatRequest,
    ChatResponse,
    DocumentPart,
    ImagePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

IMAGE_TOKEN_BOUND = 6_000  # more than any supported model charges for one image (Claude ~1,600; OpenAI <= ~1,600)
DOCUMENT_TOKEN_FLOOR = 3_000  # a PDF: at least a page's image and text, else one token per byte of its data
MESSAGE_TOKEN_BOUND = 16  # role markers and separators around each message and tool
_IMAGE_ESTIMATE = 1_600
_BYTES_PER_TOKEN = 3


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def prompt_bytes(request: ChatRequest) -> tuple[int, int, int]:
    """(UTF-8 bytes of the prompt's text, images, parts framed: messages and tools) of a request."""
    size = sum(_size(part.text) for part in request.system)
    images = 0
    framed = len(request.messages) + len(request.tools)
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, TextPart | ThinkingPart):
                size += _size(part.text)
            elif isinstance(part, ToolCallPart):
                size += _size(part.name) + _size(part.arguments)
            elif isinstance(part, ToolResultPart):
                for item in part.content:
                    if isinstance(item, TextPart):
                        size += _size(item.text)
                    else:
                        images += 1
            elif isinstance(part, DocumentPart):
                size += max(DOCUMENT_TOKEN_FLOOR, _size(part.text or "") + len(part.data or ""))
            elif isinstance(part, ImagePart):
                images += 1
    for tool in request.tools:
        size += _size(tool.name) + _size(tool.description or "") + len(orjson.dumps(tool.parameters))
    return size, images, framed


def input_token_bound(request: ChatRequest) -> int:
    """At least as many input tokens as any supported model will count for ``request``."""
    size, images, framed = prompt_bytes(request)
    return size + images * IMAGE_TOKEN_BOUND + framed * MESSAGE_TOKEN_BOUND


def estimate_input_tokens(request: ChatRequest) -> int:
    size, images, framed = prompt_bytes(request)
    return -(-size // _BYTES_PER_TOKEN) + images * _IMAGE_ESTIMATE + framed * 4


def estimate_output_tokens(text_bytes: int, pieces: int, max_tokens: int | None) -> int:
    """From what was streamed (``pieces``: delta events, each at least one token), capped at ``max_tokens``."""
    estimate = max(pieces, -(-text_bytes // _BYTES_PER_TOKEN))
    return min(estimate, max_tokens) if max_tokens else estimate


def response_text_bytes(response: ChatResponse) -> tuple[int, int]:
    """(UTF-8 bytes, parts) of an answer's text, thinking and tool arguments."""
    size = 0
    for part in response.parts:
        if isinstance(part, TextPart | ThinkingPart):
            size += _size(part.text)
        elif isinstance(part, ToolCallPart):
            size += _size(part.name) + _size(part.arguments)
    return size, len(response.parts)


def completed_usage(
    usage: Usage, request: ChatRequest, *, output_bytes: int, output_pieces: int, complete: bool
) -> Usage | None:
    """``usage`` with what the upstream did not report estimated, or None when nothing was missing.

    Input is missing when the upstream reported none at all (a real call always has some). Output is missing
    when something was produced and the upstream reported none, or, for an answer cut short before its usage
    came (``complete`` False: a hang-up, an error mid-stream), when what was streamed is more than reported.
    """
    if output_pieces == 0 and output_bytes == 0:
        return None  # nothing came back: nothing to bill beyond what was reported
    missing_input = usage.input_tokens == 0 and usage.cache_read_tokens == 0 and usage.cache_write_tokens == 0
    streamed = estimate_output_tokens(output_bytes, output_pieces, request.max_tokens)
    missing_output = usage.output_tokens == 0 or (not complete and streamed > usage.output_tokens)
    if not missing_input and not missing_output:
        return None
    return replace(
        usage,
        input_tokens=estimate_input_tokens(request) if missing_input else usage.input_tokens,
        output_tokens=max(usage.output_tokens, streamed) if missing_output else usage.output_tokens,
    )
