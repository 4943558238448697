"""Geometry's model: figure names, Pythagorean triples, what a figure is (`Fig`), what can be
asked about it (`Quantity`), and the per-item wording and number formats (`Ctx`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from visinstruct.synth.ask import Voice
from visinstruct.synth.base import SynthDomain, fmt_num

PRIMITIVE_TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29))


def scaled_triples(max_c: int, max_ratio: float = 3.5) -> tuple[tuple[int, int, int], ...]:
    """Multiples of the primitive triples up to a hypotenuse `max_c`, legs not too unequal."""
    out = []
    for a, b, c in PRIMITIVE_TRIPLES:
        k = 1
        while c * k <= max_c:
            if max(a, b) / min(a, b) <= max_ratio:
                out.append((a * k, b * k, c * k))
            k += 1
    return tuple(out)


TRIPLES = scaled_triples(40)
SMALL_TRIPLES = scaled_triples(30, 3.0)

# vertex names of quadrilaterals with a spare letter for the foot of a height
QUADS = (("ABCD", "E"), ("PQRS", "T"), ("EFGH", "K"), ("KLMN", "P"), ("MNPQ", "H"))
# triangle names with a spare letter for an extension point
TRIS = (("ABC", "D"), ("DEF", "G"), ("PQR", "S"), ("KLM", "N"), ("XYZ", "W"))
# rays from a centre point: four end points and the centre
RAYS = (("ABCD", "O"), ("PQRS", "O"), ("EFGH", "O"), ("ABCD", "M"), ("ABCD", "P"))
CENTRES = (("O", "AB"), ("O", "MN"), ("P", "AB"), ("O", "PQ"), ("M", "AB"))

KINDS = (
    ("rectangle", 14),
    ("square", 7),
    ("right_triangle", 13),
    ("triangle_angles", 10),
    ("isosceles", 8),
    ("triangle_sides", 7),
    ("circle", 13),
    ("parallelogram", 10),
    ("trapezoid", 8),
    ("angles", 10),
)


@dataclass
class Quantity:
    """One thing a question can ask for, with its exact value and the usual mistakes."""

    qid: str  # e.g. "area", "perimeter", "length:AC", "angle:ACB"
    cat: str  # length | angle | area | perimeter
    target: str  # localised noun phrase: "the area of rectangle ABCD"
    kind: str  # len | area | angle | pilen | piarea (pi kinds hold the coefficient of π)
    value: int | float
    mistakes: list
    explain: Callable[[set], str]


def angle_q(ctx: Ctx, name: str, value: int, mistakes: list, explain: str, **say: Any) -> Quantity:
    """The angle `name` asked for: its worked answer is the `explain` wording with `say` filled in."""
    ans = ctx.fmt("angle", value)
    return Quantity(
        "angle:" + name,
        "angle",
        ctx.say("t_angle", ang=name),
        "angle",
        value,
        mistakes,
        lambda known: ctx.say(explain, **say, ans=ans),
    )


def area_q(
    ctx: Ctx, shape: str, value: int | float, mistakes: list, explain: Callable[[set], str]
) -> Quantity:
    """The area of the figure named `shape`."""
    return Quantity("area", "area", ctx.say("t_area", shape=shape), "area", value, mistakes, explain)


def perimeter_q(
    ctx: Ctx, shape: str, value: int | float, mistakes: list, explain: Callable[[set], str]
) -> Quantity:
    """The perimeter of the figure named `shape`."""
    return Quantity(
        "perimeter", "perimeter", ctx.say("t_perimeter", shape=shape), "len", value, mistakes, explain
    )


@dataclass
class Fig:
    """A figure in model coordinates (y up); the renderer rotates, scales and labels it."""

    pts: dict = field(default_factory=dict)
    polys: list = field(default_factory=list)  # tuples of point names
    segs: list = field(default_factory=list)  # (p, q, dashed)
    circles: list = field(default_factory=list)  # (centre name, radius)
    vlabels: list = field(default_factory=list)  # (point name, model direction or None[, half-angle free])
    slabels: list = field(default_factory=list)  # (p, q, text, t, away point name or None)
    arcs: list = field(default_factory=list)  # (vertex, p1, p2, text or None, radius factor)
    rights: list = field(default_factory=list)  # (vertex, p1, p2)
    ticks: list = field(default_factory=list)  # (p, q, count)
    dots: list = field(default_factory=list)  # point names always drawn as dots
    rot: str = "tilt"  # free | tilt | quad
    arc_frac: float = 0.12  # angle-arc radius as a fraction of the shorter arm


class Ctx(Voice):
    """Per-item settings (language, unit, π convention), wording and formatting of values."""

    def __init__(self, dom: SynthDomain, rng: random.Random, lang: str):
        super().__init__(dom, rng, lang)
        u = rng.random()
        self.unit = "" if u < 0.4 else ("cm" if u < 0.8 else "m")
        self.pi = rng.random() < 0.5  # answers "kπ" (True) or with π ≈ 3.14 (False)

    def num(self, kind: str, v: int | float) -> str:
        """A value without unit: '48', '36π', '113.04'."""
        if kind in ("pilen", "piarea"):
            if self.pi:
                c = fmt_num(v)
                return "π" if c == "1" else f"{c}π"
            return fmt_num(v * 314 / 100)
        return fmt_num(v)

    def fmt(self, kind: str, v: int | float) -> str:
        """A value with its unit: '48 cm²', '65°', '12'."""
        s = self.num(kind, v)
        if kind == "angle":
            return s + "°"
        if self.unit:
            return f"{s} {self.unit}²" if kind in ("area", "piarea") else f"{s} {self.unit}"
        return s

    def lab(self, v: int | float) -> str:
        """A length as written on the figure."""
        return fmt_num(v) + (f" {self.unit}" if self.unit else "")

    def notes(self, kind: str, short: bool) -> list[str]:
        """What a question must say about the answer's form: the π convention, and for short
        answers the unit (a bare number is the answer)."""
        out = []
        if kind in ("pilen", "piarea"):
            out.append(self.say("note_pi" if self.pi else "note_314"))
        if short:
            if kind == "angle":
                out.append(self.say("note_deg"))
            elif self.unit:
                unit = f"{self.unit}²" if kind in ("area", "piarea") else self.unit
                out.append(self.say("note_unit", unit=unit))
        return out

    def join(self, parts: list[str]) -> str:
        """Sentences joined as the language joins them (empty parts left out)."""
        sep = self.say("sent_join")
        return sep.join(p for p in parts if p)


def pick_kind(rng: random.Random) -> str:
    """A figure kind, drawn with the weights in `KINDS`."""
    total = sum(w for _, w in KINDS)
    x = rng.uniform(0, total)
    for name, w in KINDS:
        x -= w
        if x <= 0:
            return name
    return KINDS[-1][0]


def pyth(ctx: Ctx, tri: str, r: str, hyp: str, legs: tuple[str, str], vals: dict, missing: str) -> str:
    """The Pythagorean step that finds the missing side `missing` of right triangle `tri`."""
    if missing == hyp:
        a, b = legs
        av, bv = vals[a], vals[b]
        c2 = av * av + bv * bv
        return ctx.say(
            "ex_pyth_hyp",
            tri=tri,
            r=r,
            c=hyp,
            a=a,
            b=b,
            av=av,
            bv=bv,
            a2=av * av,
            b2=bv * bv,
            c2=c2,
            ans=ctx.fmt("len", vals[hyp]),
        )
    known_leg = legs[0] if legs[1] == missing else legs[1]
    cv, av = vals[hyp], vals[known_leg]
    return ctx.say(
        "ex_pyth_leg",
        tri=tri,
        r=r,
        x=missing,
        c=hyp,
        a=known_leg,
        cv=cv,
        av=av,
        c2=cv * cv,
        a2=av * av,
        x2=cv * cv - av * av,
        ans=ctx.fmt("len", vals[missing]),
    )


def perimeter_sum(ctx: Ctx, values: list[int | float], ans: str) -> str:
    """'3 + 4 + 5 = 12': a perimeter worked out as a sum of sides."""
    terms = " + ".join(fmt_num(v) for v in values)
    return ctx.say("ex_poly_perimeter", terms=terms, ans=ans)


def base_angles_ok(ab: int, ac: int, bc: int, min_deg: float = 28.0) -> bool:
    """A drawable triangle: sides satisfy the triangle inequality and every angle ≥ `min_deg`."""
    s = sorted((ab, ac, bc))
    if s[0] + s[1] <= s[2]:
        return False
    for opp, p, q in ((ab, ac, bc), (ac, ab, bc), (bc, ab, ac)):
        cos = (p * p + q * q - opp * opp) / (2 * p * q)
        if math.degrees(math.acos(max(-1.0, min(1.0, cos)))) < min_deg:
            return False
    return True


# what a figure builder returns: the figure, its facts, the quantities one can ask for, the
# givens as written, the shape's name, and (vertices, right word, wrong words) for "which shape"
Built = tuple[Fig, dict[str, Any], list[Quantity], list[str], str, tuple[str, str, list[str]] | None]
