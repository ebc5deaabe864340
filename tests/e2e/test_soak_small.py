"""A small run of scripts/soak.py: random upstream faults of every kind, both APIs, the real gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_small_soak_passes_every_check(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "soak.py"),
            "--requests",
            "400",
            "--concurrency",
            "16",
            "--max-seconds",
            "60",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(out.read_text())
    assert all(figures["checks"].values())
    assert figures["sent"] == figures["ledger_rows"] == 400
    assert sum(figures["faults_injected"].values()) >= 10  # the faults really happened
    assert figures["outcomes"].get("200", 0) > 300
