"""Geometry datasets (Geometry3K, GEOS, GeoQA+, UniGeo) read as published: every question kept
with its exact answer, programs as steps, bad records one by one, pickles never trusted."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from expand_expect import Expected
from PIL import Image, ImageDraw

from visinstruct.expand import BadRecord, DatasetImage, read
from visinstruct.expand.geoqa import run_program
from visinstruct.sources.ingest import SourceError


def _diagram(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A small line drawing with point labels; `seed` makes each one different."""
    img = Image.new("L", size, 255)
    d = ImageDraw.Draw(img)
    w, h = size
    pts = [(10 + seed * 7 % 40, h - 15), (w - 15, h - 15 - seed * 5 % 30), (w // 2, 12 + seed * 3 % 20)]
    d.polygon(pts, outline=0)
    for (x, y), name in zip(pts, "ABC", strict=True):
        d.text((x + 2, y - 12), name, fill=0)
    d.line([(pts[0][0], pts[0][1] - 30), (w - 5, pts[0][1] - 30 - seed)], fill=0)
    return img


def _array(seed: int, rgb: bool = False) -> np.ndarray:
    img = _diagram(seed)
    return np.array(img.convert("RGB") if rgb else img, dtype=np.uint8)


# ---------------------------------------------------------------------------- Geometry3K


def _g3k_problem(base: Path, pid: int, text: str, choices: list[str], answer: str, goal: list[str], **kw):
    folder = base / str(pid)
    folder.mkdir(parents=True)
    data = {
        "problem_text": text,
        "choices": choices,
        "answer": answer,
        "detailed_solution": kw.get("solution", " "),
        "problem_type_graph": kw.get("graph", ["Triangle"]),
        "problem_type_goal": goal,
        "source": "textbook1_chapter_7.pdf",
        "comment": "",
        "id": pid,
        "precise_value": kw.get("values", [float(c) if c.isdigit() else 0.0 for c in choices]),
        "compact_text": text,
        "unit": kw.get("unit", ""),
        "data_type": "train",
    }
    (folder / "data.json").write_text(kw.get("raw", json.dumps(data, indent=2)))
    if kw.get("image", True):
        _diagram(pid).save(folder / "img_diagram.png")
    if kw.get("logic"):
        (folder / "logic_form.json").write_text(json.dumps(kw["logic"]))


def build_geometry3k(root: Path) -> Expected:
    base = root / "geometry3k" / "train"
    logic = {
        "text_logic_form": ["Equals(LengthOf(Line(A,B)),5)", "Find(LengthOf(Line(B,C)))"],
        "diagram_logic_form": ["Perpendicular(Line(A,C), Line(B,C))"],
        "point_positions": {"A": [1.0, 2.0]},
    }
    _g3k_problem(base, 2, "Find m \\angle 2.", ["30", "40", "60", "80"], "D", ["Angle"], graph=["Line"])
    working = "x^2 = 5^2 + 12^2\nx = 13"
    _g3k_problem(
        base, 10, "Find x.", ["12", "13", "14", "15"], "B", ["Length"], logic=logic, solution=working
    )
    _g3k_problem(
        base,
        11,
        "Find the area of the triangle.",
        ["5", "5 \\sqrt { 2 }", "5 \\sqrt { 3 }", "10"],
        "C",
        ["Other", "Area"],
        values=[5.0, 7.0710678118654755, 8.660254037844386, 10.0],
        unit="cm^2",
    )
    _g3k_problem(base, 12, "Find y.", ["1", "2", "3", "4"], "A", ["Length"], image=False)  # no diagram
    _g3k_problem(base, 13, "Find z.", ["1", "2", "3", "4"], "E", ["Length"])  # no choice E
    _g3k_problem(base, 14, "Find w.", ["1", "2"], "A", ["Length"], raw='{"problem_text": "Find w.", ')
    return Expected(
        dataset="geometry3k",
        path="geometry3k",
        split="train",
        answers={"2": "80", "10": "13", "11": "5 \\sqrt { 3 }"},
        bad={"12", "13", "14"},
        images=3,
    )


# ---------------------------------------------------------------------------- GEOS


def build_geos(root: Path) -> Expected:
    base = root / "geos" / "official"
    base.mkdir(parents=True)
    five = {"1": "4", "2": "6", "3": "8", "4": "10", "5": "12"}
    questions = [
        ("000", 1001, "In triangle ABC, AB = 8 and AC = 8. What is BC?", five, "3", True),
        ("001", 1002, "What is the measure of angle ABC?", {"1": "30", "2": "45", "3": "60"}, "1", True),
        ("002", 1003, "If CD = 12, what is the radius of the circle?", five, "5", True),
        ("003", 1004, "What is AD?", five, "2", False),  # its diagram is missing
        ("004", 1005, "What is BD?", five, "6", True),  # no sixth choice
    ]
    for stem, key, text, choices, answer, has_image in questions:
        (base / f"{stem}.json").write_text(
            json.dumps({"key": key, "text": text, "choices": choices, "answer": answer})
        )
        if has_image:
            _diagram(key).save(base / f"{stem}.png")
    (base / "005.json").write_text('{"key": 1006, "text": "What is')  # cut short
    _diagram(1006).save(base / "005.png")
    return Expected(
        dataset="geos",
        path="geos",
        split="official",
        answers={"1001": "8", "1002": "30", "1003": "12"},
        bad={"1004", "1005", "005"},
        images=3,
    )


# ---------------------------------------------------------------------------- GeoQA+


def _geoqa_record(pid, subject, choices, label, image, program, numbers, **kw) -> dict:
    return {
        "id": pid,
        "subject": subject,
        "choices": choices,
        "label": label,
        "image": image,
        "manual_program": program,
        "numbers": numbers,
        "choice_nums": kw.get("choice_nums", [float(c.rstrip("°")) for c in choices]),
        "formal_point": kw.get("points", ["平行线"]),
        "answer": kw.get("answer", "解：∵AB∥CD，∴∠2=180°-∠1=140°．故选：B．"),
        "token_list": list(subject),
        **({"English_problem": kw["english"]} if "english" in kw else {}),
    }


def build_geoqa_plus(root: Path) -> Expected:
    data = root / "data"
    (data / "GeoQA2.2").mkdir(parents=True)
    parallel, right = _array(1), _array(2)
    records = [
        _geoqa_record(
            0,
            "如图，AB∥CD，∠1=40°，则∠2的度数是()",
            ["40°", "140°", "50°", "60°"],
            1,
            parallel,
            ["g_minus", "C_3", "N_0"],
            [40.0],
        ),
        _geoqa_record(
            1,
            "如图，AB∥CD，∠1=40°，∠3是∠2的一半，则∠3的度数是()",
            ["70°", "40°", "20°", "140°"],
            0,
            parallel.copy(),  # the same diagram, another question
            ["g_minus", "C_3", "N_0", "g_half", "V_0"],
            [40.0],
        ),
        _geoqa_record(
            2,
            "如图，在Rt△ABC中，∠C=90°，AC=3，BC=4，则AB的长为()",
            ["5", "6", "7", "8"],
            np.int64(0),  # labels may be numpy integers
            right,
            ["gougu_add", "N_0", "N_1"],
            [3.0, 4.0],
            points=["勾股定理"],
        ),
        _geoqa_record(
            3, "则∠A的度数是()", ["10°", "20°", "30°", "40°"], 4, _array(3), ["g_equal", "N_0"], [3.0]
        ),
        _geoqa_record(4, "则AB的长为()", ["1", "2", "3", "4"], 1, None, ["g_equal", "N_0"], [2.0]),
        _geoqa_record(5, "则BC的长为()", ["1", "2", "3", "4"], "B", _array(5), ["g_equal", "N_0"], [2.0]),
    ]
    (data / "GeoQA2.2" / "train.pk").write_bytes(pickle.dumps(records, protocol=4))
    types = {0: "angle", 1: "angle", 2: "length", 3: "angle", 4: "length", 5: "length"}
    (data / "sub_dataset_dict.pk").write_bytes(pickle.dumps(types))
    return Expected(
        dataset="geoqa_plus",
        path="data/GeoQA2.2",
        split="train",
        answers={"0": "140°", "1": "70°", "2": "5"},
        bad={"3", "4", "5"},
        images=2,
    )


# ---------------------------------------------------------------------------- UniGeo


def build_unigeo(root: Path) -> Expected:
    base = root / "UniGeo"
    base.mkdir(parents=True)
    shared = _array(7)
    calculation = [
        _geoqa_record(
            10,
            "如图，AB∥CD，∠1=50°，则∠2=()",
            ["50°", "130°", "40°", "140°"],
            1,
            shared,
            ["g_minus", "C_3", "N_0"],
            [50.0],
            english="As shown in the figure, AB ∥ CD, angle 1 = 50.0, then angle 2 is ()",
        ),
        _geoqa_record(
            11,
            "如图，AB∥CD，∠1=50°，则∠3=()",
            ["50°", "130°", "40°", "140°"],
            0,
            shared.copy(),
            ["g_equal", "N_0"],
            [50.0],
            english="As shown in the figure, AB ∥ CD, angle 1 = 50.0, then angle 3 is ()",
        ),
        _geoqa_record(
            12,
            "则∠4=()",
            ["50°", "130°", "40°", "140°"],
            9,
            _array(8),
            ["g_equal", "N_0"],
            [50.0],
            english="then angle 4 is ()",
        ),
    ]
    proving = [
        {
            "img": _array(9, rgb=True),
            "question": "Given: AB ∥ CD, ∠1 ≅ ∠3. Prove: ∠2 ≅ ∠3.",
            "input_text": "Given: AB ∥ CD, ∠1 ≅ ∠3. Prove: ∠2 ≅ ∠3.",
            "elements": ["AB", "CD", "∠1", "∠2", "∠3"],
            "proving_sequence": ["Given", "∠1", "≅", "∠3", "Vertical_Angles", "∠1", "≅", "∠2"],
            "problem_form": "proving",
            "problem_type": "parallel",
            "reasoning_skill": ["vertical angles"],
        },
        {
            "img": None,  # no diagram
            "question": "Given: AB = CD. Prove: AC = BD.",
            "input_text": "Given: AB = CD. Prove: AC = BD.",
            "elements": ["AB", "CD"],
            "proving_sequence": ["Given", "AB", "=", "CD"],
            "problem_form": "proving",
            "problem_type": "triangle",
        },
    ]
    (base / "calculation_train.pk").write_bytes(pickle.dumps(calculation, protocol=2))
    (base / "proving_train.pk").write_bytes(pickle.dumps(proving))
    (base / "sub_dataset_dict.pk").write_bytes(pickle.dumps({10: "angle", 11: "angle", 12: "angle"}))
    return Expected(
        dataset="unigeo",
        path="UniGeo",
        split="train",
        answers={"calculation/10": "130°", "calculation/11": "50°", "proving/0": "∠2 ≅ ∠3"},
        bad={"calculation/12", "proving/1"},
        images=2,
    )


# ---------------------------------------------------------------------------- tests

BUILDERS = [build_geometry3k, build_geos, build_geoqa_plus, build_unigeo]


def _import(root: Path, exp: Expected) -> tuple[list[DatasetImage], list[BadRecord]]:
    got = list(read(exp.dataset, root / exp.path, exp.split))
    images = [g for g in got if isinstance(g, DatasetImage)]
    bad = [g for g in got if isinstance(g, BadRecord)]
    assert len(images) + len(bad) == len(got)
    return images, bad


def _pixels(image: DatasetImage) -> Image.Image:
    if image.data is not None:
        return Image.open(io.BytesIO(image.data))
    assert image.path is not None
    return Image.open(image.path)


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__.removeprefix("build_"))
def test_every_question_kept_with_its_answer_and_bad_records_one_by_one(tmp_path: Path, build):
    exp = build(tmp_path)
    images, bad = _import(tmp_path, exp)

    answers = {q.qid: q.answer for img in images for q in img.questions}
    assert answers == exp.answers
    assert len(images) == exp.images
    assert {b.record for b in bad} == exp.bad and len(bad) == len(exp.bad)
    for b in bad:
        assert b.dataset == exp.dataset and b.reason and "\n" not in b.reason
    refs = [img.ref for img in images]
    assert len(set(refs)) == len(refs)
    for img in images:
        assert img.dataset == exp.dataset and img.split == exp.split and img.license
        assert {"dataset", "split", "file", "image_id"} <= set(img.provenance)
        pixels = _pixels(img)
        low, high = pixels.convert("L").getextrema()
        assert low < high  # a drawing, not a blank image
        for q in img.questions:
            if q.kind == "choice":
                assert q.answer in q.choices and len(q.choices) >= 2
            assert q.category == q.category.lower() and " " not in q.category


def test_an_image_of_a_folder_dataset_is_its_file(tmp_path: Path):
    exp = build_geometry3k(tmp_path)
    images, _ = _import(tmp_path, exp)
    assert [img.ref for img in images] == ["geometry3k:train/2", "geometry3k:train/10", "geometry3k:train/11"]
    for img in images:
        assert img.data is None and Path(img.path).is_file()
        assert Path(img.path).is_relative_to((tmp_path / exp.path).resolve())


def test_geometry3k_fields(tmp_path: Path):
    exp = build_geometry3k(tmp_path)
    images, bad = _import(tmp_path, exp)
    q = {q.qid: q for img in images for q in img.questions}
    assert q["2"].answer_raw == "D" and q["2"].choices == ["30", "40", "60", "80"]
    assert q["2"].category == "angle" and q["10"].category == "length"
    assert q["11"].category == "area"  # "Other" gives way to the other goal
    assert q["11"].unit == "cm^2" and q["11"].facts["value"] == pytest.approx(8.660254037844386)
    assert q["10"].solution == ["x^2 = 5^2 + 12^2", "x = 13"] and q["2"].solution == []
    assert q["10"].facts["logic_form"]["diagram_logic_form"] == ["Perpendicular(Line(A,C), Line(B,C))"]
    reasons = {b.record: b.reason for b in bad}
    assert "img_diagram.png not found" in reasons["12"]
    assert "'E' is not among the 4 choices" in reasons["13"]
    assert "not valid JSON" in reasons["14"]


def test_geos_fields(tmp_path: Path):
    exp = build_geos(tmp_path)
    images, bad = _import(tmp_path, exp)
    q = {q.qid: q for img in images for q in img.questions}
    assert q["1001"].choices == ["4", "6", "8", "10", "12"] and q["1001"].answer_raw == "3"
    assert q["1002"].facts["choice_number"] == 1
    assert images[0].provenance["file"] == "official/000.json"
    reasons = {b.record: b.reason for b in bad}
    assert "official/003.png not found" in reasons["1004"]
    assert "'6' is not among the 5 choices" in reasons["1005"]
    assert "not valid JSON" in reasons["005"]


def test_geoqa_plus_shares_a_diagram_and_renders_programs(tmp_path: Path):
    exp = build_geoqa_plus(tmp_path)
    images, bad = _import(tmp_path, exp)
    first = images[0]
    assert [q.qid for q in first.questions] == ["0", "1"]  # two questions, one diagram
    q0, q1 = first.questions
    assert q0.lang == "zh" and q0.category == "angle" and q0.answer_raw == 1
    assert q0.solution == ["第1步：差，|180 − 40| = 140"]  # a Chinese problem's steps are Chinese
    assert q1.solution == ["第1步：差，|180 − 40| = 140", "第2步：一半，140 / 2 = 70"]
    assert q0.facts["program_checked"] is True and q0.facts["knowledge_points"] == ["平行线"]
    assert q0.facts["worked_solution"].startswith("解：")
    (q2,) = images[1].questions
    assert q2.category == "length" and q2.answer_raw == 0
    assert q2.solution == ["第1步：勾股定理求斜边，√(3² + 4²) = 5"]
    json.dumps([q.facts for img in images for q in img.questions])  # facts are plain JSON
    assert _pixels(first).size == (160, 120)
    reasons = {b.record: b.reason for b in bad}
    assert reasons["3"] == "label 4 is out of range for 4 choices"
    assert "no image array" in reasons["4"]
    assert "'B' is not a choice index" in reasons["5"]


def test_unigeo_calculation_in_english_and_proving_as_statement_to_prove(tmp_path: Path):
    exp = build_unigeo(tmp_path)
    images, bad = _import(tmp_path, exp)
    calc, proof = images
    assert [q.qid for q in calc.questions] == ["calculation/10", "calculation/11"]
    assert calc.questions[0].lang == "en" and calc.questions[0].question.startswith("As shown in the figure")
    assert calc.questions[0].category == "angle"
    assert calc.questions[1].solution == ["g_equal(N_0) → V_0: equal to, 50 = 50"]
    (p,) = proof.questions
    assert p.kind == "text" and p.category == "parallel" and p.answer == "∠2 ≅ ∠3"
    assert p.solution == ["Given ∠1 ≅ ∠3 Vertical_Angles ∠1 ≅ ∠2"]
    assert p.facts["elements"] == ["AB", "CD", "∠1", "∠2", "∠3"]
    assert _pixels(proof).mode == "RGB"
    reasons = {b.record: b.reason for b in bad}
    assert reasons["calculation/12"] == "label 9 is out of range for 4 choices"
    assert "no image array" in reasons["proving/1"]


def test_unigeo_proof_with_statements_and_reasons(tmp_path: Path):
    record = {
        "img": _array(3),
        "question": "Given ∠1 ≅ ∠2. Prove that ∠2 ≅ ∠1.",
        "statements": ["∠1 ≅ ∠2", "∠2 ≅ ∠1"],
        "reasons": ["Given", "Symmetric Property of Congruence"],
        "problem_type": "triangle",
    }
    no_goal = dict(record, question="Complete the proof.", statements=[], proving_sequence=["x"])
    (tmp_path / "proving_val.pk").write_bytes(pickle.dumps([record, no_goal]))
    got = list(read("unigeo", tmp_path, "val"))
    assert isinstance(got[0], DatasetImage) and isinstance(got[1], BadRecord)
    (q,) = got[0].questions
    assert q.answer == "∠2 ≅ ∠1"
    assert q.solution == ["∠1 ≅ ∠2 (Given)", "∠2 ≅ ∠1 (Symmetric Property of Congruence)"]
    assert got[1].record == "proving/1" and "no statement to prove" in got[1].reason


def test_a_repeated_id_keeps_both_questions(tmp_path: Path):
    image = _array(4)
    program = ["g_minus", "C_3", "N_0"]
    one = _geoqa_record(7, "∠2的度数是()", ["40°", "140°", "50°", "60°"], 1, image, program, [40.0])
    two = dict(one, subject="∠2的大小是()")  # a back-translated copy keeps id and diagram
    (tmp_path / "Backtrans-train.pk").write_bytes(pickle.dumps([one, two]))
    (img,) = list(read("geoqa_plus", tmp_path, "Backtrans-train"))
    assert [q.qid for q in img.questions] == ["7", "7#2"]
    assert img.questions[0].category == "calculation"  # no sub_dataset_dict.pk beside it


def test_a_pickle_that_would_run_a_command_is_one_bad_record_and_never_runs(tmp_path: Path):
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    base = tmp_path / "GeoQA2.2"
    base.mkdir()
    good = _geoqa_record(0, "∠2的度数是()", ["40°", "140°"], 1, _array(1), ["g_minus", "C_3", "N_0"], [40.0])
    (base / "test.pk").write_bytes(pickle.dumps([good, {"image": Evil()}]))
    (base / "dev.pk").write_bytes(pickle.dumps([good]))

    (refused,) = list(read("geoqa_plus", base, "test"))
    assert isinstance(refused, BadRecord) and refused.record == "test.pk"
    assert f"names {os.system.__module__}.system, which is not allowed" in refused.reason
    assert "\n" not in str(refused)
    assert not marker.exists()
    (ok,) = list(read("geoqa_plus", base, "dev"))  # the other split still imports
    assert isinstance(ok, DatasetImage) and ok.questions[0].answer == "140°"


def test_an_unparsable_pickle_is_one_bad_record(tmp_path: Path):
    data = pickle.dumps([_geoqa_record(0, "问", ["1", "2"], 0, _array(1), [], [])])
    (tmp_path / "calculation_test.pk").write_bytes(data[: len(data) // 3])
    (bad,) = list(read("unigeo", tmp_path, "test"))
    assert isinstance(bad, BadRecord) and bad.record == "calculation_test.pk"
    assert "not a valid pickle" in bad.reason


def test_a_missing_split_names_what_is_missing(tmp_path: Path):
    with pytest.raises(SourceError, match="no test.pk under"):
        list(read("geoqa_plus", tmp_path, "test"))
    with pytest.raises(SourceError, match="no calculation_test.pk or proving_test.pk"):
        list(read("unigeo", tmp_path, "test"))
    with pytest.raises(SourceError, match="no folder 'val'"):
        list(read("geometry3k", tmp_path, "val"))


def test_programs_follow_the_released_operators():
    steps, value = run_program(["gougu_minus", "N_0", "N_1", "g_mul", "V_0", "C_5"], [5.0, 3.0])
    assert value == pytest.approx(4 * 3.141592653589793)
    assert steps[0] == "gougu_minus(N_0, N_1) → V_0: leg (Pythagoras), √|5² − 3²| = 4"
    assert steps[1] == "g_mul(V_0, C_5) → V_1: product, 4 × π = 12.5664"
    assert run_program(["g_sin", "N_0"], [30.0])[1] == pytest.approx(0.5)
    steps, value = run_program(["g_sin", "N_0"], [31.0])  # operators.py defines sin of multiples of 15° only
    assert value is None and steps == ["g_sin(N_0) → V_0: sine, sin(31°) is not defined"]
    steps, value = run_program(["g_add", "N_0", "N_3"], [1.0])
    assert value is None and steps == ["g_add(N_0, N_3) → V_0: sum (operands not given)"]
    steps, value = run_program(["g_pow", "N_0"], [1.0])
    assert value is None and steps == ["unreadable program rest: g_pow N_0"]
