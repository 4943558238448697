"""Per-sample evaluation results in, `EvalRecord`s out: lmms-eval's `--log_samples` files,
VLMEvalKit's prediction and result sheets, and our own JSONL.

A malformed line or row never stops an import: it becomes a `Problem` naming where it is
and what is wrong, so a user sees exactly what was left out. Only a file that cannot be
read at all (missing, unknown format, not JSON) raises `ResultsError`.

Formats (what the importers read, from the tools' own writers):

- lmms-eval: `--log_samples` files of every version (loop/lmms_eval.py); SEED-Bench's own
  result files (loop/seedbench.py); categories a log lacks come from the benchmark's question
  file (loop/questions.py).
- VLMEvalKit: prediction and result sheets (.xlsx, .tsv, .csv) and the `*_acc.csv` /
  `*_score.csv` summaries, read by `loop.vlmevalkit` (circular MMBench grouped as VLMEvalKit
  groups it).
- generic: our JSONL, one object per line: `question`, `options` (list in letter order,
  or `{letter: text}`, or absent), `answer` (letter or option text), `prediction`,
  `category`, optional `image` (relative to the results file), `id`, `correct`.
"""

from __future__ import annotations

from pathlib import Path

from visinstruct.loop import vlmevalkit
from visinstruct.loop.lmms_eval import is_lmms_sample, read_lmms_eval
from visinstruct.loop.questions import load_questions

# the names importers have always offered
from visinstruct.loop.reading import SEED_DIMENSIONS, _first_object, _json_lines  # noqa: F401
from visinstruct.loop.results import UNCATEGORIZED, EvalRecord, ImportResult, Problem, ResultsError  # noqa: F401
from visinstruct.loop.results import read_text as _read_text  # noqa: F401
from visinstruct.loop.scoring import NO_LETTER, NO_PREDICTION, answer_letter, extract_letter, score  # noqa: F401
from visinstruct.loop.scoring import cell_flag as _flag  # noqa: F401
from visinstruct.loop.scoring import cell_text as _text  # noqa: F401
from visinstruct.loop.scoring import lettered_options as _lettered  # noqa: F401
from visinstruct.loop.seedbench import looks_like_seed_results, read_seed_results

FORMATS = ("auto", "generic", "lmms-eval", "vlmevalkit", "seedbench")


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


def _detect(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".tsv", ".csv"):
        return "vlmevalkit"
    if suffix in (".json", ".jsonl"):
        text = _read_text(path)
        if looks_like_seed_results(text):
            return "seedbench"
        if suffix == ".json":
            return "lmms-eval"
        first = _first_object(text)
        if first is None:
            raise ResultsError(f"{path}: no JSON object on any line")
        return "lmms-eval" if is_lmms_sample(first) else "generic"
    raise ResultsError(
        f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
        f"pass a format ({', '.join(FORMATS[1:])})"
    )


def load_results(
    path: str | Path,
    format: str = "auto",
    benchmark: str | None = None,
    questions: str | Path | None = None,
) -> ImportResult:
    """Read one results file into records; malformed lines become problems, not errors.

    `format` is "auto" (by extension and content), "generic", "lmms-eval", "vlmevalkit" or
    "seedbench" (SEED-Bench's own result files); `benchmark` overrides the benchmark read from
    the file name or content ("seedbench", "mmbench", ...), which chooses the category mapping;
    `questions` is the benchmark's question file (JSON or parquet), joined by question id for
    logs that carry no categories.
    """
    p = Path(path)
    if format not in FORMATS:
        raise ResultsError(f"{p}: unknown results format {format!r} (known: {', '.join(FORMATS)})")
    if not p.exists():
        raise ResultsError(f"{p}: no such results file")
    if p.is_dir():
        raise ResultsError(f"{p}: is a folder; give one results file")
    known = load_questions(questions) if questions is not None else None
    fmt = _detect(p) if format == "auto" else format
    result = ImportResult(format=fmt)
    if fmt == "generic":
        _generic(p, benchmark, result)
        result.benchmark = benchmark or "generic"
    elif fmt == "lmms-eval":
        read_lmms_eval(p, benchmark, result, known)
    elif fmt == "seedbench":
        read_seed_results(p, benchmark, result, known)
    else:
        if p.suffix.lower() not in (".xlsx", ".tsv", ".csv"):
            raise ResultsError(f"{p}: VLMEvalKit results are .xlsx, .tsv or .csv files")
        vlmevalkit.read_sheet(p, benchmark, result, known={"seedbench": set(SEED_DIMENSIONS.values())})
    return result
