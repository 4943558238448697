"""Importing per-sample evaluation results (lmms-eval, VLMEvalKit, our JSONL) and mapping
benchmark categories to our data.

Expected accuracies are computed here from the fixture rows with simple rules of the
tests' own, never with the importer's code."""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from visinstruct.errors import VisinstructError
from visinstruct.loop.importers import (
    NO_LETTER,
    NO_PREDICTION,
    SEED_DIMENSIONS,
    ResultsError,
    extract_letter,
    load_results,
    score,
)
from visinstruct.loop.mapping import (
    SYNTH_CATEGORIES,
    MappingError,
    Target,
    builtin_mapping_names,
    load_mapping,
    normalise,
)
from visinstruct.synth import REGISTRY, get_domain

DATA = Path(__file__).parent / "data" / "loop"
SEED_LMMS = DATA / "20250301_101500_samples_seedbench.jsonl"
MMB_LMMS = DATA / "20250301_101500_samples_mmbench_en_dev.jsonl"
SEED_VLM = DATA / "llava_v1.5_7b_SEEDBench_IMG.tsv"
MMB_VLM = DATA / "llava_v1.5_7b_MMBench_DEV_EN_openai_result.tsv"
GENERIC = DATA / "generic_results.jsonl"

# SEED-Bench's dimension ids, written out again here so the test does not trust the importer's table
SEED_NAMES = {
    1: "Scene Understanding",
    3: "Instance Attributes",
    4: "Instance Location",
    5: "Instances Counting",
    9: "Text Understanding",
}
MMBENCH_LEAVES = {
    "image_emotion",
    "image_quality",
    "image_scene",
    "image_style",
    "image_topic",
    "attribute_recognition",
    "celebrity_recognition",
    "object_localization",
    "ocr",
    "attribute_comparison",
    "spatial_relationship",
    "action_recognition",
    "function_reasoning",
    "identity_reasoning",
    "physical_property_reasoning",
    "nature_relation",
    "physical_relation",
    "social_relation",
    "future_prediction",
    "structuralized_imagetext_understanding",
}


def lone_letter(text: str, letters: str = "ABCD") -> str | None:
    """The test's own reading of a response: its one standalone capital option letter."""
    found = set(re.findall(rf"\b([{letters}])\b", text))
    return found.pop() if len(found) == 1 else None


def tally(pairs) -> dict[str, tuple[int, int]]:
    """(category, correct) pairs → category → (correct, total)."""
    out: dict[str, tuple[int, int]] = {}
    for cat, ok in pairs:
        c, n = out.get(cat, (0, 0))
        out[cat] = (c + bool(ok), n + 1)
    return out


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


# --- extraction and scoring ---


@pytest.mark.parametrize(
    ("prediction", "letter"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("B:", "B"),
        ("  C) three  ", "C"),
        ("Answer: B", "B"),
        ("answer: D", "D"),
        ("The answer is (C).", "C"),
        ("The correct option is D.", "D"),
        ("答案：A", "A"),
        ("I would pick B here", "B"),
        ("three", "C"),  # exactly one option's text
        ("Three.", "C"),
        ("A or B", None),  # hedging is no choice
        ("The answer is a dog", None),  # lower-case "a" is a word, not an option
        ("A dog sits on a mat", None),  # the article, not option A
        ("E", None),  # no fifth option
        ("I cannot tell", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_letter(prediction, letter):
    assert extract_letter(prediction, ["one", "two", "three", "four"]) == letter


def test_score_multiple_choice_open_and_unscorable():
    opts = ["one", "two", "three", "four"]
    assert score("B", "B", opts) == (True, None)
    assert score("two", "B", opts) == (True, None)
    assert score("B", "two", opts) == (True, None)  # the gold answer given as option text
    assert score("C", "B", opts) == (False, None)
    assert score("no idea", "B", opts) == (False, NO_LETTER)
    assert score(None, "B", opts) == (False, NO_PREDICTION)
    assert score("  ", "B", opts) == (False, NO_PREDICTION)
    assert score("Yes.", "yes") == (True, None)
    assert score("7:15", "7:51") == (False, None)
    assert score("(D)", "D") == (True, None)  # one-letter answer without options is still a choice
    assert score("E", "E") == (True, None)  # ... with as many letters as the answer needs
    assert extract_letter("E", letters="ABCDE") == "E"


# --- lmms-eval ---


def test_lmms_eval_seedbench_per_dimension_accuracy():
    rows = jsonl(SEED_LMMS)
    expected = tally(
        (SEED_NAMES[r["doc"]["question_type_id"]], lone_letter(r["filtered_resps"][0]) == r["doc"]["answer"])
        for r in rows
    )
    result = load_results(SEED_LMMS)
    assert result.format == "lmms-eval"
    assert result.benchmark == "seedbench"
    assert len(expected) >= 4 and len(rows) == 30
    assert result.accuracy_by_category() == expected
    # the planted numbers, so a fixture edit cannot silently change what is tested
    assert expected == {
        "Instance Attributes": (6, 8),
        "Instances Counting": (3, 8),
        "Instance Location": (4, 6),
        "Text Understanding": (1, 4),
        "Scene Understanding": (4, 4),
    }
    first = result.records[0]
    assert first.id == rows[0]["doc"]["question_id"]
    assert first.question == rows[0]["doc"]["question"]
    assert first.options == [rows[0]["doc"][f"choice_{c}"] for c in "abcd"]
    assert first.answer == "B" and first.prediction == "B" and first.benchmark == "seedbench"
    assert first.extra["data_id"] == rows[0]["doc"]["data_id"]
    unscorable = {r.prediction: r.error for r in result.records if r.error}
    assert unscorable == {"I cannot tell from the image.": NO_LETTER, "A or B": NO_LETTER}
    assert len(result.problems) == 2
    assert all(p.reason == NO_LETTER and re.search(r"\.jsonl:\d+$", p.where) for p in result.problems)


def test_lmms_eval_old_json_log_reads_the_same(tmp_path):
    rows = jsonl(SEED_LMMS)
    old = tmp_path / "seedbench.json"
    old.write_text(json.dumps({"args": {}, "model_configs": {"task": "seedbench"}, "logs": rows}), "utf-8")
    result = load_results(old)
    assert result.format == "lmms-eval" and result.benchmark == "seedbench"
    assert result.accuracy_by_category() == load_results(SEED_LMMS).accuracy_by_category()


def test_lmms_eval_without_the_dataset_row_keeps_records_and_says_why(tmp_path):
    """Newer lmms-eval drops `doc`: options come from the prompt, the category is unknown."""
    rows = jsonl(SEED_LMMS)
    new = tmp_path / "20250302_samples_seedbench.jsonl"
    with new.open("w", encoding="utf-8") as f:
        for r in rows:
            r["input"] = r.pop("arguments")[0]
            del r["doc"]
            f.write(json.dumps(r) + "\n")
    result = load_results(new)
    assert len(result.records) == 30
    assert {r.category for r in result.records} == {"uncategorized"}
    assert result.records[0].options == [rows[0]["input"].splitlines()[i][3:] for i in range(1, 5)]
    assert sum(r.correct for r in result.records) == 18
    assert any("30 sample(s) carry no category" in p.reason for p in result.problems)


def test_lmms_eval_mmbench_reads_category_from_the_metric_value():
    rows = jsonl(MMB_LMMS)

    def right(r: dict) -> bool:
        sub, resp = r["submission"], r["filtered_resps"][0]
        options = {c: sub[c] for c in "ABCD" if sub[c] != "nan"}
        m = re.fullmatch(r"\(?([A-D])\)?\.?(\s.*)?", resp.strip())
        letter = m.group(1) if m else next((c for c, o in options.items() if o.lower() == resp.lower()), None)
        return letter == sub["answer"]

    expected = tally((r["submission"]["category"], right(r)) for r in rows)
    result = load_results(MMB_LMMS)
    assert result.benchmark == "mmbench"
    assert result.accuracy_by_category() == expected
    assert expected == {
        "ocr": (3, 4),
        "object_localization": (1, 3),
        "image_emotion": (3, 3),
        "spatial_relationship": (1, 3),
        "future_prediction": (2, 3),
    }
    by_id = {r.id: r for r in result.records}
    assert by_id["47"].options == ["Left", "Right", "Center"]  # "nan" options are absent, not options
    assert by_id["68"].extra["hint"] == "The picture was taken at a funeral."
    assert by_id["68"].extra["l2-category"] == "coarse_perception"
    assert "hint" not in by_id["12"].extra
    assert {p.where.rsplit(":", 1)[1] for p in result.problems} == {"7", "16"}


def test_lmms_eval_metric_verdict_wins_over_extraction(tmp_path):
    """A metric value that carries a 0/1 score (MME-style) is the sample's verdict."""
    path = tmp_path / "samples_mme.jsonl"
    rows = [
        {
            "doc_id": 0,
            "target": "Yes",
            "filtered_resps": ["Yes"],
            "mme_percetion_score": {"category": "count", "score": 1.0},
        },
        {
            "doc_id": 1,
            "target": "No",
            "filtered_resps": ["No"],
            "mme_percetion_score": {"category": "count", "score": 0.0},
        },
        {"doc_id": 2, "target": "No", "filtered_resps": ["Yes"], "exact_match": 1.0},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    result = load_results(path)
    assert [r.correct for r in result.records] == [True, False, True]
    assert result.benchmark == "mme"


# --- VLMEvalKit ---


def write_xlsx(rows: list[dict[str, str]], path: Path) -> None:
    """The sheet as pandas' to_excel leaves it: typed numbers, empty cells for NaN."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(list(rows[0]))
    for r in rows:
        ws.append([int(v) if k in ("index", "hit") else (v or None) for k, v in r.items()])
    wb.save(path)


def test_vlmevalkit_seedbench_xlsx_predictions(tmp_path):
    rows = tsv(SEED_VLM)

    def right(r: dict) -> bool:
        p = r["prediction"].strip()
        letter = lone_letter(p) or next((c for c in "ABCD" if r[c].lower() == p.lower()), None)
        return letter == r["answer"]

    expected = tally((r["category"], right(r)) for r in rows)
    assert expected == {
        "Instances Counting": (2, 5),
        "Instance Attributes": (3, 4),
        "Instance Location": (2, 3),
        "Spatial Relation": (2, 3),
        "Text Understanding": (0, 2),
    }
    sheet = tmp_path / "llava_v1.5_7b_SEEDBench_IMG.xlsx"
    write_xlsx(rows, sheet)
    for path in (sheet, SEED_VLM):
        result = load_results(path)
        assert result.format == "vlmevalkit" and result.benchmark == "seedbench"
        assert result.accuracy_by_category() == expected
        assert [r.id for r in result.records] == [r["index"] for r in rows]
        assert result.records[0].options == ["One", "Two", "Three", "Four"]
        assert [p.where.rsplit(":", 1)[1] for p in result.problems] == [f"row {len(rows) + 1}"]
        assert result.problems[0].reason == NO_LETTER


def test_vlmevalkit_result_sheet_trusts_hit():
    rows = tsv(MMB_VLM)
    expected = tally((r["category"], r["hit"] == "1") for r in rows)
    result = load_results(MMB_VLM)
    assert result.benchmark == "mmbench"
    assert result.accuracy_by_category() == expected
    assert expected == {
        "image_emotion": (2, 3),
        "object_localization": (1, 2),
        "ocr": (2, 3),
        "future_prediction": (1, 2),
    }
    by_id = {r.id: r for r in result.records}
    assert by_id["14"].correct  # a sentence the judge matched: no letter in it, but hit=1
    assert not by_id["9"].correct  # the letter is right, but a circular rotation failed: hit=0
    assert by_id["33"].options == ["Menu", "Exit", "Sale"]
    assert by_id["40"].extra["hint"] == "Look at the poster."
    assert by_id["40"].extra["l2-category"] == "finegrained_perception (instance-level)"
    assert result.problems == []


def test_vlmevalkit_bad_rows_are_problems(tmp_path):
    path = tmp_path / "m_MMBench_DEV_EN_result.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["index", "question", "A", "B", "answer", "category", "L2-category", "prediction", "hit"])
        w.writerow(["1", "Q1", "x", "y", "A", "ocr", "p", "A", "1"])
        w.writerow(["2", "", "x", "y", "A", "ocr", "p", "A", "1"])
        w.writerow(["3", "Q3", "x", "y", "B", "ocr", "p", "B", "?"])
        w.writerow(["", "", "", "", "", "", "", "", ""])
    result = load_results(path)
    assert [(r.id, r.correct) for r in result.records] == [("1", True), ("3", True)]
    assert [(p.where.rsplit(":", 1)[1], p.reason) for p in result.problems] == [
        ("row 3", "missing question"),
        ("row 4", "hit '?' is not 0 or 1; scored instead"),
    ]
    assert result.records[0].extra["l2-category"] == "p"  # header case does not matter


def test_xlsx_without_openpyxl_names_the_extra(tmp_path, monkeypatch):
    sheet = tmp_path / "m_SEEDBench_IMG.xlsx"
    sheet.write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(
        ResultsError, match=r"m_SEEDBench_IMG\.xlsx: reading \.xlsx needs openpyxl: .*visinstruct\[loop\]"
    ):
        load_results(sheet)


# --- generic ---


def test_generic_jsonl_records_and_problems():
    result = load_results(GENERIC)
    assert result.format == "generic" and result.benchmark == "generic"
    # planted per line (see the fixture): counting c1 right, c2 right, c3 wrong, c4 unscorable;
    # colour line 5 right by option text; clocks k1 right, k2 trusted `correct`, k3 wrong;
    # spatial s1 has no prediction, s2 right (its `correct` is not a bool, so it is scored)
    assert result.accuracy_by_category() == {
        "counting": (2, 4),
        "color": (1, 1),
        "time_reading": (2, 3),
        "spatial_relation": (1, 2),
    }
    problems = {p.where.rsplit(":", 1)[1]: p.reason for p in result.problems}
    assert problems == {
        "4": NO_LETTER,
        "10": problems["10"],
        "11": "missing field 'answer'",
        "12": "missing field 'question'",
        "13": NO_PREDICTION,
        "14": "a line must be a JSON object, got list",
        "15": "answer 'kite' is neither an option letter nor an option's text",
        "16": "'correct' must be true or false, got 'maybe'; scored instead",
    }
    assert problems["10"].startswith("not JSON")
    by_id = {r.id: r for r in result.records}
    assert by_id["c2"].answer == "C" and by_id["c2"].options == ["1", "2", "3", "4"]
    assert by_id["5"].answer == "C"  # no id: the line number
    assert by_id["c1"].image == str(DATA / "images" / "c1.png")
    assert by_id["s1"].prediction is None and by_id["s1"].error == NO_PREDICTION
    assert by_id["k2"].correct and by_id["k2"].error is None


def test_generic_line_breaks_only_at_newlines(tmp_path):
    path = tmp_path / "r.jsonl"
    row = {"question": "Read:\u2028two lines?", "answer": "yes", "prediction": "Yes", "category": "ocr"}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\r\n", "utf-8")
    result = load_results(path)
    assert [(r.question, r.correct) for r in result.records] == [("Read:\u2028two lines?", True)]
    assert result.problems == []


def test_auto_detection_and_explicit_benchmark():
    assert load_results(GENERIC, format="generic", benchmark="seedbench").benchmark == "seedbench"
    assert load_results(MMB_VLM, benchmark="mine").records[0].benchmark == "mine"


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        ("missing.jsonl", None, "auto", "no such results file"),
        ("results.txt", "hello", "auto", "cannot tell the format"),
        ("results.jsonl", "not json\n\n", "auto", "no JSON object on any line"),
        ("results.json", "{broken", "auto", "not JSON"),
        ("results.json", '{"logs": 3}', "auto", 'a list under "logs"'),
        ("results.jsonl", "{}", "nonsense", "unknown results format 'nonsense'"),
        ("results.tsv", '"index"\t"question"\n"1"\t"q"\n', "auto", "no 'answer' column"),
        ("results.xlsx", "not a zip", "auto", "not a readable .xlsx"),
        ("results.jsonl", "{}", "vlmevalkit", "VLMEvalKit results are .xlsx, .tsv or .csv"),
    ],
)
def test_unreadable_files_raise_one_line_naming_the_file(tmp_path, name, content, fmt, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, "utf-8")
    if name.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
    with pytest.raises(VisinstructError) as err:
        load_results(path, format=fmt)
    text = str(err.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


# --- mapping ---


def test_synth_categories_match_what_the_domains_ask():
    assert set(SYNTH_CATEGORIES) == set(REGISTRY)
    for name in REGISTRY:
        seen = set()
        for i in range(20):
            seen |= {q.category for q in get_domain(name).make(random.Random(i), "en").questions}
        assert seen == set(SYNTH_CATEGORIES[name]), name


def test_builtin_mappings_cover_every_category():
    assert {"seedbench", "mmbench"} <= set(builtin_mapping_names())
    seed = load_mapping("seedbench")
    image_dims = [SEED_DIMENSIONS[i] for i in range(1, 10)]
    assert seed.unmapped(image_dims) == []
    assert seed.unmapped(["Action Recognition"]) == ["Action Recognition"]  # video: we make none
    mmb = load_mapping("mmbench")
    assert mmb.unmapped(sorted(MMBENCH_LEAVES)) == []
    for mapping, cats in ((seed, image_dims), (mmb, MMBENCH_LEAVES)):
        for c in cats:
            assert mapping.source(c).startswith("built-in"), c


def test_builtin_seedbench_targets():
    m = load_mapping("seedbench")
    text = m.targets("Text Understanding")
    assert Target("ocr", "text_reading") in text
    counting = m.targets("instances counting")  # matched by normalised name
    assert {("scenes", "counting"), ("differences", "counting")} <= {(t.domain, t.category) for t in counting}
    assert Target("scenes", "localization") in m.targets("Instance Location")
    assert Target("scenes", "spatial_relation") in m.targets("Spatial Relation")
    assert {Target("scenes", "color"), Target("scenes", "shape")} <= set(m.targets("Instance Attributes"))
    scene = m.targets("Scene Understanding")
    assert Target("image_scene", "scene_understanding") in scene  # catalog domain, benchmark's category
    assert any(t.domain in SYNTH_CATEGORIES for t in scene)


def test_identity_and_unmapped_without_a_builtin_file():
    m = load_mapping(None)
    assert {(t.domain, t.category) for t in m.targets("Counting")} == {
        (d, "counting") for d, cats in SYNTH_CATEGORIES.items() if "counting" in cats
    }
    assert m.targets("Time-Reading") == [Target("clocks", "time_reading")]
    assert m.source("time reading") == "identity"
    assert m.unmapped(["counting", "Meme Humour", "color", "Meme Humour"]) == ["Meme Humour"]
    assert m.source("Meme Humour") == "unmapped"
    assert load_mapping("no-such-benchmark").targets("counting")  # unknown benchmark: identity only


def test_user_file_overrides_builtin_entries_by_category(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text(
        "benchmark: seedbench\n"
        "categories:\n"
        "  instances_counting:\n"
        "    - {domain: tables, category: counting, types: [multiple_choice]}\n"
        "  Text Understanding: []\n"
        "  Action Recognition:\n"
        "    - {domain: null, category: action}\n"
        "    - {domain: my_domain}\n",
        "utf-8",
    )
    m = load_mapping("seedbench", [user], domains=["my_domain"])
    assert m.targets("Instances Counting") == [Target("tables", "counting", ("multiple_choice",))]
    assert m.source("Instances Counting") == str(user)
    assert m.targets("Text Understanding") == []
    assert m.unmapped(["Text Understanding", "Spatial Relation"]) == ["Text Understanding"]
    assert m.targets("Action Recognition") == [
        Target(None, "action"),
        Target("my_domain", "action_recognition"),
    ]
    assert Target("scenes", "spatial_relation") in m.targets("Spatial Relation")  # untouched entry stays


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("categories: [1, 2]\n", "'categories' must map each benchmark category"),
        ("- a\n", "must be a YAML mapping"),
        ("categories:\n  X: [\n", "not valid YAML at line"),
        ("categories:\n  X:\n    - {domain: nowhere}\n", "categories.X[0]: unknown domain 'nowhere'"),
        (
            "categories:\n  X:\n    - {domain: scenes, category: angle}\n",
            "categories.X[0]: scenes asks no 'angle'",
        ),
        (
            "categories:\n  X:\n    - {domain: scenes}\n",
            "categories.X[0]: synthetic domain 'scenes' needs a category",
        ),
        (
            "categories:\n  X:\n    - {domain: scenes, category: color, types: [essay]}\n",
            "unknown type(s) essay",
        ),
        ("categories:\n  X:\n    - {domain: scenes, category: color, weight: 2}\n", "unknown key(s) weight"),
        ("categories:\n  X: scenes\n", "categories.X: must be a list of targets"),
        ("categories:\n  A B: []\n  a-b: []\n", "categories.a-b: the same category"),
        ("benchmark: mmbench\ncategories: {}\n", "a mapping for benchmark 'mmbench'"),
        ("bench: x\ncategories: {}\n", "unknown key(s) bench"),
    ],
)
def test_bad_mapping_files_name_the_file_and_entry(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping("seedbench", [path])
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_missing_mapping_file(tmp_path):
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping(None, [tmp_path / "none.yaml"])


def test_normalise():
    assert normalise(" Instances Counting ") == "instances_counting"
    assert normalise("finegrained-perception  (cross)") == "finegrained_perception_(cross)"
    assert Counter(normalise(c) for c in MMBENCH_LEAVES) == Counter(MMBENCH_LEAVES)
