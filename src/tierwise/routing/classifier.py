"""Task classification: a label for the prompt that routing rules can match on.

The keyword classifier here is deliberately simple and cheap (a few regex searches over the head of the
prompt); learned routers (``tierwise.brain``) replace it where outcome data exists. A keyword alone never
makes a prompt light: the light labels (greeting, translation, classification, extraction) are given only to
short, simple prompts; a long or demanding one with the same keyword gets the next label that fits.
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
LIGHT_TASKS = frozenset({"greeting", "translation", "classification", "extraction"})
_GREETING_MAX_CHARS = 40  # "Hey, how are you?" is a greeting; "Hey, <a real question>" is the question
_LIGHT_MAX_CHARS = 600
_LIGHT_MAX_LINES = 8
# What makes a prompt with a light keyword not light: asking for reasoning, analysis, design, code, or care.
_DEMANDING = re.compile(
    r"```|\b(step[- ]by[- ]step|explain|why|justify|prove|proof|derive|analy[sz]e|analysis|compare|evaluate|"
    r"design|architecture|trade-?offs?|edge cases?|root[- ]cause|debug|plan|strategy|legal|contract|clause|"
    r"nuance|idioms?|preserv\w*|each of the following|all of the following|every)\b",
    re.IGNORECASE,
)


def is_simple(text: str) -> bool:
    """Short, few lines, and asking for nothing that needs reasoning."""
    return len(text) <= _LIGHT_MAX_CHARS and text.count("\n") < _LIGHT_MAX_LINES and not _DEMANDING.search(text)


class KeywordTaskClassifier:
    """Labels a prompt from keywords: greeting, translation, classification, extraction, summarization,
    code, math, hard-reasoning, or chat when nothing matches."""

    def classify(self, prompt: str) -> TaskLabel:
        head = prompt[:_HEAD_CHARS]
        simple = is_simple(prompt)
        passed_over = ""
        for task, pattern in _PATTERNS:
            found = pattern.search(head)
            if not found:
                continue
            if task in LIGHT_TASKS and not simple:
                passed_over = passed_over or f"; '{found.group(0)[:24].strip()}' but not a short, simple prompt"
                continue
            return TaskLabel(task, f"task {task} ('{found.group(0)[:24].strip()}'){passed_over}")
        if simple and len(prompt.strip()) <= _GREETING_MAX_CHARS and _GREETING.search(head):
            return TaskLabel("greeting", "short greeting")
        return TaskLabel("chat", "task chat" + passed_over)
