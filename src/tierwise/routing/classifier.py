"""Task classification: a label for the prompt that routing rules can match on.

The keyword classifier here is deliberately simple and cheap (a few regex searches over the head of the
prompt); learned routers (``tierwise.brain``) replace it where outcome data exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TaskLabel:
    task: str
    reason: str


class TaskClassifier(Protocol):
    def classify(self, prompt: str) -> TaskLabel: ...


_HEAD_CHARS = 4000  # looking further costs time and rarely changes the label

# Order matters: the first pattern that matches names the task.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (task, re.compile(pattern, re.IGNORECASE))
    for task, pattern in (
        (
            "hard-reasoning",
            r"\b(prove that|rigorous(ly)? (proof|argument)|derive (a|the) (formula|closed form)|"
            r"design (an?|the) (algorithm|architecture|system)|multi-step plan|think (very )?carefully)\b",
        ),
        ("translation", r"\btranslate\b|\btranslation (of|into)\b"),
        ("classification", r"\b(classify|categori[sz]e|sentiment|which (category|label))\b"),
        ("extraction", r"\b(extract|pull out|parse the following|fill (in )?the (json|fields))\b"),
        ("summarization", r"\b(summari[sz]e|tl;?dr|summary of)\b"),
        (
            "code",
            r"```|\b(def|class|function|import|SELECT|#include)\b.*[(:{]|\b(python|javascript|sql|regex)\b",
        ),
        ("math", r"\b(solve|integral|equation|derivative|probability|how many)\b|[0-9]\s*[-+*/^=]\s*[0-9]"),
    )
)
_GREETING = re.compile(r"^\s*(hi|hello|hey|thanks|thank you|good (morning|evening))\b", re.IGNORECASE)


class KeywordTaskClassifier:
    """Labels a prompt from keywords: greeting, translation, classification, extraction, summarization,
    code, math, hard-reasoning, or chat when nothing matches."""

    def classify(self, prompt: str) -> TaskLabel:
        head = prompt[:_HEAD_CHARS]
        if len(head) < 80 and _GREETING.search(head):
            return TaskLabel("greeting", "short greeting")
        for task, pattern in _PATTERNS:
            found = pattern.search(head)
            if found:
                return TaskLabel(task, f"task {task} ('{found.group(0)[:24].strip()}')")
        return TaskLabel("chat", "task chat")
