"""Generic importers: LLaVA and ShareGPT conversations, VQA tables and Hugging Face datasets
brought in as they are, every question of an image kept, bad records one by one, and our own
`llava` / `sharegpt` exports read back to the same turns and images."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from expand_expect import Expected
from PIL import Image, ImageDraw

from visinstruct.expand import BadRecord, DatasetImage, read
from visinstruct.expand.generic import dialogue, truth
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.sources import SourceError
from visinstruct.store import RunStore

MC_QUESTION = (
    "Which colour is the largest bar?\nA. red\nB. blue\nC. green\nD. yellow\nAnswer with the letter."
)
LONG = [
    ("What does the chart show?", "It shows the sales of three shops over one year."),
    ("Which shop sold the most?", "The second shop sold the most, about forty units."),
]
DESCRIPTION = "A bar chart with three bars of different colours on a white background, with labelled axes."


def png(seed: int, size=(96, 72)) -> bytes:
    img = Image.new("RGB", size, (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle([8 + seed * 9 % 40, 10, 40 + seed * 7 % 40, 60], fill=(seed * 70 % 255, 90, 160))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def sha(path_or_bytes: str | bytes) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return hashlib.sha256(data).hexdigest()


def draw(folder: Path, names: list[str]) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(names):
        (folder / "images" / name).write_bytes(png(n + 1))


def conversation(style: str, turns: list[tuple[str, str]], tag: str = "<image>\n") -> list[dict]:
    user, bot, role, text = (
        ("human", "gpt", "from", "value") if style == "llava" else ("user", "assistant", "role", "content")
    )
    out = []
    for n, (q, a) in enumerate(turns):
        out += [{role: user, text: (tag if n == 0 else "") + q}, {role: bot, text: a}]
    return out


def _dialogue_records(style: str) -> tuple[list[dict], dict[str, str], set[str]]:
    """Records shared by the LLaVA and ShareGPT fixtures: three on one image, two on another, a
    multi-image record, and bad ones. Returns (records, expected answers, bad ids)."""
    key = "image" if style == "llava" else "images"

    def images(*names: str):
        paths = [f"images/{n}" for n in names]
        return paths[0] if style == "llava" and len(paths) == 1 else paths

    def rec(rid: str, names: tuple[str, ...], turns: list[tuple[str, str]], tag: str = "<image>\n") -> dict:
        return {
            "id": rid,
            key: images(*names),
            "conversations" if style == "llava" else "messages": (
                conversation(style, turns, tag * len(names))
            ),
        }

    records = [
        rec("mc1", ("bars.png",), [(MC_QUESTION, "B")]),
        rec("short1", ("bars.png",), [("How many bars are there?", "3")]),
        rec("long1", ("bars.png",), LONG),
        rec("yes1", ("pie.png",), [("Is the pie chart split into four parts? Answer yes or no.", "Yes")]),
        rec("cap1", ("pie.png",), [("Describe the image in detail.", DESCRIPTION)]),
        rec("pair1", ("bars.png", "line.png"), [("Do both charts show the same year?", "No")]),
        rec("gone1", ("missing.png",), [("What is shown?", "A chart.")]),
        rec("out1", ("../../outside.png",), [("What is shown?", "A chart.")]),
        rec("open1", ("pie.png",), [("What is shown?", "A chart.")])
        | {
            "conversations" if style == "llava" else "messages": conversation(
                style, [("What is shown?", "x")]
            )[:1]
        },
    ]
    answers = {"mc1": "blue", "short1": "3", "long1": LONG[-1][1], "cap1": DESCRIPTION}
    # judgement dialogues ("yes1", "pair1") are imported too: their answer is the yes/no of the turn
    return records, answers, {"gone1", "out1", "open1"}


def build_llava(root: Path) -> Expected:
    folder = root / "llava"
    draw(folder, ["bars.png", "pie.png", "line.png"])
    records, answers, bad = _dialogue_records("llava")
    (folder / "train.json").write_text(json.dumps(records, ensure_ascii=False, indent=1), "utf-8")
    return Expected("llava", "llava/train.json", "train", answers, bad, images=3)


def build_sharegpt(root: Path) -> Expected:
    folder = root / "sharegpt"
    draw(folder, ["bars.png", "pie.png", "line.png"])
    records, answers, bad = _dialogue_records("sharegpt")
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(3, '{"messages": [')  # a line that does not parse
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    return Expected("sharegpt", "sharegpt/train.jsonl", "train", answers, bad | {"train.jsonl:4"}, images=3)


def build_vqa(root: Path) -> Expected:
    folder = root / "vqa"
    draw(folder / "pics", ["a.png", "b.png"])
    rows = [
        {"qid": "q1", "image": "images/a.png", "q": "How many bars are there?", "a": "3"},
        {
            "qid": "q2",
            "image": "images/a.png",
            "q": "Which bar is the tallest?",
            "a": "B",
            "opts": ["the red one", "the blue one", "the green one"],
        },
        {"qid": "q3", "image": "images/a.png", "q": "Is there a legend?", "a": "no"},
        {
            "qid": "q4",
            "image": "images/b.png",
            "q": "What is the title?",
            "a": "Sales 2020",
            "category": "title",
        },
        {"qid": "q5", "image": "images/b.png", "q": "What is the peak value?", "a": 12.50},
        {"qid": "bad-missing", "image": "images/none.png", "q": "What is it?", "a": "x"},
        {
            "qid": "bad-choice",
            "image": "images/a.png",
            "q": "Which?",
            "a": "purple",
            "opts": ["red", "blue"],
        },
        {"qid": "bad-noanswer", "image": "images/b.png", "q": "What?"},
    ]
    text = (
        "\n".join(json.dumps(r) for r in rows[:5])
        + "\nnot json\n"
        + "\n".join(json.dumps(r) for r in rows[5:])
    )
    (folder / "val.jsonl").write_text(text + "\n", "utf-8")
    answers = {"q1": "3", "q2": "the blue one", "q3": "no", "q4": "Sales 2020", "q5": "12.5"}
    options = {
        "image_root": str(folder / "pics"),  # a recipe's image_root is relative to the recipe
        "question_column": "q",
        "answer_column": "a",
        "options_column": "opts",
    }
    bad = {"val.jsonl:6", "bad-missing", "bad-choice", "bad-noanswer"}
    return Expected("vqa", "vqa/val.jsonl", "val", answers, bad, images=2, options=options)


def build_hf(root: Path) -> Expected:
    datasets = pytest.importorskip("datasets")
    a, b = png(1), png(2)
    rows = {
        "image": [a, a, b, a, None, b],
        "query": [
            "How many bars?",
            "Which bar is red?",
            "Is it a pie chart?",
            "What is the total?",
            "What is shown?",
            "Which one?",
        ],
        "label": ["3", "B", "yes", "7.0", "a chart", "zzz"],
        "choices": [[], ["the first", "the second"], [], [], [], ["x", "y"]],
        "question_id": ["h1", "h2", "h3", "h4", "h-noimage", "h-badchoice"],
    }
    ds = datasets.Dataset.from_dict(
        {**rows, "image": [{"bytes": x, "path": None} if x else None for x in rows["image"]]}
    ).cast_column("image", datasets.Image())
    ds.save_to_disk(str(root / "hf"))
    options = {
        "question_column": "query",
        "answer_column": "label",
        "options_column": "choices",
    }
    answers = {"h1": "3", "h2": "the second", "h3": "yes", "h4": "7"}
    return Expected("hf", "hf", "train", answers, {"h-noimage", "h-badchoice"}, images=2, options=options)


def imported(exp: Expected, root: Path) -> tuple[list[DatasetImage], list[BadRecord]]:
    got = list(read(exp.dataset, root / exp.path, exp.split, **exp.options))
    return [g for g in got if isinstance(g, DatasetImage)], [g for g in got if isinstance(g, BadRecord)]


def check_fixture(exp: Expected, root: Path) -> list[DatasetImage]:
    images, bad = imported(exp, root)
    assert {b.record for b in bad} == exp.bad, bad
    assert all(b.dataset == exp.dataset and b.reason for b in bad)
    ids = {sha(i.data if i.data is not None else i.path) for i in images}
    ids |= {sha(p) for i in images for p in i.more_images}
    assert len(ids) == exp.images
    return images


@pytest.mark.parametrize("build", [build_llava, build_sharegpt])
def test_conversations_keep_every_record_of_an_image_verbatim(build, tmp_path):
    exp = build(tmp_path)
    images = check_fixture(exp, tmp_path)
    by_qid = {d.qid: (img, d) for img in images for d in img.dialogues}
    assert set(by_qid) == {"mc1", "short1", "long1", "yes1", "cap1", "pair1"}
    bars = by_qid["mc1"][0]
    assert [d.qid for d in bars.dialogues] == ["mc1", "short1", "long1"], "one image, three records"
    assert by_qid["short1"][0] is bars and by_qid["long1"][0] is bars
    assert bars.path.endswith("bars.png") and bars.more_images == []
    assert by_qid["long1"][1].turns == LONG, "turns verbatim, <image> removed"

    types = {q: (d.type, d.short_answer) for q, (_, d) in by_qid.items()}
    assert types == {
        "mc1": ("multiple_choice", "blue"),
        "short1": ("short_vqa", "3"),
        "long1": ("long_vqa", None),
        "yes1": ("judgement", "yes"),
        "cap1": ("caption", None),
        "pair1": ("judgement", "no"),
    }
    mc = by_qid["mc1"][1]
    assert mc.options == ["red", "blue", "green", "yellow"] and mc.answer_letter == "B"
    assert mc.turns == [(MC_QUESTION, "B")]
    pair = by_qid["pair1"][0]
    assert pair is not bars and pair.path == bars.path and pair.more_images[0].endswith("line.png")
    for qid, answer in exp.answers.items():
        d = by_qid[qid][1]
        assert (d.short_answer if d.short_answer is not None else d.turns[-1][1]) == answer

    reasons = {
        b.record: b.reason
        for b in read(exp.dataset, tmp_path / exp.path, "train")
        if isinstance(b, BadRecord)
    }
    assert "not found" in reasons["gone1"] and "leaves the image folder" in reasons["out1"]
    assert "ends with a question" in reasons["open1"]


def test_vqa_rows_become_ground_truth_grouped_by_image(tmp_path):
    exp = build_vqa(tmp_path)
    images = check_fixture(exp, tmp_path)
    assert [[t.qid for t in i.questions] for i in images] == [["q1", "q2", "q3"], ["q4", "q5"]]
    truths = {t.qid: t for i in images for t in i.questions}
    assert {q: t.answer for q, t in truths.items()} == exp.answers
    assert (truths["q2"].kind, truths["q2"].choices, truths["q2"].answer_raw) == (
        "choice",
        ["the red one", "the blue one", "the green one"],
        "B",
    )
    assert (truths["q1"].kind, truths["q3"].kind, truths["q5"].kind) == ("number", "yes_no", "number")
    assert truths["q5"].answer_raw == 12.5 and truths["q4"].category == "title"
    assert images[0].provenance == {
        "dataset": "vqa",
        "split": "val",
        "file": "val.jsonl",
        "image": "images/a.png",
    }
    reasons = {
        b.record: b.reason
        for b in read("vqa", tmp_path / exp.path, "val", **exp.options)
        if isinstance(b, BadRecord)
    }
    assert "not among the choices" in reasons["bad-choice"] and reasons["bad-noanswer"] == "no answer"
    assert "not valid JSON" in reasons["val.jsonl:6"] and "not found" in reasons["bad-missing"]


def test_vqa_csv_with_default_columns(tmp_path):
    draw(tmp_path, ["a.png"])
    (tmp_path / "data.csv").write_text(
        "id,image,question,answer,options\n"
        '1,images/a.png,What colour is the bar?,blue,"[""red"", ""blue""]"\n'
        "2,images/a.png,How tall is it?,40,\n"
        '3,images/a.png,"Which, of these?",A,red|green\n'
        "4,images/../../x.png,What?,1,\n"
        "5,images/a.png,too,many,fields,here\n",
        "utf-8",
    )
    got = list(read("vqa", tmp_path / "data.csv", "train"))
    [img] = [g for g in got if isinstance(g, DatasetImage)]
    assert [(t.qid, t.answer, t.kind) for t in img.questions] == [
        ("1", "blue", "choice"),
        ("2", "40", "number"),
        ("3", "red", "choice"),
    ]
    bad = {b.record: b.reason for b in got if isinstance(b, BadRecord)}
    assert "leaves the image folder" in bad["4"] and "6 fields" in bad["data.csv:6"]


def test_hf_dataset_keeps_a_shared_image_once_with_all_its_questions(tmp_path):
    exp = build_hf(tmp_path)
    images = check_fixture(exp, tmp_path)
    assert [[t.qid for t in i.questions] for i in images] == [["h1", "h2", "h4"], ["h3"]]
    assert all(i.data is not None and i.path is None for i in images)
    assert {t.qid: t.answer for i in images for t in i.questions} == exp.answers


def test_hf_parquet_with_a_path_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    draw(tmp_path, ["a.png"])
    (tmp_path / "images" / "same.png").write_bytes((tmp_path / "images" / "a.png").read_bytes())
    ds = datasets.Dataset.from_dict(
        {
            "file": ["images/a.png", "images/same.png", "images/gone.png"],
            "question": ["Q one?", "Q two?", "Q?"],
            "answer": ["yes", "2", "x"],
        }
    )
    ds.to_parquet(str(tmp_path / "train.parquet"))
    got = list(read("hf", tmp_path / "train.parquet", "train", image_column="file"))
    [img] = [g for g in got if isinstance(g, DatasetImage)]
    assert [t.answer for t in img.questions] == ["yes", "2"], "one image by content, under two names"
    assert img.path == str((tmp_path / "images" / "a.png").resolve())
    [bad] = [g for g in got if isinstance(g, BadRecord)]
    assert bad.record == "row2" and "not found" in bad.reason
    with pytest.raises(SourceError, match="no column 'query'"):
        list(read("hf", tmp_path / "train.parquet", "train", image_column="file", question_column="query"))
    with pytest.raises(SourceError, match="no column 'image'"):
        list(read("hf", tmp_path / "train.parquet", "train"))


def test_a_file_that_is_not_a_list_is_refused_in_one_line(tmp_path):
    (tmp_path / "train.json").write_text('{"id": 1}', "utf-8")
    with pytest.raises(SourceError, match="not a JSON array"):
        list(read("llava", tmp_path, "train"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="sharegpt: no val.json or val.jsonl in"):
        list(read("sharegpt", tmp_path / "empty", "val"))


def test_type_inference_from_the_text():
    assert dialogue("a", [("问题很长吗？请回答是或否。", "是")]).type == "judgement"
    assert dialogue("a", [("图中有几根柱子？", "三根")]).lang == "zh"
    assert (
        dialogue("a", [("What is it?", "Yes and no, it depends on the light that falls on it.")]).type
        == "caption"
    )
    assert dialogue("a", [(MC_QUESTION, "blue")]).type == "short_vqa", "an option's text is not a letter"
    assert truth("t", "Is it red?", True).answer == "yes"
    assert truth("t", "Pick one", 1, ["x", "y"]).answer == "y"
    with pytest.raises(ValueError, match="not among"):
        truth("t", "Pick one", 5, ["x", "y"])


def test_sharegpt_dataset_info_names_the_file_and_its_tags(tmp_path):
    draw(tmp_path, ["a.png"])
    record = {
        "conv": [{"who": "me", "text": "<image>How many bars?"}, {"who": "bot", "text": "1"}],
        "pics": ["images/a.png"],
    }
    (tmp_path / "mine.json").write_text(json.dumps([record]), "utf-8")
    entry = {
        "file_name": "mine.json",
        "formatting": "sharegpt",
        "columns": {"messages": "conv", "images": "pics"},
        "tags": {"role_tag": "who", "content_tag": "text", "user_tag": "me", "assistant_tag": "bot"},
    }
    (tmp_path / "dataset_info.json").write_text(json.dumps({"mine": entry}), "utf-8")
    [img] = list(read("sharegpt", tmp_path, "mine"))
    assert img.dialogues[0].turns == [("How many bars?", "1")]


# -- round trip: our exports read back ----------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    recipe = parse_recipe(
        {
            "name": "rt",
            "seed": 2,
            "synthetic": {"charts": 3, "differences": 2},
            "export": [
                {"format": "llava", "out": "llava/train.json", "include": ["accepted", "needs_review"]},
                {"format": "sharegpt", "out": "sharegpt/train.json", "include": ["accepted", "needs_review"]},
            ],
        }
    )
    run_recipe(recipe, tmp / "run", workers=1)
    with RunStore(tmp / "run", create=False) as store:
        samples = {s.id: s for s in store.iter_samples(["accepted", "needs_review"])}
    return tmp / "run" / "exports", samples


@pytest.mark.parametrize("fmt", ["llava", "sharegpt"])
def test_our_exports_read_back_to_the_same_turns_and_images(exported, fmt):
    exports, samples = exported
    got = list(read(fmt, exports / fmt, "train"))
    assert not [g for g in got if isinstance(g, BadRecord)]
    back = {d.qid: (img, d) for img in got for d in img.dialogues}
    assert set(back) == set(samples) and len(samples) > 10
    assert any(len(s.images) > 1 for s in samples.values()), "multi-image samples are in the round trip"
    for sid, s in samples.items():
        img, d = back[sid]
        assert d.turns == [(t.question, t.answer) for t in s.turns], sid
        assert [sha(p) for p in [img.path, *img.more_images]] == s.images, sid
        if s.type in ("multiple_choice", "judgement"):
            assert (d.type, d.short_answer, d.answer_letter) == (s.type, s.short_answer, s.answer_letter)
            assert d.options == s.options
    # several samples on one image come back as one image with all of them
    assert sum(len(img.dialogues) > 1 for img in got) >= 1


def test_a_recipes_image_column_reaches_the_importer(tmp_path):
    """`image_column` in a recipe names the column the generic importers take images from."""
    draw(tmp_path / "pics", ["a.png", "b.png"])
    rows = [
        {"qid": "q1", "picture": "images/a.png", "question": "How many bars are there?", "answer": "3"},
        {"qid": "q2", "picture": "images/b.png", "question": "What is the title?", "answer": "Sales"},
    ]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = {"dataset": "vqa", "path": "rows.jsonl", "image_root": "pics", "image_column": "picture"}
    recipe = parse_recipe({"name": "cols", "sources": [source]})
    run_recipe(recipe, tmp_path / "run", base=tmp_path, exports=False)
    with RunStore(tmp_path / "run", create=False) as store:
        assert store.bad_records() == []
        [(_, images, questions, bad, samples)] = store.dataset_counts()
    assert (images, questions, bad) == (2, 2, 0) and samples > 0


def test_a_hub_name_goes_to_the_hub_and_a_local_path_stays_local(tmp_path):
    from visinstruct.sources.hf import hub_name

    assert hub_name("lmms-lab/ChartQA") and hub_name("mnist") and hub_name("HuggingFaceM4/A-OKVQA")
    for text in ("data/x/y", "../x", "./x", "/abs/x", "x.parquet", "a/b.arrow", "owner/", "~/x", "a b"):
        assert not hub_name(text), text
    # a folder of that name beside the recipe is read as the folder it is
    exp = build_hf(tmp_path)
    got = [g for g in read("hf", tmp_path / "hf", "train", **exp.options) if isinstance(g, DatasetImage)]
    assert len(got) == exp.images
    with pytest.raises(SourceError, match="does not exist"):
        list(read("hf", tmp_path / "no" / "such" / "folder", "train"))


def test_a_hub_dataset_that_cannot_be_loaded_is_one_line_naming_it(tmp_path):
    """Offline, `dataset: hf` with a Hub name reaches `datasets.load_dataset` and fails in one
    line that names the dataset (before, the name was refused as a missing path)."""
    import os
    import subprocess
    import sys

    import yaml

    recipe = {"name": "hub", "sources": [{"dataset": "hf", "path": "someone/no-such-dataset"}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "visinstruct.cli",
            "run",
            str(tmp_path / "r.yaml"),
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert p.returncode != 0 and "Traceback" not in p.stderr + p.stdout
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, p.stderr
    assert "Hub dataset 'someone/no-such-dataset'" in lines[0] and "does not exist" not in lines[0]
