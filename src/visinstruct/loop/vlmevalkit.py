"""VLMEvalKit's sheets in, `EvalRecord`s (or a category-level summary) out.

What VLMEvalKit writes (vlmeval/dataset/image_mcq.py, vlmeval/dataset/utils/multiple_choice.py):

- `<model>_<dataset>.xlsx` (predictions) and `..._<judge>_result.xlsx` (evaluated, with
  `hit`), or the same tables as `.tsv`/`.csv`; columns `index`, `question`, `hint`,
  `A`..`D`, `answer`, `category`, `l2-category`, `prediction`, `hit`. Column names are read
  in any case, option letters in capitals, as VLMEvalKit's evaluation reads them.
- Circular evaluation (datasets whose name holds mmbench, ccbench, circular or mmcr): each
  question is asked again with its options rotated, the copy k under `index + k·1,000,000`.
  `mcq_circular_eval` groups the rows by `index % 1,000,000` and keeps the original row
  (`index < 1,000,000`) with `hit` 1 only when every copy's answer is right; a copy whose
  original is not in the sheet is not counted. The result sheet holds the original rows
  only, so n counts questions, not copies.
- `*_acc.csv` (`report_acc`): one row per `split`, an `Overall` column, then one column per
  `l2-category` (abbreviated for MMBench: CP, FP-S, FP-C, LR, RR, AR) and one per
  `category`, holding accuracies in [0, 1]. `*_score.csv` (`default_rating`) is laid out the
  same with percentages; MME's (`MME_rating`) holds per category accuracy + accuracy+ (at
  most 200) and the `perception` / `reasoning` sums.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.loop.results import UNCATEGORIZED, EvalRecord, ImportResult, Problem, ResultsError, read_text
from visinstruct.loop.scoring import answer_letter, cell_flag, cell_text, lettered_options, score

XLSX_EXTRA = "loop"  # the optional-dependency group that installs openpyxl
CIRCULAR_STEP = 1_000_000  # VLMEvalKit's offset between a question and its rotated copies
# dataset names VLMEvalKit scores circularly (`listinstr` in ImageMCQDataset.evaluate_heuristic)
CIRCULAR_NAMES = ("mmbench", "ccbench", "circular", "mmcr")
# report_acc's abbreviations of MMBench's l2-categories: aggregates, not categories
MMB_ABBRS = ("CP", "FP-S", "FP-C", "LR", "RR", "AR")
# summary columns that aggregate over categories
_AGGREGATES = {"split", "overall", "perception", "reasoning"}
_SUMMARY_STEM = re.compile(r"_(?:acc|score)$", re.IGNORECASE)


def benchmark_from_dataset(name: str) -> str | None:
    """seedbench / mmbench when a VLMEvalKit file name holds that dataset's name."""
    if re.search(r"(?:^|_)SEEDBench_IMG(?:_|$)", name):
        return "seedbench"
    if re.search(r"(?:^|_)MMBench(?:_(?:DEV|TEST))?(?:_(?:EN|CN))?(?:_V11)?(?:_|$)", name):
        return "mmbench"
    return None


def is_circular(name: str) -> bool:
    """Whether VLMEvalKit scores the dataset in this file name circularly."""
    return any(k in name.lower() for k in CIRCULAR_NAMES)


def _normalise_header(name: Any) -> str:
    """Column names as VLMEvalKit's evaluation reads them: lower case, except option letters."""
    s = str(name).strip() if name is not None else ""
    return s if len(s) == 1 and s.isupper() else s.lower()


def _table(path: Path) -> list[tuple[int, list[Any]]]:
    """(row number, cells) of an .xlsx, .tsv or .csv, header row first."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        try:
            import openpyxl
        except ImportError:
            raise ResultsError(
                f'{path}: reading .xlsx needs openpyxl: pip install "visinstruct[{XLSX_EXTRA}]" '
                "(or save the sheet as .tsv)"
            ) from None
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises zipfile, XML and its own errors for a bad file
            raise ResultsError(f"{path}: not a readable .xlsx workbook ({type(e).__name__}: {e})") from None
        try:
            rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
        finally:
            wb.close()
        numbered = list(enumerate(rows, 1))
    else:
        text = read_text(path)
        delimiter = "\t" if suffix == ".tsv" else ","
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # dataset sheets may hold base64 images
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            numbered = list(enumerate(reader, 1))
        except csv.Error as e:
            raise ResultsError(f"{path}: not a readable {suffix[1:]} table ({e})") from None
    if not numbered:
        raise ResultsError(f"{path}: the table is empty")
    return numbered


def _rows(numbered: list[tuple[int, list[Any]]]) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    headers = [_normalise_header(h) for h in numbered[0][1]]
    return headers, iter(numbered[1:])


def is_summary(path: Path, headers: list[str]) -> bool:
    """A `*_acc` / `*_score` table without per-question columns is a category-level summary."""
    return bool(_SUMMARY_STEM.search(path.stem)) and not {"question", "prediction"} & set(headers)


def read_sheet(
    path: Path, benchmark: str | None, result: ImportResult, known: dict[str, set[str]] | None = None
) -> None:
    """Read a prediction or result sheet (or a summary) into `result`.

    `known` maps a benchmark to its category names, to tell the benchmark from the categories
    when the file name does not."""
    numbered = _table(path)
    headers, rows = _rows(numbered)
    if is_summary(path, headers):
        read_summary(path, numbered, benchmark, result)
        return
    for required in ("question", "answer", "prediction"):
        if required not in headers:
            what = "not a prediction file" if required == "prediction" else "not a VLMEvalKit sheet"
            raise ResultsError(f"{path}: no {required!r} column ({what}; columns: {', '.join(headers)})")
    has_category = "category" in headers
    records: list[tuple[int | None, EvalRecord]] = []  # (integer index, record), in sheet order
    for n, cells in rows:
        row = {h: cells[i] if i < len(cells) else None for i, h in enumerate(headers) if h}
        if all(cell_text(v) is None for v in row.values()):
            continue
        where = f"{path}:row {n}"
        question, answer = cell_text(row.get("question")), cell_text(row.get("answer"))
        if question is None or answer is None:
            result.problems.append(Problem(where, f"missing {'question' if question is None else 'answer'}"))
            continue
        options = lettered_options(row)
        answer = answer.strip()
        if options and answer_letter(answer, options) is not None:
            answer = answer_letter(answer, options) or answer
        prediction = cell_text(row.get("prediction"))
        correct, error = score(prediction, answer, options)
        if "hit" in row:
            verdict = cell_flag(row["hit"])
            if verdict is None:
                result.problems.append(Problem(where, f"hit {row['hit']!r} is not 0 or 1; scored instead"))
            else:
                correct, error = verdict, None
        if error:
            result.problems.append(Problem(where, error))
        ident = cell_text(row.get("index"))
        extra: dict[str, Any] = {
            k: cell_text(row[k])
            for k in ("hint", "l2-category", "split", "source", "log", "image_path")
            if k in row and cell_text(row[k]) is not None
        }
        extra["row"] = n
        record = EvalRecord(
            id=ident or str(n),
            category=cell_text(row.get("category")) or UNCATEGORIZED,
            question=question,
            answer=answer,
            prediction=prediction,
            correct=correct,
            options=options,
            image=None,
            benchmark="",  # set below, once the whole sheet is known
            error=error,
            extra=extra,
        )
        records.append((_int_index(ident), record))
    result.records = _group_circular(path, records, result.problems)
    for r in result.records:
        r.extra.pop("row", None)
    if not has_category:
        result.problems.append(Problem(str(path), f"no 'category' column: every row is {UNCATEGORIZED!r}"))
    bench = benchmark or benchmark_from_dataset(path.stem)
    categories = {r.category for r in result.records}
    if bench is None:
        bench = next((b for b, names in (known or {}).items() if categories and categories <= names), None)
    if bench is None:
        bench = "mmbench" if "l2-category" in headers else path.stem
    result.benchmark = bench
    for r in result.records:
        r.benchmark = bench


def _int_index(ident: str | None) -> int | None:
    try:
        return int(float(ident)) if ident is not None else None
    except ValueError:
        return None


def _group_circular(
    path: Path, records: list[tuple[int | None, EvalRecord]], problems: list[Problem]
) -> list[EvalRecord]:
    """One record per question, as `mcq_circular_eval` counts them: the original row, right
    only when it and every rotated copy (`index + k·1,000,000`) are right. A sheet with no
    copies is returned as it is."""
    if not any(i is not None and i >= CIRCULAR_STEP for i, _ in records):
        return [r for _, r in records]
    copies: dict[int, list[EvalRecord]] = {}
    for i, r in records:
        if i is not None and i >= CIRCULAR_STEP:
            copies.setdefault(i % CIRCULAR_STEP, []).append(r)
    originals = {i for i, _ in records if i is not None and i < CIRCULAR_STEP}
    for g in sorted(set(copies) - originals):
        for r in copies[g]:
            problems.append(
                Problem(
                    f"{path}:row {r.extra['row']}",
                    f"rotated copy {r.id} of question {g}, which is not in the sheet: not counted "
                    "(VLMEvalKit scores a circular group from its original row)",
                )
            )
    out = []
    for i, r in records:
        if i is not None and i >= CIRCULAR_STEP:
            continue
        group = sorted(copies.get(i, []), key=lambda c: int(float(c.id))) if i is not None else []
        if group:
            r.extra["circular"] = [
                {"index": c.id, "answer": c.answer, "prediction": c.prediction, "correct": c.correct}
                for c in group
            ]
            failed = next((c for c in group if not c.correct), None)
            if r.correct and failed is not None:
                r.correct = False
                r.error = failed.error  # why the failed copy could not be scored, if it could not
        out.append(r)
    return out


def read_summary(
    path: Path, numbered: list[tuple[int, list[Any]]], benchmark: str | None, result: ImportResult
) -> None:
    """A `*_acc.csv` / `*_score.csv`: accuracy per category, no per-question answers.

    Aggregate columns (split, Overall, MME's perception / reasoning, MMBench's l2-category
    abbreviations) are left out; percentages (any value above 1) are read as such, and MME's
    scores (accuracy + accuracy+, at most 200) as half their sum."""
    header = [str(h).strip() if h is not None else "" for h in numbered[0][1]]
    body = [(n, cells) for n, cells in numbered[1:] if any(cell_text(c) is not None for c in cells)]
    if not body:
        raise ResultsError(f"{path}: a summary with a header and no row of figures")
    if len(body) > 1:
        at = header.index("split") if "split" in header else None
        splits = ", ".join(cell_text(c[at]) or "?" for _, c in body) if at is not None else ""
        raise ResultsError(
            f"{path}: the summary holds {len(body)} rows{f' (splits {splits})' if splits else ''}; "
            "keep the one row of the split to read"
        )
    n, cells = body[0]
    lower = {h.lower() for h in header}
    mme = {"perception", "reasoning"} <= lower
    values: dict[str, float] = {}
    for i, name in enumerate(header):
        if not name or name.lower() in _AGGREGATES or name in MMB_ABBRS:
            continue
        cell = cells[i] if i < len(cells) else None
        text = cell_text(cell)
        try:
            values[name] = float(text) if text is not None else float("nan")
        except ValueError:
            result.problems.append(Problem(f"{path}:row {n}", f"{name}: {text!r} is not a number; left out"))
    values = {k: v for k, v in values.items() if v == v}  # NaN: the category has no figure
    if not values:
        raise ResultsError(f"{path}: the summary has no per-category column (only {', '.join(header)})")
    if mme:
        scale, what = 200.0, "MME scores (accuracy + accuracy+, out of 200) read as their mean"
    elif max(values.values()) > 1:
        scale, what = 100.0, "figures above 1 read as percentages"
    else:
        scale, what = 1.0, ""
    for name, v in values.items():
        if not 0 <= v <= scale:
            why = f"{name}: {v:g} is outside 0-{scale:g}; left out"
            result.problems.append(Problem(f"{path}:row {n}", why))
        else:
            result.summary[name] = v / scale
    if what:
        result.problems.append(Problem(str(path), what))
    result.benchmark = benchmark or benchmark_from_dataset(_SUMMARY_STEM.sub("", path.stem)) or path.stem
