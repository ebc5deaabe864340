"""Build a router's view of a request (RouteInput) from the internal request and the gateway headers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import orjson

from tierwise.errors import InvalidRequest
from tierwise.routing.decision import TIERS, RouteInput, Tier
from tierwise.routing.signals import read_signals
from tierwise.types import ChatRequest, DocumentPart, ImagePart, TextPart, ToolCallPart, ToolResultPart

# A rough, fast token estimate: about four characters a token for English text and JSON.
_CHARS_PER_TOKEN = 4
_IMAGE_TOKENS = 1600  # a typical image costs about this many input tokens on current models
_MESSAGE_OVERHEAD = 4
# A PDF is read as text plus an image of each page; its size says little about its pages, so this is a rough
# guess (one token per two base64 characters) that is never below one image.
_PDF_BASE64_CHARS_PER_TOKEN = 2

TIER_PREFIX = "tier/"
# Where clients name their session, in order: ours, Claude Code's, Codex's (session-id in 0.169, session_id in
# older releases), and a conversation id some Responses clients send.
SESSION_HEADERS = ("x-tierwise-session", "x-claude-code-session-id", "session-id", "session_id", "conversation_id")


def estimate_tokens(request: ChatRequest) -> int:
    chars = sum(len(part.text) for part in request.system)
    tokens = 0
    for message in request.messages:
        tokens += _MESSAGE_OVERHEAD
        for part in message.parts:
            if isinstance(part, TextPart):
                chars += len(part.text)
            elif isinstance(part, ImagePart):
                tokens += _IMAGE_TOKENS
            elif isinstance(part, DocumentPart):
                chars += len(part.text or "")
                if part.text is None:
                    tokens += max(_IMAGE_TOKENS, len(part.data or "") // _PDF_BASE64_CHARS_PER_TOKEN)
            elif isinstance(part, ToolCallPart):
                chars += len(part.arguments) + len(part.name)
            elif isinstance(part, ToolResultPart):
                for item in part.content:
                    if isinstance(item, TextPart):
                        chars += len(item.text)
                    else:
                        tokens += _IMAGE_TOKENS
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.parameters))
    return tokens + chars // _CHARS_PER_TOKEN


def last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        texts = [part.text for part in message.parts if isinstance(part, TextPart)]
        if texts:
            return "\n".join(texts)
    return ""


def conversation_key(request: ChatRequest) -> str:
    """A conversation resends its opening every turn, the first included: a short digest of it (the text is
    never kept), with the client's own user id so that different users' conversations that open alike differ.
    Stable across processes, so every worker names a conversation alike."""
    first = request.messages[0] if request.messages else None
    opening = "".join(part.text[:2000] for part in first.parts if isinstance(part, TextPart)) if first else ""
    system = "".join(part.text[:1000] for part in request.system)
    digest = hashlib.blake2b(digest_size=8)
    for piece in (request.user or "", system, opening):
        digest.update(piece.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def session_header(headers: Mapping[str, str]) -> str | None:
    """The first session id among ``SESSION_HEADERS`` (lower-case names)."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value and value.strip():
            return value.strip()[:200]
    return None


def _needs_vision(request: ChatRequest) -> bool:
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, ImagePart):
                return True
            if isinstance(part, ToolResultPart) and any(isinstance(c, ImagePart) for c in part.content):
                return True
    return False


def _parse_tier(value: str, where: str) -> Tier:
    if value not in TIERS:
        raise InvalidRequest(
            f"{where}: unknown tier '{value}'; expected one of {', '.join(TIERS)}",
            param="model" if where == "model" else None,
        )
    return value


def route_input(request: ChatRequest, headers: Mapping[str, str], *, caller: str | None = None) -> RouteInput:
    """``headers`` must answer lower-case names (aiohttp's CIMultiDict does)."""
    explicit: Tier | None = None
    if request.model.startswith(TIER_PREFIX):
        explicit = _parse_tier(request.model[len(TIER_PREFIX) :], "model")
    header_tier = headers.get("x-tierwise-tier")
    if header_tier and explicit is None:
        explicit = _parse_tier(header_tier.strip().lower(), "x-tierwise-tier header")
    latency = headers.get("x-tierwise-latency")
    return RouteInput(
        requested_model=request.model,
        prompt=last_user_text(request),
        estimated_tokens=estimate_tokens(request),
        max_output_tokens=request.max_tokens,
        needs_tools=bool(request.tools),
        needs_vision=_needs_vision(request),
        needs_thinking=request.thinking_budget is not None,
        stream=request.stream,
        explicit_tier=explicit,
        latency=latency.strip().lower() if latency else None,
        task=(headers.get("x-tierwise-task") or "").strip().lower() or None,
        session=session_header(headers),
        conversation=conversation_key(request),
        caller=caller,
        effort=request.reasoning_effort,
        signals=read_signals(request),
    )
