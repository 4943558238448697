"""The differences domain: two images whose changes are exactly the recorded ones, and answers from facts."""

from __future__ import annotations

import random
import re

import pytest
from PIL import Image, ImageChops, ImageDraw

from visinstruct.synth import get_domain
from visinstruct.synth.base import load_phrasings
from visinstruct.synth.style import COLORS

SHAPES = ["circle", "square", "triangle", "star", "diamond", "hexagon"]
COLOR_EN = [c[0] for c in COLORS]
COLOR_ZH = [c[1] for c in COLORS]
SHAPE_ZH = ["圆形", "正方形", "三角形", "五角星", "菱形", "六边形"]
REGIONS = ["top-left", "top-right", "bottom-left", "bottom-right", "center"]
REGION_ZH = ["左上角", "右上角", "左下角", "右下角", "中央"]
SLOTS = {
    "obj": rf"(?:small|large) (?:{'|'.join(COLOR_EN)}) (?:{'|'.join(SHAPES)})",
    "n": r"\d+",
    "color": "|".join(COLOR_EN),
}
SEEDS = range(150)
CATEGORIES = {"counting", "color", "shape", "existence", "localization", "change_detection"}


def domain():
    return get_domain("differences")


def parse(key: str, text: str) -> dict[str, str]:
    for template in load_phrasings("differences")[key]["en"]:
        parts = re.split(r"\{(\w+)\}", template)
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{SLOTS[p]})" for i, p in enumerate(parts))
        m = re.fullmatch(rx, text)
        if m:
            return m.groupdict()
    raise AssertionError(f"{key}: cannot parse {text!r}")


def trip(o):
    return f"{o['size']} {o['color']} {o['shape']}"


def recomputed_changes(objs1, objs2):
    """The changes found by comparing the two object lists by id."""
    a, b = {o["id"]: o for o in objs1}, {o["id"]: o for o in objs2}
    out = []
    for i in sorted(set(a) | set(b)):
        if i not in b:
            out.append(("removed", i))
        elif i not in a:
            out.append(("added", i))
        elif a[i]["color"] != b[i]["color"]:
            assert (a[i]["shape"], a[i]["x"], a[i]["y"]) == (b[i]["shape"], b[i]["x"], b[i]["y"])
            out.append(("recolored", i))
        elif a[i]["shape"] != b[i]["shape"]:
            assert (a[i]["x"], a[i]["y"]) == (b[i]["x"], b[i]["y"])
            out.append(("reshaped", i))
        elif (a[i]["x"], a[i]["y"]) != (b[i]["x"], b[i]["y"]):
            out.append(("moved", i))
        else:
            assert a[i] == b[i]
    return out


def apart(p, q, gap=0):
    return p[2] + gap < q[0] or q[2] + gap < p[0] or p[3] + gap < q[1] or q[3] + gap < p[1]


def region_of(o, w, h):
    nx, ny = o["x"] / w - 0.5, o["y"] / h - 0.5
    if abs(nx) < 0.1 and abs(ny) < 0.1:
        return "center"
    assert abs(nx) >= 0.17 and abs(ny) >= 0.17
    return ("top" if ny < 0 else "bottom") + "-" + ("left" if nx < 0 else "right")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_type_present_and_well_formed(lang):
    d = domain()
    assert d.images_per_item == 2
    for seed in SEEDS:
        item = d.make(random.Random(seed), lang)
        assert len(item.images) == 2 and item.images[0].size == item.images[1].size
        assert {"judgement", "multiple_choice", "short_vqa", "long_vqa"} <= {q.type for q in item.questions}
        judg = [q for q in item.questions if q.type == "judgement"]
        assert len(judg) % 2 == 0 and sum(q.truth for q in judg) * 2 == len(judg)
        for q in item.questions:
            assert q.category in CATEGORIES
            first = q.turns[0][0]
            assert ("第一张图" in first or "第二张图" in first) if lang == "zh" else "image" in first
            for a, b in q.turns:
                assert "{" not in a + b and "}" not in a + b
                if lang == "zh":
                    assert re.search(r"[\u4e00-\u9fff]", a)
            if q.type == "multiple_choice":
                opts = [q.correct, *q.distractors]
                assert len(q.distractors) == 3 and len({o.casefold() for o in opts}) == 4
            if q.type == "short_vqa":
                assert len(q.turns) == 1 and q.short_answer == q.turns[0][1] and q.short_answer
            if q.type == "long_vqa":
                assert 2 <= len(q.turns) <= 4
            if (
                lang == "zh"
                and q.type == "short_vqa"
                and q.phrasing in ("new_color", "new_shape", "moved_where")
            ):
                assert (
                    q.short_answer
                    in {"new_color": COLOR_ZH, "new_shape": SHAPE_ZH, "moved_where": REGION_ZH}[q.phrasing]
                )


def test_changes_are_exactly_the_recorded_ones():
    d = domain()
    kinds = set()
    for seed in SEEDS:
        item = d.make(random.Random(seed), "en")
        f = item.facts
        objs1, objs2, changes = f["objects_1"], f["objects_2"], f["changes"]
        assert 1 <= len(changes) <= 3
        assert sorted(recomputed_changes(objs1, objs2)) == sorted((c["type"], c["id"]) for c in changes)
        kinds |= {c["type"] for c in changes}
        for objs in (objs1, objs2):
            for i, a in enumerate(objs):
                for b in objs[i + 1 :]:
                    assert apart(a["bbox"], b["bbox"])
        t1, t2 = [trip(o) for o in objs1], [trip(o) for o in objs2]
        for c in changes:
            if c["before"]:
                assert t1.count(trip(c["before"])) == 1
            if c["after"]:
                assert t2.count(trip(c["after"])) == 1
                if c["type"] != "recolored" and c["type"] != "reshaped":  # new space, empty in image 1 too
                    assert all(apart(c["after"]["bbox"], o["bbox"]) for o in objs1)
            if c["type"] in ("added", "recolored", "reshaped"):
                assert trip(c["after"]) not in t1
            if c["type"] == "added":  # a new kind of object, not one of another size
                assert all(
                    (o["color"], o["shape"]) != (c["after"]["color"], c["after"]["shape"]) for o in objs1
                )
        # the pixels differ only where a change happened
        a, b = item.images
        diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v else 0)
        assert diff.getbbox() is not None
        allowed = Image.new("L", a.size, 0)
        draw = ImageDraw.Draw(allowed)
        for c in changes:
            for o in (c["before"], c["after"]):
                if o:
                    x0, y0, x1, y1 = o["bbox"]
                    draw.rectangle([x0 - 4, y0 - 4, x1 + 10, y1 + 10], fill=255)
        assert ImageChops.subtract(diff, allowed).getbbox() is None
    assert kinds == {"removed", "added", "recolored", "reshaped", "moved"}


def test_answers_recomputed_from_facts():
    d = domain()
    seen = set()
    for seed in SEEDS:
        item = d.make(random.Random(seed), "en")
        f = item.facts
        objs1, objs2, changes, w, h = f["objects_1"], f["objects_2"], f["changes"], f["width"], f["height"]
        t1, t2 = [trip(o) for o in objs1], [trip(o) for o in objs2]
        of_kind = {
            k: [c for c in changes if c["type"] == k]
            for k in ("removed", "added", "recolored", "reshaped", "moved")
        }

        def before(kind, text, of_kind=of_kind):
            found = [c for c in of_kind[kind] if trip(c["before"]) == text]
            assert len(found) == 1
            return found[0]

        for q in item.questions:
            key, text = q.phrasing, q.turns[0][0]
            seen.add((q.type, key))
            answer = q.short_answer if q.type == "short_vqa" else q.correct
            if q.type == "judgement":
                v = parse(key, text)
                if key == "jd_count":
                    truth = int(v["n"]) == len(changes)
                elif key == "jd_both":
                    truth = v["obj"] in t1 and v["obj"] in t2
                elif key == "jd_color_now":
                    truth = before("recolored", v["obj"])["after"]["color"] == v["color"]
                elif key == "jd_missing":
                    assert v["obj"] in t1
                    truth = v["obj"] not in t2
                elif key == "jd_new":
                    assert v["obj"] in t2
                    truth = v["obj"] not in t1
                elif key == "jd_same_place":
                    a, b = (next(o for o in objs if trip(o) == v["obj"]) for objs in (objs1, objs2))
                    truth = (a["x"], a["y"]) == (b["x"], b["y"])
                else:
                    raise AssertionError(key)
                assert truth == q.truth, text
            elif q.type in ("short_vqa", "multiple_choice"):
                wrong = q.distractors
                if key == "count_diff":
                    assert answer == str(len(changes))
                elif key in ("count_objects_1", "count_objects_2"):
                    assert answer == str(len(objs1 if key.endswith("1") else objs2))
                elif key == "new_color":
                    assert answer == before("recolored", parse(key, text)["obj"])["after"]["color"]
                elif key == "new_shape":
                    assert answer == before("reshaped", parse(key, text)["obj"])["after"]["shape"]
                elif key == "moved_where":
                    assert answer == region_of(before("moved", parse(key, text)["obj"])["after"], w, h)
                elif key in ("which_missing", "which_recolored", "which_moved"):
                    kind = {
                        "which_missing": "removed",
                        "which_recolored": "recolored",
                        "which_moved": "moved",
                    }[key]
                    names = [trip(c["before"]) for c in of_kind[kind]]
                    assert answer in names and not set(wrong) & set(names)
                    if q.type == "short_vqa":
                        assert len(names) == 1
                elif key == "which_added":
                    names = [trip(c["after"]) for c in of_kind["added"]]
                    assert answer in names and not set(wrong) & set(names)
                    if q.type == "short_vqa":
                        assert len(names) == 1
                else:
                    raise AssertionError(key)
            else:
                listed = [line for line in q.turns[0][1].split("\n") if re.match(r"\d+\. ", line)]
                assert len(listed) == len(changes)
                assert str(len(changes)) in q.turns[1][1]
                if len(q.turns) == 3:
                    assert str(len(objs1)) in q.turns[2][1] and str(len(objs2)) in q.turns[2][1]
    assert len({k for t, k in seen if t == "judgement"}) == 6
    assert len({k for t, k in seen if t == "multiple_choice"}) >= 6
    assert len({k for t, k in seen if t == "short_vqa"}) >= 7


def test_same_seed_same_item_other_seed_differs():
    d = domain()
    for lang in ("en", "zh"):
        a, b = d.make(random.Random(5), lang), d.make(random.Random(5), lang)
        assert [i.tobytes() for i in a.images] == [i.tobytes() for i in b.images]
        assert a.questions == b.questions and a.facts == b.facts
    firsts = {d.make(random.Random(s), "en").images[0].tobytes() for s in range(20)}
    assert len(firsts) == 20
