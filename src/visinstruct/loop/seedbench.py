"""SEED-Bench's own result files, read as they are released.

SEED-Bench's `eval.py` appends `{"question_id": ..., "prediction": "A"}` per line to
`results.json`; the released results (`evaluate_result/SEED-Bench-*/<model>.json`) are the same
objects, each line followed by a comma and no surrounding brackets, sometimes with
`gt_answer`. lmms-eval's `seed_submission.json` is a JSON list of the same objects. None of
them names a question's dimension: categories (and gold answers, when absent) come from the
benchmark's question file, `SEED-Bench.json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.loop.questions import Questions
from visinstruct.loop.results import EvalRecord, ImportResult, Problem, ResultsError
from visinstruct.loop.results import read_text as _read_text
from visinstruct.loop.scoring import cell_text as _text
from visinstruct.loop.scoring import score


def is_seed_result(obj: Any) -> bool:
    """Whether a JSON object is one SEED-Bench result line (an id and a prediction, no question)."""
    return (
        isinstance(obj, dict)
        and "question_id" in obj
        and "prediction" in obj
        and "question" not in obj
        and "doc_id" not in obj
    )


def _line_object(line: str) -> Any:
    """A line as JSON, read as SEED-Bench writes it: a trailing comma is the list separator."""
    s = line.strip()
    if s.endswith(","):
        s = s[:-1].rstrip()
    return json.loads(s)


def looks_like_seed_results(text: str) -> bool:
    """Whether a file's text is SEED-Bench results: a JSON list of them, or one per line."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        return bool(whole) and is_seed_result(whole[0])
    if whole is not None:
        return is_seed_result(whole)
    for line in text.split("\n"):
        if line.strip() in ("", "[", "]"):
            continue
        try:
            return is_seed_result(_line_object(line))
        except json.JSONDecodeError:
            return False
    return False


def _objects(path: Path, text: str, problems: list[Problem]) -> Iterator[tuple[str, Any]]:
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        for n, obj in enumerate(whole, 1):
            yield f"{path}:item {n}", obj
        return
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip() in ("", "[", "]"):
            continue
        where = f"{path}:{n}"
        try:
            yield where, _line_object(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(where, f"not JSON ({e.msg} at column {e.colno})"))


def read_seed_results(
    path: Path, benchmark: str | None, result: ImportResult, questions: Questions | None
) -> None:
    """Read a SEED-Bench result file into `result`, categories joined from `questions`."""
    if questions is None:
        raise ResultsError(
            f"{path}: a SEED-Bench result file names no categories; give the benchmark's question file "
            "(--questions SEED-Bench.json)"
        )
    bench = benchmark or "seedbench"
    result.benchmark = bench
    not_found: list[str] = []
    for where, obj in _objects(path, _read_text(path), result.problems):
        if not is_seed_result(obj):
            result.problems.append(Problem(where, "not a SEED-Bench result (question_id, prediction)"))
            continue
        ident = _text(obj["question_id"])
        known = questions.get(ident)
        if known is None:
            not_found.append(str(ident))
            continue
        answer = _text(obj.get("gt_answer")) or known.answer
        if answer is None:
            result.problems.append(Problem(where, f"no gold answer for {ident} in {questions.source}"))
            continue
        prediction = _text(obj.get("prediction"))
        correct, error = score(prediction, answer.strip(), known.options)
        if error:
            result.problems.append(Problem(where, error))
        result.records.append(
            EvalRecord(
                id=str(ident),
                category=known.category,
                question=known.question or "",
                answer=answer.strip(),
                prediction=prediction,
                correct=correct,
                options=known.options,
                image=None,
                benchmark=bench,
                error=error,
                extra={},
            )
        )
    if not_found:
        shown = ", ".join(not_found[:5]) + (", ..." if len(not_found) > 5 else "")
        result.problems.append(
            Problem(str(path), f"{len(not_found)} result(s) left out: not in {questions.source} ({shown})")
        )
