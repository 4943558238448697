"""One benchmark question as a model answered it: what every importer yields."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.errors import VisinstructError

UNCATEGORIZED = "uncategorized"


@dataclass
class EvalRecord:
    """A scored (or unscorable) answer of the evaluated model to one benchmark question."""

    id: str  # the benchmark's question id (or the line number when it has none)
    category: str  # the benchmark's category as given, e.g. "Instances Counting"
    question: str
    answer: str  # gold answer: a letter for multiple choice, else the text
    prediction: str | None  # the model's raw output; None when missing
    correct: bool  # an unscorable prediction counts as wrong, as benchmarks count it
    options: list[str] = field(default_factory=list)  # option texts in letter order (A, B, ...)
    image: str | None = None  # a local image path (absolute, or relative to the results file)
    benchmark: str = "generic"  # e.g. "seedbench", "mmbench", "generic"
    error: str | None = None  # why the prediction could not be scored (malformed, missing)
    extra: dict[str, Any] = field(default_factory=dict)  # source fields kept for provenance

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalRecord:
        return cls(**d)


def normal_category(name: str) -> str:
    """A benchmark category as one of our category names: "Instances Counting" → "instances_counting"."""
    return re.sub(r"[\s\-/]+", "_", name.strip().lower()).strip("_")


def write_records(path: str | os.PathLike[str], records: Iterable[EvalRecord]) -> int:
    """Write records as JSONL (atomically: a killed process leaves the old file or the new one)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, p)
    return n


def load_records(path: str | os.PathLike[str]) -> list[EvalRecord]:
    """Records written by `write_records`."""
    p = Path(path)
    try:
        lines = p.read_text("utf-8").splitlines()
    except OSError as e:
        raise VisinstructError(f"{p}: cannot read evaluation records ({e.strerror or e})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                out.append(EvalRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError) as e:
                raise VisinstructError(f"{p}:{n}: not an evaluation record ({e})") from None
    return out


class ResultsError(VisinstructError):
    """A results file cannot be read at all: names the file and what is wrong."""


@dataclass
class Problem:
    """A line or row that was left out or could not be scored, and why."""

    where: str  # "file:line" or "file:row N"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ImportResult:
    """What one results file gave: the records and the problems met on the way.

    A category-level summary (VLMEvalKit's `*_acc.csv` / `*_score.csv`) gives no records:
    `summary` holds its accuracy per category instead, with no per-question answers."""

    records: list[EvalRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    format: str = ""
    benchmark: str = ""
    summary: dict[str, float] = field(default_factory=dict)  # category → accuracy in [0, 1]

    def accuracy_by_category(self) -> dict[str, tuple[int, int]]:
        """category → (correct, total), to check an import at a glance."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.records:
            c, n = out.get(r.category, (0, 0))
            out[r.category] = (c + r.correct, n + 1)
        return out


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ResultsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot be read ({e.strerror})") from None
