"""lmms-eval's `--log_samples` files, every layout its versions wrote, as `EvalRecord`s.

Layouts (from lmms-eval's evaluator and logging code):

- v0.1-v0.2: `<task>.json`, `{"args", "model_configs", "logs": [...]}`; a sample has
  `doc_id`, `target`, `doc` (the dataset row), `arguments`, `resps`, `filtered_resps`
  (a list, one entry per request) and one key per metric with `process_results`' value.
- v0.3: `<date>_samples_<task>.jsonl`, one sample per line, with `doc`, `input` (the prompt),
  `doc_hash`, `prompt_hash`, `target_hash`.
- v0.4 and later: the same without `doc` and `arguments`; `resps` is dropped when it equals
  `filtered_resps`. SEED-Bench's category (`question_type_id`) is then only in the
  benchmark's question file; its metric values still carry `question_id`.
- v0.7 and later: one-request samples are flattened (`filtered_resps` is the response, not a
  one-element list), and samples carry `token_counts` and sometimes `input_media`.

Metric values by task (`process_results`): SEED-Bench `seed_<data_type>`/`seed_all` =
`{pred, answer, question_id}` (scored here from the whole response, so "(C)" counts as C where
lmms-eval's first-character `pred` would not); MMBench `gpt_eval_score`/`submission` =
`{index, question, answer, prediction, hint, source, split, category, L2-category, A..E}`; MME
`mme_perception_score`/`mme_cognition_score` = `{question_id, category, score}`; OCRBench
`ocrbench_accuracy` = `{question_type, score, prediction, ground_truth}`; ChartQA scalar
`relaxed_overall` plus `relaxed_human_split` or `relaxed_augmented_split` (the row's `type`);
DocVQA/InfoVQA scalar `anls` (0 below 0.5); TextVQA scalar `exact_match`, the VQA accuracy
(0, 1/3, 2/3, 1); ScienceQA and RealWorldQA scalar `exact_match`. A fractional score counts as
correct from 0.5 and is kept in `extra["score"]`. TextVQA, RealWorldQA, DocVQA and InfoVQA logs
name no category: each is one category named for the benchmark; ScienceQA's is the row's
`subject` when the log keeps the row. MMStar `<category>`/`average` = `{question_id,
l2_category, score}` (the 18 `l2_category` leaves are the categories); MMMU `mmmu_acc` =
`{id, subdomain, question_type, answer, parsed_pred}` (the subject is the category); POPE
`pope_accuracy`.. = `{question_id, score, prediction, ground_truth}` (the split is only in `doc`
or the task name: pope_adv, pope_pop, pope_random); AI2D a scalar `exact_match` and no
category at all (one category for the whole benchmark).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import json_repair

from visinstruct.loop.questions import Questions
from visinstruct.loop.reading import SEED_DIMENSIONS, _json_lines
from visinstruct.loop.results import UNCATEGORIZED, EvalRecord, ImportResult, Problem, ResultsError
from visinstruct.loop.results import read_text as _read_text
from visinstruct.loop.scoring import cell_flag as _flag
from visinstruct.loop.scoring import cell_text as _text
from visinstruct.loop.scoring import lettered_options as _lettered
from visinstruct.loop.scoring import score

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
    "token_counts",
    "input_media",
}
# scalar metrics whose 0/1 value is the sample's verdict
_VERDICT_METRICS = ("exact_match", "acc", "accuracy", "hit", "correct", "score", "relaxed_overall", "anls")
# lmms-eval task name prefix → our benchmark name
_TASK_PREFIXES = (
    ("chartqa", "chartqa"),
    ("docvqa", "docvqa"),
    ("infovqa", "infovqa"),
    ("textvqa", "textvqa"),
    ("scienceqa", "scienceqa"),
    ("realworldqa", "realworldqa"),
    ("mmstar", "mmstar"),
    ("pope", "pope"),
    ("ai2d", "ai2d"),
)
# the row (or metric value) field that holds the category, where it is not `category`
_CATEGORY_FIELDS = {
    "ocrbench": "question_type",
    "scienceqa": "subject",
    "mmstar": "l2_category",  # its 18 abilities; `category` holds the 6 core capabilities
    "mmmu": "subdomain",  # the subject, from the question id
}
# benchmarks whose logs name no category: the whole benchmark is one category
_ONE_CATEGORY = {
    "textvqa": "scene_text_vqa",
    "realworldqa": "real_world_vqa",
    "docvqa": "document_vqa",
    "infovqa": "infographic_vqa",
    "scienceqa": "science",
    "ai2d": "science_diagram",
}
# tasks whose `submission` metric value holds the model's answer under "answer", not the gold one
_MODEL_ANSWER_IN_SUBMISSION = {"textvqa", "docvqa", "infovqa"}
# tasks whose logged `target` is no answer: TextVQA's `doc_to_target: "answer"` names no field
# of its rows (they hold `answers`), so the logger writes the word itself
_NO_GOLD_TARGET = {"textvqa"}
# ChartQA tells its two splits apart by which metric the sample carries
_CHARTQA_SPLITS = {"relaxed_human_split": "human", "relaxed_augmented_split": "augmented"}


# tasks whose row's `answer` is an option index and the logged `target` its letter (ai2d_doc_to_target)
_TARGET_IS_GOLD = {"ai2d"}
# POPE's split, which no v0.4+ sample carries, by task name
_TASK_CATEGORY = {"pope_adv": "adversarial", "pope_pop": "popular", "pope_random": "random"}

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
    """Our benchmark name for an lmms-eval task (seedbench, mmbench, chartqa, docvqa, ...: the
    name of its mapping file), else the task itself."""
    t = task.lower()
    if t == "seedbench" or (t.startswith("seedbench_") and not t.startswith("seedbench_2")):
        return "seedbench"
    if t.startswith("mmbench") and not t.startswith("mmbench_cc"):
        return "mmbench"
    if t == "ocrbench":
        return "ocrbench"
    for prefix, name in _TASK_PREFIXES:
        if t == prefix or t.startswith(prefix + "_"):  # chartqa_lite, not chartqapro
            return name
    if t in ("mmmu", "mmmu_val", "mmmu_test") or t.startswith("mmmu_val_"):
        return "mmmu"
    return task


def is_lmms_sample(obj: dict[str, Any]) -> bool:
    """Whether a JSON object is one lmms-eval logged sample."""
    return "doc_id" in obj and ("filtered_resps" in obj or "resps" in obj)


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


def _one_text(value: Any) -> str | None:
    """A gold answer as text; the first of a list of accepted answers (DocVQA, OCRBench).

    The logger writes `str(target)`, so a list arrives as its Python repr ("['a', 'b']"); it is
    read back with `json_repair`, never evaluated."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        parsed = json_repair.loads(value)
        if isinstance(parsed, list) and parsed and all(isinstance(x, str) for x in parsed):
            return parsed[0]
    return _first_text(value) if isinstance(value, list) else _text(value)


def _guess_lmms_benchmark(samples: list[tuple[str, dict[str, Any]]]) -> str | None:
    for _, s in samples[:20]:
        doc = s.get("doc") if isinstance(s.get("doc"), dict) else {}
        if "seed_all" in s or "seed_image" in s or ("question_type_id" in doc and "choice_a" in doc):
            return "seedbench"
        if any("L2-category" in v or "l2-category" in v for v in _metric_values(s)) or "L2-category" in doc:
            return "mmbench"
        if "mme_perception_score" in s or "mme_cognition_score" in s:
            return "mme"
        if "mmmu_acc" in s:
            return "mmmu"
        if "pope_accuracy" in s:
            return "pope"
        if any("l2_category" in v for v in _metric_values(s)):
            return "mmstar"
    return None


def _ident(doc: dict[str, Any], merged: dict[str, Any]) -> str | None:
    for key in ("question_id", "index", "id"):
        for source in (doc, merged):
            value = _text(source.get(key))
            if value is not None:
                return value
    return None


def read_lmms_eval(
    path: Path, benchmark: str | None, result: ImportResult, questions: Questions | None = None
) -> None:
    """Read one lmms-eval samples file into `result`; `questions` gives categories by question id."""
    samples, task = _lmms_samples(path, result)
    bench = benchmark or (_benchmark_from_task(task) if task else None) or _guess_lmms_benchmark(samples)
    if bench is None and path.suffix.lower() == ".json":
        bench = _benchmark_from_task(path.stem)  # v0.1-v0.2 name the file <task>.json
    bench = bench or "lmms-eval"
    result.benchmark = bench
    uncategorized = 0
    not_found: list[str] = []
    seen: set[str] = set()
    for where, s in samples:
        if not is_lmms_sample(s):
            result.problems.append(Problem(where, "not an lmms-eval sample (no doc_id / filtered_resps)"))
            continue
        doc = s.get("doc") if isinstance(s.get("doc"), dict) else {}
        metrics = _metric_values(s)
        merged: dict[str, Any] = {}
        for v in metrics:
            merged.update({k: x for k, x in v.items() if k not in merged})
        ident = _ident(doc, merged)
        known = questions.get(ident) if questions is not None else None
        prompt = _first_text(s.get("input")) or _first_text(s.get("arguments")) or ""
        prompt_question, prompt_options = _prompt_options(prompt) if prompt else ("", [])

        if all(f"choice_{c}" in doc for c in "abcd"):
            options = [str(doc[f"choice_{c}"]) for c in "abcd"]
        else:
            options = (
                _lettered(doc) or _lettered(merged) or (known.options if known else []) or prompt_options
            )
        question = (
            _text(doc.get("question"))
            or _text(merged.get("question"))
            or (known.question if known else None)
            or prompt_question
        )
        answer = (
            (_one_text(s.get("target")) if bench in _TARGET_IS_GOLD else None)
            or _text(doc.get("answer"))
            or _one_text(doc.get("answers"))
            or (None if bench in _MODEL_ANSWER_IN_SUBMISSION else _text(merged.get("answer")))
            or (None if bench in _NO_GOLD_TARGET else _one_text(s.get("target")))
            or _one_text(merged.get("ground_truth"))
            or (known.answer if known else None)
        )
        if answer is None and bench in _NO_GOLD_TARGET and any(k in s for k in _VERDICT_METRICS):
            answer = ""  # the log keeps the verdict but not the gold answers
        if answer is None:
            result.problems.append(Problem(where, "no gold answer (doc, metric value or target)"))
            continue
        answer = answer.strip()

        category = None
        qtype = doc.get("question_type_id")
        if known is not None:
            category = known.category
        elif qtype is not None and bench.startswith("seedbench"):
            try:
                category = SEED_DIMENSIONS.get(int(qtype))
            except (TypeError, ValueError):
                category = None
            if category is None:
                result.problems.append(Problem(where, f"unknown SEED-Bench question_type_id {qtype!r}"))
        field = _CATEGORY_FIELDS.get(bench, "category")
        category = category or _text(doc.get(field)) or _text(merged.get(field))
        if category is None and bench == "chartqa":
            category = next((c for k, c in _CHARTQA_SPLITS.items() if k in s), None)
        category = category or _TASK_CATEGORY.get((task or "").lower()) or _ONE_CATEGORY.get(bench)
        if category is None:
            if questions is not None:
                not_found.append(ident or f"doc_id {s.get('doc_id')}")
                continue
            category = UNCATEGORIZED
            uncategorized += 1

        prediction = _first_text(s.get("filtered_resps"))
        if prediction is None:
            prediction = _text(merged.get("pred")) or _text(merged.get("prediction"))
        correct, error = score(prediction, answer, options)
        verdict = None
        fraction = None
        for v in metrics:
            for key in ("hit", "score", "correct", "is_correct"):
                if key in v and verdict is None:
                    verdict = _flag(v[key])
        for key in _VERDICT_METRICS:
            if key in s and verdict is None and not isinstance(s[key], dict):
                verdict = _flag(s[key])
                if verdict is None and isinstance(s[key], int | float) and 0 < s[key] < 1:
                    fraction = float(s[key])
                    verdict = fraction >= 0.5
        parsed = merged.get("parsed_pred")  # MMMU: lmms-eval's parsed choice, compared as it does
        if verdict is None and merged.get("question_type") == "multiple-choice" and isinstance(parsed, list):
            verdict = bool(parsed) and parsed[0] == answer
        if verdict is not None:
            correct, error = verdict, None
        if error:
            result.problems.append(Problem(where, error))

        extra: dict[str, Any] = {"doc_id": s.get("doc_id")}
        if fraction is not None:
            extra["score"] = fraction
        if task:
            extra["task"] = task
        for key in ("data_id", "data_type", "question_type_id", "hint", "L2-category", "source", "split"):
            value = _text(doc.get(key)) if key in doc else _text(merged.get(key))
            if value is not None:
                extra["l2-category" if key == "L2-category" else key] = value
        if isinstance(s.get("token_counts"), list):
            extra["token_counts"] = s["token_counts"]
        if isinstance(s.get("input_media"), list):
            extra["input_media"] = s["input_media"]
        record_id = ident or str(s.get("doc_id"))
        if record_id in seen:  # MME asks two questions per image, both under the image's question_id
            record_id = f"{record_id}#{s.get('doc_id')}"
        seen.add(record_id)
        result.records.append(
            EvalRecord(
                id=record_id,
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
    if not_found:
        shown = ", ".join(not_found[:5]) + (", ..." if len(not_found) > 5 else "")
        result.problems.append(
            Problem(
                str(path),
                f"{len(not_found)} sample(s) left out: their question id is not in {questions.source} "
                f"and the log gives no category ({shown})",
            )
        )
    if uncategorized:
        result.problems.append(
            Problem(
                str(path),
                f"{uncategorized} sample(s) carry no category: the log has no dataset rows (newer lmms-eval "
                f"versions drop `doc`), so they are grouped as {UNCATEGORIZED!r}; give the benchmark's "
                "question file (--questions) to join their categories by question id",
            )
        )
