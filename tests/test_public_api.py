"""The public API is curated: this test pins it, so a change to it is a deliberate one."""

from __future__ import annotations

import subprocess
import sys

import tierwise


def test_public_names_are_pinned() -> None:
    assert sorted(tierwise.__all__) == sorted(
        [
            "BudgetExceeded", "ChatRequest", "ChatResponse", "ClientError", "ConfigError", "InvalidRequest",
            "Message", "NotFound", "RouteInput", "Router", "RoutingDecision", "Settings", "TextPart",
            "TierwiseError", "ToolCallPart", "ToolResultPart", "UpstreamError", "Usage", "__version__",
            "build_app", "build_report", "build_router", "load_settings", "serve",
        ]
    )  # fmt: skip
    for name in tierwise.__all__:
        assert getattr(tierwise, name) is not None


def test_every_error_shares_one_root() -> None:
    for name in ("BudgetExceeded", "ClientError", "ConfigError", "InvalidRequest", "NotFound", "UpstreamError"):
        assert issubclass(getattr(tierwise, name), tierwise.TierwiseError)


def test_import_is_light() -> None:
    """Importing tierwise neither starts anything nor pulls in the server, pydantic, numpy or training libraries."""
    modules = "('aiohttp', 'numpy', 'pydantic', 'sklearn', 'torch')"
    code = f"import sys, tierwise; print(sorted(m for m in {modules} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_library_use_routes_without_a_server() -> None:
    settings = tierwise.load_settings(environ={})
    router = tierwise.build_router(settings)
    decision = router.decide(
        tierwise.RouteInput(requested_model="auto", prompt="Translate 'hi' to Spanish", estimated_tokens=8)
    )
    assert isinstance(decision, tierwise.RoutingDecision)
    assert decision.tier == "speed" and decision.reasons


def test_serving_stack_imports_no_training_or_numeric_libraries() -> None:
    """The rules-policy gateway loads neither numpy nor training libraries (a learned policy loads numpy)."""
    code = (
        "import sys, tierwise.server.app, tierwise.server.gateway, tierwise.providers.cascade; "
        "print(sorted(m for m in ('numpy', 'sklearn', 'torch', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
