"""The geometry domain: every answer recomputed from the labelled values in the facts."""

from __future__ import annotations

import math
import random
import re

import pytest

from visinstruct.synth import get_domain
from visinstruct.synth.geometry import Geometry, base_angles_ok

SEEDS = range(150)
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
SHAPE_WORDS = {"rectangle": "rectangle", "parallelogram": "parallelogram", "trapezoid": "trapezoid"}


@pytest.fixture(scope="module")
def dom() -> Geometry:
    return Geometry()


def items(dom, lang, seeds=SEEDS):
    for seed in seeds:
        yield seed, dom.make(random.Random(seed), lang)


def num(v) -> str:
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def isqrt_exact(n: int) -> int:
    r = math.isqrt(n)
    assert r * r == n, f"{n} is not a perfect square"
    return r


def bare(facts, kind, v) -> str:
    if kind in ("pilen", "piarea"):
        if facts["pi_mode"] == "pi":
            return "π" if v == 1 else f"{num(v)}π"
        return num(round(v * 3.14, 2))
    return num(v)


def full(facts, kind, v) -> str:
    s = bare(facts, kind, v)
    if kind == "angle":
        return s + "°"
    unit = facts["unit"]
    if not unit:
        return s
    return f"{s} {unit}²" if kind in ("area", "piarea") else f"{s} {unit}"


def solve(facts) -> dict[str, tuple[str, float]]:
    """Every quantity of the figure as (kind, value), from the labelled values only."""
    fig, g = facts["figure"], facts["given"]
    out: dict[str, tuple[str, float]] = {}
    if fig == "rectangle":
        A, B, C, D = facts["vertices"]
        w = g.get(A + B, g.get(D + C))
        h = g.get(B + C, g.get(A + D))
        if h is None:
            h = isqrt_exact(g[A + C] ** 2 - w * w)
        assert w == facts["width"] and h == facts["height"]
        out["area"] = ("area", w * h)
        out["perimeter"] = ("len", 2 * (w + h))
        if math.isqrt(w * w + h * h) ** 2 == w * w + h * h:
            out["length:" + A + C] = ("len", math.isqrt(w * w + h * h))
        out["length:" + B + C] = ("len", h)
    elif fig == "square":
        (s,) = g.values()
        out["area"] = ("area", s * s)
        out["perimeter"] = ("len", 4 * s)
    elif fig == "right_triangle":
        A, B, C = facts["vertices"]
        assert facts["right_angle"] == C
        legs, hyp = [B + C, A + C], A + B
        vals = dict(g)
        if hyp not in vals:
            vals[hyp] = isqrt_exact(vals[legs[0]] ** 2 + vals[legs[1]] ** 2)
        for leg, other in (legs, legs[::-1]):
            if leg not in vals:
                vals[leg] = isqrt_exact(vals[hyp] ** 2 - vals[other] ** 2)
        for seg, v in vals.items():
            out["length:" + seg] = ("len", v)
        out["area"] = ("area", vals[legs[0]] * vals[legs[1]] / 2)
        out["perimeter"] = ("len", sum(vals.values()))
    elif fig in ("triangle_angles", "isosceles"):
        A, B, C = facts["vertices"]
        ang = dict(g)
        names = [B + A + C, A + B + C, A + C + B]
        if fig == "isosceles":
            if names[0] in ang:
                ang[names[1]] = ang[names[2]] = (180 - ang[names[0]]) / 2
            else:
                ang[names[2]] = ang[names[1]]
        missing = [n for n in names if n not in ang]
        if missing:
            (m,) = missing
            ang[m] = 180 - sum(ang[n] for n in names if n != m)
        assert sum(ang[n] for n in names) == 180
        for n in names:
            out["angle:" + n] = ("angle", ang[n])
        if facts.get("ext_point"):
            out["angle:" + C + B + facts["ext_point"]] = ("angle", 180 - ang[names[1]])
    elif fig == "triangle_sides":
        sides = dict(g)
        for s1, s2 in [facts["equal"]] if facts["equal"] else []:
            sides[s2] = sides[s1]
        assert len(sides) == 3
        assert sides == facts["sides"]
        for seg, v in sides.items():
            out["length:" + seg] = ("len", v)
        out["perimeter"] = ("len", sum(sides.values()))
    elif fig == "circle":
        ((seg, v),) = g.items()
        r = v if seg.startswith(facts["centre"]) else v / 2
        r = int(r)
        out["radius"] = ("len", r)
        out["diameter"] = ("len", 2 * r)
        out["area"] = ("piarea", r * r)
        out["circumference"] = ("pilen", 2 * r)
    elif fig == "parallelogram":
        A, B, C, D = facts["vertices"]
        b = g.get(A + B, g.get(D + C))
        h = g[D + facts["foot"]]
        out["area"] = ("area", b * h)
        if A + D in g:
            out["perimeter"] = ("len", 2 * (b + g[A + D]))
    elif fig == "trapezoid":
        A, B, C, D = facts["vertices"]
        a, b, h = g[D + C], g[A + B], g[facts["height_segment"]]
        out["area"] = ("area", (a + b) * h / 2)
        if B + C in g:
            assert facts["right"]
            out["perimeter"] = ("len", a + b + h + g[B + C])
    elif fig == "angles":
        (A, B, C, D), ctr = facts["rays"], facts["centre"]
        sub = facts["subtype"]
        if sub == "straight":
            out["angle:" + B + ctr + C] = ("angle", 180 - g[A + ctr + C])
        elif sub == "straight3":
            out["angle:" + D + ctr + B] = ("angle", 180 - g[A + ctr + C] - g[C + ctr + D])
        elif sub == "vertical":
            x = g[A + ctr + C]
            out["angle:" + B + ctr + D] = ("angle", x)
            out["angle:" + B + ctr + C] = ("angle", 180 - x)
            out["angle:" + A + ctr + D] = ("angle", 180 - x)
        else:
            out["angle:" + C + ctr + B] = ("angle", 90 - g[A + ctr + C])
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_types_judgement_balance_and_options(dom, lang):
    for seed, item in items(dom, lang):
        types = [q.type for q in item.questions]
        assert {"judgement", "multiple_choice", "short_vqa", "long_vqa"} <= set(types), seed
        judg = [q for q in item.questions if q.type == "judgement"]
        assert len(judg) % 2 == 0
        assert sum(q.truth for q in judg) == len(judg) // 2
        texts = [q.turns[0][0] for q in item.questions if q.type != "long_vqa"]
        assert len(texts) == len(set(texts)), seed
        for q in item.questions:
            assert q.category in {"length", "angle", "area", "perimeter", "shape"}
            if q.type == "multiple_choice":
                opts = [q.correct, *q.distractors]
                assert len(q.distractors) == 3 and len(set(opts)) == 4, (seed, opts)
                assert all(isinstance(o, str) and o for o in opts)
            if q.type == "short_vqa":
                assert len(q.turns) == 1 and q.turns[0][1] == q.short_answer
            if q.type == "long_vqa":
                assert 2 <= len(q.turns) <= 4
                assert all(a for _, a in q.turns)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_answers_match_recomputation(dom, lang):
    seen_figures = set()
    for seed, item in items(dom, lang, range(300)):
        facts = item.facts
        seen_figures.add(facts["figure"])
        solved = solve(facts)
        assert len(facts["asked"]) == len(item.questions)
        for q, asked in zip(item.questions, facts["asked"], strict=True):
            qid = asked["quantity"]
            if qid == "shape":
                if lang == "en":
                    expect = SHAPE_WORDS[facts["figure"]]
                    assert (q.correct or q.short_answer) == expect
                continue
            if q.type == "long_vqa":
                for turn, sub in zip(q.turns[1:], qid.split(","), strict=True):
                    kind, v = solved[sub]
                    assert full(facts, kind, v) in turn[1], (seed, sub, turn)
                continue
            kind, v = solved[qid]
            assert facts["answers"][qid] == full(facts, kind, v)
            if q.type == "short_vqa":
                assert q.short_answer == bare(facts, kind, v), (seed, qid)
            elif q.type == "multiple_choice":
                assert q.correct == full(facts, kind, v), (seed, qid)
                assert asked["shown"] == q.correct
            elif q.type == "judgement":
                assert asked["shown"] in q.turns[0][0]
                assert q.truth == (asked["shown"] == full(facts, kind, v)), (seed, qid)
    assert seen_figures == {
        "rectangle",
        "square",
        "right_triangle",
        "triangle_angles",
        "isosceles",
        "triangle_sides",
        "circle",
        "parallelogram",
        "trapezoid",
        "angles",
    }


def test_pi_convention_is_stated(dom):
    for seed, item in items(dom, "en", range(300)):
        facts = item.facts
        if facts["figure"] != "circle":
            continue
        note = "3.14" if facts["pi_mode"] == "3.14" else "terms of π"
        for q, asked in zip(item.questions, facts["asked"], strict=True):
            qids = asked["quantity"].split(",")
            turns = q.turns[1:] if q.type == "long_vqa" else q.turns
            for qid, (text, _) in zip(qids, turns, strict=True):
                if qid in ("area", "circumference"):
                    assert note in text, (seed, text)


def test_figure_drawn_inside_canvas(dom):
    for _, item in items(dom, "en"):
        w, h = item.facts["canvas"]
        assert 320 <= w <= 800 and 320 <= h <= 800
        assert item.images[0].size == (w, h)
        for x, y in item.facts["points"].values():
            assert 0 <= x <= w and 0 <= y <= h


def test_zh_text_is_chinese_and_filled(dom):
    for seed, item in items(dom, "zh", range(100)):
        for q in item.questions:
            for question, answer in q.turns:
                assert CJK.search(question), (seed, question)
                assert not PLACEHOLDER.search(question) and not PLACEHOLDER.search(answer)
            if q.type == "long_vqa":
                assert all(CJK.search(a) for _, a in q.turns)


def test_en_text_has_no_chinese(dom):
    for _, item in items(dom, "en", range(100)):
        for q in item.questions:
            for question, answer in q.turns:
                assert not CJK.search(question + answer)
                assert not PLACEHOLDER.search(question + answer)
            for opt in [q.correct or "", *q.distractors]:
                assert not CJK.search(opt)


def test_deterministic_and_varied(dom):
    for seed in (0, 7, 42):
        a = dom.make(random.Random(seed), "en")
        b = dom.make(random.Random(seed), "en")
        assert a.images[0].tobytes() == b.images[0].tobytes()
        assert a.facts == b.facts
        assert [(q.type, q.turns, q.truth, q.correct, q.distractors) for q in a.questions] == [
            (q.type, q.turns, q.truth, q.correct, q.distractors) for q in b.questions
        ]
    images = {dom.make(random.Random(s), "en").images[0].tobytes() for s in range(20)}
    assert len(images) == 20


def test_registered():
    assert get_domain("geometry").name == "geometry"


def test_triangle_check():
    assert base_angles_ok(5, 5, 5)
    assert not base_angles_ok(3, 4, 8)
    assert not base_angles_ok(10, 10, 19)
