import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tierwise.brain import ArtifactError, load_router
from tierwise.brain.artifact import save_router
from tierwise.brain.table import load_table
from tierwise.brain.training import fit_embedding_router, fit_tfidf_router

HARD, EASY = "please prove the proof lemma 3", "please add the numbers 7"


def test_tfidf_router_round_trip(toy_folder: Path, tmp_path: Path) -> None:
    table = load_table(toy_folder)
    labels = np.array([1.0 if i % 4 == 0 else 0.0 for i in range(len(table))])
    router = fit_tfidf_router(table.texts, labels)
    loaded = load_router(save_router(router, tmp_path / "r"))
    assert loaded.describe() == "learned tfidf-lr v1"
    assert loaded.score(HARD) == pytest.approx(router.score(HARD), abs=1e-6)
    assert loaded.score(HARD) > 0.5 > loaded.score(EASY)


def test_embedding_router_round_trip_and_explanation(toy_folder: Path, tmp_path: Path) -> None:
    table = load_table(toy_folder)
    labels = np.array([1.0 if i % 4 == 0 else 0.0 for i in range(len(table))])
    router = fit_embedding_router(table.texts, labels, embedder=_embedder())
    loaded = load_router(save_router(router, tmp_path / "r"))
    assert loaded.score(HARD) == pytest.approx(router.score(HARD), abs=1e-3)  # keys stored as float16
    assert loaded.score(HARD) > loaded.score(EASY)
    assert "similar prompts needed strong" in loaded.explain(HARD)


def test_format_version_mismatch_is_a_clear_error(toy_folder: Path, tmp_path: Path) -> None:
    table = load_table(toy_folder)
    path = save_router(fit_tfidf_router(table.texts, np.linspace(0, 1, len(table))), tmp_path / "r")
    meta = json.loads((path / "router.json").read_text())
    meta["format_version"] = 99
    (path / "router.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="format version 99"):
        load_router(path)
    with pytest.raises(ArtifactError, match="cannot read"):
        load_router(tmp_path / "nowhere")


def test_packaged_router_serves_without_training_libraries() -> None:
    code = (
        "import sys; from tierwise.brain import load_router; r = load_router(); s = r.score('What is 2+2?');"
        "assert 0.0 <= s <= 1.0, s; print(r.describe());"
        "heavy = [m for m in ('sklearn', 'scipy', 'matplotlib', 'torch') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("learned embed-knn+lr v")


def _embedder():  # type: ignore[no-untyped-def]
    from tierwise.brain.embedding import StaticEmbedder

    return StaticEmbedder.load()
