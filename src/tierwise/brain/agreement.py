"""Answer agreement for the cascade: extract a model's final answer from its text and compare two of them.

Online, the gateway asks two cheap models and escalates when their final answers differ; offline, the
``answer`` column of an outcome table plays the part of ``final_answer``.
"""

from __future__ import annotations

import json
import re

_BOXED = re.compile(r"\\boxed\s*\{")
_JSON_ANSWER = re.compile(r'"answer"\s*:\s*("(?:[^"\\]|\\.)*"|-?[\d.]+(?:e-?\d+)?|true|false|null)', re.I)
_LETTER = re.compile(r"(?:answer|choice|option)\s*(?:is|:)?\s*\(?([A-J])\)?(?![A-Za-z])", re.I)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_WRAPPERS = re.compile(r"^(?:\\text\{|\\mathrm\{)(.*)\}$")


def final_answer(text: str) -> str | None:
    """The final answer a model gave, normalised; ``None`` when none can be found.

    Tries, in order: a JSON ``"answer"`` field, the last ``\\boxed{...}``, an "answer is X" letter choice,
    and the last number in the text.
    """
    if not text or not text.strip():
        return None
    json_answers = list(_JSON_ANSWER.finditer(text))
    if json_answers:
        match = json_answers[-1]
        raw = match.group(1)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        return normalise_answer(str(value)) if value is not None else None
    boxed = _last_boxed(text)
    if boxed is not None:
        return normalise_answer(boxed)
    letters = _LETTER.findall(text)
    if letters:
        return str(letters[-1]).upper()
    numbers = _NUMBER.findall(text)
    if numbers:
        return normalise_answer(str(numbers[-1]))
    return None


def normalise_answer(answer: str) -> str:
    """Canonical form for comparison: no spaces, case, ``$``, trailing dot, ``\\text{}`` or number commas."""
    value = answer.strip().strip("$").strip()
    while (inner := _WRAPPERS.match(value)) is not None:
        value = inner.group(1)
    value = value.rstrip(".").replace(" ", "").lower()
    value = value.replace("\\dfrac", "\\frac").replace("\\left", "").replace("\\right", "")
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", value):
        value = value.replace(",", "")
    if re.fullmatch(r"-?\d+\.\d*", value):
        value = value.rstrip("0").rstrip(".")
    return value


def answers_agree(a: str | None, b: str | None) -> bool:
    """Whether two extracted answers are the same; a missing answer agrees with nothing."""
    if a is None or b is None:
        return False
    na, nb = normalise_answer(a), normalise_answer(b)
    return bool(na) and na == nb


def _last_boxed(text: str) -> str | None:
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    start = starts[-1]
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None
