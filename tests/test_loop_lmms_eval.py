"""lmms-eval `--log_samples` files of every layout, joined with the benchmark's question file,
and SEED-Bench's own result files.

The logs are built here the way lmms-eval writes them (evaluator.py's `example` dict, the
evaluation tracker's sanitising, each task's `process_results`), for SEED-Bench, MMBench and
MME. Expected per-category figures are computed from the planted data with the test's own
rules, never with the importer's code."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from visinstruct.cli import cli
from visinstruct.loop.importers import ResultsError, load_results

LAYOUTS = ("v0.2", "v0.3", "v0.4", "v0.7")
LETTERS = "ABCD"

# SEED-Bench.json's "question_type", written out here again
SEED_TYPES = {
    "Scene Understanding": 1,
    "Instance Identity": 2,
    "Instance Attributes": 3,
    "Instance Location": 4,
    "Instances Counting": 5,
    "Spatial Relation": 6,
    "Instance Interaction": 7,
    "Visual Reasoning": 8,
    "Text Understanding": 9,
    "Action Recognition": 10,
    "Action Prediction": 11,
    "Procedure Understanding": 12,
}
SEED_NAME = {v: k for k, v in SEED_TYPES.items()}
MMB_CATEGORIES = {
    "image_scene": "Coarse Perception",
    "ocr": "Fine-grained Single-instance Perception",
    "spatial_relationship": "Fine-grained Cross-instance Perception",
    "future_prediction": "Logic Reasoning",
}
MME_CATEGORIES = ("existence", "count", "OCR", "code_reasoning")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the benchmarks' docs, prompts and process_results -----------------------------------


def seed_questions(n: int = 48, seed: int = 1) -> list[dict]:
    """SEED-Bench-1 questions as SEED-Bench.json holds them."""
    rng = random.Random(seed)
    return [
        {
            "answer": rng.choice(LETTERS),
            "choice_a": f"a{i}",
            "choice_b": f"b{i}",
            "choice_c": f"c{i}",
            "choice_d": f"d{i}",
            "data_id": f"{1450000 + i}_2591111986",
            "data_type": "image",
            "question": f"Seed question {i}?",
            "question_id": str(101600 + i),
            "question_type_id": rng.choice([1, 3, 4, 5, 9]),
        }
        for i in range(n)
    ]


def seed_prompt(doc: dict) -> str:  # tasks/seedbench/utils.py seed_doc_to_text
    q = doc["question"] + "\n" + f"A. {doc['choice_a']}\n" + f"B. {doc['choice_b']}\n"
    q += f"C. {doc['choice_c']}\n" + f"D. {doc['choice_d']}"
    return f"{q}\nAnswer with the option's letter from the given choices directly."


def seed_metrics(doc: dict, response: str) -> dict:  # seed_process_result
    pred = response.strip()
    pred = pred[0] if len(pred) > 1 else pred
    value = {"pred": pred, "answer": doc["answer"], "question_id": doc["question_id"]}
    return {f"seed_{doc['data_type']}": value, "seed_all": dict(value)}


def mmb_docs(n: int = 40, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        cat = rng.choice(sorted(MMB_CATEGORIES))
        docs.append(
            {
                "index": 1000 + i,
                "question": f"MMBench question {i}?",
                "hint": "nan" if i % 3 else f"hint {i}",
                "A": f"opt a{i}",
                "B": f"opt b{i}",
                "C": f"opt c{i}",
                "D": f"opt d{i}",
                "answer": rng.choice(LETTERS),
                "category": cat,
                "L2-category": MMB_CATEGORIES[cat],
                "source": "source",
                "split": "dev",
            }
        )
    return docs


def mmb_prompt(doc: dict) -> str:
    options = "\n".join(f"{c}. {doc[c]}" for c in LETTERS)
    hint = "" if doc["hint"] == "nan" else doc["hint"] + "\n"
    return f"{hint}{doc['question']}\n{options}\nAnswer with the option's letter from the given choices."


def mmb_metrics(doc: dict, response: str) -> dict:  # tasks/mmbench/en_utils.py mmbench_process_results
    value = {k: doc[k] for k in ("index", "question", "answer", "hint", "source", "split", "category")}
    value.update({"prediction": response.strip(), "L2-category": doc["L2-category"]})
    value.update({c: doc.get(c, "nan") for c in "ABCDE"})
    return {"gpt_eval_score": value, "submission": dict(value)}


def mme_docs(n: int = 40, seed: int = 3) -> list[dict]:
    """MME's pairs: two questions (a yes and a no) per image, sharing its question_id."""
    rng = random.Random(seed)
    docs = []
    for i in range(n // 2):
        cat = rng.choice(MME_CATEGORIES)
        for answer in ("Yes", "No"):
            docs.append(
                {
                    "question_id": f"{cat}/{i:04d}.png",
                    "question": f"Is this picture {i} {answer.lower()}? Please answer yes or no.",
                    "answer": answer,
                    "category": cat,
                }
            )
    return docs


def mme_label(text: str) -> str:  # tasks/mme/utils.py parse_pred_ans
    t = text.lower().strip().replace(".", "")
    if t in ("yes", "no"):
        return t
    if len(t) == 1:
        return {"y": "yes", "n": "no"}.get(t, "other")
    return "yes" if "yes" in t[:4] else "no" if "no" in t[:4] else "other"


def mme_metrics(doc: dict, response: str) -> dict:  # mme_process_results
    score = 1.0 if mme_label(response) == doc["answer"].lower() else 0.0
    perception = doc["category"] != "code_reasoning"
    key = "mme_perception_score" if perception else "mme_cognition_score"
    return {key: {"question_id": doc["question_id"], "category": doc["category"], "score": score}}


def seed_response(rng: random.Random, doc: dict) -> str:
    letter = doc["answer"] if rng.random() < 0.55 else rng.choice([c for c in LETTERS if c != doc["answer"]])
    return rng.choice(["{}", "{}.", "{}"]).format(letter)


BENCHES = {
    "seedbench": (lambda: seed_questions(), seed_prompt, seed_metrics, lambda d: d["answer"]),
    "mmbench_en_dev": (lambda: mmb_docs(), mmb_prompt, mmb_metrics, lambda d: d["answer"]),
    "mme": (lambda: mme_docs(), lambda d: d["question"], mme_metrics, lambda d: d["answer"]),
}


def responses(task: str, docs: list[dict], seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    if task == "mme":
        out = []
        for d in docs:
            right = rng.random() < 0.6
            said = d["answer"] if right else ("No" if d["answer"] == "Yes" else "Yes")
            out.append(rng.choice(["{}", "{}.", "{}, it is."]).format(said))
        return out
    return [seed_response(rng, d) for d in docs]


def expected(task: str, docs: list[dict], resps: list[str]) -> dict[str, tuple[int, int]]:
    """category → (correct, n), by the test's own reading of each response."""
    out: dict[str, tuple[int, int]] = {}
    for d, r in zip(docs, resps, strict=True):
        if task == "seedbench":
            cat, ok = SEED_NAME[d["question_type_id"]], r.strip().rstrip(".") == d["answer"]
        elif task == "mme":
            cat, ok = d["category"], r.lower().startswith(d["answer"].lower())
        else:
            cat, ok = d["category"], r.strip().rstrip(".") == d["answer"]
        c, n = out.get(cat, (0, 0))
        out[cat] = (c + ok, n + 1)
    return out


# --- the layouts, as lmms-eval's evaluator and logger write them ---------------------------


def log_sample(layout: str, task: str, doc_id: int, doc: dict, response: str) -> dict:
    _, prompt_of, metrics_of, target_of = BENCHES[task]
    prompt, target = prompt_of(doc), target_of(doc)
    gen_kwargs = {"until": ["ASSISTANT:"], "image_aspect_ratio": "original"}
    metrics = metrics_of(doc, response)
    if layout == "v0.2":  # evaluator.py v0.2.0: arguments keep the int/str args only
        s = {
            "doc_id": doc_id,
            "target": target,
            "doc": doc,
            "arguments": [[prompt, doc_id, task, "test"]],
            "resps": [[response]],
            "filtered_resps": [response],
        }
        return {**s, **metrics}
    # v0.3 on: the evaluator's example, then the tracker's sanitising
    s = {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": [prompt, gen_kwargs, doc_id, task, "test"],
        "resps": [[response]],
        "filtered_resps": [response],
        "doc_hash": _sha(json.dumps(doc, indent=2)),
        "prompt_hash": _sha(prompt),
        "target_hash": _sha(str(target)),
        **metrics,
    }
    if layout == "v0.7":
        s["token_counts"] = [{"input_tokens": 100 + doc_id, "output_tokens": 1}]
        if doc_id % 2 == 0:
            s["input_media"] = [f"/data/images/{doc_id}.jpg"]
    s["input"] = s["arguments"][0]
    if layout == "v0.3":
        s["arguments"] = {str(k): v for k, v in enumerate(s["arguments"][1])}
    elif layout == "v0.4":
        if s["filtered_resps"] == s["resps"][0]:
            s.pop("resps")
        s.pop("arguments")
        s.pop("doc")
    else:  # v0.7: one request per doc is flattened
        s["resps"] = s["resps"][0]
        s["filtered_resps"] = s["filtered_resps"][0]
        if s["resps"] == s["filtered_resps"] or s["resps"][0] == s["filtered_resps"]:
            s.pop("resps")
        s.pop("arguments")
        s.pop("doc")
    s["target"] = str(s["target"])
    return s


def write_log(folder: Path, layout: str, task: str, docs: list[dict], resps: list[str]) -> Path:
    samples = [log_sample(layout, task, i, d, r) for i, (d, r) in enumerate(zip(docs, resps, strict=True))]
    folder.mkdir(parents=True, exist_ok=True)
    if layout == "v0.2":
        path = folder / f"{task}.json"
        data = {"args": {"tasks": task}, "model_configs": {"task": task}, "logs": samples}
        path.write_text(json.dumps(data, indent=4), "utf-8")
        return path
    path = folder / f"20250301_101500_samples_{task}.jsonl"
    path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), "utf-8")
    return path


def seed_json(path: Path, questions: list[dict]) -> Path:
    path.write_text(json.dumps({"questions": questions, "question_type": SEED_TYPES}, indent=1), "utf-8")
    return path


def accuracy(result) -> dict[str, tuple[int, int]]:
    return accuracy_from(result.records)


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("task", ["mmbench_en_dev", "mme"])
def test_every_layout_gives_the_categories_the_log_carries(tmp_path, layout, task):
    docs = BENCHES[task][0]()
    resps = responses(task, docs)
    want = expected(task, docs, resps)
    assert len(want) >= 3 and len({c / n for c, n in want.values()}) >= 3  # a table worth checking
    result = load_results(write_log(tmp_path, layout, task, docs, resps))
    assert result.format == "lmms-eval"
    assert result.benchmark == ("mmbench" if task.startswith("mmbench") else "mme")
    assert accuracy(result) == want
    assert "uncategorized" not in accuracy(result)
    assert result.problems == []
    assert len({r.id for r in result.records}) == len(docs)  # MME's two questions per image kept apart
    if task.startswith("mmbench"):
        assert result.records[0].options == [docs[0][c] for c in LETTERS]  # "E": "nan" is no option
        assert result.records[0].id == str(docs[0]["index"])
    if layout == "v0.7":
        assert result.records[0].extra["token_counts"] == [{"input_tokens": 100, "output_tokens": 1}]
        assert result.records[0].extra["input_media"] == ["/data/images/0.jpg"]


@pytest.mark.parametrize("layout", ["v0.2", "v0.3"])
def test_seedbench_with_its_rows_in_the_log(tmp_path, layout):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    want = expected("seedbench", docs, resps)
    assert len(want) >= 4
    result = load_results(write_log(tmp_path, layout, "seedbench", docs, resps))
    assert result.benchmark == "seedbench"
    assert accuracy(result) == want
    assert result.records[5].id == docs[5]["question_id"]
    assert result.records[5].options == [docs[5][f"choice_{c}"] for c in "abcd"]


@pytest.mark.parametrize("layout", ["v0.4", "v0.7"])
def test_seedbench_without_rows_is_uncategorized_and_says_to_give_the_questions(tmp_path, layout):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    result = load_results(write_log(tmp_path, layout, "seedbench", docs, resps))
    assert set(accuracy(result)) == {"uncategorized"}
    assert any("--questions" in p.reason for p in result.problems)


@pytest.mark.parametrize("layout", ["v0.4", "v0.7"])
def test_seedbench_without_rows_joined_with_its_question_json(tmp_path, layout):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    want = expected("seedbench", docs, resps)
    log = write_log(tmp_path / "log", layout, "seedbench", docs, resps)
    # the released file holds more questions than were evaluated, video ones among them
    extra = [dict(docs[0], question_id=f"v{i}", question_type_id=10, data_type="video") for i in range(5)]
    questions = seed_json(tmp_path / "SEED-Bench.json", docs + extra)
    result = load_results(log, questions=questions)
    assert accuracy(result) == want
    assert "uncategorized" not in accuracy(result)
    assert result.problems == []
    first = result.records[0]
    assert first.question == docs[0]["question"]  # the prompt's question, options from the prompt
    assert first.options == [docs[0][f"choice_{c}"] for c in "abcd"]


def test_log_rows_missing_from_the_question_file_are_counted_and_said(tmp_path):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    log = write_log(tmp_path / "log", "v0.4", "seedbench", docs, resps)
    kept = docs[3:]
    questions = seed_json(tmp_path / "SEED-Bench.json", kept)
    result = load_results(log, questions=questions)
    assert accuracy(result) == expected("seedbench", kept, resps[3:])
    assert "uncategorized" not in accuracy(result)
    (said,) = [p for p in result.problems if "left out" in p.reason]
    assert said.reason.startswith("3 sample(s) left out")
    assert all(d["question_id"] in said.reason for d in docs[:3])


def test_question_parquet_joins_like_the_json(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    docs = seed_questions()
    resps = responses("seedbench", docs)
    log = write_log(tmp_path / "log", "v0.7", "seedbench", docs, resps)
    rows = [dict(d, image=[b"\x89PNG fake"]) for d in docs]  # lmms-lab's parquet carries the images
    parquet = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    result = load_results(log, questions=parquet)
    assert accuracy(result) == expected("seedbench", docs, resps)


def test_a_broken_question_file_is_refused_by_name(tmp_path):
    log = write_log(tmp_path, "v0.4", "seedbench", seed_questions(4), ["A"] * 4)
    bad = tmp_path / "SEED-Bench.json"
    bad.write_text(json.dumps({"questions": [{"question_id": "1", "question_type_id": 99}]}), "utf-8")
    with pytest.raises(ResultsError, match=r"SEED-Bench\.json:question 1: question_type_id 99"):
        load_results(log, questions=bad)
    with pytest.raises(ResultsError, match="no such question file"):
        load_results(log, questions=tmp_path / "missing.json")


def seed_result_lines(docs: list[dict], resps: list[str], gt: bool) -> str:
    """SEED-Bench's released result file: one object per line, each but the last followed by a comma."""
    lines = []
    for d, r in zip(docs, resps, strict=True):
        obj = {"question_id": d["question_id"], "prediction": r.strip().rstrip(".")}
        if gt:
            obj["gt_answer"] = d["answer"]
        lines.append(json.dumps(obj))
    return ",\n".join(lines) + "\n"


@pytest.mark.parametrize("gt", [True, False])
def test_seedbench_result_file_with_trailing_commas(tmp_path, gt):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    path = tmp_path / "GPT-4V.json"
    path.write_text(seed_result_lines(docs, resps, gt), "utf-8")
    with pytest.raises(ResultsError, match="--questions"):
        load_results(path)
    result = load_results(path, questions=seed_json(tmp_path / "SEED-Bench.json", docs))
    assert result.format == "seedbench" and result.benchmark == "seedbench"
    assert accuracy(result) == expected("seedbench", docs, resps)
    assert result.problems == []


def test_seedbench_submission_list_and_results_jsonl(tmp_path):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    questions = seed_json(tmp_path / "SEED-Bench.json", docs)
    want = expected("seedbench", docs, resps)
    # lmms-eval's seed_submission.json (json.dump(..., indent=4))
    submission = tmp_path / "seed_submission.json"
    items = [{"question_id": d["question_id"], "prediction": r[0]} for d, r in zip(docs, resps, strict=True)]
    submission.write_text(json.dumps(items, indent=4), "utf-8")
    assert accuracy(load_results(submission, questions=questions)) == want
    # SEED-Bench's eval.py appends one object per line, no commas
    appended = tmp_path / "results.jsonl"
    appended.write_text("".join(json.dumps(i) + "\n" for i in items), "utf-8")
    result = load_results(appended, questions=questions)
    assert result.format == "seedbench" and accuracy(result) == want


def test_weakness_command_joins_the_question_file(tmp_path):
    docs = seed_questions()
    resps = responses("seedbench", docs)
    want = expected("seedbench", docs, resps)
    log = write_log(tmp_path / "log", "v0.7", "seedbench", docs, resps)
    questions = seed_json(tmp_path / "SEED-Bench.json", docs[2:])
    run = CliRunner().invoke(
        cli, ["weakness", str(log), "--questions", str(questions)], catch_exceptions=False, terminal_width=200
    )
    assert run.exit_code == 0, run.output
    assert "uncategorized" not in run.output
    assert "2 sample(s) left out" in run.output
    for category in want:
        assert category in run.output
    bare = CliRunner().invoke(cli, ["weakness", str(log)], terminal_width=200)
    assert "uncategorized" in bare.output


def test_loop_file_questions_join_round_zero(tmp_path):
    from visinstruct.loop.results import load_records
    from visinstruct.loop.runner import Loop, load_loop

    docs = seed_questions()
    resps = responses("seedbench", docs)
    write_log(tmp_path / "eval", "v0.4", "seedbench", docs, resps)
    seed_json(tmp_path / "SEED-Bench.json", docs)
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.yaml"
    (tmp_path / "loop.yaml").write_text(
        f"recipe: {recipe}\nbenchmark: seedbench\nrounds: 1\nsamples_per_round: 10\n"
        "results: eval/20250301_101500_samples_seedbench.jsonl\nquestions: SEED-Bench.json\n"
        "hooks:\n  train: python -c pass\n",
        "utf-8",
    )
    spec, base = load_loop(tmp_path / "loop.yaml")
    loop = Loop(spec, base, tmp_path / "run")
    info = loop.evaluate(0)
    assert info["records"] == len(docs) and info["problems"] == 0
    records = load_records(loop.round_dir(0) / "results.jsonl")
    assert accuracy_from(records) == expected("seedbench", docs, resps)


def accuracy_from(records) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for r in records:
        c, n = out.get(r.category, (0, 0))
        out[r.category] = (c + r.correct, n + 1)
    return out
