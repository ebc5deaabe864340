"""``tierwise eval``, ``train`` and ``calibrate`` end to end on a small folder they have never seen."""

import json
from pathlib import Path

import pytest
import yaml

from tierwise.cli import main

from .conftest import write_folder


def test_eval_cross_validated_json_and_plot(
    toy_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "eval.json", tmp_path / "eval.png"
    strategies = ["random", "oracle", "tfidf-lr", "tfidf-knn", "embed-knn+lr", "cascade"]
    args = ["eval", str(toy_folder), "--weak", "tiny", "--strong", "big", "--json", str(out), "--plot", str(png)]
    assert main([*args, *(a for s in strategies for a in ("--strategy", s))]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["strategies"]) == {"tfidf-lr", "tfidf-knn", "embed-knn+lr", "cascade"}
    assert {"weak", "strong", "random", "oracle"} <= set(doc["references"])
    for figures in doc["strategies"].values():
        assert {"apgr", "cpt50", "cpt80", "cost_at_95"} <= set(figures)
    assert doc["references"]["random"]["apgr"] == pytest.approx(0.5)
    assert doc["references"]["random"]["curve"]["pgr"] == [0.0, 1.0]
    oracle = doc["references"]["oracle"]["curve"]
    assert oracle["share"][:2] == [0.0, 0.25] and oracle["quality"][:2] == [0.75, 1.0]
    # the toy's hard prompts say "proof", and the cheap answers disagree exactly there
    assert doc["strategies"]["tfidf-lr"]["apgr"] == pytest.approx(0.875)  # perfect: 0.25 * 1/2 + 0.75
    assert doc["strategies"]["cascade"]["cpt80"] == pytest.approx(0.2)  # 0.8 of the 25% that need strong
    assert png.stat().st_size > 10_000
    assert "APGR" in capsys.readouterr().out


def test_eval_cross_data_set_and_all_models(toy_folder: Path, tmp_path: Path) -> None:
    other = write_folder(tmp_path / "other", n=40)
    out = tmp_path / "x.json"
    args = ["eval", str(toy_folder), "--weak", "tiny", "--strong", "big", "--train", str(other), "--json", str(out)]
    assert main([*args, "--strategy", "tfidf-lr", "--quiet"]) == 0
    assert json.loads(out.read_text())["protocol"] == "trained on other"
    assert main(["eval", str(toy_folder), "--json", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["best_model"] == "big"
    assert set(doc["strategies"]) == {"random-mixing", "oracle", "multi-model"}
    # the oracle pays for big only on the hard quarter: (1 * 0.25 * big + 0.75 * checker) / big
    assert doc["strategies"]["oracle"]["cost_to_best"] < 0.3


def test_train_then_calibrate_writes_the_config(toy_folder: Path, tmp_path: Path) -> None:
    artifact = tmp_path / "router"
    assert main(["train", str(toy_folder), "--weak", "tiny", "--strong", "big", "--out", str(artifact)]) == 0
    assert (artifact / "router.json").exists() and (artifact / "arrays.npz").exists()
    config = tmp_path / "tierwise.yaml"
    config.write_text("routing:\n  policy: rules\n")
    code = main(
        [
            "calibrate",
            str(toy_folder),
            "--weak",
            "tiny",
            "--strong",
            "big",
            "--artifact",
            str(artifact),
            "--target-quality",
            "0.95",
            "--config",
            str(config),
        ]
    )
    assert code == 0
    learned = yaml.safe_load(config.read_text())["routing"]["learned"]
    assert learned["artifact"] == str(artifact)
    assert 0.0 < learned["threshold"] < 1.0


def test_unknown_model_is_a_usage_error(toy_folder: Path) -> None:
    assert main(["eval", str(toy_folder), "--weak", "nope", "--strong", "big", "--quiet"]) == 2


def test_calibrate_for_the_cascade_policy(toy_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tierwise.yaml"
    code = main(
        [
            "calibrate",
            str(toy_folder),
            "--weak",
            "tiny",
            "--strong",
            "big",
            "--target-quality",
            "1.0",
            "--policy",
            "cascade",
            "--config",
            str(config),
        ]
    )
    assert code == 0
    assert yaml.safe_load(config.read_text())["routing"]["policy"] == "cascade"
    out = capsys.readouterr().out
    # the checker catches every hard prompt: full quality with a quarter of the calls reaching big
    assert "checked by checker" in out and "25.0% of calls to strong, quality 100.0%" in out
