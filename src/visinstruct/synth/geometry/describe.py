"""A geometry figure's description from its exact facts: the figure and its vertex labels,
every given length and angle, right-angle and equal-side marks, heights, diagonals, radii.
Templates: phrasings/geometry_describe.yaml."""

from __future__ import annotations

import random
from itertools import permutations
from typing import Any

from visinstruct.synth.base import fmt_num
from visinstruct.synth.describe import Description, Fact, Known, Writer

#: Facts not drawn in the image: the values questions claim, and where points landed.
HIDDEN = ("asked", "points", "canvas")

FIG_WORDS = {
    "rectangle": {"en": ("rectangle",), "zh": ("长方形", "矩形")},
    "square": {"en": ("square",), "zh": ("正方形",)},
    "parallelogram": {"en": ("parallelogram",), "zh": ("平行四边形",)},
    "trapezoid": {"en": ("trapezoid", "trapezium"), "zh": ("梯形",)},
    "right_triangle": {"en": ("right triangle", "right-angled triangle"), "zh": ("直角三角形",)},
    "isosceles": {"en": ("isosceles",), "zh": ("等腰",)},
    "triangle_sides": {"en": ("triangle",), "zh": ("三角形",)},
    "triangle_angles": {"en": ("triangle",), "zh": ("三角形",)},
    "circle": {"en": ("circle",), "zh": ("圆",)},
    "angles": {"en": ("angle", "angles", "ray", "line"), "zh": ("角", "射线", "直线")},
}


def _length(f: dict[str, Any], v: int | float) -> str:
    return fmt_num(v) + (f" {f['unit']}" if f.get("unit") else "")


def _fig_key(f: dict[str, Any]) -> str:
    fig = f["figure"]
    if fig == "trapezoid" and f.get("right"):
        return "fig_right_trapezoid"
    if fig in ("triangle_sides", "triangle_angles"):
        return "fig_triangle"
    return f"fig_{fig}"


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A description of the figure: what is drawn, labelled and marked."""
    w = Writer("geometry", rng, lang)
    f = facts
    fig = f["figure"]
    parts: list[tuple[str, bool]] = []
    if fig == "angles":
        parts.append((w.say("angles_intro", o=f["centre"]), False))
        a, b, c, d = f["rays"]
        o = f["centre"]
        sub = f.get("subtype")
        if sub in ("straight", "straight3"):
            parts.append((w.say("angles_straight", o=o, ab=a + b), False))
        elif sub == "vertical":
            parts.append((w.say("angles_vertical", o=o, ab=a + b, cd=c + d), False))
        elif sub == "complement":
            parts.append((w.say("angles_complement", o=o, aob=a + o + b, oc=o + c), False))
    elif fig == "circle":
        parts.append((w.say("intro", fig=w.say("fig_circle", v=f["centre"])), False))
    else:
        v = f["vertices"]
        parts.append((w.say("intro", fig=w.say(_fig_key(f), v=v)), False))
        if w.maybe(0.6):
            parts.append((w.say("vertices", list=w.listing(list(v))), True))
    form = rng.randrange(4)
    given = []
    for name, value in f["given"].items():
        if len(name) == 3:
            given.append(_fill(w, "angle", form, abc=name, value=fmt_num(value)))
        else:
            given.append(_fill(w, "length", form, seg=name, value=_length(f, value)))
    rng.shuffle(given)
    parts.append((w.say("given", list=w.listing(given)), False))
    marks = _marks(w, f)
    rng.shuffle(marks)
    parts += marks
    if w.maybe(0.4) and fig != "angles":
        parts.append((w.say("level" if abs(f.get("rotation") or 0) < 0.5 else "tilted"), True))
    return w.finish(parts)


def _marks(w: Writer, f: dict[str, Any]) -> list[tuple[str, bool]]:
    fig, out = f["figure"], []
    if fig == "right_triangle":
        out.append((w.say("right_angle", p=f["right_angle"]), False))
    elif fig in ("isosceles", "triangle_sides") and len(f.get("equal") or []) == 2:
        out.append((w.say("iso_equal", a=f["equal"][0], b=f["equal"][1]), True))
    elif fig == "square" and w.maybe(0.5):
        out.append((w.say("square_equal"), True))
    elif fig == "parallelogram" and f.get("foot"):
        seg = next((s for s in f["given"] if len(s) == 2 and f["foot"] in s), None)
        if seg:
            out.append((w.say("height", seg=seg, foot=f["foot"]), True))
    elif fig == "trapezoid" and f.get("height_segment") and not f.get("right"):
        seg = f["height_segment"]
        out.append((w.say("height", seg=seg, foot=seg[1]), True))
    elif fig == "rectangle" and f.get("mode") in ("diagonal", "missing_side"):
        v = f["vertices"]
        out.append((w.say("diagonal", seg=v[0] + v[2]), True))
    elif fig == "circle":
        seg = next(iter(f["given"]))
        out.append((w.say("diameter" if f.get("mode") == "diameter" else "radius", seg=seg), False))
    elif fig == "triangle_angles" and f.get("ext_point"):
        out.append((w.say("ext_point", p=f["ext_point"]), True))
    return out


def _fill(w: Writer, key: str, form: int, **values: str) -> str:
    variants = w.phrases[key][w.lang]
    i = form % len(variants)
    w.used.append(f"{w.file}.{key}#{i}")
    text = variants[i]
    for k, v in values.items():
        text = text.replace("{" + k + "}", v)
    return text


def known(facts: dict[str, Any]) -> Known:
    """A figure's numbers (given values, computed answers, right and straight angles, counts),
    its point names and unit; coverage: the kind of figure and every given length and angle."""
    f = facts
    k = Known()
    k.add_numbers(*f["given"].values(), 90, 180, 2, 3, 4)
    for v in (f.get("answers") or {}).values():
        k.add_numbers(str(v))
    points = set(f.get("points") or {}) | set(f.get("vertices") or "") | set(f.get("rays") or "")
    points |= {p for p in (f.get("centre"), f.get("foot"), f.get("ext_point")) if p}
    k.words |= {"".join(p) for n in (1, 2, 3) for p in permutations(sorted(points), n)}
    k.words |= {x for x in (f.get("vertices"), f.get("rays")) if x}
    if f.get("unit"):
        k.words |= {f["unit"], f"{f['unit']}²"}
    k.facts.append(Fact("figure", {lang: (words,) for lang, words in FIG_WORDS[f["figure"]].items()}))
    for name, value in f["given"].items():
        k.facts.append(
            Fact(f"given:{name}", {"en": ((name,), (fmt_num(value),)), "zh": ((name,), (fmt_num(value),))})
        )
    return k
