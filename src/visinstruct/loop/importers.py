"""Per-sample evaluation results in, `EvalRecord`s out: lmms-eval's `--log_samples` files,
VLMEvalKit's prediction and result sheets, and our own JSONL.

A malformed line or row never stops an import: it becomes a `Problem` naming where it is
and what is wrong, so a user sees exactly what was left out. Only a file that cannot be
read at all (missing, unknown format, not JSON) raises `ResultsError`.

Formats (what the importers read, from the tools' own writers):

- lmms-eval: one JSON object per sample, `{task}` files named `*_samples_<task>.jsonl`
  (or, from older versions, `<task>.json` holding `{"args", "model_configs", "logs": [...]}`).
  A sample has `doc_id`, `target`, `filtered_resps`, `doc_hash`, `prompt_hash`,
  `target_hash`, one key per metric holding the task's `process_results` value, and
  either `doc` + `arguments` (the dataset row without images; older versions) or `input`
  (the prompt; newer versions drop `doc`). SEED-Bench rows carry `question_type_id`,
  which names the evaluation dimension; MMBench metric values carry `category`.
- VLMEvalKit: prediction and result sheets (.xlsx, .tsv, .csv) and the `*_acc.csv` /
  `*_score.csv` summaries, read by `loop.vlmevalkit` (circular MMBench grouped as VLMEvalKit
  groups it).
- generic: our JSONL, one object per line: `question`, `options` (list in letter order,
  or `{letter: text}`, or absent), `answer` (letter or option text), `prediction`,
  `category`, optional `image` (relative to the results file), `id`, `correct`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.loop import vlmevalkit
from visinstruct.loop.results import UNCATEGORIZED, EvalRecord, ImportResult, Problem, ResultsError
from visinstruct.loop.results import read_text as _read_text
from visinstruct.loop.scoring import NO_LETTER, NO_PREDICTION, answer_letter, extract_letter, score
from visinstruct.loop.scoring import cell_flag as _flag
from visinstruct.loop.scoring import cell_text as _text
from visinstruct.loop.scoring import lettered_options as _lettered

FORMATS = ("auto", "generic", "lmms-eval", "vlmevalkit")
__all__ = [
    "FORMATS",
    "NO_LETTER",
    "NO_PREDICTION",
    "SEED_DIMENSIONS",
    "UNCATEGORIZED",
    "ImportResult",
    "Problem",
    "ResultsError",
    "answer_letter",
    "extract_letter",
    "load_results",
    "score",
]

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

# lmms-eval sample keys that are bookkeeping, not a metric's value
_LMMS_KEYS = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "doc_hash",
    "prompt_hash",
    "target_hash",
    "input",
    "filter",
    "metrics",
}
# scalar metrics whose 0/1 value is the sample's verdict
_VERDICT_METRICS = ("exact_match", "acc", "accuracy", "hit", "correct", "score")


_PROMPT_OPTION = re.compile(r"^\s*\(?([A-J])[.)]\s*(.*)$")


def _prompt_options(prompt: str) -> tuple[str, list[str]]:
    """(question, options) parsed back from a prompt that lists "A. ..." lines."""
    lines = prompt.splitlines()
    options: list[str] = []
    start = None
    for i, line in enumerate(lines):
        m = _PROMPT_OPTION.match(line)
        if m and m.group(1) == "ABCDEFGHIJ"[len(options)]:
            start = i if start is None else start
            options.append(m.group(2).strip())
        elif options:
            break
    question = "\n".join(lines[:start]).strip() if start is not None else prompt.strip()
    return question, options


def _benchmark_from_task(task: str) -> str:
    """Our benchmark name for an lmms-eval task: seedbench / mmbench, else the task itself."""
    t = task.lower()
    if t == "seedbench" or (t.startswith("seedbench_") and not t.startswith("seedbench_2")):
        return "seedbench"
    if t.startswith("mmbench") and not t.startswith("mmbench_cc"):
        return "mmbench"
    return task


# --- reading files ---------------------------------------------------------------------


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


def _is_lmms_sample(obj: dict[str, Any]) -> bool:
    return "doc_id" in obj and ("filtered_resps" in obj or "resps" in obj)


# --- the three formats -----------------------------------------------------------------


def _generic(path: Path, benchmark: str | None, result: ImportResult) -> None:
    problems = result.problems
    for where, obj in _json_lines(path, _read_text(path), problems):
        line = where.rsplit(":", 1)[1]
        missing = [k for k in ("question", "answer", "category") if _text(obj.get(k)) is None]
        if missing:
            problems.append(Problem(where, f"missing field {', '.join(repr(k) for k in missing)}"))
            continue
        raw_options = obj.get("options")
        if raw_options is None:
            options: list[str] = []
        elif isinstance(raw_options, list) and all(isinstance(o, str | int | float) for o in raw_options):
            options = [str(o) for o in raw_options]
        elif isinstance(raw_options, dict):
            keys = sorted(str(k).strip().upper() for k in raw_options)
            if keys != list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(keys)]):
                problems.append(Problem(where, f"options must be lettered A, B, ... in order, got {keys}"))
                continue
            by_letter = {str(k).strip().upper(): str(v) for k, v in raw_options.items()}
            options = [by_letter[k] for k in keys]
        else:
            problems.append(Problem(where, "options must be a list of texts or a {letter: text} mapping"))
            continue
        answer = str(obj["answer"]).strip()
        if options:
            letter = answer_letter(answer, options)
            if letter is None:
                problems.append(
                    Problem(where, f"answer {answer!r} is neither an option letter nor an option's text")
                )
                continue
            answer = letter
        prediction = obj.get("prediction")
        prediction = None if prediction is None else str(prediction)
        correct, error = score(prediction, answer, options)
        given = obj.get("correct")
        if given is not None:
            verdict = _flag(given)
            if verdict is None:
                problems.append(
                    Problem(where, f"'correct' must be true or false, got {given!r}; scored instead")
                )
            else:
                correct, error = verdict, None
        if error:
            problems.append(Problem(where, error))
        image = _text(obj.get("image"))
        if image is not None and not Path(image).is_absolute():
            image = str(path.parent / image)
        known = {"id", "question", "options", "answer", "prediction", "category", "image", "correct"}
        result.records.append(
            EvalRecord(
                id=_text(obj.get("id")) or line,
                category=str(obj["category"]),
                question=str(obj["question"]),
                answer=answer,
                prediction=prediction,
                correct=correct,
                options=options,
                image=image,
                benchmark=benchmark or "generic",
                error=error,
                extra={k: v for k, v in obj.items() if k not in known},
            )
        )


def _lmms_samples(path: Path, result: ImportResult) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
    """(where, sample) pairs and the task name, from a .jsonl or an older .json file."""
    text = _read_text(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ResultsError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
        logs = data.get("logs") if isinstance(data, dict) else data
        if not isinstance(logs, list):
            raise ResultsError(f'{path}: expected lmms-eval samples, a list under "logs"')
        task = None
        if isinstance(data, dict) and isinstance(data.get("model_configs"), dict):
            task = _text(data["model_configs"].get("task"))
        out = []
        for n, s in enumerate(logs, 1):
            if isinstance(s, dict):
                out.append((f"{path}:row {n}", s))
            else:
                result.problems.append(Problem(f"{path}:row {n}", "a sample must be a JSON object"))
        return out, task
    m = re.search(r"(?:^|_)samples_(.+)$", path.stem)
    return list(_json_lines(path, text, result.problems)), m.group(1) if m else None


def _metric_values(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for k, v in sample.items() if k not in _LMMS_KEYS and isinstance(v, dict)]


def _first_text(value: Any) -> str | None:
    """The first string in a (possibly nested) list of responses."""
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


def _guess_lmms_benchmark(samples: list[tuple[str, dict[str, Any]]]) -> str | None:
    for _, s in samples[:20]:
        doc = s.get("doc") if isinstance(s.get("doc"), dict) else {}
        if "seed_all" in s or "seed_image" in s or ("question_type_id" in doc and "choice_a" in doc):
            return "seedbench"
        if any("L2-category" in v or "l2-category" in v for v in _metric_values(s)) or "L2-category" in doc:
            return "mmbench"
    return None


def _lmms_eval(path: Path, benchmark: str | None, result: ImportResult) -> None:
    samples, task = _lmms_samples(path, result)
    bench = benchmark or (_benchmark_from_task(task) if task else None) or _guess_lmms_benchmark(samples)
    bench = bench or "lmms-eval"
    result.benchmark = bench
    uncategorized = 0
    for where, s in samples:
        if not _is_lmms_sample(s):
            result.problems.append(Problem(where, "not an lmms-eval sample (no doc_id / filtered_resps)"))
            continue
        doc = s.get("doc") if isinstance(s.get("doc"), dict) else {}
        metrics = _metric_values(s)
        merged: dict[str, Any] = {}
        for v in metrics:
            merged.update({k: x for k, x in v.items() if k not in merged})
        prompt = _first_text(s.get("input")) or _first_text(s.get("arguments")) or ""
        prompt_question, prompt_options = _prompt_options(prompt) if prompt else ("", [])

        if all(f"choice_{c}" in doc for c in "abcd"):
            options = [str(doc[f"choice_{c}"]) for c in "abcd"]
        else:
            options = _lettered(doc) or _lettered(merged) or prompt_options
        question = _text(doc.get("question")) or _text(merged.get("question")) or prompt_question
        answer = _text(doc.get("answer")) or _text(merged.get("answer")) or _text(s.get("target"))
        if answer is None:
            result.problems.append(Problem(where, "no gold answer (doc, metric value or target)"))
            continue
        answer = answer.strip()

        category = None
        qtype = doc.get("question_type_id")
        if qtype is not None and bench.startswith("seedbench"):
            try:
                category = SEED_DIMENSIONS.get(int(qtype))
            except (TypeError, ValueError):
                category = None
            if category is None:
                result.problems.append(Problem(where, f"unknown SEED-Bench question_type_id {qtype!r}"))
        category = category or _text(doc.get("category")) or _text(merged.get("category"))
        if category is None:
            category = UNCATEGORIZED
            uncategorized += 1

        prediction = _first_text(s.get("filtered_resps"))
        if prediction is None:
            prediction = _text(merged.get("pred")) or _text(merged.get("prediction"))
        correct, error = score(prediction, answer, options)
        verdict = None
        for v in metrics:
            for key in ("hit", "score", "correct", "is_correct"):
                if key in v and verdict is None:
                    verdict = _flag(v[key])
        for key in _VERDICT_METRICS:
            if key in s and verdict is None and not isinstance(s[key], dict):
                verdict = _flag(s[key])
        if verdict is not None:
            correct, error = verdict, None
        if error:
            result.problems.append(Problem(where, error))

        ident = (
            _text(doc.get("question_id"))
            or _text(merged.get("question_id"))
            or _text(doc.get("index"))
            or _text(merged.get("index"))
            or _text(s.get("doc_id"))
        )
        extra: dict[str, Any] = {"doc_id": s.get("doc_id")}
        if task:
            extra["task"] = task
        for key in ("data_id", "data_type", "question_type_id", "hint", "L2-category", "source", "split"):
            value = _text(doc.get(key)) if key in doc else _text(merged.get(key))
            if value is not None:
                extra["l2-category" if key == "L2-category" else key] = value
        result.records.append(
            EvalRecord(
                id=ident or str(s.get("doc_id")),
                category=category,
                question=question,
                answer=answer,
                prediction=prediction,
                correct=correct,
                options=options,
                image=None,
                benchmark=bench,
                error=error,
                extra=extra,
            )
        )
    if uncategorized:
        result.problems.append(
            Problem(
                str(path),
                f"{uncategorized} sample(s) carry no category: the log has no dataset rows (newer lmms-eval "
                f"versions drop `doc`), so they are grouped as {UNCATEGORIZED!r}",
            )
        )


def _detect(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".tsv", ".csv"):
        return "vlmevalkit"
    if suffix == ".json":
        return "lmms-eval"
    if suffix == ".jsonl":
        first = _first_object(_read_text(path))
        if first is None:
            raise ResultsError(f"{path}: no JSON object on any line")
        return "lmms-eval" if _is_lmms_sample(first) else "generic"
    raise ResultsError(
        f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
        f"pass a format ({', '.join(FORMATS[1:])})"
    )


def load_results(path: str | Path, format: str = "auto", benchmark: str | None = None) -> ImportResult:
    """Read one results file into records; malformed lines become problems, not errors.

    `format` is "auto" (by extension and content), "generic", "lmms-eval" or "vlmevalkit";
    `benchmark` overrides the benchmark read from the file name or content ("seedbench",
    "mmbench", ...), which chooses the category mapping.
    """
    p = Path(path)
    if format not in FORMATS:
        raise ResultsError(f"{p}: unknown results format {format!r} (known: {', '.join(FORMATS)})")
    if not p.exists():
        raise ResultsError(f"{p}: no such results file")
    if p.is_dir():
        raise ResultsError(f"{p}: is a folder; give one results file")
    fmt = _detect(p) if format == "auto" else format
    result = ImportResult(format=fmt)
    if fmt == "generic":
        _generic(p, benchmark, result)
        result.benchmark = benchmark or "generic"
    elif fmt == "lmms-eval":
        _lmms_eval(p, benchmark, result)
    else:
        if p.suffix.lower() not in (".xlsx", ".tsv", ".csv"):
            raise ResultsError(f"{p}: VLMEvalKit results are .xlsx, .tsv or .csv files")
        vlmevalkit.read_sheet(p, benchmark, result, known={"seedbench": set(SEED_DIMENSIONS.values())})
    return result
