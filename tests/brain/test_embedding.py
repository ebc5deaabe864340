"""The packaged static embedder: shape, normalisation, meaning, agreement with model2vec, truncation."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tierwise.brain.embedding import ARTIFACT_DIR, DEFAULT_MAX_TOKENS, StaticEmbedder, artifact_meta

SENTENCE = (
    "the router sends each prompt to a cheap model when it can and to a strong model when it must; "
    "prove that every bounded monotone sequence converges, then write a function returning the median "
    "of two sorted arrays in logarithmic time, explain the answer step by step with examples."
)
WORDS = SENTENCE.split(" ")


def prose(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder.load()


@pytest.fixture(scope="module")
def untruncated() -> StaticEmbedder:
    return StaticEmbedder.load(max_tokens=None)


def test_packaged_artifact_matches_its_meta(embedder: StaticEmbedder) -> None:
    meta = artifact_meta()
    assert embedder.dim == meta["dim"] == 64
    assert embedder.max_tokens == DEFAULT_MAX_TOKENS
    assert meta["source_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert sum(p.stat().st_size for p in ARTIFACT_DIR.iterdir()) < 10_000_000


def test_rows_are_float32_unit_vectors_and_empty_text_is_zero(embedder: StaticEmbedder) -> None:
    out = embedder.encode(["What is the capital of France?", "def f(x): return x * 2", "", "🦜🦜"])
    assert out.shape == (4, embedder.dim)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out[:2], axis=1), 1.0, rtol=1e-5)
    assert not out[2:].any()  # no known token: the zero vector, as model2vec gives
    assert embedder.encode([]).shape == (0, embedder.dim)


def test_a_bare_string_is_refused(embedder: StaticEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.encode("one prompt")  # type: ignore[arg-type]


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: StaticEmbedder) -> None:
    a, b, c, d = embedder.encode(
        [
            "How do I reverse a linked list in Python?",
            "Write Python code that reverses a singly linked list.",
            "What were the main causes of the French Revolution?",
            "Why did the French monarchy collapse in 1789?",
        ]
    )
    assert a @ b > a @ c + 0.2
    assert c @ d > c @ b + 0.2


def test_unknown_tokens_are_dropped(embedder: StaticEmbedder) -> None:
    with_unknown, plain = embedder.encode(["hello 🦜 world", "hello world"])
    np.testing.assert_allclose(with_unknown, plain, atol=1e-6)


def test_agrees_with_model2vec_reference_vectors(untruncated: StaticEmbedder) -> None:
    reference = json.loads((ARTIFACT_DIR / "reference.json").read_text())
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    got = untruncated.encode(reference["sentences"])
    assert got.shape == expected.shape
    # model2vec pools a float16 table in float16, so agreement is to float16 rounding.
    np.testing.assert_allclose(got, expected, atol=2e-3)
    nonzero = np.linalg.norm(expected, axis=1) > 0
    assert nonzero.sum() >= len(expected) - 1
    assert np.all(np.sum(got[nonzero] * expected[nonzero], axis=1) > 0.9999)


def test_short_prompts_are_not_truncated(embedder: StaticEmbedder, untruncated: StaticEmbedder) -> None:
    text = prose(150, seed=1)
    assert len(untruncated.token_ids(text)) < DEFAULT_MAX_TOKENS
    np.testing.assert_array_equal(embedder.token_ids(text), untruncated.token_ids(text))


@pytest.mark.parametrize("n_words", [300, 2_000, 8_000])
def test_long_prompts_keep_exactly_their_head_and_tail_tokens(
    embedder: StaticEmbedder, untruncated: StaticEmbedder, n_words: int
) -> None:
    text = prose(n_words, seed=n_words)
    full = untruncated.token_ids(text)
    kept = embedder.token_ids(text)
    half = DEFAULT_MAX_TOKENS // 2
    assert len(full) > DEFAULT_MAX_TOKENS
    np.testing.assert_array_equal(kept, np.concatenate([full[:half], full[-half:]]))


def test_the_middle_of_a_long_prompt_does_not_count(embedder: StaticEmbedder) -> None:
    head, tail = prose(400, seed=2), prose(400, seed=3)
    texts = [f"{head} {prose(3_000, seed=4)} {tail}", f"{head} {'banana ' * 5_000}{tail}"]
    one, other = embedder.encode(texts)
    np.testing.assert_allclose(one, other, atol=1e-6)
    # ...while without a limit the middle does count.
    unlimited = StaticEmbedder.load(max_tokens=None)
    one, other = unlimited.encode(texts)
    assert float(one @ other) < 0.95


def test_head_and_tail_split_an_odd_limit(untruncated: StaticEmbedder) -> None:
    embedder = StaticEmbedder.load(max_tokens=7)
    text = prose(50, seed=5)
    full = untruncated.token_ids(text)
    np.testing.assert_array_equal(embedder.token_ids(text), np.concatenate([full[:3], full[-4:]]))
    with pytest.raises(ValueError):
        StaticEmbedder.load(max_tokens=1)
