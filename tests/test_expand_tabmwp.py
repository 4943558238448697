"""TabMWP read as published: problems_<split>.json keyed by pid, tables/<pid>.png."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from expand_expect import Expected
from PIL import Image, ImageDraw

from visinstruct.expand import BadRecord, DatasetImage, read
from visinstruct.expand import tabmwp as tab
from visinstruct.sources.ingest import SourceError


def table_png(path: Path, rows: list[tuple[str, str]], title: str) -> None:
    """A small table image, like the dataset's (a title over two columns)."""
    img = Image.new("RGB", (220, 40 + 22 * len(rows)), "white")
    d = ImageDraw.Draw(img)
    d.text((8, 6), title, fill="black")
    for i, (a, b) in enumerate(rows):
        y = 30 + 22 * i
        d.rectangle((4, y, 216, y + 22), outline="gray")
        d.text((10, y + 5), a, fill="black")
        d.text((120, y + 5), b, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def problem(question: str, answer: str, **kw) -> dict:
    p = {
        "question": question,
        "choices": None,
        "answer": answer,
        "unit": None,
        "table_title": "Scores",
        "table": "Name | Score\nAnn | 12\nBo | 7",
        "table_for_pd": {"Name": ["Ann", "Bo"], "Score": ["12", "7"]},
        "row_num": 3,
        "column_num": 2,
        "solution": "Look at the table.\nFind the answer.\nThe answer is " + answer + ".",
        "ques_type": "free_text",
        "ans_type": "integer_number",
        "grade": 3,
        "split": "train",
    }
    p.update(kw)
    return p


def build_tabmwp(root: Path) -> Expected:
    """A TabMWP folder (data/tabmwp): six usable problems, five bad ones."""
    base = root / "data" / "tabmwp"
    mc = dict(ques_type="multi_choice", solution="Read the table.\nRocky Port is it.")
    problems = {
        "11": problem("What is Ann's score?", "12"),
        "12": problem(
            "Which town is closest?",
            "Rocky Port",
            choices=["Rocky Port", "Bay Harbor", "Starfish City", "Foggy Port"],
            ans_type="extractive_text",
            **mc,
        ),
        "13": problem("How much does a pen cost?", "8.20", unit="$", ans_type="decimal_number"),
        "14": problem(
            "Is the function linear or nonlinear?",
            "nonlinear",
            choices=["linear", "nonlinear"],
            ans_type="boolean_text",
            **mc,
        ),
        "15": problem(
            "What is the probability of red? Simplify any fractions.", "5/18", ans_type="other_text"
        ),
        "16": problem("How many shells did Bo find?", "1,000", unit="shells"),
        # bad records
        "21": problem("What is Bo's score?", "7"),  # its table image is missing
        "22": problem("Which is largest?", "Mars", choices=["Venus", "Earth"], ques_type="multi_choice"),
        "23": problem("Why?", "because", ques_type="essay"),
        "24": "not a problem",
        "25": problem("   ", "3"),
    }
    for pid in problems:
        if pid.startswith("1"):
            table_png(base / "tables" / f"{pid}.png", [("Ann", "12"), ("Bo", pid)], f"Table {pid}")
    base.mkdir(parents=True, exist_ok=True)
    (base / "problems_train.json").write_text(json.dumps(problems, indent=2), "utf-8")
    dev = {"31": problem("What is Ann's score?", "12", split="dev")}
    (base / "problems_dev.json").write_text(json.dumps(dev), "utf-8")
    table_png(base / "tables" / "31.png", [("Ann", "12")], "Dev")
    return Expected(
        dataset="tabmwp",
        path="data/tabmwp",
        split="train",
        answers={"11": "12", "12": "Rocky Port", "13": "8.2", "14": "nonlinear", "15": "5/18", "16": "1000"},
        bad={"21", "22", "23", "24", "25"},
        images=6,
    )


def test_every_problem_kept_with_its_answer_and_bad_ones_reported(tmp_path):
    exp = build_tabmwp(tmp_path)
    got = list(read("tabmwp", tmp_path / exp.path, exp.split))
    images = [g for g in got if isinstance(g, DatasetImage)]
    bad = [g for g in got if isinstance(g, BadRecord)]
    assert {t.qid: t.answer for i in images for t in i.questions} == exp.answers
    assert {b.record for b in bad} == exp.bad
    assert all(b.dataset == "tabmwp" and b.reason for b in bad)
    reasons = {b.record: b.reason for b in bad}
    assert "tables/21.png is missing" in reasons["21"]
    assert "'Mars' is not among the choices" in reasons["22"]
    assert "unknown ques_type 'essay'" in reasons["23"]
    assert "not an object" in reasons["24"] and reasons["25"] == "no question"
    assert [g.questions[0].qid if isinstance(g, DatasetImage) else g.record for g in got] == [
        "11", "12", "13", "14", "15", "16", "21", "22", "23", "24", "25"
    ]  # fmt: skip
    assert len({i.path for i in images}) == exp.images
    for i in images:
        assert Path(i.path).is_file() and i.path.endswith(f"tables/{i.questions[0].qid}.png")
        assert i.ref == f"tabmwp:train/{i.questions[0].qid}" and i.license == "CC BY-NC-SA 4.0"
        assert i.provenance["file"] == "problems_train.json"


def test_fields_become_truths_as_documented(tmp_path):
    build_tabmwp(tmp_path)
    truths = {
        g.questions[0].qid: g.questions[0]
        for g in read("tabmwp", tmp_path / "data/tabmwp", "train")
        if isinstance(g, DatasetImage)
    }
    pen = truths["13"]
    assert (pen.answer, pen.answer_raw, pen.kind, pen.unit) == ("8.2", "8.20", "number", "$")
    assert pen.category == "decimal_number" and pen.solution == [
        "Look at the table.",
        "Find the answer.",
        "The answer is 8.20.",
    ]
    assert pen.facts["table"].startswith("Name | Score") and pen.facts["grade"] == 3
    town = truths["12"]
    assert town.kind == "choice" and town.choices[0] == "Rocky Port" and town.answer in town.choices
    assert (
        truths["15"].answer == "5/18" and truths["16"].answer == "1000" and truths["16"].answer_raw == "1,000"
    )


def test_other_split_and_repository_layout(tmp_path):
    build_tabmwp(tmp_path)
    dev = list(read("tabmwp", tmp_path, "dev"))  # the repository root: data/tabmwp is found
    assert [g.ref for g in dev] == ["tabmwp:dev/31"]
    with pytest.raises(SourceError, match="no problems_test.json"):
        list(read("tabmwp", tmp_path, "test"))


def test_stream_equals_whole_file_and_a_broken_file_is_named(tmp_path, monkeypatch):
    data = {str(i): {"question": f"q{i} " + "x" * (i % 7), "n": [i, i / 3, None, True]} for i in range(300)}
    f = tmp_path / "problems_train.json"
    f.write_text(json.dumps(data, indent=1), "utf-8")
    monkeypatch.setattr(tab, "_CHUNK", 17)  # values cut across many buffer refills
    assert list(tab.iter_object(f)) == list(data.items())
    f.write_text('{"1": {"question": "a"}, "2": {"question": ', "utf-8")
    with pytest.raises(SourceError, match=r"problems_train.json is not valid JSON at offset"):
        list(tab.iter_object(f))
    f.write_text("[1, 2]", "utf-8")
    with pytest.raises(SourceError, match="not a JSON object"):
        list(tab.iter_object(f))
    f.write_text("{}", "utf-8")
    assert list(tab.iter_object(f)) == []


def test_an_image_path_cannot_leave_the_folder(tmp_path):
    base = tmp_path / "tabmwp"
    base.mkdir()
    (tmp_path / "secret.png").write_bytes(b"x")
    (base / "problems_train.json").write_text(
        json.dumps({"../../secret": problem("What is it?", "3")}), "utf-8"
    )
    [got] = list(read("tabmwp", base, "train"))
    assert isinstance(got, BadRecord) and "missing" in got.reason
