"""The redaction rule: no run of 8 characters of a key survives, as it is or base64-encoded at any alignment."""

from __future__ import annotations

import base64

import pytest

from tierwise.redaction import REDACTED, Redactor

KEY = "sk-ant-api03-Zx8QwErTyUiOp-AsDfGhJkL1234567890abcdef"
REDACTOR = Redactor([KEY, None, ""])


@pytest.mark.parametrize(
    "quoted",
    [
        KEY,
        KEY[:20],
        KEY[-12:],
        KEY[10:18],
        base64.b64encode(KEY.encode()).decode(),
        base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("="),
        base64.b64encode(b"user:" + KEY.encode()).decode(),
        base64.b64encode(b"x" + KEY[:24].encode()).decode(),  # a key that does not start on a base64 quantum
        base64.b64encode(b"xy" + KEY[5:30].encode()).decode(),
    ],
)
def test_a_key_whole_in_part_or_encoded_is_redacted(quoted: str) -> None:
    text = REDACTOR.redact(f"Incorrect API key provided: {quoted}. See the docs.")
    assert REDACTED in text
    for i in range(len(KEY) - 7):
        assert KEY[i : i + 8] not in text
    assert text.startswith("Incorrect API key provided: ") and text.endswith(". See the docs.")


def test_short_fragments_and_ordinary_text_pass() -> None:
    text = "rate_limit_error: retry later; key sk-...cdef; see https://docs.example.com/errors#rate-limits"
    assert REDACTOR.redact(text) == text


def test_no_keys_no_change() -> None:
    assert Redactor([None]).redact(KEY) == KEY
