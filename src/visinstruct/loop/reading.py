"""What the log readers share beyond scoring (loop/scoring.py) and the result types
(loop/results.py): SEED-Bench's dimension names, and reading JSON lines without losing a line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.loop.results import Problem

# SEED-Bench's `question_type_id` → evaluation dimension (SEED-Bench.json "question_type";
# 1-9 are the image dimensions, 10-12 the video ones).
SEED_DIMENSIONS = {
    1: "Scene Understanding",
    2: "Instance Identity",
    3: "Instance Attributes",
    4: "Instance Location",
    5: "Instances Counting",
    6: "Spatial Relation",
    7: "Instance Interaction",
    8: "Visual Reasoning",
    9: "Text Understanding",
    10: "Action Recognition",
    11: "Action Prediction",
    12: "Procedure Understanding",
}


def _json_lines(path: Path, text: str, problems: list[Problem]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) per non-blank line; a line that is not a JSON object is a problem.

    Lines end at "\n" only: JSON written with ensure_ascii=False may hold U+2028 in a string."""
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(where, f"not JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(where, f"a line must be a JSON object, got {type(obj).__name__}"))
            continue
        yield where, obj


def _first_object(text: str) -> dict[str, Any] | None:
    for line in text.split("\n"):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None
