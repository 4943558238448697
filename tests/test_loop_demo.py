"""The offline closed-loop demonstration runs end to end through `visinstruct loop`:
a small scikit-learn model, trained and evaluated by the loop's hooks, on synthetic scenes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

DEMO = Path(__file__).resolve().parents[1] / "examples" / "loop_demo" / "closed_loop.py"


def test_demo_prints_per_round_per_category_accuracy_for_both_strategies(tmp_path):
    args = [
        "--work",
        str(tmp_path),
        "--rounds",
        "1",
        "--per-round",
        "70",
        "--initial",
        "10",
        "--eval-items",
        "150",
    ]
    out = subprocess.run(
        [sys.executable, str(DEMO), *args], check=True, capture_output=True, text=True
    ).stdout
    rows = [line for line in out.splitlines() if re.match(r"^[a-z_]+ +\d+\.\d% /", line)]
    assert len(rows) == 7, out  # the seven scenes categories
    for row in rows:
        assert len(re.findall(r"\d+\.\d% / \d+\.\d%", row)) == 2, (
            row
        )  # round 0 and round 1, targeted / uniform
    assert "targeted wins on" in out
    for strategy in ("targeted", "uniform"):
        assert (tmp_path / f"loop-{strategy}" / "round-1" / "results.jsonl").is_file()
        assert (tmp_path / f"loop-{strategy}" / "report.html").is_file()
    # both arms made the same amount of data, in different mixes
    counts = {}
    for strategy in ("targeted", "uniform"):
        rows = (tmp_path / f"loop-{strategy}" / "round-0" / "run" / "exports" / "round.jsonl").read_text()
        counts[strategy] = len(rows.splitlines())
    assert abs(counts["targeted"] - counts["uniform"]) <= 14
