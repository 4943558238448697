"""lmms-eval logs of ChartQA, DocVQA, InfographicVQA, TextVQA, ScienceQA-IMG, RealWorldQA and
OCRBench import with their categories, and every category maps to our data.

Each log is written here the way lmms-eval writes `<date>_samples_<task>.jsonl` (the evaluator's
example dict, then the tracker's sanitising: `input` from the arguments, `target` as `str()`,
`resps` dropped when equal, `doc` and `arguments` dropped; v0.7 flattens one-request samples),
with each task's `process_results` redone here from its `utils.py`. Expected per-category
figures come from the planted rows with the test's own rules, never the importer's code."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from visinstruct.cli import cli
from visinstruct.loop.importers import load_results
from visinstruct.loop.mapping import SYNTH_CATEGORIES, _catalog_names, load_mapping

LAYOUTS = ("v0.4", "v0.7")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def anls(answers: list[str], pred: str) -> float:  # lmms_eval/api/metrics.py anls
    values = []
    for a in answers:
        gt, det = " ".join(a.strip().lower().split()), " ".join(pred.strip().lower().split())
        length = max(len(a), len(pred))
        values.append(0.0 if length == 0 else _levenshtein(gt, det) / length)
    q = 1 - min(values)
    return 0 if q < 0.5 else q


# --- each task: rows, a response per row, process_results, the logged target --------------


def chartqa_rows(rng: random.Random) -> list[dict]:
    return [
        {
            "type": rng.choice(["human_test", "augmented_test"]),
            "question": f"Value of bar {i}?",
            "answer": str(i),
        }
        for i in range(40)
    ]


def chartqa_metrics(doc: dict, pred: str) -> dict:  # tasks/chartqa/utils.py (exact answers here)
    score = 1.0 if pred.strip() == doc["answer"] else 0.0
    split = "relaxed_human_split" if doc["type"] == "human_test" else "relaxed_augmented_split"
    return {"relaxed_overall": score, split: score}


def docvqa_rows(rng: random.Random) -> list[dict]:
    return [
        {
            "questionId": 1000 + i,
            "question": f"What is the total on page {i}?",
            "answers": [f"${i}.00 total", f"{i}"],
        }
        for i in range(40)
    ]


def docvqa_metrics(doc: dict, pred: str) -> dict:  # docvqa_val: metric anls, default process_results
    return {"anls": anls(doc["answers"], pred)}


def textvqa_rows(rng: random.Random) -> list[dict]:
    words = ["stop", "coca cola", "exit", "open", "sale"]
    return [
        {"question_id": 34602 + i, "question": "What does the sign say?", "answers": [rng.choice(words)] * 10}
        for i in range(40)
    ]


def textvqa_metrics(doc: dict, pred: str) -> dict:  # tasks/textvqa/utils.py textvqa_process_results
    accs = []
    for i in range(len(doc["answers"])):
        others = [doc["answers"][j] for j in range(len(doc["answers"])) if j != i]
        accs.append(min(1, sum(o == pred for o in others) / 3))
    return {
        "exact_match": sum(accs) / len(accs),
        "submission": {"question_id": doc["question_id"], "answer": pred},
    }


def textvqa_fractional_rows(rng: random.Random) -> list[dict]:
    """Rows whose annotators disagree, so a right reply scores 1/3 or 2/3 of VQA accuracy."""
    return [
        {"question_id": 1 + i, "question": "Brand?", "answers": ["acme"] * (i % 4) + ["other"] * (10 - i % 4)}
        for i in range(24)
    ]


SQA_SUBJECTS = ("natural science", "social science", "language science")


def scienceqa_rows(rng: random.Random) -> list[dict]:
    return [
        {
            "question": f"Which is a mammal? ({i})",
            "choices": ["frog", "whale", "trout"],
            "answer": 1,
            "subject": rng.choice(SQA_SUBJECTS),
            "category": rng.choice(["Classification", "Geography", "Grammar"]),
        }
        for i in range(40)
    ]


def scienceqa_target(doc: dict) -> str:  # sqa_doc_to_target
    return "ABCDE"[doc["answer"]]


def scienceqa_metrics(doc: dict, pred: str) -> dict:  # sqa_process_results
    target = scienceqa_target(doc).lower()
    if pred.strip().lower() == target:
        return {"exact_match": 1.0}
    if len(pred) >= 2 and pred[0].isupper() and pred[1] == ".":
        return {"exact_match": 1.0 if pred[0].lower() == target else 0.0}
    return {"exact_match": 0.0}


def realworldqa_rows(rng: random.Random) -> list[dict]:
    return [{"question": f"How many cars? ({i})", "answer": rng.choice("ABCD")} for i in range(40)]


def realworldqa_metrics(doc: dict, pred: str) -> dict:  # realworldqa_process_results (MCQ branch)
    return {"exact_match": 1.0 if pred.strip().strip(".").upper() == doc["answer"] else 0.0}


OCRBENCH_TYPES = (
    "Regular Text Recognition",
    "Irregular Text Recognition",
    "Artistic Text Recognition",
    "Handwriting Recognition",
    "Digit String Recognition",
    "Non-Semantic Text Recognition",
    "Scene Text-centric VQA",
    "Doc-oriented VQA",
    "Key Information Extraction",
    "Handwritten Mathematical Expression Recognition",
)


def ocrbench_rows(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(60):
        qtype = OCRBENCH_TYPES[i % len(OCRBENCH_TYPES)]
        dataset = "HME100k" if qtype.startswith("Handwritten Math") else "IIIT5K"
        rows.append({"dataset": dataset, "question_type": qtype, "question": "Text?", "answer": [f"word{i}"]})
    return rows


def ocrbench_metrics(doc: dict, pred: str) -> dict:  # ocrbench_process_results
    score = int(any(a.lower().strip() in pred.lower().strip() for a in doc["answer"]))
    return {
        "ocrbench_accuracy": {
            "question_type": doc["question_type"],
            "score": score,
            "prediction": pred.strip(),
            "ground_truth": doc["answer"],
        }
    }


def _gold(task: str, doc: dict) -> str:
    if task == "scienceqa_img":
        return scienceqa_target(doc)
    if task == "ocrbench":
        return doc["answer"][0]
    return doc["answers"][0] if "answers" in doc else doc["answer"]


def respond(task: str, rng: random.Random, doc: dict, i: int) -> str:
    """Right for some categories more than others, so the per-category table is worth checking."""
    gold = _gold(task, doc)
    bias = (sum(map(ord, str(doc.get("type", doc.get("question_type", doc.get("subject", "")))))) % 3) / 5
    if rng.random() < 0.35 + bias:
        return gold
    if task in ("docvqa_val", "infovqa_val") and i % 2:
        return gold[:-1] + "x"  # a near miss ANLS still counts
    return "C" if gold != "C" and len(gold) == 1 else "nothing"


# task: (rows, process_results, logged target, benchmark, the row's category or None)
TASKS = {
    "chartqa": (chartqa_rows, chartqa_metrics, lambda d: d["answer"], "chartqa", lambda d: d["type"][:-5]),
    "docvqa_val": (docvqa_rows, docvqa_metrics, lambda d: d["answers"], "docvqa", None),
    "infovqa_val": (docvqa_rows, docvqa_metrics, lambda d: d["answers"], "infovqa", None),
    "textvqa_val": (textvqa_rows, textvqa_metrics, lambda d: "answer", "textvqa", None),
    "scienceqa_img": (scienceqa_rows, scienceqa_metrics, scienceqa_target, "scienceqa", None),
    "realworldqa": (realworldqa_rows, realworldqa_metrics, lambda d: d["answer"], "realworldqa", None),
    "ocrbench": (
        ocrbench_rows,
        ocrbench_metrics,
        lambda d: d["answer"],
        "ocrbench",
        lambda d: d["question_type"],
    ),
}
ONE_CATEGORY = {
    "docvqa_val": "document_vqa",
    "infovqa_val": "infographic_vqa",
    "textvqa_val": "scene_text_vqa",
    "scienceqa_img": "science",
    "realworldqa": "real_world_vqa",
}


def log_sample(layout: str, task: str, doc_id: int, doc: dict, response: str) -> dict:
    """evaluator.py's example, then EvaluationTracker.save_results_samples' sanitising."""
    _, metrics_of, target_of, _, _ = TASKS[task]
    prompt = f"<image>\n{doc['question']}\nAnswer the question using a single word or phrase."
    target = target_of(doc)
    s = {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": [prompt, {"max_new_tokens": 32}, doc_id, task, "test"],
        "resps": [[response]],
        "filtered_resps": [response],
        "doc_hash": _sha(json.dumps(doc, indent=2)),
        "prompt_hash": _sha(prompt),
        "target_hash": _sha(str(target)),
        **metrics_of(doc, response),
    }
    s["input"] = s["arguments"][0]
    if layout == "v0.7":
        s["token_counts"] = [{"input_tokens": 90, "output_tokens": 3}]
        s["resps"], s["filtered_resps"] = s["resps"][0], s["filtered_resps"][0]
        if s["resps"] == [s["filtered_resps"]]:
            s.pop("resps")
    elif s["filtered_resps"] == s["resps"][0]:
        s.pop("resps")
    s["target"] = str(s["target"])
    s.pop("arguments")
    s.pop("doc")
    return s


def write_log(folder: Path, layout: str, task: str, docs: list[dict], resps: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"20250301_101500_samples_{task}.jsonl"
    lines = [
        json.dumps(log_sample(layout, task, i, d, r), ensure_ascii=False)
        for i, (d, r) in enumerate(zip(docs, resps, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def expected(task: str, docs: list[dict], resps: list[str]) -> dict[str, tuple[int, int]]:
    """(correct, n) per category, from the planted rows: a fractional score counts from 0.5."""
    _, metrics_of, _, _, category_of = TASKS[task]
    table: dict[str, list[int]] = {}
    for doc, resp in zip(docs, resps, strict=True):
        m = metrics_of(doc, resp)
        value = m["ocrbench_accuracy"]["score"] if task == "ocrbench" else next(iter(m.values()))
        cat = category_of(doc) if category_of else ONE_CATEGORY[task]
        cell = table.setdefault(cat, [0, 0])
        cell[0] += value >= 0.5
        cell[1] += 1
    return {k: (c, n) for k, (c, n) in table.items()}


def accuracy(records) -> dict[str, tuple[int, int]]:
    table: dict[str, list[int]] = {}
    for r in records:
        cell = table.setdefault(r.category, [0, 0])
        cell[0] += r.correct
        cell[1] += 1
    return {k: (c, n) for k, (c, n) in table.items()}


def _planted(task: str, seed: int = 5) -> tuple[list[dict], list[str]]:
    rng = random.Random(seed)
    docs = TASKS[task][0](rng)
    return docs, [respond(task, rng, d, i) for i, d in enumerate(docs)]


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("task", list(TASKS))
def test_log_imports_with_its_categories_and_accuracy(tmp_path, layout, task):
    docs, resps = _planted(task)
    want = expected(task, docs, resps)
    assert 0 < sum(c for c, _ in want.values()) < len(docs)  # some right, some wrong
    result = load_results(write_log(tmp_path, layout, task, docs, resps))
    assert result.format == "lmms-eval"
    assert result.benchmark == TASKS[task][3]
    assert result.problems == []
    assert accuracy(result.records) == want
    if task == "chartqa":
        assert set(want) == {"human", "augmented"}
    if task == "ocrbench":
        assert set(want) == set(OCRBENCH_TYPES)


@pytest.mark.parametrize("task", list(TASKS))
def test_every_category_maps_to_our_data(task):
    """Each category the log gives has targets from the benchmark's own mapping file, and each
    target names a synthetic domain's category or a catalog domain."""
    docs, resps = _planted(task)
    bench = TASKS[task][3]
    categories = set(expected(task, docs, resps))
    if task == "scienceqa_img":
        categories |= set(SQA_SUBJECTS)  # the categories of logs that keep the rows
    mapping = load_mapping(bench)
    catalog = _catalog_names()
    for cat in categories:
        targets = mapping.targets(cat)
        assert targets, f"{bench}: {cat!r} maps to nothing"
        assert mapping.source(cat) not in ("identity", "unmapped")
        for t in targets:
            assert t.category in SYNTH_CATEGORIES.get(t.domain, ()) or t.domain in catalog, (bench, cat, t)


def test_gold_answers_come_from_the_log_not_the_model(tmp_path):
    """DocVQA's target is the logged `str()` of its answer list; TextVQA's `submission` holds the
    model's answer and its target is the bare word "answer", so its gold answer is unknown."""
    folder = tmp_path
    docs, resps = _planted("docvqa_val")
    records = load_results(write_log(folder / "d", "v0.4", "docvqa_val", docs, resps)).records
    assert [r.answer for r in records] == [d["answers"][0] for d in docs]
    docs, resps = _planted("textvqa_val")
    records = load_results(write_log(folder / "t", "v0.4", "textvqa_val", docs, resps)).records
    assert [r.answer for r in records] == [""] * len(docs)
    assert [r.prediction for r in records] == resps


def test_textvqa_partial_agreement_counts_from_half(tmp_path):
    rng = random.Random(3)
    docs = textvqa_fractional_rows(rng)
    resps = ["acme"] * len(docs)
    scores = [textvqa_metrics(d, r)["exact_match"] for d, r in zip(docs, resps, strict=True)]
    assert len(set(scores)) == 4 and 0 < min(s for s in scores if s) < 0.5  # 0, 0.3, 0.6, 0.9
    records = load_results(write_log(tmp_path, "v0.4", "textvqa_val", docs, resps)).records
    assert [r.correct for r in records] == [s >= 0.5 for s in scores]
    assert Counter(r.extra.get("score") is not None for r in records)[True] == sum(0 < s < 1 for s in scores)


def test_scienceqa_rows_in_the_log_give_the_subject(tmp_path):
    """Logs that keep the dataset row (v0.2-v0.3) are grouped by ScienceQA's `subject`."""
    docs, resps = _planted("scienceqa_img")
    samples = []
    for i, (d, r) in enumerate(zip(docs, resps, strict=True)):
        s = log_sample("v0.4", "scienceqa_img", i, d, r)
        s["doc"] = d
        samples.append(s)
    path = tmp_path / "20250301_101500_samples_scienceqa_img.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples), "utf-8")
    result = load_results(path)
    want: dict[str, list[int]] = {}
    for d, r in zip(docs, resps, strict=True):
        cell = want.setdefault(d["subject"], [0, 0])
        cell[0] += scienceqa_metrics(d, r)["exact_match"] == 1.0
        cell[1] += 1
    assert accuracy(result.records) == {k: tuple(v) for k, v in want.items()}
    assert set(want) == set(SQA_SUBJECTS)


def test_weakness_command_names_the_built_in_mapping(tmp_path):
    docs, resps = _planted("chartqa")
    log = write_log(tmp_path, "v0.7", "chartqa", docs, resps)
    out = CliRunner().invoke(cli, ["weakness", str(log)], terminal_width=240)
    assert out.exit_code == 0, out.output
    assert "built-in chartqa.yaml" in out.output
    assert "charts/value_lookup" in out.output
    for cat, (c, n) in expected("chartqa", docs, resps).items():
        row = next(line for line in out.output.splitlines() if f" {cat} " in line and "%" in line)
        assert f"{100 * c / n:.1f}%" in row


@pytest.mark.parametrize(
    ("task", "bench"),
    [
        ("chartqa_lite", "chartqa"),
        ("docvqa_val_lite", "docvqa"),
        ("scienceqa_full", "scienceqa"),
        ("chartqapro", "chartqapro"),
        ("ocrbench_v2", "ocrbench_v2"),
    ],
)
def test_task_names_choose_the_benchmark(tmp_path, task, bench):
    """Variants of a task share its mapping; other benchmarks that share a prefix do not."""
    docs, resps = _planted("realworldqa")
    log = write_log(tmp_path, "v0.4", "realworldqa", docs, resps)
    renamed = log.with_name(f"20250301_101500_samples_{task}.jsonl")
    log.rename(renamed)
    assert load_results(renamed).benchmark == bench
