from pathlib import Path

import numpy as np
import pytest
import yaml

from tierwise.brain.calibration import pick_threshold, write_learned_config

# the weak model fails prompts 0 and 1, which the strong one gets right; scores rank them first
SCORES = np.array([0.9, 0.8, 0.3, 0.1])
WEAK_Q, STRONG_Q = np.array([0.0, 0.0, 1.0, 1.0]), np.ones(4)
WEAK_C, STRONG_C = np.ones(4), np.full(4, 10.0)


def pick(**goal: float):  # type: ignore[no-untyped-def]
    return pick_threshold(
        SCORES, kept_quality=WEAK_Q, escalated_quality=STRONG_Q, kept_cost=WEAK_C, escalated_cost=STRONG_C, **goal
    )


def test_quality_target_escalates_as_few_as_needed() -> None:
    result = pick(target_quality=0.75)  # one of the two failures must go to strong
    assert result.threshold == pytest.approx(0.9)
    assert result.share == 0.25 and result.quality_share == 0.75
    assert result.cost_share == pytest.approx((10 + 3) / 40)
    assert pick(target_quality=1.0).threshold == pytest.approx(0.8)


def test_cost_budget_gets_the_best_quality_within_it() -> None:
    assert pick(max_cost=0.5).threshold == pytest.approx(0.9)  # two escalations would cost 22/40
    assert pick(max_cost=0.6).threshold == pytest.approx(0.8)
    none = pick(max_cost=0.1)  # nothing affordable: never escalate
    assert none.share == 0.0 and none.threshold > 0.9


def test_exactly_one_goal() -> None:
    with pytest.raises(ValueError):
        pick()


def test_config_keeps_other_keys_and_creates_missing_ones(tmp_path: Path) -> None:
    config = tmp_path / "tierwise.yaml"
    config.write_text("server:\n  port: 9000\nrouting:\n  policy: rules\n  learned:\n    weak_tier: speed\n")
    write_learned_config(config, threshold=0.4242424, artifact=None)
    data = yaml.safe_load(config.read_text())
    assert data["server"] == {"port": 9000}
    assert data["routing"]["policy"] == "learned"
    assert data["routing"]["learned"] == {
        "artifact": None,
        "threshold": 0.424242,
        "weak_tier": "speed",
        "strong_tier": "escalation",
    }
    fresh = tmp_path / "new.yaml"
    write_learned_config(fresh, threshold=0.5, artifact="router/", strong_tier="default")
    assert yaml.safe_load(fresh.read_text())["routing"]["learned"]["strong_tier"] == "default"
