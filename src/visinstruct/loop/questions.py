"""A benchmark's own question data, by question id: where a log that carries only ids
(lmms-eval v0.4 and later, SEED-Bench's result files) finds each question's category.

Read as the benchmarks release it:

- SEED-Bench (1 and 2): `SEED-Bench.json`, `{"questions": [...], "question_type": {name: id}}`;
  a question has `question_id`, `question_type_id` (its evaluation dimension), `question`,
  `choice_a`..`choice_d`, `answer`.
- a JSON list of question objects, or a Hugging Face parquet of the benchmark (lmms-lab's
  SEED-Bench, MMBench, MME, ...): the id is `question_id` or `index`, the category
  `category` or `question_type_id`; images are not read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.loop.reading import SEED_DIMENSIONS
from visinstruct.loop.results import ResultsError
from visinstruct.loop.results import read_text as _read_text
from visinstruct.loop.scoring import cell_text as _text
from visinstruct.loop.scoring import lettered_options as _lettered

_ID_FIELDS = ("question_id", "index", "id")
_PARQUET_EXTRA = "loop"  # the optional-dependency group that installs pyarrow

# SEED-Bench-2's dimensions (its DATASET.md "question_type"); 1-9 are SEED-Bench-1's, 10-27 differ
SEED2_DIMENSIONS = {
    **{k: v for k, v in SEED_DIMENSIONS.items() if k <= 9},
    10: "Celebrity Recognition",
    11: "Landmark Recognition",
    12: "Chart Understanding",
    13: "Visual Referring Expression",
    14: "Science Knowledge",
    15: "Emotion Recognition",
    16: "Visual Mathematics",
    17: "Difference Spotting",
    18: "Meme Comprehension",
    19: "Global Video Understanding",
    20: "Action Recognition",
    21: "Action Prediction",
    22: "Procedure Understanding",
    23: "In-Context Captioning",
    24: "Interleaved Image-Text Analysis",
    25: "Text-to-Image Generation",
    26: "Next Image Prediction",
    27: "Text-Image Creation",
}


@dataclass
class Question:
    """One benchmark question as its question file gives it."""

    id: str
    category: str
    question: str | None = None
    options: list[str] = field(default_factory=list)
    answer: str | None = None


@dataclass
class Questions:
    """A question file read into id → question; `source` names the file in messages."""

    source: str
    by_id: dict[str, Question]

    def get(self, ident: str | None) -> Question | None:
        return self.by_id.get(ident) if ident is not None else None


def _question(row: dict[str, Any], names: dict[int, str], where: str) -> Question:
    ident = next((_text(row[k]) for k in _ID_FIELDS if _text(row.get(k)) is not None), None)
    if ident is None:
        raise ResultsError(f"{where}: no question id ({', '.join(_ID_FIELDS)})")
    category = _text(row.get("category"))
    qtype = row.get("question_type_id")
    if qtype is not None:
        try:
            category = names.get(int(qtype)) or category
        except (TypeError, ValueError):
            raise ResultsError(f"{where}: question_type_id {qtype!r} is not a number") from None
        if category is None:
            raise ResultsError(f"{where}: question_type_id {qtype!r} is not in the file's question_type")
    if category is None:
        raise ResultsError(f"{where}: no category (category or question_type_id)")
    if all(f"choice_{c}" in row for c in "abcd"):
        options = [str(row[f"choice_{c}"]) for c in "abcd"]
    else:
        options = _lettered(row)
    return Question(ident, category, _text(row.get("question")), options, _text(row.get("answer")))


def _seed_names(rows: list[Any]) -> dict[int, str]:
    """The dimension names for rows without a `question_type` map: SEED-Bench-2's when the rows
    are SEED-Bench-2's (they carry `subpart`, or a dimension above 12), else SEED-Bench-1's."""
    for row in rows:
        if isinstance(row, dict) and ("subpart" in row or _int(row.get("question_type_id")) > 12):
            return dict(SEED2_DIMENSIONS)
    return dict(SEED_DIMENSIONS)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _rows(path: Path) -> tuple[list[Any], dict[int, str]]:
    """(question rows, dimension id → name) of a question JSON or parquet file."""
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ResultsError(
                f'{path}: reading parquet needs pyarrow: pip install "visinstruct[{_PARQUET_EXTRA}]"'
            ) from None
        try:
            schema = pq.read_schema(path)
            wanted = [n for n in schema.names if n not in ("image", "images", "video")]
            rows = pq.read_table(path, columns=wanted).to_pylist()
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise ResultsError(f"{path}: not a readable parquet file ({e})") from None
        return rows, _seed_names(rows)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    qtypes = data.get("question_type") if isinstance(data, dict) else None
    if isinstance(data, dict):
        data = data.get("questions")
    if not isinstance(data, list):
        raise ResultsError(f'{path}: expected a list of questions (or one under "questions")')
    if isinstance(qtypes, dict):
        try:
            return data, {int(v): str(k) for k, v in qtypes.items()}
        except (TypeError, ValueError):
            raise ResultsError(f'{path}: "question_type" must map names to numbers') from None
    return data, _seed_names(data)


def load_questions(path: str | Path) -> Questions:
    """Read a benchmark's question file (JSON or parquet) into questions by id."""
    p = Path(path)
    if not p.is_file():
        raise ResultsError(f"{p}: no such question file")
    rows, names = _rows(p)
    by_id: dict[str, Question] = {}
    for n, row in enumerate(rows, 1):
        where = f"{p}:question {n}"
        if not isinstance(row, dict):
            raise ResultsError(f"{where}: a question must be an object")
        q = _question(row, names, where)
        by_id[q.id] = q
    if not by_id:
        raise ResultsError(f"{p}: holds no questions")
    return Questions(str(p), by_id)
