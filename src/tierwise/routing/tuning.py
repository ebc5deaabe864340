"""The learned policy's operating point when the evidence loop holds a target: swapped whole, never edited.

The loop (``tierwise.evidence``) builds a new point from judged evidence and assigns it in one attribute
write; the router reads whichever point is current. A point without a scorer routes conservatively.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PromptScorer(Protocol):
    """What the gateway needs of a trained router (``tierwise.brain.artifact.ScoringRouter`` is one)."""

    def score(self, prompt: str) -> float: ...
    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatingPoint:
    scorer: PromptScorer | None  # None: not enough evidence yet, everything to the default tier
    threshold: float  # escalate when the score is at or above it
    label: str  # why this point, for the x-tierwise-reason header


CONSERVATIVE = OperatingPoint(scorer=None, threshold=1.0, label="evidence: no operating point holds yet, default tier")


class Tuning:
    def __init__(self, point: OperatingPoint = CONSERVATIVE) -> None:
        self.point = point
