"""CLEVR-Math and Super-CLEVR readers: the question files as the generators write them, images
drawn here, every usable question kept with its native answer, bad records one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from expand_expect import Expected
from PIL import Image, ImageDraw

from visinstruct.expand import BadRecord, DatasetImage, read
from visinstruct.expand.clevr import program_steps
from visinstruct.sources.ingest import SourceError

COLORS = {"red": (173, 35, 35), "blue": (42, 75, 215), "gray": (87, 87, 87), "green": (29, 105, 20)}


def draw_scene(path: Path, objects: list[dict]) -> None:
    """A CLEVR-like picture: each object a coloured disc (sphere/cylinder) or square (cube)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (160, 120), (200, 200, 200))
    d = ImageDraw.Draw(img)
    for o in objects:
        pc = o["pixel_coords"][0] if isinstance(o["pixel_coords"][0], list) else o["pixel_coords"]
        x, y = pc[0], pc[1]
        r = 14 if o["size"] == "large" else 8
        box = (x - r, y - r, x + r, y + r)
        fill = COLORS[o["color"]]
        (d.rectangle if o["shape"] == "cube" else d.ellipse)(box, fill=fill)
    img.save(path)


def obj(color: str, shape: str, size: str = "small", x: int = 40, y: int = 60) -> dict:
    return {
        "color": color,
        "shape": shape,
        "size": size,
        "material": "rubber",
        "pixel_coords": [x, y, 10.5],
        "3d_coords": [0.1, 0.2, 0.3],
        "rotation": 12.0,
    }


def node(fn: str, inputs: list[int], *vals: str, key: str = "type") -> dict:
    return {key: fn, "inputs": inputs, "value_inputs": list(vals)}


SUB_RED_CYL = [
    node("scene", []),
    node("filter_shape", [0], "cylinder"),
    node("filter_color", [1], "red"),
    node("count", [1]),
    node("count", [2]),
    node("subtraction", [3, 4]),
]
SUB_RED_CYL_OBJECTS = [
    node("scene", []),
    node("count", [0]),
    node("filter_shape", [0], "cylinder"),
    node("filter_color", [2], "red"),
    node("count", [3]),
    node("subtraction", [1, 4]),
]
ADD_CUBES = [node("scene", []), node("count", [0]), node("count", [0]), node("addition", [1, 2])]


def build_clevr_math(root: Path) -> Expected:
    """CLEVR-Math's val split: `clevr-math-val.json`, images under `CLEVR_v1.0/images/val/`,
    scenes in `CLEVR_v1.0/scenes/CLEVR_val_scenes.json`; two images drawn, a third missing."""
    base = root / "clevr_math"
    scenes = {
        "CLEVR_val_000000.png": [
            obj("red", "cylinder", x=30),
            obj("blue", "cylinder", x=70),
            obj("gray", "cube", x=110),
        ],
        "CLEVR_val_000001.png": [
            obj("red", "cylinder", x=30),
            obj("red", "cylinder", x=70),
            obj("green", "cylinder", "large", x=110),
            obj("blue", "sphere", x=130),
        ],
    }
    for name, objects in scenes.items():
        draw_scene(base / "CLEVR_v1.0" / "images" / "val" / name, objects)
    scene_file = base / "CLEVR_v1.0" / "scenes" / "CLEVR_val_scenes.json"
    scene_file.parent.mkdir(parents=True)
    scene_file.write_text(
        json.dumps(
            {
                "info": {"split": "val"},
                "scenes": [
                    {"image_filename": n, "image_index": i, "split": "val", "objects": o}
                    for i, (n, o) in enumerate(scenes.items())
                ],
            }
        )
    )

    def q(index: int, image: int, text: str, answer, program, template="subtraction.json") -> dict:
        return {
            "split": "val",
            "image_filename": f"CLEVR_val_{image:06d}.png",
            "image_index": image,
            "image": f"CLEVR_val_{image:06d}",
            "question": text,
            "program": program,
            "answer": answer,
            "template_filename": template,
            "question_family_index": 0,
            "question_index": index,
        }

    questions = [
        q(0, 0, "Subtract all red cylinders. How many cylinders are left?", 1, SUB_RED_CYL),
        q(1, 0, "Add 2 cubes. How many objects exist?", 5, ADD_CUBES, "addition.json"),
        q(2, 1, "Subtract all red cylinders. How many cylinders are left?", 1, SUB_RED_CYL),
        q(3, 2, "Subtract all red cylinders. How many cylinders are left?", 0, SUB_RED_CYL),  # image missing
        q(
            4, 1, "Subtract all red cylinders. How many cylinders are left?", "three", SUB_RED_CYL
        ),  # not a number
        "not a question record",
        q(6, 1, "Subtract all blue spheres. How many objects are left?", None, SUB_RED_CYL),  # no answer
        q(7, 1, "Subtract all red cylinders. How many objects are left?", 2, SUB_RED_CYL_OBJECTS),
    ]
    (base / "clevr-math-val.json").write_text(json.dumps({"info": {"split": "val"}, "questions": questions}))
    return Expected(
        dataset="clevr_math",
        path="clevr_math",
        split="val",
        answers={"0": "1", "1": "5", "2": "1", "7": "2"},
        bad={"3", "4", "#5", "6"},
        images=2,
    )


def build_super_clevr(root: Path) -> Expected:
    """Super-CLEVR as downloaded: `superCLEVR_questions_30k.json`, `superCLEVR_scenes.json`,
    `images/`; bool, int and str answers; an image of the val range that train must skip."""
    base = root / "super_clevr"
    scenes = {
        0: [obj("red", "truck", x=40), obj("blue", "bus", "large", x=100)],
        1: [obj("gray", "suv", x=60)],
        20000: [obj("green", "bicycle", x=60)],  # the first val image
    }
    for index, objects in scenes.items():
        for o in objects:
            o["pixel_coords"] = [o["pixel_coords"], [640, 480]]
        draw_scene(base / "images" / f"superCLEVR_new_{index:06d}.png", objects)
    (base / "superCLEVR_scenes.json").write_text(
        json.dumps(
            {
                "info": {"split": "new"},
                "scenes": [
                    {"image_filename": f"superCLEVR_new_{i:06d}.png", "image_index": i, "objects": o}
                    for i, o in scenes.items()
                ],
            }
        )
    )
    count_trucks = [
        node("scene", [], key="function"),
        node("filter_shape", [0], "truck", key="function"),
        node("count", [1], key="function"),
    ]
    equal = [
        node("scene", [], key="function"),
        node("filter_shape", [0], "truck", key="function"),
        node("count", [1], key="function"),
        node("filter_shape", [0], "bus", key="function"),
        node("count", [3], key="function"),
        node("equal_integer", [2, 4], key="function"),
    ]
    color = [
        node("scene", [], key="function"),
        node("filter_size", [0], "large", key="function"),
        node("unique", [1], key="function"),
        node("query_color", [2], key="function"),
    ]

    def q(index: int, image: int, text: str, answer, program=None, template="one_hop.json") -> dict:
        out = {
            "split": "new",
            "image_filename": f"superCLEVR_new_{image:06d}.png",
            "image_index": image,
            "image": f"superCLEVR_new_{image:06d}",
            "question": text,
            "answer": answer,
            "template_filename": template,
            "question_family_index": 0,
            "question_index": index,
        }
        if program is not None:
            out["program"] = program
        return out

    questions = [
        q(
            0,
            0,
            "Is the number of trucks the same as the number of buses?",
            True,
            equal,
            "compare_integer.json",
        ),
        q(1, 0, "How many trucks are there?", 1, count_trucks),
        q(2, 0, "What is the color of the large object?", "blue", color),
        q(3, 1, "Are there any suvs?", True, None, "zero_hop.json"),  # no program, as in the released sample
        q(4, 20000, "How many bicycles are there?", 1, count_trucks),  # val split: not in train
        q(5, 3, "How many trucks are there?", 0, count_trucks),  # image file missing
        q(6, 1, "What is it?", ["suv"], None),  # answer not one value
        q(7, 1, "How many trucks are there?", True, count_trucks),  # a count answered yes/no
        q(8, 1, "What size is the suv?", "small", None, "query.json"),
    ]
    (base / "superCLEVR_questions_30k.json").write_text(
        json.dumps({"info": {"split": "new"}, "questions": questions})
    )
    return Expected(
        dataset="super_clevr",
        path="super_clevr",
        split="train",
        answers={"0": "yes", "1": "1", "2": "blue", "3": "yes", "8": "small"},
        bad={"5", "6", "7"},
        images=2,
    )


def outcome(items: list) -> tuple[dict[str, str], set[str], list[DatasetImage]]:
    """(answers of usable questions, ids of refused records, usable images) of a reader's
    output; the questions of an image that cannot be used count as refused."""
    answers, bad, images = {}, set(), []
    for it in items:
        if isinstance(it, BadRecord):
            bad.add(it.record)
            continue
        bad |= {b.record for b in it.bad}
        if it.error:
            bad |= {t.qid for t in it.questions}
            continue
        images.append(it)
        for t in it.questions:
            assert t.qid not in answers
            answers[t.qid] = t.answer
    return answers, bad, images


@pytest.mark.parametrize("builder", [build_clevr_math, build_super_clevr])
def test_every_question_kept_with_its_answer(tmp_path: Path, builder) -> None:
    exp = builder(tmp_path)
    items = list(read(exp.dataset, tmp_path / exp.path, exp.split))
    answers, bad, images = outcome(items)
    assert answers == exp.answers
    assert bad == exp.bad
    assert len(images) == exp.images
    for it in items:
        if isinstance(it, BadRecord):
            assert it.dataset == exp.dataset and it.reason
    for img in images:
        assert Path(img.path).is_file() and img.provenance["dataset"] == exp.dataset
        assert img.provenance["split"] == exp.split and img.provenance["file"].endswith(".json")


def test_clevr_math_questions_on_one_image_and_programs_as_steps(tmp_path: Path) -> None:
    exp = build_clevr_math(tmp_path)
    items = list(read("clevr_math", tmp_path / exp.path, "val"))
    first = next(i for i in items if isinstance(i, DatasetImage) and i.ref.endswith("CLEVR_val_000000"))
    assert [t.qid for t in first.questions] == ["0", "1"]  # two questions, one image
    sub, add = first.questions
    assert (sub.kind, sub.category, sub.answer_raw) == ("number", "subtraction", 1)
    assert add.category == "addition" and add.facts["template"] == "addition"
    assert sub.solution == [
        "Start from all objects in the scene.",
        "Keep the cylinders.",
        "Keep the red cylinders.",
        "Count the cylinders.",
        "Count the red cylinders.",
        "Subtract the number of the red cylinders from the number of the cylinders.",
    ]
    assert [o["color"] for o in sub.facts["objects"]] == ["red", "blue", "gray"]  # the scene's exact facts
    assert sub.facts["objects"][0]["x"] == 30
    assert first.domain == "numerical_calculation" and first.license
    reasons = {b.record: b.reason for b in items if isinstance(b, BadRecord)}
    second = next(i for i in items if isinstance(i, DatasetImage) and i.ref.endswith("CLEVR_val_000001"))
    reasons |= {b.record: b.reason for b in second.bad}
    assert "not a number" in reasons["4"] and "subtraction" in reasons["4"]
    assert "not an object" in reasons["#5"]
    missing = next(i for i in items if isinstance(i, DatasetImage) and i.error)
    assert "not found" in missing.error and [t.qid for t in missing.questions] == ["3"]


def test_super_clevr_native_types_and_split_by_image_index(tmp_path: Path) -> None:
    exp = build_super_clevr(tmp_path)
    truths = {
        t.qid: t
        for i in read("super_clevr", tmp_path / exp.path, "train")
        if isinstance(i, DatasetImage)
        for t in i.questions
    }
    assert (truths["0"].kind, truths["0"].answer, truths["0"].category) == ("yes_no", "yes", "equal_integer")
    assert (truths["1"].kind, truths["1"].category) == ("number", "count")
    assert (truths["2"].kind, truths["2"].category) == ("text", "query_color")
    assert truths["2"].solution[-1] == "Find the color of the large object."
    assert truths["3"].category == "zero_hop" and truths["3"].solution == []  # no program: the template
    val = [
        t.qid
        for i in read("super_clevr", tmp_path / exp.path, "val")
        if isinstance(i, DatasetImage)
        for t in i.questions
    ]
    assert val == ["4"]
    every = read("super_clevr", tmp_path / exp.path / "superCLEVR_questions_30k.json", "all")
    assert "4" in outcome(list(every))[0]


def test_missing_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="clevr-math-train.json"):
        list(read("clevr_math", tmp_path, "train"))
    with pytest.raises(SourceError, match="superCLEVR_questions"):
        list(read("super_clevr", tmp_path, "train"))
    (tmp_path / "clevr-math-train.json").write_text("{broken")
    with pytest.raises(SourceError, match="not valid JSON"):
        list(read("clevr_math", tmp_path, "train"))


def test_unknown_functions_still_render() -> None:
    steps = program_steps([node("scene", []), node("relate", [0], "left"), node("mystery_op", [1], "x")])
    assert steps[1] == "Look at the objects to the left of the object."
    assert steps[2].startswith("Apply mystery op (x)")
