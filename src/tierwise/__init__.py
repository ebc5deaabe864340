"""tierwise: an LLM routing gateway that speaks OpenAI and Anthropic and routes each request to a tier.

The curated public API. Light pieces (types, errors, routing) import eagerly; the configuration loader (pydantic),
the server and the ledger report load on first use, so ``import tierwise`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tierwise.config.settings import Settings
from tierwise.errors import (
    BudgetExceeded,
    ClientError,
    ConfigError,
    InvalidRequest,
    NotFound,
    TierwiseError,
    UpstreamError,
)
from tierwise.routing.decision import RouteInput, Router, RoutingDecision
from tierwise.routing.policies import build_router
from tierwise.types import ChatRequest, ChatResponse, Message, TextPart, ToolCallPart, ToolResultPart, Usage

if TYPE_CHECKING:
    from tierwise.config.loader import load_settings
    from tierwise.query import build_report
    from tierwise.server.app import build_app, serve

__version__ = "0.1.0"

_LAZY = {
    "load_settings": "tierwise.config.loader",  # pydantic: only when a configuration file is read
    "build_app": "tierwise.server.app",
    "serve": "tierwise.server.app",
    "build_report": "tierwise.query",
}

__all__ = [
    "BudgetExceeded",
    "ChatRequest",
    "ChatResponse",
    "ClientError",
    "ConfigError",
    "InvalidRequest",
    "Message",
    "NotFound",
    "RouteInput",
    "Router",
    "RoutingDecision",
    "Settings",
    "TextPart",
    "TierwiseError",
    "ToolCallPart",
    "ToolResultPart",
    "UpstreamError",
    "Usage",
    "__version__",
    "build_app",
    "build_report",
    "build_router",
    "load_settings",
    "serve",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tierwise' has no attribute {name!r}")
    return getattr(import_module(module), name)
