"""MME, MMStar, MMMU, POPE and AI2D logs as lmms-eval v0.4+ writes them (`*_samples_<task>.jsonl`):
each imports with its categories, and each category maps to some data of ours.

The samples are built here from each task's `process_results` (lmms_eval/tasks/<task>/utils.py)
and the evaluator's sample layout (no `doc`, no `arguments`, `resps` dropped when it equals
`filtered_resps`). Expected per-category figures come from the planted right/wrong answers,
never from the importer's code."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from visinstruct.loop.importers import load_results
from visinstruct.loop.mapping import load_mapping

LETTERS = "ABCD"

MME_CATEGORIES = (
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
    "commonsense_reasoning",
    "numerical_calculation",
    "text_translation",
    "code_reasoning",
)
MME_COGNITION = {"commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"}
# tasks/mmstar/utils.py eval_type_dict: core capability → its abilities (`l2_category`)
MMSTAR = {
    "coarse perception": ["image scene and topic", "image style & quality", "image emotion"],
    "fine-grained perception": ["object counting", "recognition", "localization"],
    "instance reasoning": [
        "single-instance reasoning",
        "cross-instance attribute reasoning",
        "cross-instance relation reasoning",
    ],
    "logical reasoning": ["code & sequence reasoning", "diagram reasoning", "common reasoning"],
    "science & technology": [
        "biology & chemistry & physics",
        "electronics & energy & mechanical eng.",
        "geography & earth science & agriculture",
    ],
    "math": ["geometry", "numeric commonsense and calculation", "statistical reasoning"],
}
# tasks/mmmu/utils.py DOMAIN_CAT2SUB_CAT
MMMU_SUBJECTS = {
    "Art and Design": ["Art", "Art_Theory", "Design", "Music"],
    "Business": ["Accounting", "Economics", "Finance", "Manage", "Marketing"],
    "Science": ["Biology", "Chemistry", "Geography", "Math", "Physics"],
    "Health and Medicine": [
        "Basic_Medical_Science",
        "Clinical_Medicine",
        "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy",
        "Public_Health",
    ],
    "Humanities and Social Science": ["History", "Literature", "Sociology", "Psychology"],
    "Tech and Engineering": [
        "Agriculture",
        "Architecture_and_Engineering",
        "Computer_Science",
        "Electronics",
        "Energy_and_Power",
        "Materials",
        "Mechanical_Engineering",
    ],
}
POPE_TASKS = {"pope_adv": "adversarial", "pope_pop": "popular", "pope_random": "random"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def v04_sample(doc_id: int, prompt: str, target: str, response: str, metrics: dict) -> dict:
    """One sample as lmms-eval v0.4+ logs it: the dataset row and the arguments are gone."""
    return {
        "doc_id": doc_id,
        "target": target,
        "filtered_resps": [response],
        "doc_hash": _sha(f"doc {doc_id}"),
        "prompt_hash": _sha(prompt),
        "target_hash": _sha(target),
        **metrics,
        "input": prompt,
    }


def write_samples(folder: Path, task: str, samples: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"20250301_101500_samples_{task}.jsonl"
    path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), "utf-8")
    return path


def tally(planted: list[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for cat, ok in planted:
        c, n = out.get(cat, (0, 0))
        out[cat] = (c + ok, n + 1)
    return out


def figures(result) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for r in result.records:
        c, n = out.get(r.category, (0, 0))
        out[r.category] = (c + r.correct, n + 1)
    return out


def assert_all_mapped(bench: str, categories) -> None:
    mapping = load_mapping(bench)
    empty = [c for c in categories if not mapping.targets(c)]
    assert empty == [], f"{bench}: categories that map to nothing: {empty}"
    assert all(mapping.source(c).endswith(f"{bench}.yaml") for c in categories)


def other_letter(rng: random.Random, letter: str) -> str:
    return rng.choice([c for c in LETTERS if c != letter])


# --- the benchmarks, each from its process_results ----------------------------------------


def mme_log(rng: random.Random) -> tuple[list[dict], list[tuple[str, bool]]]:
    """MME: two questions (a yes, a no) per image under the image's question_id;
    mme_process_results gives `{question_id, category, score}` under the perception or
    cognition key."""
    samples, planted = [], []
    for i in range(56):
        cat = MME_CATEGORIES[i % len(MME_CATEGORIES)]
        for answer in ("Yes", "No"):
            right = rng.random() < 0.6
            said = answer if right else ("No" if answer == "Yes" else "Yes")
            prompt = f"Is there a thing {i} here? Please answer yes or no."
            key = "mme_cognition_score" if cat in MME_COGNITION else "mme_perception_score"
            value = {"question_id": f"{cat}/{i:04d}.png", "category": cat, "score": 1.0 if right else 0.0}
            samples.append(v04_sample(len(samples), prompt, answer, f"{said}.", {key: value}))
            planted.append((cat, right))
    return samples, planted


def mmstar_log(rng: random.Random) -> tuple[list[dict], list[tuple[str, bool]]]:
    """MMStar: mmstar_process_results keys the value by the core capability and by "average",
    each `{question_id, l2_category, score}`."""
    samples, planted = [], []
    leaves = [(l1, l2) for l1, l2s in MMSTAR.items() for l2 in l2s]
    for i in range(72):
        l1, l2 = leaves[i % len(leaves)]
        answer = rng.choice(LETTERS)
        right = rng.random() < 0.5
        letter = answer if right else other_letter(rng, answer)
        prompt = (
            f"Question {i}?\nOptions: A: a{i}, B: b{i}, C: c{i}, D: d{i}\nAnswer with the option's letter."
        )
        value = {"question_id": i, "l2_category": l2, "score": 1.0 if right else 0.0}
        metrics = {l1: value, "average": dict(value)}
        samples.append(
            v04_sample(i, prompt, answer, rng.choice(["{}", "({})", "{}."]).format(letter), metrics)
        )
        planted.append((l2, right))
    return samples, planted


def mmmu_log(rng: random.Random, subjects: list[str]) -> tuple[list[dict], list[tuple[str, bool]]]:
    """MMMU: mmmu_process_results gives `mmmu_acc` = `{id, subdomain, question_type, answer,
    parsed_pred}` and `submission` = `{id: parsed}`; a right multiple-choice answer is a parsed
    letter equal to the answer."""
    samples, planted = [], []
    for i in range(60):
        subject = subjects[i % len(subjects)]
        qid = f"validation_{subject}_{i + 1}"
        right = rng.random() < 0.55
        if i % 5:
            answer = rng.choice(LETTERS)
            parsed = answer if right else other_letter(rng, answer)
            options = "\n".join(f"{c}. option {c.lower()}{i}" for c in LETTERS)
            prompt = f"Question {i} <image 1>\n{options}\n\nAnswer with the option's letter."
            response, qtype = (
                rng.choice(["{}", "({})", "The answer is {}."]).format(parsed),
                "multiple-choice",
            )
        else:
            answer = str(10 + i)
            parsed = answer if right else str(11 + i)
            prompt = f"Question {i} <image 1>\n\nAnswer the question using a single word or phrase."
            response, qtype = parsed, "open"
        value = {"id": qid, "subdomain": subject, "question_type": qtype, "answer": answer}
        value["parsed_pred"] = [parsed]
        metrics = {"mmmu_acc": value, "mmmu_acc_pass_at_k": dict(value), "submission": {qid: parsed}}
        samples.append(v04_sample(i, prompt, answer, response, metrics))
        planted.append((subject, right))
    return samples, planted


def pope_log(rng: random.Random, n: int, start: int) -> tuple[list[dict], list[bool]]:
    """POPE: pope_process_results gives `{question_id, score, prediction, ground_truth}` under
    each of its five metrics; the split is not in the sample."""
    samples, rights = [], []
    for i in range(n):
        gt = rng.choice(["yes", "no"])
        right = rng.random() < 0.7
        said = gt if right else ("no" if gt == "yes" else "yes")
        value = {"question_id": str(start + i), "score": 1.0 if right else 0.0, "prediction": said}
        value["ground_truth"] = gt
        metrics = {
            k: dict(value)
            for k in ("pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio")
        }
        prompt = f"Is there a dog in the image {i}?\nAnswer the question using a single word or phrase."
        samples.append(v04_sample(i, prompt, gt, said.capitalize(), metrics))
        rights.append(right)
    return samples, rights


def ai2d_log(rng: random.Random) -> tuple[list[dict], list[bool]]:
    """AI2D: the `mcq` prompt, the target a letter (ai2d_doc_to_target), the response after the
    flexible-extract filter, and a scalar `exact_match`; no category anywhere."""
    samples, rights = [], []
    for i in range(30):
        options = [f"part {k}" for k in range(4)]
        target = LETTERS[rng.randrange(4)]
        right = rng.random() < 0.65
        said = target if right else other_letter(rng, target)
        choices = "\n".join(f"{c}. {o}" for c, o in zip(LETTERS, options, strict=True))
        prompt = f"Which label shows the stem {i}?\n{choices}\nAnswer with the option's letter directly."
        metrics = {"exact_match": 1.0 if right else 0.0}
        samples.append(v04_sample(i, prompt, target, said, metrics))
        rights.append(right)
    return samples, rights


# --- the tests ----------------------------------------------------------------------------


def test_mme_imports_its_14_subtasks_and_each_maps(tmp_path):
    samples, planted = mme_log(random.Random(1))
    result = load_results(write_samples(tmp_path, "mme", samples))
    assert (result.format, result.benchmark) == ("lmms-eval", "mme")
    assert result.problems == []
    assert figures(result) == tally(planted)
    assert set(figures(result)) == set(MME_CATEGORIES)
    assert len({r.id for r in result.records}) == len(samples)  # both questions of an image kept
    assert_all_mapped("mme", MME_CATEGORIES)
    assert {(t.domain, t.category) for t in load_mapping("mme").targets("count")} >= {("scenes", "counting")}


def test_mmstar_imports_its_18_abilities_and_each_maps(tmp_path):
    samples, planted = mmstar_log(random.Random(2))
    result = load_results(write_samples(tmp_path, "mmstar", samples))
    assert (result.format, result.benchmark) == ("lmms-eval", "mmstar")
    assert result.problems == []
    got = figures(result)
    assert got == tally(planted)
    assert set(got) == {l2 for l2s in MMSTAR.values() for l2 in l2s}
    assert len({c / n for c, n in got.values()}) >= 3  # a table worth checking
    assert [r.id for r in result.records[:2]] == ["0", "1"]
    # the abilities and the six core capabilities (VLMEvalKit's grouping) all map
    assert_all_mapped("mmstar", [*got, *MMSTAR])


def test_mmstar_log_without_a_task_name_is_still_mmstar(tmp_path):
    samples, planted = mmstar_log(random.Random(3))
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples), "utf-8")
    result = load_results(path, format="lmms-eval")
    assert result.benchmark == "mmstar"
    assert figures(result) == tally(planted)


def test_mmmu_imports_its_subjects_and_every_subject_maps(tmp_path):
    subjects = ["Art_Theory", "Accounting", "Math", "Clinical_Medicine", "Sociology", "Electronics"]
    samples, planted = mmmu_log(random.Random(4), subjects)
    result = load_results(write_samples(tmp_path, "mmmu_val", samples))
    assert (result.format, result.benchmark) == ("lmms-eval", "mmmu")
    assert result.problems == []
    assert figures(result) == tally(planted)
    assert set(figures(result)) == set(subjects)
    assert result.records[1].id == "validation_Accounting_2"
    assert result.records[1].options == [f"option {c.lower()}1" for c in LETTERS]
    assert_all_mapped("mmmu", [s for subs in MMMU_SUBJECTS.values() for s in subs])


def test_mmmu_right_answer_is_lmms_evals_parsed_choice(tmp_path):
    """A response lmms-eval parsed to the answer counts right even when it names no letter
    itself (parse_multi_choice_response also matches the option's text)."""
    value = {"id": "validation_Math_1", "subdomain": "Math", "question_type": "multiple-choice"}
    value.update({"answer": "C", "parsed_pred": ["C"]})
    prompt = "How many sides?\nA. 3\nB. 4\nC. 5\nD. 6\n\nAnswer with the option's letter."
    sample = v04_sample(0, prompt, "C", "It has 5 sides", {"mmmu_acc": value})
    result = load_results(write_samples(tmp_path, "mmmu_val", [sample]))
    assert [(r.category, r.correct) for r in result.records] == [("Math", True)]


def test_pope_splits_come_from_the_task_and_each_maps(tmp_path):
    rng = random.Random(5)
    want: dict[str, tuple[int, int]] = {}
    for k, (task, split) in enumerate(POPE_TASKS.items()):
        samples, rights = pope_log(rng, 20 + 5 * k, 1000 * k)
        result = load_results(write_samples(tmp_path / task, task, samples))
        assert (result.format, result.benchmark) == ("lmms-eval", "pope")
        assert result.problems == []
        assert figures(result) == {split: (sum(rights), len(rights))}
        want[split] = (sum(rights), len(rights))
    assert len({n for _, n in want.values()}) == 3  # each file its own split
    assert_all_mapped("pope", POPE_TASKS.values())


def test_pope_full_task_without_rows_says_it_has_no_split(tmp_path):
    """`pope` (the test split with all three) logged without `doc`: the split is nowhere in the
    sample, so the samples are uncategorized and the import says why."""
    samples, rights = pope_log(random.Random(6), 12, 0)
    result = load_results(write_samples(tmp_path, "pope", samples))
    assert result.benchmark == "pope"
    assert figures(result) == {"uncategorized": (sum(rights), len(rights))}
    assert any("carry no category" in p.reason for p in result.problems)


def test_ai2d_is_one_category_and_it_maps(tmp_path):
    samples, rights = ai2d_log(random.Random(7))
    result = load_results(write_samples(tmp_path, "ai2d", samples))
    assert (result.format, result.benchmark) == ("lmms-eval", "ai2d")
    assert result.problems == []
    assert figures(result) == {"science_diagram": (sum(rights), len(rights))}
    assert result.records[0].options == [f"part {k}" for k in range(4)]
    assert_all_mapped("ai2d", ["science_diagram"])


@pytest.mark.parametrize("bench", ["mme", "mmstar", "mmmu", "pope", "ai2d"])
def test_mapping_targets_are_known_data(bench):
    """Every target of the built-in file is a synthetic domain's category or a catalog domain
    (load_mapping checks this on reading; here it must also give more than one kind of data)."""
    mapping = load_mapping(bench)
    assert mapping.benchmark == bench
    targets = {t for ts in mapping.entries.values() for t in ts}
    assert len({t.domain for t in targets}) >= 2


def test_pope_full_task_with_rows_takes_the_split_from_the_row(tmp_path):
    """lmms-eval v0.3 kept the dataset row (`doc`), whose `category` is the split."""
    rng = random.Random(8)
    samples, planted = [], []
    for k, split in enumerate(POPE_TASKS.values()):
        part, rights = pope_log(rng, 10 + 3 * k, 1000 * k)
        for s, right in zip(part, rights, strict=True):
            qid = s["pope_accuracy"]["question_id"]
            s["doc_id"] = len(samples)
            s["doc"] = {"question_id": qid, "question": s["input"], "answer": s["target"], "category": split}
            samples.append(s)
            planted.append((split, right))
    result = load_results(write_samples(tmp_path, "pope", samples))
    assert result.benchmark == "pope"
    assert result.problems == []
    assert figures(result) == tally(planted)


def test_ai2d_row_answer_is_an_index_and_the_target_is_the_gold_letter(tmp_path):
    """lmms-eval v0.3 kept AI2D's row, whose `answer` is the option's index ("2"); the gold
    answer is the logged target, its letter."""
    samples, rights = ai2d_log(random.Random(9))
    for s in samples:
        letter = s["target"]
        s["doc"] = {
            "question": "q",
            "options": [f"part {k}" for k in range(4)],
            "answer": str(LETTERS.index(letter)),
        }
    result = load_results(write_samples(tmp_path, "ai2d", samples))
    assert [r.answer for r in result.records] == [s["target"] for s in samples]
    assert figures(result) == {"science_diagram": (sum(rights), len(rights))}
