"""The routing brain: learned routers scored on the serving path, and their offline training and evaluation.

Serving needs only what is exported here (numpy and the static embedder); training and evaluation
(``tierwise eval``, ``train``, ``calibrate``) live in the submodules and use scikit-learn. Names load on first
use, so that the gateway pays for numpy only when a learned policy is configured.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tierwise.brain.agreement import answers_agree, final_answer
    from tierwise.brain.artifact import ArtifactError, ScoringRouter, load_router

_HOMES = {
    "answers_agree": "tierwise.brain.agreement",
    "final_answer": "tierwise.brain.agreement",
    "ArtifactError": "tierwise.brain.artifact",
    "ScoringRouter": "tierwise.brain.artifact",
    "load_router": "tierwise.brain.artifact",
}

__all__ = ["ArtifactError", "ScoringRouter", "answers_agree", "final_answer", "load_router"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tierwise.brain' has no attribute {name!r}")
    return getattr(import_module(home), name)
