"""The scenes domain: every answer recomputed from the facts, by parsing the English questions."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest

from visinstruct.synth import get_domain
from visinstruct.synth.base import load_phrasings
from visinstruct.synth.style import COLORS

SHAPES = ["circle", "square", "triangle", "star", "diamond", "hexagon", "sphere", "cube", "cylinder"]
COLOR_EN = [c[0] for c in COLORS]
COLOR_ZH = [c[1] for c in COLORS]
SHAPE_ZH = ["圆形", "正方形", "三角形", "五角星", "菱形", "六边形", "球体", "立方体", "圆柱体"]
REGION_ZH = ["左上角", "右上角", "左下角", "右下角", "中央"]
REGIONS = ["top-left", "top-right", "bottom-left", "bottom-right", "center"]
REL = {"to the left of": "left", "to the right of": "right", "above": "above", "below": "below"}

_DESC = rf"(?:(?:small|large) )?(?:(?:{'|'.join(COLOR_EN)}) )?(?:{'|'.join([*SHAPES, 'object'])})"
SLOTS = {
    "obj": _DESC,
    "a": _DESC + "s?",
    "b": _DESC + "s?",
    "things": _DESC + "s",
    "thing": "an? " + _DESC,
    "n": r"\d+",
    "color": "|".join(COLOR_EN),
    "shape": "|".join(SHAPES),
    "region": "|".join(REGIONS),
    "rel": "|".join(REL),
    "side": "left|right|top|bottom",
}
SEEDS = range(120)
CATEGORIES = {"counting", "color", "shape", "spatial_relation", "localization", "comparison", "existence"}


def domain():
    return get_domain("scenes")


def parse(key: str, text: str) -> dict[str, str]:
    """The placeholder values of an English question made from phrasing `key`."""
    slots = {**SLOTS, "a": SLOTS["color"], "b": SLOTS["color"]} if key == "more_color" else SLOTS
    for template in load_phrasings("scenes")[key]["en"]:
        parts = re.split(r"\{(\w+)\}", template)
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{slots[p]})" for i, p in enumerate(parts))
        m = re.fullmatch(rx, text)
        if m:
            return m.groupdict()
    raise AssertionError(f"{key}: cannot parse {text!r}")


def attrs(text: str) -> tuple:
    """'large red circle' / 'red objects' / 'a red circle' -> (size, colour, shape)."""
    words = text.split()
    if words[0] in ("a", "an"):
        words = words[1:]
    size = words[0] if words[0] in ("small", "large") else None
    color = next((w for w in words if w in COLOR_EN), None)
    noun = words[-1]
    noun = noun[:-1] if noun.endswith("s") and noun[:-1] in [*SHAPES, "object"] else noun
    return size, color, (noun if noun in SHAPES else None)


def matching(objs, text):
    size, color, shape = attrs(text)
    return [
        o
        for o in objs
        if (size in (None, o["size"])) and (color in (None, o["color"])) and (shape in (None, o["shape"]))
    ]


def one(objs, text):
    found = matching(objs, text)
    assert len(found) == 1, f"{text!r} matches {len(found)} objects"
    return found[0]


def region_of(o, w, h):
    nx, ny = o["x"] / w - 0.5, o["y"] / h - 0.5
    if abs(nx) < 0.1 and abs(ny) < 0.1:
        return "center"
    assert abs(nx) >= 0.17 and abs(ny) >= 0.17, "asked about an object near a region border"
    return ("top" if ny < 0 else "bottom") + "-" + ("left" if nx < 0 else "right")


def holds(a, b, rel, w, h):
    """The relation holds clearly: bounding boxes apart and centres well separated."""
    if rel == "left":
        return a["bbox"][2] < b["bbox"][0] and b["x"] - a["x"] >= 0.12 * w
    if rel == "right":
        return holds(b, a, "left", w, h)
    if rel == "above":
        return a["bbox"][3] < b["bbox"][1] and b["y"] - a["y"] >= 0.12 * h
    return holds(b, a, "above", w, h)


def count_of(objs, text):
    return len(matching(objs, text))


def truth_of(key, v, facts):
    """Recompute a judgement question's truth from the facts."""
    objs, w, h = facts["objects"], facts["width"], facts["height"]
    if key == "j_count":
        return count_of(objs, v["things"]) == int(v["n"])
    if key == "j_color":
        return one(objs, v["obj"])["color"] == v["color"]
    if key == "j_shape":
        return one(objs, v["obj"])["shape"] == v["shape"]
    if key == "j_spatial":
        a, b, rel = one(objs, v["a"]), one(objs, v["b"]), REL[v["rel"]]
        opposite = {"left": "right", "right": "left", "above": "below", "below": "above"}[rel]
        assert holds(a, b, rel, w, h) or holds(a, b, opposite, w, h), "relation not clear either way"
        return holds(a, b, rel, w, h)
    if key == "j_region":
        return region_of(one(objs, v["obj"]), w, h) == v["region"]
    if key == "j_more":
        na, nb = count_of(objs, v["a"]), count_of(objs, v["b"])
        assert na != nb
        return na > nb
    if key == "j_exist":
        return count_of(objs, v["thing"]) > 0
    raise AssertionError(key)


def answer_of(key, v, facts):
    """Recompute a short/multiple-choice answer (English) from the facts."""
    objs, w, h = facts["objects"], facts["width"], facts["height"]
    if key == "count":
        return str(count_of(objs, v["things"]))
    if key == "color_of":
        return one(objs, v["obj"])["color"]
    if key == "shape_of":
        return one(objs, v["obj"])["shape"]
    if key == "region_of":
        return region_of(one(objs, v["obj"]), w, h)
    if key in ("left_or_right", "above_or_below"):
        a, b = one(objs, v["a"]), one(objs, v["b"])
        rels = ("left", "right") if key == "left_or_right" else ("above", "below")
        got = [r for r in rels if holds(a, b, r, w, h)]
        assert len(got) == 1
        return got[0]
    if key == "more_color":
        na, nb = (sum(o["color"] == v[k] for o in objs) for k in ("a", "b"))
        assert na != nb
        return v["a"] if na > nb else v["b"]
    raise AssertionError(key)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_type_present_and_well_formed(lang):
    d = domain()
    for seed in SEEDS:
        item = d.make(random.Random(seed), lang)
        types = [q.type for q in item.questions]
        assert {"judgement", "multiple_choice", "short_vqa", "long_vqa"} <= set(types)
        judg = [q for q in item.questions if q.type == "judgement"]
        assert len(judg) % 2 == 0 and sum(q.truth for q in judg) * 2 == len(judg)
        for q in item.questions:
            assert q.category in {
                "counting",
                "color",
                "shape",
                "spatial_relation",
                "localization",
                "comparison",
                "existence",
            }
            for a, b in q.turns:
                assert "{" not in a + b and "}" not in a + b
                if lang == "zh":
                    assert re.search(r"[\u4e00-\u9fff]", a)
            if q.type == "multiple_choice":
                opts = [q.correct, *q.distractors]
                assert len(q.distractors) == 3 and len({o.casefold() for o in opts}) == 4
                assert all(isinstance(o, str) and o for o in opts)
            if q.type == "short_vqa":
                assert len(q.turns) == 1 and q.short_answer == q.turns[0][1] and q.short_answer
            if q.type == "long_vqa":
                assert 2 <= len(q.turns) <= 4 and all(b for _, b in q.turns)
        assert len(item.images) == 1


def test_facts_describe_the_objects():
    d = domain()
    for seed in SEEDS:
        facts = d.make(random.Random(seed), "en").facts
        objs, w, h = facts["objects"], facts["width"], facts["height"]
        assert 3 <= len(objs) <= 10
        assert item_size_ok(w, h)
        for o in objs:
            x0, y0, x1, y1 = o["bbox"]
            assert 0 <= x0 < o["x"] < x1 < w and 0 <= y0 < o["y"] < y1 < h
            exact = [x0 * 1000 / w, y0 * 1000 / h, x1 * 1000 / w, y1 * 1000 / h]
            assert all(abs(n - v) <= 0.5 for n, v in zip(o["bbox_norm"], exact, strict=True))
        for i, a in enumerate(objs):  # no two objects overlap but those recorded as one in front
            for b in objs[i + 1 :]:
                ax0, ay0, ax1, ay1 = a["bbox"]
                bx0, by0, bx1, by1 = b["bbox"]
                apart = ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0
                assert apart or b["id"] in a["occluded_by"], (a, b)


def item_size_ok(w, h):
    return 300 <= w <= 800 and 300 <= h <= 800


def test_answers_recomputed_from_facts():
    d = domain()
    seen = set()
    for seed in SEEDS:
        item = d.make(random.Random(seed), "en")
        facts = item.facts
        for q in item.questions:
            text = q.turns[0][0]
            if q.type == "judgement":
                assert truth_of(q.phrasing, parse(q.phrasing, text), facts) == q.truth, text
            elif q.type == "short_vqa":
                assert answer_of(q.phrasing, parse(q.phrasing, text), facts) == q.short_answer, text
            elif q.type == "multiple_choice":
                check_choice(q, text, facts)
            else:
                check_long(q, facts)
            seen.add((q.type, q.phrasing))
    # the variety is real: many kinds show up over the seeds
    assert len({k for t, k in seen if t == "judgement"}) >= 6
    assert len({k for t, k in seen if t == "multiple_choice"}) >= 7
    assert len({k for t, k in seen if t == "short_vqa"}) >= 6
    assert len({k for t, k in seen if t == "long_vqa"}) >= 4


def check_choice(q, text, facts):
    objs, w, h = facts["objects"], facts["width"], facts["height"]
    key = q.phrasing
    if key in ("count", "color_of", "shape_of", "region_of"):
        assert answer_of(key, parse(key, text), facts) == q.correct, text
        if key == "count":
            assert int(q.correct) >= 1
    elif key == "extreme":
        side = parse(key, text)["side"]
        opts = [one(objs, o) for o in [q.correct, *q.distractors]]
        keyf = {
            "left": lambda o: o["x"],
            "right": lambda o: -o["x"],
            "top": lambda o: o["y"],
            "bottom": lambda o: -o["y"],
        }[side]
        ranked = sorted(opts, key=keyf)
        assert ranked[0] is opts[0]
        axis, size = ("x", w) if side in ("left", "right") else ("y", h)
        assert abs(ranked[1][axis] - ranked[0][axis]) >= 0.1 * size
        edge = {"left": 0, "top": 1, "right": 2, "bottom": 3}[side]
        sign = 1 if side in ("left", "top") else -1
        assert all(sign * opts[0]["bbox"][edge] < sign * o["bbox"][edge] for o in opts[1:])
    elif key in ("common_color", "common_shape"):
        attr = key.split("_")[1]
        counts = {}
        for o in objs:
            counts[o[attr]] = counts.get(o[attr], 0) + 1
        best = max(counts.values())
        assert [k for k, n in counts.items() if n == best] == [q.correct]
    elif key == "which_present":
        assert count_of(objs, q.correct) > 0 and all(count_of(objs, o) == 0 for o in q.distractors)
    elif key == "which_absent":
        assert count_of(objs, q.correct) == 0 and all(count_of(objs, o) > 0 for o in q.distractors)
    else:
        raise AssertionError(key)


def check_long(q, facts):
    objs = facts["objects"]
    first = q.turns[0][0]
    if q.phrasing == "l_total_q":
        things = parse("l_count_q", first)["things"]
        n = count_of(objs, things)
        assert q.turns[0][1].endswith(f" {n}.") or f"makes {n} in total" in q.turns[0][1]
        assert f"{len(objs)} - {n} = {len(objs) - n}" in q.turns[1][1]
    elif q.phrasing == "l_bbox_q":
        turn = next(t for t in q.turns if t[0].startswith(("Give", "Locate")))
        o = one(objs, parse("l_bbox_q", turn[0])["obj"])
        nb = o["bbox_norm"]
        assert f"[{nb[0]}, {nb[1]}, {nb[2]}, {nb[3]}]" in turn[1]
    elif q.phrasing in ("l_more_yes", "l_more_no"):
        v = parse("j_more", q.turns[2][0])
        assert truth_of("j_more", v, facts) == (q.phrasing == "l_more_yes")
        assert q.turns[2][1].startswith("Yes" if q.phrasing == "l_more_yes" else "No")
    elif q.phrasing in ("l_rel_x", "l_rel_y"):
        v = parse("j_spatial", q.turns[2][0])
        assert q.turns[2][1].startswith("Yes" if truth_of("j_spatial", v, facts) else "No")
    else:
        raise AssertionError(q.phrasing)


def test_chinese_answers_use_chinese_vocabulary():
    d = domain()
    vocab = {
        "color_of": COLOR_ZH,
        "shape_of": SHAPE_ZH,
        "region_of": REGION_ZH,
        "more_color": COLOR_ZH,
        "left_or_right": ["左边", "右边"],
        "above_or_below": ["上方", "下方"],
    }
    for seed in SEEDS:
        for q in d.make(random.Random(seed), "zh").questions:
            if q.type == "short_vqa":
                if q.phrasing == "count":
                    assert q.short_answer.isdigit()
                else:
                    assert q.short_answer in vocab[q.phrasing]
            if q.type == "multiple_choice" and q.phrasing in vocab:
                assert all(o in vocab[q.phrasing] for o in [q.correct, *q.distractors])


def test_same_seed_same_item_other_seed_differs():
    d = domain()
    for lang in ("en", "zh"):
        a, b = d.make(random.Random(7), lang), d.make(random.Random(7), lang)
        assert a.images[0].tobytes() == b.images[0].tobytes()
        assert a.questions == b.questions and a.facts == b.facts
    imgs = {d.make(random.Random(s), "en").images[0].tobytes() for s in range(20)}
    assert len(imgs) == 20


def test_deterministic_across_processes():
    code = (
        "import random, hashlib; from visinstruct.synth import get_domain; "
        "it = get_domain('scenes').make(random.Random(11), 'zh'); "
        "print(hashlib.sha256(it.images[0].tobytes()).hexdigest(), [q.turns for q in it.questions])"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(s), "PATH": ""},
        ).stdout
        for s in (1, 2)
    }
    assert len(outs) == 1
