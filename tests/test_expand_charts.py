"""DVQA, FigureQA, TQA and MapQA readers: fixtures in each dataset's published layout, images
drawn here, several questions on one image, every usable question kept with its ground
truth, and bad records reported one by one while the rest imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from expand_expect import Expected
from PIL import Image, ImageDraw
from test_expand_clevr import outcome

from visinstruct.expand import BadRecord, DatasetImage, read
from visinstruct.expand.base import Truth
from visinstruct.expand.grouping import Grouper
from visinstruct.expand.mapqa import normalise
from visinstruct.sources.ingest import SourceError


def draw_bars(path: Path, values: list[int], colors: list[str] | None = None) -> None:
    """A small bar chart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (160, 120), "white")
    d = ImageDraw.Draw(img)
    for i, v in enumerate(values):
        x = 20 + i * 30
        d.rectangle((x, 110 - v * 10, x + 20, 110), fill=(colors or ["steelblue"] * len(values))[i])
    d.line((10, 110, 150, 110), fill="black")
    img.save(path)


def draw_diagram(path: Path, labels: list[str]) -> None:
    """A labelled circle diagram (TQA-like)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (200, 120), "white")
    d = ImageDraw.Draw(img)
    for i, label in enumerate(labels):
        x = 30 + i * 50
        d.ellipse((x - 15, 45, x + 15, 75), outline="black", fill=(230, 230, 120))
        d.text((x - 15, 85), label, fill="black")
    img.save(path)


def draw_map(path: Path, shades: list[int]) -> None:
    """A choropleth-like grid of regions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (160, 100), (217, 217, 217))
    d = ImageDraw.Draw(img)
    for i, s in enumerate(shades):
        x, y = 10 + (i % 4) * 35, 10 + (i // 4) * 40
        d.rectangle((x, y, x + 30, y + 35), fill=(255 - s, 255 - s, 255), outline="white")
    img.save(path)


# -- DVQA -----------------------------------------------------------------------------------


def build_dvqa(root: Path) -> Expected:
    """DVQA's train split: `qa/train_qa.json` (a list of records) and `images/bar_train_*.png`."""
    base = root / "dvqa"
    draw_bars(base / "images" / "bar_train_00000000.png", [3, 7, 5])
    draw_bars(base / "images" / "bar_train_00000001.png", [4, 2])

    def r(qid: int, image: int | None, question: str, answer, template: str = "data", bbox=None) -> dict:
        out = {
            "question_id": qid,
            "question": question,
            "answer": answer,
            "template_id": template,
            "answer_bbox": bbox or [],
        }
        if image is not None:
            out["image"] = f"bar_train_{image:08d}.png"
        return out

    records = [
        r(0, 0, "Does the chart contain any negative values?", "no", "structure"),
        r(1, 0, "What is the value of the largest bar?", "7"),
        r(2, 0, "What is the label of the second bar from the left?", "pan", "data", [52, 112, 18, 8]),
        r(3, 1, "How many bars are there?", "two", "structure"),
        r(4, 2, "How many bars are there?", "three", "structure"),  # image file missing
        r(5, None, "What is the value of the smallest bar?", "2"),  # no image
        r(6, 1, "Which bar is the largest?", None, "reasoning"),  # no answer
        42,  # not a record
        r(8, 1, "Is the value of the largest bar 4?", "yes", "reasoning"),
    ]
    (base / "qa").mkdir(parents=True)
    (base / "qa" / "train_qa.json").write_text(json.dumps(records))
    return Expected(
        dataset="dvqa",
        path="dvqa",
        split="train",
        answers={"0": "no", "1": "7", "2": "pan", "3": "two", "8": "yes"},
        bad={"4", "5", "6", "#7"},
        images=2,
    )


# -- FigureQA -------------------------------------------------------------------------------


def build_figureqa(root: Path) -> Expected:
    """FigureQA's `train1/` folder: `qa_pairs.json` with 0/1 answers and `png/<image_index>.png`;
    the pairs of the two figures are interleaved, as the combiner may write them."""
    base = root / "figureqa" / "train1"
    draw_bars(base / "png" / "0.png", [2, 6, 4], ["red", "blue", "green"])
    draw_bars(base / "png" / "1.png", [5, 3], ["green", "orange"])

    def p(image, question: str, template, answer, c1: str = "Red", c2: str = "--None--") -> dict:
        out = {
            "question_string": question,
            "question_id": template,
            "color1_name": c1,
            "color1_id": 1,
            "color1_rgb": [255, 0, 0],
            "color2_name": c2,
            "color2_id": -1,
            "color2_rgb": [-1, -1, -1],
            "image_index": image,
        }
        if answer is not None:
            out["answer"] = answer
        return out

    pairs = [
        p(0, "Is Red the minimum?", 0, 1),
        p(1, "Does Green have the lowest value?", 10, 0, "Green"),
        p(0, "Is Blue greater than Red?", 3, 1, "Blue", "Red"),
        p(1, "Does Green intersect Orange?", 14, 1, "Green", "Orange"),
        p(0, "Is Green the high median?", 5, 1, "Green"),
        p(1, "Is Green the smoothest?", 8, 0, "Green"),
        p(2, "Is Red the maximum?", 1, 0),  # png/2.png missing
        p(0, "Is Red the maximum?", 1, 2),  # answer not 0/1
        p(0, "Is Red the mode?", 99, 1),  # unknown template
        p("zero", "Is Red the minimum?", 0, 1),  # unknown image index
        p(1, "Is Green the roughest?", 9, None),  # no answer
        p(0, "Is Blue the minimum?", 0, 0, "Blue"),
        p(0, "Is Green less than Red?", 2, 0, "Green", "Red"),
        p(0, "Is Red the high median?", 5, 0),
    ]
    (base / "qa_pairs.json").write_text(
        json.dumps({"qa_pairs": pairs, "total_distinct_questions": 15, "total_distinct_colors": 100})
    )
    return Expected(
        dataset="figureqa",
        path="figureqa",
        split="train1",
        answers={
            "0": "yes",
            "1": "no",
            "2": "yes",
            "3": "yes",
            "4": "yes",
            "5": "no",
            "11": "no",
            "12": "no",
            "13": "no",
        },
        bad={"6", "7", "8", "9", "10"},
        images=2,
    )


# -- TQA ------------------------------------------------------------------------------------


def _choices(*texts: str) -> dict:
    return {
        letter: {"idStructural": f"{letter}.", "processedText": t, "rawText": f"{letter}. {t}"}
        for letter, t in zip("abcdefg", texts, strict=False)
    }


def _dq(qid: str, image: str | None, asked: str, choices: dict, correct: str) -> dict:
    out = {
        "globalID": qid,
        "beingAsked": {"processedText": asked, "rawText": asked},
        "answerChoices": choices,
        "correctAnswer": {"processedText": correct, "rawText": correct.upper()},
        "idStructural": "1.",
        "questionType": "Diagram Multiple Choice",
    }
    if image is not None:
        out["imagePath"] = f"question_images/{image}"
        out["imageName"] = image
    return out


def build_tqa(root: Path) -> Expected:
    """TQA's train split as `tqa_train_val_test.zip` unpacks: `train/tqa_v1_train.json` (a list
    of lessons) beside `train/question_images/`."""
    base = root / "tqa" / "train"
    draw_diagram(base / "question_images" / "lunar_phases_9501.png", ["new", "half", "full"])
    draw_diagram(base / "question_images" / "eclipse_9502.png", ["sun", "moon", "earth"])
    (root / "tqa" / "outside.png").write_bytes(b"not inside the split folder")
    moon = _choices("new moon", "full moon", "first quarter", "waning crescent")
    eclipse = _choices("solar eclipse", "lunar eclipse", "earth")
    lesson1 = {
        "globalID": "L_0001",
        "lessonName": "earth moon and sun",
        "questions": {
            "diagramQuestions": {
                "DQ_000001": _dq(
                    "DQ_000001", "lunar_phases_9501.png", "Which phase is shown at the right?", moon, "b"
                ),
                "DQ_000002": _dq(
                    "DQ_000002", "lunar_phases_9501.png", "Which phase is fully lit?", moon, "full moon"
                ),
                "DQ_000003": _dq(
                    "DQ_000003", "eclipse_9502.png", "What does the diagram show?", eclipse, "a"
                ),
                "DQ_000004": _dq(
                    "DQ_000004", "missing_9999.png", "What is shown?", eclipse, "a"
                ),  # image missing
                "DQ_000005": _dq(
                    "DQ_000005", "lunar_phases_9501.png", "Which phase is dark?", moon, "e"
                ),  # no "e"
            },
            "nonDiagramQuestions": {
                "NDQ_000001": {
                    "globalID": "NDQ_000001",
                    "questionType": "True or False",
                    "beingAsked": {"processedText": "the moon makes its own light."},
                    "answerChoices": _choices("true", "false"),
                    "correctAnswer": {"processedText": "b"},
                },
            },
        },
        "diagramAnnotations": {
            "lunar_phases_9501.png": [
                {"text": "full", "rectangle": [[120, 85], [140, 95]]},
                {"text": "new", "rectangle": [[15, 85], [35, 95]]},
            ]
        },
        "instructionalDiagrams": {},
        "topics": {},
    }
    lesson3 = {
        "globalID": "L_0003",
        "lessonName": "eclipses",
        "questions": {
            "diagramQuestions": {
                "DQ_000006": _dq(
                    "DQ_000006", None, "What is between the sun and the moon?", eclipse, "c"
                ),  # no image
                "DQ_000007": _dq(
                    "DQ_000007", "eclipse_9502.png", "What is between the sun and the moon?", eclipse, "c"
                ),
                "DQ_000008": {
                    **_dq("DQ_000008", "x.png", "What is shown?", eclipse, "a"),
                    "imagePath": "../outside.png",
                },  # leaves the dataset folder
            },
            "nonDiagramQuestions": {},
        },
    }
    (base / "tqa_v1_train.json").write_text(json.dumps([lesson1, "not a lesson", lesson3]))
    return Expected(
        dataset="tqa",
        path="tqa",
        split="train",
        answers={
            "DQ_000001": "full moon",
            "DQ_000002": "full moon",
            "DQ_000003": "solar eclipse",
            "DQ_000007": "earth",
        },
        bad={"DQ_000004", "DQ_000005", "NDQ_000001", "lesson #1", "DQ_000006", "DQ_000008"},
        images=2,
    )


# -- MapQA ----------------------------------------------------------------------------------


def build_mapqa(root: Path) -> Expected:
    """A MapQA subset folder: `questions/train-QA.json` and `images/map_<n>.png`."""
    base = root / "mapqa" / "MapQA_S"
    draw_map(base / "images" / "map_0.png", [20, 80, 140, 200, 60, 120, 180, 240])
    draw_map(base / "images" / "map_1.png", [200, 10, 10, 90])

    def r(qid: int, map_id, question: str, answer, template: str = "retrieval_1") -> dict:
        out = {
            "question_id": qid,
            "question_type": template.rsplit("_", 1)[0],
            "question_template_id": template,
            "question": question,
            "oracle_delexicalized_question": question,
            "answer": answer,
            "oracle_delexicalized_answer": answer,
        }
        if map_id is not None:
            out["map_id"] = map_id
        return out

    records = [
        r(
            5,
            "map_0.png",
            "Name the states that have a value in the range 1,231,000-4,782,400 ?",
            ["New York", "California", "Florida"],
        ),
        r(6, "map_0.png", "Which states have the highest value in the USA ?", ["Texas"], "retrieval_3"),
        r(7, "map_0.png", "What is the value of Ohio ?", "339,200-700,500", "retrieval_2"),
        r(8, "map_0.png", "Does Ohio have the highest value in the USA ?", "No", "relational_1"),
        r(9, "map_1.png", "How many states have a value of 24.5% ?", 3, "retrieval_4"),
        r(10, "map_1.png", "Which state has the lowest value ?", "Alaska", "relational_2"),
        r(11, "map_9.png", "Which state has the lowest value ?", "Maine", "relational_2"),  # image missing
        r(12, "map_1.png", "Name the states with no data ?", []),  # empty answer
        r(13, None, "Which state has the highest value ?", "Utah"),  # no map
        r(14, "map_1.png", "What is the value of Iowa ?", {"value": 3}),  # not one answer
    ]
    (base / "questions").mkdir(parents=True)
    (base / "questions" / "train-QA.json").write_text(json.dumps(records))
    return Expected(
        dataset="mapqa",
        path="mapqa/MapQA_S",
        split="train",
        answers={
            "5": "California, Florida, New York",
            "6": "Texas",
            "7": "339,200-700,500",
            "8": "no",
            "9": "3",
            "10": "Alaska",
        },
        bad={"11", "12", "13", "14"},
        images=2,
    )


# -- tests ----------------------------------------------------------------------------------

BUILDERS = [build_dvqa, build_figureqa, build_tqa, build_mapqa]


def _read(tmp_path: Path, exp: Expected) -> list:
    return list(read(exp.dataset, tmp_path / exp.path, exp.split))


def _reasons(items: list) -> dict[str, str]:
    out = {}
    for it in items:
        for b in [it] if isinstance(it, BadRecord) else it.bad:
            out[b.record] = b.reason
        if isinstance(it, DatasetImage) and it.error:
            out |= {t.qid: it.error for t in it.questions}
    return out


def _truths(items: list) -> dict[str, Truth]:
    return {t.qid: t for it in items if isinstance(it, DatasetImage) and not it.error for t in it.questions}


@pytest.mark.parametrize("builder", BUILDERS)
def test_every_question_kept_with_its_answer(tmp_path: Path, builder) -> None:
    exp = builder(tmp_path)
    items = _read(tmp_path, exp)
    answers, bad, images = outcome(items)
    assert answers == exp.answers
    assert bad == exp.bad
    assert len(images) == exp.images
    assert max(len(i.questions) for i in images) >= 2  # several questions on one image, kept together
    for it in items:
        if isinstance(it, BadRecord):
            assert it.dataset == exp.dataset and it.reason and "\n" not in it.reason
    for img in images:
        assert Path(img.path).is_file()
        assert {"dataset", "split", "file"} <= set(img.provenance) and img.provenance[
            "dataset"
        ] == exp.dataset
        assert img.license and img.domain == "structuralized_imagetext_understanding"
        for t in img.questions:
            assert t.kind != "choice" or t.answer in t.choices
    # a stable order: reading again gives the same images and questions in the same order
    again = [
        (i.ref, [t.qid for t in i.questions]) for i in _read(tmp_path, exp) if isinstance(i, DatasetImage)
    ]
    assert again == [(i.ref, [t.qid for t in i.questions]) for i in items if isinstance(i, DatasetImage)]


def test_dvqa_kinds_categories_and_layouts(tmp_path: Path) -> None:
    exp = build_dvqa(tmp_path)
    items = _read(tmp_path, exp)
    t = _truths(items)
    assert [(t[q].kind, t[q].category) for q in ("0", "1", "2", "3")] == [
        ("yes_no", "structure"),
        ("number", "data"),
        ("text", "data"),
        ("text", "structure"),
    ]
    assert t["2"].facts["answer_bbox"] == [52, 112, 18, 8] and "answer_bbox" not in t["1"].facts
    assert t["3"].answer_raw == "two"  # a count as the dataset writes it
    reasons = _reasons(items)
    assert "not found" in reasons["4"] and reasons["5"] == "no image" and "not a single value" in reasons["6"]
    # the archive unpacked without its qa/ folder reads the same
    (tmp_path / "dvqa" / "qa" / "train_qa.json").rename(tmp_path / "dvqa" / "train_qa.json")
    assert outcome(_read(tmp_path, exp))[0] == exp.answers
    with pytest.raises(SourceError, match="val_easy_qa.json"):
        list(read("dvqa", tmp_path / "dvqa", "val_easy"))


def test_figureqa_templates_colours_and_split_names(tmp_path: Path) -> None:
    exp = build_figureqa(tmp_path)
    items = _read(tmp_path, exp)
    figures = [i for i in items if isinstance(i, DatasetImage) and not i.error]
    assert [(f.ref, [q.qid for q in f.questions]) for f in figures] == [
        ("figureqa:train1/0", ["0", "2", "4", "11", "12", "13"]),
        ("figureqa:train1/1", ["1", "3", "5"]),
    ]
    t = _truths(items)
    assert [t[q].category for q in ("0", "2", "4", "1", "3", "5")] == [
        "min",
        "greater",
        "high_median",
        "global_min",
        "intersect",
        "smoothest",
    ]
    assert t["2"].facts == {"template_id": 3, "color1_name": "Blue", "color2_name": "Red"}
    assert t["0"].facts == {"template_id": 0, "color1_name": "Red"}  # "--None--" is no colour
    assert all(q.kind == "yes_no" and q.answer_raw in (0, 1) for q in t.values())
    reasons = _reasons(items)
    assert "0 or 1" in reasons["7"] and "template" in reasons["8"] and "image index" in reasons["9"]
    assert "no answer" in reasons["10"] and "png/2.png not found" in reasons["6"]
    assert (
        outcome(list(read("figureqa", tmp_path / "figureqa", "train")))[0] == exp.answers
    )  # train -> train1
    assert outcome(list(read("figureqa", tmp_path / "figureqa" / "train1", "train1")))[0] == exp.answers


def test_figureqa_groups_many_interleaved_questions(tmp_path: Path) -> None:
    """Many figures whose questions are spread through the file: each figure gets all its own."""
    folder = tmp_path / "figureqa" / "validation1"
    (folder / "png").mkdir(parents=True)
    n_images, per_image = 400, 5
    pairs = [
        {
            "question_string": f"Is C{k} the minimum?",
            "question_id": k % 15,
            "answer": (i + k) % 2,
            "color1_name": f"C{k}",
            "color2_name": "--None--",
            "image_index": i,
        }
        for k in range(per_image)
        for i in range(n_images)
    ]
    (folder / "qa_pairs.json").write_text(json.dumps({"qa_pairs": pairs}))
    for i in range(n_images):
        (folder / "png" / f"{i}.png").write_bytes(b"")  # only their presence matters here
    figures = [
        f for f in read("figureqa", tmp_path / "figureqa", "validation1") if isinstance(f, DatasetImage)
    ]
    assert len(figures) == n_images
    assert all(len(f.questions) == per_image for f in figures)
    assert [int(q.qid) % n_images for q in figures[7].questions] == [7] * per_image
    assert sum(len(f.questions) for f in figures) == len(pairs)


def test_tqa_choices_answers_and_skipped_non_diagram_questions(tmp_path: Path) -> None:
    exp = build_tqa(tmp_path)
    items = _read(tmp_path, exp)
    t = _truths(items)
    assert t["DQ_000001"].choices == ["new moon", "full moon", "first quarter", "waning crescent"]
    assert t["DQ_000001"].facts["answer_letter"] == "b" and t["DQ_000002"].facts["answer_letter"] == "b"
    assert t["DQ_000001"].category == "diagram_multiple_choice" and t["DQ_000001"].kind == "choice"
    assert (
        t["DQ_000001"].facts["labels"] == ["full", "new"]
        and t["DQ_000001"].facts["lesson"] == "earth moon and sun"
    )
    eclipse = next(i for i in items if isinstance(i, DatasetImage) and i.ref.endswith("eclipse_9502.png"))
    assert [q.qid for q in eclipse.questions] == ["DQ_000003", "DQ_000007"]  # two lessons, one diagram
    reasons = _reasons(items)
    assert reasons["NDQ_000001"].startswith("skipped:") and "non-diagram" in reasons["NDQ_000001"]
    assert "not among the choices" in reasons["DQ_000005"] and "not found" in reasons["DQ_000004"]
    assert "leaves the dataset folder" in reasons["DQ_000008"] and "imagePath" in reasons["DQ_000006"]
    # the test split is published as version 2; the newest version is read
    test = tmp_path / "tqa" / "test"
    test.mkdir()
    (test / "tqa_v1_test.json").write_text("[]")
    (test / "tqa_v2_test.json").write_text(
        json.dumps([{"questions": {"nonDiagramQuestions": {"NDQ_9": {}}}}])
    )
    assert [b.record for b in read("tqa", tmp_path / "tqa", "test")] == ["NDQ_9"]


def test_mapqa_lists_ranges_and_splits(tmp_path: Path) -> None:
    exp = build_mapqa(tmp_path)
    items = _read(tmp_path, exp)
    t = _truths(items)
    assert (t["5"].kind, t["5"].facts["items"]) == ("list", ["California", "Florida", "New York"])
    assert t["5"].answer_raw == ["New York", "California", "Florida"]
    assert t["7"].kind == "range"
    assert t["7"].facts["range"] == {"low": 339200, "high": 700500, "text": "339,200-700,500"}
    assert (t["8"].kind, t["9"].kind, t["10"].kind) == ("yes_no", "number", "text")
    assert t["5"].category == "retrieval_1" and t["8"].category == "relational_1"
    reasons = _reasons(items)
    assert "empty" in reasons["12"] and "map_id" in reasons["13"] and "not a single value" in reasons["14"]
    with pytest.raises(SourceError, match="dev-QA.json"):
        list(read("mapqa", tmp_path / exp.path, "val"))


def test_mapqa_answer_normalisation_is_stable() -> None:
    assert normalise(["ohio", "Alabama", "New York"]) == normalise(["New York", "ohio", "Alabama"])
    assert normalise(["Ohio", "alabama"])[0] == "alabama, Ohio"  # case-insensitive order
    assert normalise("24.5%-30.1%")[2]["range"] == {"low": 24.5, "high": 30.1, "text": "24.5%-30.1%"}
    assert normalise("$1,000 - $2,500")[:2] == ("$1,000-$2,500", "range")
    assert normalise("Yes")[:2] == ("yes", "yes_no") and normalise(4.0)[:2] == ("4", "number")
    assert isinstance(normalise(None), str) and isinstance(normalise([["nested"]]), str)


def test_a_repeated_question_id_is_refused_not_merged() -> None:
    group = Grouper("dvqa")
    group.add("a.png", Truth(qid="1", question="q?", answer="1", answer_raw="1"))
    group.add("b.png", Truth(qid="1", question="q again?", answer="2", answer_raw="2"))
    got = list(group.images(lambda key, truths, bad: DatasetImage("dvqa", "train", key, truths, bad=bad)))
    assert [(i.ref, [q.qid for q in i.questions]) for i in got if isinstance(i, DatasetImage)] == [
        ("a.png", ["1"])
    ]
    assert [str(b) for b in got if isinstance(b, BadRecord)] == [
        "dvqa 1: question id repeated (first about image a.png)"
    ]


def test_broken_files_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "train_qa.json").write_text('{"not": "a list"}')
    with pytest.raises(SourceError, match="not a list"):
        list(read("dvqa", tmp_path, "train"))
    (tmp_path / "train1").mkdir()
    (tmp_path / "train1" / "qa_pairs.json").write_text("[1, 2")
    with pytest.raises(SourceError, match="not valid JSON"):
        list(read("figureqa", tmp_path, "train1"))
    with pytest.raises(SourceError, match="tqa_v1_train.json"):
        list(read("tqa", tmp_path, "train"))
