"""The routing brain: learned routers scored on the serving path, and their offline training and evaluation.

Serving needs only what is exported here (numpy and the static embedder); training and evaluation
(``tierwise eval``, ``train``, ``calibrate``) live in the submodules and use scikit-learn.
"""

from tierwise.brain.agreement import answers_agree, final_answer
from tierwise.brain.artifact import ArtifactError, ScoringRouter, load_router

__all__ = ["ArtifactError", "ScoringRouter", "answers_agree", "final_answer", "load_router"]
