import pytest

from tierwise.brain.agreement import answers_agree, final_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Reasoning...\n{"reasoning": "x", "answer": "[1, 2]"}', "[1,2]"),
        ('{"answer": 42}', "42"),
        ("so the result is \\boxed{\\dfrac{1}{2}}.", "\\frac{1}{2}"),
        ("The answer is (C).", "C"),
        ("There are 1,250 apples.", "1250"),
        ("x = 3.50", "3.5"),
        ("I cannot tell.", None),
        ("", None),
    ],
)
def test_final_answer(text: str, expected: str | None) -> None:
    assert final_answer(text) == expected


def test_answers_agree_after_normalising() -> None:
    assert answers_agree("$3.50$", "3.5")
    assert answers_agree("B", "b")
    assert not answers_agree("1", "2")
    assert not answers_agree(None, None)
    assert not answers_agree("", "")
