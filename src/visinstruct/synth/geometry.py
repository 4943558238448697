"""Plane geometry: labelled figures whose lengths, angles, areas and perimeters are exact.

Each item draws one figure roughly to scale (rectangle, square, right triangle, triangle
with angles, isosceles triangle, triangle with sides, circle, parallelogram, trapezoid,
or angles formed by lines) with its given measurements written on it. Questions ask for
a length, an angle, an area or a perimeter; wrong options and false statements come from
common mistakes (perimeter for area, forgetting the 1/2, diameter used as radius...).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import ImageDraw

from visinstruct.synth import style
from visinstruct.synth.base import Item, Question, SynthDomain, distinct_distractors, fmt_num

PRIMITIVE_TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29))


def _scaled_triples(max_c: int, max_ratio: float = 3.5) -> tuple[tuple[int, int, int], ...]:
    out = []
    for a, b, c in PRIMITIVE_TRIPLES:
        k = 1
        while c * k <= max_c:
            if max(a, b) / min(a, b) <= max_ratio:
                out.append((a * k, b * k, c * k))
            k += 1
    return tuple(out)


TRIPLES = _scaled_triples(40)
SMALL_TRIPLES = _scaled_triples(30, 3.0)

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


class Ctx:
    """Per-item settings (language, unit, π convention) and formatting of values."""

    def __init__(self, dom: SynthDomain, rng: random.Random, lang: str):
        self.dom, self.rng, self.lang = dom, rng, lang
        u = rng.random()
        self.unit = "" if u < 0.4 else ("cm" if u < 0.8 else "m")
        self.pi = rng.random() < 0.5  # answers "kπ" (True) or with π ≈ 3.14 (False)

    def say(self, key: str, **values: object) -> str:
        return self.dom.say(self.rng, key, self.lang, **values)

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
        sep = self.say("sent_join")
        return sep.join(p for p in parts if p)

    def listing(self, items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        return self.say("list_sep").join(items[:-1]) + self.say("list_and") + items[-1]


def _pick_kind(rng: random.Random) -> str:
    total = sum(w for _, w in KINDS)
    x = rng.uniform(0, total)
    for name, w in KINDS:
        x -= w
        if x <= 0:
            return name
    return KINDS[-1][0]


class Geometry(SynthDomain):
    name = "geometry"
    description = (
        "Labelled plane figures (polygons, triangles, circles, angles between lines) drawn to scale; "
        "lengths, angles, areas and perimeters are computed exactly."
    )

    def make(self, rng: random.Random, lang: str) -> Item:
        kind = _pick_kind(rng)
        ctx = Ctx(self, rng, lang)
        fig, facts, quants, givens, shape, shape_q = getattr(self, "_b_" + kind)(ctx)
        img, layout = render(rng, fig)
        qs, asked = self._questions(ctx, quants, givens, shape, shape_q)
        facts = {
            "figure": kind,
            **facts,
            "unit": ctx.unit,
            "pi_mode": "pi" if ctx.pi else "3.14",
            "answers": {q.qid: ctx.fmt(q.kind, q.value) for q in quants},
            "asked": asked,
            **layout,
        }
        return Item([img], facts, qs)

    # ------------------------------------------------------------------ questions
    def _wrongs(self, ctx: Ctx, q: Quantity) -> tuple[list[str], list[str]]:
        """Distinct wrong values (formatted): the common mistakes, and near values as a fallback."""
        seen = {ctx.fmt(q.kind, q.value)}
        limit = 360 if q.kind == "angle" else math.inf
        step = 10 if q.kind == "angle" else (2 if q.value > 30 else 1)
        near = [q.value + d * step for d in (1, -1, 2, -2, 3, 4, -3, 5, 6)]
        out: tuple[list[str], list[str]] = ([], [])
        for bucket, values in ((0, q.mistakes), (1, near)):
            for v in values:
                s = ctx.fmt(q.kind, v)
                if 0 < v < limit and s not in seen:
                    seen.add(s)
                    out[bucket].append(s)
        return out

    def _questions(self, ctx: Ctx, quants: list[Quantity], givens: list[str], shape: str, shape_q):
        rng = ctx.rng
        qs: list[Question] = []
        asked: list[dict] = []

        def add(question: Question, qid: str, shown: str | None) -> None:
            qs.append(question)
            asked.append({"quantity": qid, "shown": shown})

        # judgement: pairs of one true and one false statement (false = a common mistake)
        n_pairs = 2 if len(quants) > 1 and rng.random() < 0.35 else 1
        for q in rng.sample(quants, n_pairs):
            mistakes, near = self._wrongs(ctx, q)
            top = mistakes[:3] or near[:2]
            pair = [(True, ctx.fmt(q.kind, q.value)), (False, rng.choice(top))]
            rng.shuffle(pair)
            for truth, shown in pair:
                text = ctx.join(
                    [ctx.say("ask_judge", target=q.target, value=shown)] + ctx.notes(q.kind, False)
                )
                add(
                    Question("judgement", q.cat, [(text, "")], truth=truth, phrasing="ask_judge"),
                    q.qid,
                    shown,
                )

        use_shape = shape_q is not None and rng.random() < 0.35
        shape_as_mc = rng.random() < 0.5

        # multiple choice
        n_mc = 2 if rng.random() < 0.4 else 1
        picks = rng.sample(quants, min(n_mc, len(quants)))
        if use_shape and shape_as_mc:
            picks = picks[:1]
            n_shape, right, others = shape_q
            text = ctx.say("ask_shape", n=n_shape)
            correct = ctx.say("word_" + right)
            dis = [ctx.say("word_" + o) for o in others]
            add(
                Question(
                    "multiple_choice",
                    "shape",
                    [(text, "")],
                    correct=correct,
                    distractors=dis,
                    phrasing="ask_shape",
                ),
                "shape",
                correct,
            )
        mc_ids = {q.qid for q in picks}
        for q in picks:
            head, tail = self._wrongs(ctx, q)
            rng.shuffle(head)
            correct = ctx.fmt(q.kind, q.value)
            dis = distinct_distractors(correct, head + tail, rng, shuffle=False)
            text = ctx.join([ctx.say("ask", target=q.target)] + ctx.notes(q.kind, False))
            add(
                Question(
                    "multiple_choice", q.cat, [(text, "")], correct=correct, distractors=dis, phrasing="ask"
                ),
                q.qid,
                correct,
            )

        # short answer
        n_short = 2 if rng.random() < 0.4 else 1
        fresh = [q for q in quants if q.qid not in mc_ids] or quants
        picks = rng.sample(fresh, min(n_short, len(fresh)))
        if use_shape and not shape_as_mc:
            picks = picks[:1]
            n_shape, right, _ = shape_q
            ans = ctx.say("word_" + right)
            text = ctx.say("ask_shape", n=n_shape)
            add(
                Question("short_vqa", "shape", [(text, ans)], short_answer=ans, phrasing="ask_shape"),
                "shape",
                ans,
            )
        used = {question.turns[0][0] for question in qs}
        for q in picks:
            ans = ctx.num(q.kind, q.value)
            for _ in range(8):  # a wording not already used by the multiple-choice question
                text = ctx.join([ctx.say("ask", target=q.target)] + ctx.notes(q.kind, True))
                if text not in used:
                    break
            add(Question("short_vqa", q.cat, [(text, ans)], short_answer=ans, phrasing="ask"), q.qid, ans)

        # long: read the givens, then worked solutions for 1-3 quantities (in dependency order)
        k = rng.randint(1, min(3, len(quants)))
        chosen = sorted(rng.sample(range(len(quants)), k))
        read = (
            ctx.say("read_given", shape=shape, givens=ctx.listing(givens))
            if shape
            else ctx.say("read_given_plain", givens=ctx.listing(givens))
        )
        turns = [(ctx.say("read_q"), read)]
        known: set = set()
        for i in chosen:
            q = quants[i]
            ans = ctx.fmt(q.kind, q.value)
            question = ctx.join([ctx.say("long_ask", target=q.target)] + ctx.notes(q.kind, False))
            answer = ctx.join([q.explain(known), ctx.say("conclude", target=q.target, ans=ans)])
            known.add(q.qid)
            turns.append((question, answer))
        add(
            Question("long_vqa", quants[chosen[-1]].cat, turns, phrasing="read_q"),
            ",".join(quants[i].qid for i in chosen),
            None,
        )
        return qs, asked

    # ------------------------------------------------------------------ explanation pieces
    def _pyth(
        self, ctx: Ctx, tri: str, r: str, hyp: str, legs: tuple[str, str], vals: dict, missing: str
    ) -> str:
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

    def _perimeter_sum(self, ctx: Ctx, values: list[int | float], ans: str) -> str:
        terms = " + ".join(fmt_num(v) for v in values)
        return ctx.say("ex_poly_perimeter", terms=terms, ans=ans)

    # ------------------------------------------------------------------ figure builders
    def _b_rectangle(self, ctx: Ctx):
        rng = ctx.rng
        V, _ = rng.choice(QUADS)
        A, B, C, D = V
        mode = "sides" if rng.random() < 0.55 else rng.choice(("diagonal", "missing_side"))
        if mode == "sides":
            while True:
                w, h = rng.randint(3, 20), rng.randint(2, 16)
                if w != h and max(w, h) <= 3 * min(w, h):
                    break
            c = None
        else:
            a, b, c = rng.choice(SMALL_TRIPLES)
            w, h = (a, b) if rng.random() < 0.5 else (b, a)
        fig = Fig(rot="quad")
        fig.pts = {A: (0, h), B: (w, h), C: (w, 0), D: (0, 0)}
        fig.polys.append((A, B, C, D))
        for p in V:
            fig.vlabels.append((p, None))
        seg_w = rng.choice((A + B, D + C))
        seg_h = rng.choice((B + C, A + D))
        AB, BC, AC = A + B, B + C, A + C
        vals = {AB: w, BC: h, AC: c}
        given = {seg_w: w}
        fig.slabels.append((seg_w[0], seg_w[1], ctx.lab(w), 0.5, None))
        if mode != "missing_side":
            given[seg_h] = h
            fig.slabels.append((seg_h[0], seg_h[1], ctx.lab(h), 0.5, None))
        if mode != "sides":
            fig.segs.append((A, C, rng.random() < 0.5))
            away = rng.choice((B, D))
            if mode == "missing_side":
                given[AC] = c
                fig.slabels.append((A, C, ctx.lab(c), 0.5, away))
                if rng.random() < 0.5:
                    fig.slabels.append((B, C, rng.choice(("?", "x")), 0.5, None))
            elif rng.random() < 0.4:
                fig.slabels.append((A, C, rng.choice(("?", "x")), 0.5, away))
        corners = [(A, D, B), (B, A, C), (C, B, D), (D, C, A)]
        n_marks = rng.randint(1, 4)
        marks = rng.sample(corners, n_marks)
        if mode != "sides" and corners[1] not in marks:
            marks.append(corners[1])
        fig.rights.extend(marks)

        shape = ctx.say("shape_rect", n=V)
        tri = A + B + C
        quants: list[Quantity] = []

        def need_h(known: set) -> list[str]:
            if mode == "missing_side" and "length:" + BC not in known:
                return [
                    ctx.say("ex_rect_right", tri=tri, r=B),
                    self._pyth(ctx, tri, B, AC, (AB, BC), vals, BC),
                ]
            return []

        def ex_area(known: set) -> str:
            return ctx.join(
                need_h(known)
                + [ctx.say("ex_rect_area", s1=AB, s2=BC, v1=w, v2=h, ans=ctx.fmt("area", w * h))]
            )

        def ex_perim(known: set) -> str:
            return ctx.join(
                need_h(known)
                + [ctx.say("ex_rect_perimeter", v1=w, v2=h, s=w + h, ans=ctx.fmt("len", 2 * (w + h)))]
            )

        if mode == "diagonal":
            quants.append(
                Quantity(
                    "length:" + AC,
                    "length",
                    ctx.say("t_length", seg=AC),
                    "len",
                    c,
                    [w + h, w * w + h * h, abs(w - h), c + 1, c - 1],
                    lambda known: ctx.join(
                        [
                            ctx.say("ex_rect_right", tri=tri, r=B),
                            self._pyth(ctx, tri, B, AC, (AB, BC), vals, AC),
                        ]
                    ),
                )
            )
        if mode == "missing_side":
            quants.append(
                Quantity(
                    "length:" + BC,
                    "length",
                    ctx.say("t_length", seg=BC),
                    "len",
                    h,
                    [c - w, c + w, c * c - w * w, h + 1, h - 1],
                    lambda known: ctx.join(
                        [
                            ctx.say("ex_rect_right", tri=tri, r=B),
                            self._pyth(ctx, tri, B, AC, (AB, BC), vals, BC),
                        ]
                    ),
                )
            )
        quants.append(
            Quantity(
                "area",
                "area",
                ctx.say("t_area", shape=shape),
                "area",
                w * h,
                [2 * (w + h), w + h, w * h / 2, w * w, h * h],
                ex_area,
            )
        )
        quants.append(
            Quantity(
                "perimeter",
                "perimeter",
                ctx.say("t_perimeter", shape=shape),
                "len",
                2 * (w + h),
                [w * h, w + h, 2 * w + h, w + 2 * h, 4 * w],
                ex_perim,
            )
        )
        givens = [f"{s} = {ctx.lab(v)}" for s, v in given.items()]
        facts = {"mode": mode, "vertices": V, "width": w, "height": h, "diagonal": c, "given": given}
        return fig, facts, quants, givens, shape, (V, "rectangle", ["square", "rhombus", "trapezoid"])

    def _b_square(self, ctx: Ctx):
        rng = ctx.rng
        V, _ = rng.choice(QUADS)
        A, B, C, D = V
        s = rng.randint(2, 20)
        fig = Fig(rot="quad")
        fig.pts = {A: (0, s), B: (s, s), C: (s, 0), D: (0, 0)}
        fig.polys.append((A, B, C, D))
        for p in V:
            fig.vlabels.append((p, None))
        seg = rng.choice((A + B, B + C, D + C, A + D))
        fig.slabels.append((seg[0], seg[1], ctx.lab(s), 0.5, None))
        n_ticks = rng.choice((1, 2))
        for p, q in ((A, B), (B, C), (C, D), (D, A)):
            fig.ticks.append((p, q, n_ticks))
        corners = [(A, D, B), (B, A, C), (C, B, D), (D, C, A)]
        fig.rights.extend(rng.sample(corners, rng.randint(1, 4)))
        shape = ctx.say("shape_square", n=V)
        quants = [
            Quantity(
                "area",
                "area",
                ctx.say("t_area", shape=shape),
                "area",
                s * s,
                [4 * s, 2 * s, 2 * s * s, (s + 1) * (s + 1)],
                lambda known: ctx.say("ex_square_area", v=s, ans=ctx.fmt("area", s * s)),
            ),
            Quantity(
                "perimeter",
                "perimeter",
                ctx.say("t_perimeter", shape=shape),
                "len",
                4 * s,
                [s * s, 2 * s, 3 * s, 8 * s],
                lambda known: ctx.say("ex_square_perimeter", v=s, ans=ctx.fmt("len", 4 * s)),
            ),
        ]
        givens = [f"{seg} = {ctx.lab(s)}", ctx.say("given_square", n=V)]
        facts = {"vertices": V, "side": s, "given": {seg: s}}
        return fig, facts, quants, givens, shape, None

    def _b_right_triangle(self, ctx: Ctx):
        rng = ctx.rng
        V, _ = rng.choice(TRIS)
        A, B, C = V
        a, b, c = rng.choice(TRIPLES)
        if rng.random() < 0.5:
            a, b = b, a
        BC, AC, AB = B + C, A + C, A + B
        vals = {BC: a, AC: b, AB: c}
        missing = rng.choice((AB, AB, BC, AC))
        fig = Fig(rot=rng.choice(("tilt", "tilt", "free")))
        fig.pts = {C: (0, 0), B: (a, 0), A: (0, b)}
        fig.polys.append((A, B, C))
        for p in V:
            fig.vlabels.append((p, None))
        fig.rights.append((C, A, B))
        given = {}
        for seg in (BC, AC, AB):
            if seg != missing:
                given[seg] = vals[seg]
                fig.slabels.append((seg[0], seg[1], ctx.lab(vals[seg]), 0.5, None))
            elif rng.random() < 0.6:
                fig.slabels.append((seg[0], seg[1], rng.choice(("?", "x")), 0.5, None))
        shape = ctx.say("shape_rtri", n=V)

        def pyth_if(known: set) -> list[str]:
            if "length:" + missing not in known:
                return [self._pyth(ctx, V, C, AB, (BC, AC), vals, missing)]
            return []

        def ex_area(known: set) -> str:
            pre = pyth_if(known) if missing != AB else []
            return ctx.join(
                pre
                + [ctx.say("ex_rtri_area", a=BC, b=AC, av=a, bv=b, ab=a * b, ans=ctx.fmt("area", a * b // 2))]
            )

        def ex_perim(known: set) -> str:
            return ctx.join(pyth_if(known) + [self._perimeter_sum(ctx, [a, b, c], ctx.fmt("len", a + b + c))])

        mv = vals[missing]
        if missing == AB:
            m_side = [a + b, a * a + b * b, abs(a - b), c + 1, c - 1]
        else:
            other = b if missing == BC else a
            m_side = [c - other, c + other, c * c - other * other, mv + 1, mv - 1]
        quants = [
            Quantity(
                "length:" + missing,
                "length",
                ctx.say("t_length", seg=missing),
                "len",
                mv,
                m_side,
                lambda known: self._pyth(ctx, V, C, AB, (BC, AC), vals, missing),
            ),
            Quantity(
                "area",
                "area",
                ctx.say("t_area", shape=shape),
                "area",
                a * b // 2,
                [a * b, a * c / 2, b * c / 2, a + b + c],
                ex_area,
            ),
            Quantity(
                "perimeter",
                "perimeter",
                ctx.say("t_perimeter", shape=shape),
                "len",
                a + b + c,
                [a + b, a * b // 2, 2 * (a + b), a + b + c + 2],
                ex_perim,
            ),
        ]
        givens = [ctx.say("given_right", v=C)] + [f"{s} = {ctx.lab(v)}" for s, v in given.items()]
        facts = {
            "vertices": V,
            "right_angle": C,
            "legs": {BC: a, AC: b},
            "hypotenuse": {AB: c},
            "missing": missing,
            "given": given,
        }
        return fig, facts, quants, givens, shape, None

    def _b_triangle_angles(self, ctx: Ctx):
        rng = ctx.rng
        V, E = rng.choice(TRIS)
        A, B, C = V
        while True:
            x, y = rng.randint(30, 110), rng.randint(30, 110)
            z = 180 - x - y
            if z >= 30 and len({x, y, z}) == 3:
                break
        mode = rng.choice(("third", "third", "exterior"))
        fig = Fig(rot=rng.choice(("tilt", "free")))
        ac = math.sin(math.radians(y)) / math.sin(math.radians(z))
        fig.pts = {
            A: (0.0, 0.0),
            B: (1.0, 0.0),
            C: (ac * math.cos(math.radians(x)), ac * math.sin(math.radians(x))),
        }
        fig.polys.append((A, B, C))
        BAC, ABC, ACB, CBE = B + A + C, A + B + C, A + C + B, C + B + E
        shape = ctx.say("shape_tri", n=V)
        if mode == "third":
            given = {BAC: x, ABC: y}
            fig.arcs.append((A, B, C, f"{x}°", 1.0))
            fig.arcs.append((B, A, C, f"{y}°", 1.0))
            if rng.random() < 0.5:
                fig.arcs.append((C, A, B, rng.choice(("?", "x")), 1.0))
            for p in V:
                fig.vlabels.append((p, None))
            quants = [
                Quantity(
                    "angle:" + ACB,
                    "angle",
                    ctx.say("t_angle", ang=ACB),
                    "angle",
                    z,
                    [360 - x - y, x + y, 180 - x, 180 - y, 90 - x - y if x + y < 90 else z + 20],
                    lambda known: ctx.say(
                        "ex_angle_sum", x=ACB, p=BAC, q=ABC, pv=x, qv=y, ans=ctx.fmt("angle", z)
                    ),
                )
            ]
        else:
            given = {BAC: x, ACB: z}
            fig.pts[E] = (1.0 + 0.5, 0.0)
            fig.segs.append((B, E, False))
            fig.arcs.append((A, B, C, f"{x}°", 1.0))
            fig.arcs.append((C, A, B, f"{z}°", 1.0))
            if rng.random() < 0.5:
                fig.arcs.append((B, C, E, rng.choice(("?", "x")), 1.0))
            fig.vlabels.extend([(A, None), (C, None), (B, (0.25, -1.0)), (E, (1.0, -0.4))])
            quants = [
                Quantity(
                    "angle:" + ABC,
                    "angle",
                    ctx.say("t_angle", ang=ABC),
                    "angle",
                    y,
                    [x + z, 360 - x - z, 180 - x, 180 - z],
                    lambda known: ctx.say(
                        "ex_angle_sum", x=ABC, p=BAC, q=ACB, pv=x, qv=z, ans=ctx.fmt("angle", y)
                    ),
                ),
                Quantity(
                    "angle:" + CBE,
                    "angle",
                    ctx.say("t_angle", ang=CBE),
                    "angle",
                    x + z,
                    [y, 180 - x, 180 - z, 360 - x - z],
                    lambda known: ctx.say(
                        "ex_exterior", x=CBE, p=BAC, q=ACB, pv=x, qv=z, ans=ctx.fmt("angle", x + z)
                    ),
                ),
            ]
        givens = [f"∠{n} = {v}°" for n, v in given.items()]
        if mode == "exterior":
            givens.append(ctx.say("given_line", p=A, o=B, q=E))
        facts = {
            "mode": mode,
            "vertices": V,
            "angles": {BAC: x, ABC: y, ACB: z},
            "ext_point": E if mode == "exterior" else None,
            "given": given,
        }
        return fig, facts, quants, givens, shape, None

    def _b_isosceles(self, ctx: Ctx):
        rng = ctx.rng
        V, _ = rng.choice(TRIS)
        A, B, C = V
        mode = rng.choice(("apex", "base"))
        if mode == "apex":
            apex = rng.randrange(30, 122, 2)
            base = (180 - apex) // 2
        else:
            base = rng.randint(35, 74)
            if base == 60:
                base = 62
            apex = 180 - 2 * base
        fig = Fig(rot=rng.choice(("tilt", "tilt", "free")))
        t = math.tan(math.radians(base))
        fig.pts = {A: (0.0, t), B: (-1.0, 0.0), C: (1.0, 0.0)}
        fig.polys.append((A, B, C))
        for p in V:
            fig.vlabels.append((p, None))
        n_ticks = rng.choice((1, 2))
        fig.ticks.extend([(A, B, n_ticks), (A, C, n_ticks)])
        BAC, ABC, ACB = B + A + C, A + B + C, A + C + B
        eq = f"{A}{B} = {A}{C}"
        shape = ctx.say("shape_tri", n=V)
        if mode == "apex":
            given = {BAC: apex}
            fig.arcs.append((A, B, C, f"{apex}°", 1.0))
            ask = rng.choice((ABC, ACB))
            b1, b2 = (ABC, ACB) if ask == ABC else (ACB, ABC)
            quants = [
                Quantity(
                    "angle:" + ask,
                    "angle",
                    ctx.say("t_angle", ang=ask),
                    "angle",
                    base,
                    [180 - apex, apex, (360 - apex) // 2, 90 - apex if apex < 90 else base + 20],
                    lambda known: ctx.say(
                        "ex_iso_base", eq=eq, b1=b1, b2=b2, v=apex, ans=ctx.fmt("angle", base)
                    ),
                )
            ]
        else:
            given = {ABC: base}
            fig.arcs.append((B, A, C, f"{base}°", 1.0))
            quants = [
                Quantity(
                    "angle:" + ACB,
                    "angle",
                    ctx.say("t_angle", ang=ACB),
                    "angle",
                    base,
                    [180 - base, 90 - base, apex, 180 - 2 * base + 10],
                    lambda known: ctx.say(
                        "ex_iso_other_base", eq=eq, b1=ABC, b2=ACB, ans=ctx.fmt("angle", base)
                    ),
                ),
                Quantity(
                    "angle:" + BAC,
                    "angle",
                    ctx.say("t_angle", ang=BAC),
                    "angle",
                    apex,
                    [180 - base, base, 90 - base, 2 * base],
                    lambda known: ctx.say(
                        "ex_iso_apex", eq=eq, b1=ABC, b2=ACB, x=BAC, v=base, ans=ctx.fmt("angle", apex)
                    ),
                ),
            ]
        givens = [ctx.say("given_equal", s1=A + B, s2=A + C)] + [f"∠{n} = {v}°" for n, v in given.items()]
        facts = {
            "mode": mode,
            "vertices": V,
            "apex": A,
            "equal": [A + B, A + C],
            "angles": {BAC: apex, ABC: base, ACB: base},
            "given": given,
        }
        return fig, facts, quants, givens, shape, None

    def _b_triangle_sides(self, ctx: Ctx):
        rng = ctx.rng
        V, _ = rng.choice(TRIS)
        A, B, C = V
        iso = rng.random() < 0.4
        while True:
            if iso:
                leg, base = rng.randint(4, 20), rng.randint(3, 24)
                ab, ac, bc = leg, leg, base
            else:
                ab, ac, bc = rng.randint(4, 20), rng.randint(4, 20), rng.randint(4, 20)
                if len({ab, ac, bc}) < 3:
                    continue
            if base_angles_ok(ab, ac, bc) and (not iso or bc != leg):
                break
        fig = Fig(rot=rng.choice(("tilt", "free")))
        # B at origin, C on the x axis, A above
        x = (ab * ab + bc * bc - ac * ac) / (2 * bc)
        fig.pts = {B: (0.0, 0.0), C: (float(bc), 0.0), A: (x, math.sqrt(max(0.0, ab * ab - x * x)))}
        fig.polys.append((A, B, C))
        for p in V:
            fig.vlabels.append((p, None))
        AB, AC, BC = A + B, A + C, B + C
        given = {AB: ab, BC: bc} if iso else {AB: ab, AC: ac, BC: bc}
        for s, v in given.items():
            fig.slabels.append((s[0], s[1], ctx.lab(v), 0.5, None))
        shape = ctx.say("shape_tri", n=V)
        p = ab + ac + bc
        quants: list[Quantity] = []
        if iso:
            n_ticks = rng.choice((1, 2))
            fig.ticks.extend([(A, B, n_ticks), (A, C, n_ticks)])
            quants.append(
                Quantity(
                    "length:" + AC,
                    "length",
                    ctx.say("t_length", seg=AC),
                    "len",
                    ac,
                    [bc, 2 * ac, ab + bc, ac + 1],
                    lambda known: ctx.say("ex_iso_side", s1=AB, s2=AC, v=ctx.fmt("len", ac)),
                )
            )
            m_perim = [ab + bc, 2 * bc + ab, 3 * ab, 2 * (ab + bc)]
        else:
            m_perim = [ab + bc, ab + ac, ac + bc, 2 * p]

        def ex_perim(known: set) -> str:
            pre = []
            if iso and "length:" + AC not in known:
                pre.append(ctx.say("ex_iso_side", s1=AB, s2=AC, v=ctx.fmt("len", ac)))
            return ctx.join(pre + [self._perimeter_sum(ctx, [ab, ac, bc], ctx.fmt("len", p))])

        quants.append(
            Quantity(
                "perimeter", "perimeter", ctx.say("t_perimeter", shape=shape), "len", p, m_perim, ex_perim
            )
        )
        givens = [f"{s} = {ctx.lab(v)}" for s, v in given.items()]
        if iso:
            givens.append(ctx.say("given_equal", s1=AB, s2=AC))
        facts = {
            "vertices": V,
            "sides": {AB: ab, AC: ac, BC: bc},
            "equal": [AB, AC] if iso else [],
            "given": given,
        }
        return fig, facts, quants, givens, shape, None

    def _b_circle(self, ctx: Ctx):
        rng = ctx.rng
        ctr, (P, Q) = rng.choice(CENTRES)
        mode = rng.choice(("radius", "diameter"))
        r = rng.randint(2, 15)
        d = 2 * r
        fig = Fig(rot="free")
        fig.circles.append((ctr, 1.0))
        # "_s": an undrawn point that tells on which side of the line the length label goes
        fig.pts = {
            ctr: (0.0, 0.0),
            P: (1.0, 0.0),
            "_s": (0.5, rng.choice((-0.5, 0.5)) if mode == "radius" else 0.5),
        }
        fig.dots.append(ctr)
        shape = ctx.say("shape_circle", n=ctr)
        if mode == "radius":
            seg = ctr + P
            given = {seg: r}
            fig.segs.append((ctr, P, rng.random() < 0.25))
            fig.slabels.append((ctr, P, ctx.lab(r), 0.5, "_s"))
            fig.vlabels.extend([(ctr, (-1.0, 0.0)), (P, (1.0, 0.0))])
            givens = [ctx.say("given_radius", seg=seg, v=ctx.lab(r))]
        else:
            seg = Q + P
            fig.pts[Q] = (-1.0, 0.0)
            given = {seg: d}
            fig.segs.append((Q, P, False))
            fig.slabels.append((Q, P, ctx.lab(d), 0.5, "_s"))
            fig.vlabels.extend([(ctr, (0.0, 1.0)), (P, (1.0, 0.0)), (Q, (-1.0, 0.0))])
            givens = [ctx.say("given_diameter", seg=seg, v=ctx.lab(d))]

        def r_first(known: set) -> list[str]:
            if mode == "diameter" and "radius" not in known:
                return [ctx.say("ex_r_from_d", dv=d, rv=r)]
            return []

        def ex_area(known: set) -> str:
            key = "ex_circle_area_pi" if ctx.pi else "ex_circle_area_314"
            return ctx.join(r_first(known) + [ctx.say(key, rv=r, r2=r * r, ans=ctx.fmt("piarea", r * r))])

        def ex_circ(known: set) -> str:
            ans = ctx.fmt("pilen", d)
            if mode == "diameter":
                return ctx.say("ex_circ_d_pi" if ctx.pi else "ex_circ_d_314", dv=d, ans=ans)
            return ctx.say("ex_circ_pi" if ctx.pi else "ex_circ_314", rv=r, ans=ans)

        quants = []
        if mode == "radius":
            quants.append(
                Quantity(
                    "diameter",
                    "length",
                    ctx.say("t_diameter", shape=shape),
                    "len",
                    d,
                    [r, 4 * r, r * r, d + 1],
                    lambda known: ctx.say("ex_diameter", rv=r, ans=ctx.fmt("len", d)),
                )
            )
        else:
            quants.append(
                Quantity(
                    "radius",
                    "length",
                    ctx.say("t_radius", shape=shape),
                    "len",
                    r,
                    [d, 2 * d, r + 1, r - 1],
                    lambda known: ctx.say("ex_radius", dv=d, ans=ctx.fmt("len", r)),
                )
            )
        quants.append(
            Quantity(
                "area",
                "area",
                ctx.say("t_area", shape=shape),
                "piarea",
                r * r,
                [2 * r, 4 * r * r, 2 * r * r, r],
                ex_area,
            )
        )
        quants.append(
            Quantity(
                "circumference",
                "perimeter",
                ctx.say("t_circumference", shape=shape),
                "pilen",
                d,
                [r * r, r, 4 * r, d * d],
                ex_circ,
            )
        )
        facts = {"mode": mode, "centre": ctr, "radius": r, "given": given}
        return fig, facts, quants, givens, shape, None

    def _b_parallelogram(self, ctx: Ctx):
        rng = ctx.rng
        V, F = rng.choice(QUADS)
        A, B, C, D = V
        b = rng.randint(6, 20)
        s = None
        if rng.random() < 0.5:
            options = [t for t in SMALL_TRIPLES if min(t[0], t[1]) < 0.6 * b and max(t[0], t[1]) <= 1.4 * b]
            if options:
                p, q, s = rng.choice(options)
                off, h = (p, q) if p < q else (q, p)
                if rng.random() < 0.4 and max(p, q) < 0.6 * b:
                    off, h = max(p, q), min(p, q)
        if s is None:
            h = rng.randint(max(3, b // 3), max(4, b))
            off = round(b * rng.uniform(0.2, 0.5), 3)
        fig = Fig(rot="tilt")
        fig.pts = {
            A: (0.0, 0.0),
            B: (float(b), 0.0),
            C: (b + off, float(h)),
            D: (float(off), float(h)),
            F: (float(off), 0.0),
        }
        fig.polys.append((A, B, C, D))
        for p in V:
            fig.vlabels.append((p, None))
        fig.vlabels.append((F, (0.0, -1.0)))
        fig.segs.append((D, F, True))
        fig.rights.append((F, D, B))
        AB, DF, AD = A + B, D + F, A + D
        # the base is labelled on AB unless the foot F is near its middle; then on the equal side DC
        base = AB if abs(off / b - 0.5) >= 0.25 else D + C
        fig.slabels.append((base[0], base[1], ctx.lab(b), 0.5, None))
        fig.slabels.append((D, F, ctx.lab(h), 0.5, A))
        given = {base: b, DF: h}
        if s is not None:
            fig.slabels.append((A, D, ctx.lab(s), 0.5, None))
            given[AD] = s
        shape = ctx.say("shape_para", n=V)
        quants = [
            Quantity(
                "area",
                "area",
                ctx.say("t_area", shape=shape),
                "area",
                b * h,
                ([b * s] if s else []) + [b * h / 2, 2 * (b + h), b + h],
                lambda known: ctx.say("ex_para_area", b=base, h=DF, bv=b, hv=h, ans=ctx.fmt("area", b * h)),
            )
        ]
        if s is not None:
            quants.append(
                Quantity(
                    "perimeter",
                    "perimeter",
                    ctx.say("t_perimeter", shape=shape),
                    "len",
                    2 * (b + s),
                    [b + s, b * h, 2 * (b + h), b * s, 4 * b],
                    lambda known: ctx.say(
                        "ex_para_perimeter", b=base, s=AD, bv=b, sv=s, ans=ctx.fmt("len", 2 * (b + s))
                    ),
                )
            )
        givens = [f"{seg} = {ctx.lab(v)}" for seg, v in given.items() if seg != DF]
        givens.append(ctx.say("given_height", seg=DF, base=AB, v=ctx.lab(h)))
        facts = {
            "vertices": V,
            "foot": F,
            "base": b,
            "base_segment": base,
            "height": h,
            "slant": s,
            "given": given,
        }
        return fig, facts, quants, givens, shape, (V, "parallelogram", ["rectangle", "square", "trapezoid"])

    def _b_trapezoid(self, ctx: Ctx):
        rng = ctx.rng
        V, F = rng.choice(QUADS)
        A, B, C, D = V
        right = rng.random() < 0.4
        slant = None
        while True:
            if right and rng.random() < 0.6:
                p, q, slant = rng.choice(SMALL_TRIPLES)
                diff, h = (p, q) if rng.random() < 0.5 else (q, p)
                a = rng.randint(3, 14)
                b = a + diff
            else:
                slant = None
                b = rng.randint(7, 22)
                a = rng.randint(3, b - 3)
                h = rng.randint(3, 14)
            if (a + b) * h % 2 == 0 and b <= 3 * h and h <= 1.3 * b and b <= 28:
                break
        fig = Fig(rot="tilt")
        off = 0.0 if right else round((b - a) * rng.uniform(0.25, 0.75), 3)
        fig.pts = {A: (0.0, 0.0), B: (float(b), 0.0), C: (off + a, float(h)), D: (off, float(h))}
        fig.polys.append((A, B, C, D))
        for p in V:
            fig.vlabels.append((p, None))
        AB, DC, BC = A + B, D + C, B + C
        if right:
            hs = A + D
            fig.rights.extend([(A, B, D), (D, A, C)])
            fig.slabels.append((A, D, ctx.lab(h), 0.5, None))
            fig.slabels.append((A, B, ctx.lab(b), 0.5, None))
        else:
            # drop the height from the top vertex whose foot is further from the middle of AB
            top, xf = (D, off) if abs(off - b / 2) >= abs(off + a - b / 2) else (C, off + a)
            hs = top + F
            fig.pts[F] = (xf, 0.0)
            fig.vlabels.append((F, (0.0, -1.0)))
            fig.segs.append((top, F, True))
            near, far = (A, B) if top == D else (B, A)
            fig.rights.append((F, top, far))
            fig.slabels.append((top, F, ctx.lab(h), 0.5, near))
            u = xf / b
            t = 0.5 if abs(u - 0.5) >= 0.2 else ((u + 1) / 2 if u < 0.5 else u / 2)
            fig.slabels.append((A, B, ctx.lab(b), t, None))
        fig.slabels.append((D, C, ctx.lab(a), 0.5, None))
        given = {AB: b, DC: a, hs: h}
        if slant is not None:
            fig.slabels.append((B, C, ctx.lab(slant), 0.5, None))
            given[BC] = slant
        shape = ctx.say("shape_trap", n=V)
        area = (a + b) * h // 2
        quants = [
            Quantity(
                "area",
                "area",
                ctx.say("t_area", shape=shape),
                "area",
                area,
                [(a + b) * h, a * h, b * h, (b - a) * h / 2, a + b + h],
                lambda known: ctx.say(
                    "ex_trap_area", a=DC, b=AB, h=hs, av=a, bv=b, hv=h, s=a + b, ans=ctx.fmt("area", area)
                ),
            )
        ]
        if slant is not None:
            per = a + b + h + slant
            quants.append(
                Quantity(
                    "perimeter",
                    "perimeter",
                    ctx.say("t_perimeter", shape=shape),
                    "len",
                    per,
                    [a + b + h, a + b + slant, area, 2 * (a + b)],
                    lambda known: self._perimeter_sum(ctx, [b, slant, a, h], ctx.fmt("len", per)),
                )
            )
        givens = [f"{seg} = {ctx.lab(v)}" for seg, v in given.items() if seg != hs]
        givens.append(ctx.say("given_parallel", s1=AB, s2=DC))
        if right:
            givens.append(ctx.say("given_right", v=A))
            givens.append(f"{hs} = {ctx.lab(h)}")
        else:
            givens.append(ctx.say("given_height", seg=hs, base=AB, v=ctx.lab(h)))
        facts = {
            "vertices": V,
            "right": right,
            "top": a,
            "bottom": b,
            "height": h,
            "slant": slant,
            "height_segment": hs,
            "given": given,
        }
        return fig, facts, quants, givens, shape, (V, "trapezoid", ["parallelogram", "rectangle", "rhombus"])

    def _b_angles(self, ctx: Ctx):
        rng = ctx.rng
        names, ctr = rng.choice(RAYS)
        A, B, C, D = names
        sub = rng.choice(("straight", "straight3", "vertical", "complement"))
        fig = Fig(rot="free", arc_frac=0.22)
        fig.pts = {ctr: (0.0, 0.0)}
        fig.dots.append(ctr)
        qmark = rng.random() < 0.5

        def at(deg: float) -> tuple[float, float]:
            return (math.cos(math.radians(deg)), math.sin(math.radians(deg)))

        def ang(p: str, q: str) -> str:
            return p + ctr + q

        quants: list[Quantity] = []
        if sub in ("straight", "straight3"):
            fig.pts[A], fig.pts[B] = (-1.0, 0.0), (1.0, 0.0)
            fig.segs.append((A, B, False))
            givens = [ctx.say("given_line", p=A, o=ctr, q=B)]
            if sub == "straight":
                while True:
                    x = rng.randint(25, 155)
                    if abs(x - 90) >= 8:
                        break
                fig.pts[C] = at(180 - x)
                fig.segs.append((ctr, C, False))
                fig.arcs.append((ctr, A, C, f"{x}°", 1.0))
                if qmark:
                    fig.arcs.append((ctr, C, B, "?", 1.35))
                given = {ang(A, C): x}
                AOC, BOC = ang(A, C), ang(B, C)
                quants.append(
                    Quantity(
                        "angle:" + BOC,
                        "angle",
                        ctx.say("t_angle", ang=BOC),
                        "angle",
                        180 - x,
                        [x, 90 - x, 360 - x, 270 - x],
                        lambda known: ctx.say("ex_supp", x=BOC, y=AOC, v=x, ans=ctx.fmt("angle", 180 - x)),
                    )
                )
                labelled = [C]
            else:
                while True:
                    x, y = rng.randint(25, 110), rng.randint(25, 110)
                    z = 180 - x - y
                    if z >= 25 and len({x, y, z}) == 3:
                        break
                fig.pts[C] = at(180 - x)
                fig.pts[D] = at(180 - x - y)
                fig.segs.extend([(ctr, C, False), (ctr, D, False)])
                fig.arcs.append((ctr, A, C, f"{x}°", 1.0))
                fig.arcs.append((ctr, C, D, f"{y}°", 1.0))
                if qmark:
                    fig.arcs.append((ctr, D, B, "?", 1.0))
                AOC, COD, DOB = ang(A, C), ang(C, D), ang(D, B)
                given = {AOC: x, COD: y}
                quants.append(
                    Quantity(
                        "angle:" + DOB,
                        "angle",
                        ctx.say("t_angle", ang=DOB),
                        "angle",
                        z,
                        [x + y, 180 - x, 180 - y, 360 - x - y],
                        lambda known: ctx.say(
                            "ex_supp3", x=DOB, y=AOC, z=COD, yv=x, zv=y, ans=ctx.fmt("angle", z)
                        ),
                    )
                )
                labelled = [C, D]
            fig.vlabels.extend([(A, (-1.0, 0.0)), (B, (1.0, 0.0)), (ctr, (0.0, -1.0))])
            for p in labelled:
                fig.vlabels.append((p, fig.pts[p]))
        elif sub == "vertical":
            while True:
                x = rng.randint(30, 150)
                if abs(x - 90) >= 10:
                    break
            fig.pts[A], fig.pts[B] = (-1.0, 0.0), (1.0, 0.0)
            fig.pts[C] = at(180 - x)
            cx, cy = fig.pts[C]
            fig.pts[D] = (-cx, -cy)
            fig.segs.extend([(A, B, False), (C, D, False)])
            AOC, BOD, BOC, AOD = ang(A, C), ang(B, D), ang(B, C), ang(A, D)
            given = {AOC: x}
            fig.arcs.append((ctr, A, C, f"{x}°", 1.0))
            second = rng.choice((BOC, AOD))
            quants.append(
                Quantity(
                    "angle:" + BOD,
                    "angle",
                    ctx.say("t_angle", ang=BOD),
                    "angle",
                    x,
                    [180 - x, 90 - x, 360 - x, x + 10],
                    lambda known: ctx.say("ex_vertical", x=BOD, y=AOC, ans=ctx.fmt("angle", x)),
                )
            )
            quants.append(
                Quantity(
                    "angle:" + second,
                    "angle",
                    ctx.say("t_angle", ang=second),
                    "angle",
                    180 - x,
                    [x, 90 - x, 360 - x, 270 - x],
                    lambda known: ctx.say("ex_supp", x=second, y=AOC, v=x, ans=ctx.fmt("angle", 180 - x)),
                )
            )
            if qmark:
                fig.arcs.append((ctr, B, D, "?", 1.0))
            # the centre's label goes in the free angle (BOC or AOD, both 180 - x) not asked
            free = AOD if second == BOC else BOC
            p1, p2 = fig.pts[free[0]], fig.pts[free[2]]
            fig.vlabels.append((ctr, (p1[0] + p2[0], p1[1] + p2[1]), (180 - x) / 2))
            for p in (A, B, C, D):
                fig.vlabels.append((p, fig.pts[p]))
            givens = [ctx.say("given_cross", l1=A + B, l2=C + D, o=ctr)]
        else:
            while True:
                x = rng.randint(20, 70)
                if abs(x - 45) >= 6:
                    break
            fig.pts[A], fig.pts[B], fig.pts[C] = (1.0, 0.0), (0.0, 1.0), at(x)
            fig.segs.extend([(ctr, A, False), (ctr, B, False), (ctr, C, False)])
            fig.rights.append((ctr, A, B))
            AOC, COB, AOB = ang(A, C), ang(C, B), ang(A, B)
            given = {AOC: x}
            fig.arcs.append((ctr, A, C, f"{x}°", 1.25))
            if qmark:
                fig.arcs.append((ctr, C, B, "?", 1.7))
            quants.append(
                Quantity(
                    "angle:" + COB,
                    "angle",
                    ctx.say("t_angle", ang=COB),
                    "angle",
                    90 - x,
                    [180 - x, x, 90 + x, 100 - x],
                    lambda known: ctx.say("ex_comp", x=COB, y=AOC, w=AOB, v=x, ans=ctx.fmt("angle", 90 - x)),
                )
            )
            fig.vlabels.extend([(A, (1.0, 0.0)), (B, (0.0, 1.0)), (C, fig.pts[C]), (ctr, (-1.0, -1.0))])
            givens = [f"∠{AOB} = 90°"]
        givens = givens + [f"∠{n} = {v}°" for n, v in given.items()]
        facts = {"subtype": sub, "rays": names, "centre": ctr, "given": given}
        return fig, facts, quants, givens, "", None


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


# ---------------------------------------------------------------------- rendering
def _unit(x: float, y: float) -> tuple[float, float]:
    n = math.hypot(x, y) or 1.0
    return x / n, y / n


def _dashed(draw: ImageDraw.ImageDraw, p, q, fill, width: int, dash: float, gap: float) -> None:
    length = math.dist(p, q)
    ux, uy = (q[0] - p[0]) / length, (q[1] - p[1]) / length
    t = 0.0
    while t < length:
        e = min(t + dash, length)
        draw.line([(p[0] + ux * t, p[1] + uy * t), (p[0] + ux * e, p[1] + uy * e)], fill=fill, width=width)
        t += dash + gap


def _text_size(font, text: str) -> tuple[float, float]:
    left, top, right, bottom = font.getbbox(text, anchor="mm")
    return right - left, bottom - top


def render(rng: random.Random, fig: Fig):
    W, H = style.canvas_size(rng, base=rng.choice((400, 448, 512, 576, 640)), spread=0.2)
    img, draw = style.canvas(rng, W, H, plain=rng.random() < 0.5)
    bg = img.getpixel((W - 1, H - 1))
    fs = max(13, min(28, int(min(W, H) * rng.uniform(0.038, 0.05))))
    font_v = style.pick_font(rng, fs)
    font_n = style.pick_font(rng, max(12, int(fs * rng.uniform(0.82, 1.0))))
    palette = [c for c in style.COLORS if c[0] not in ("yellow", "cyan", "gray", "pink")]
    stroke = style.ink(rng) if rng.random() < 0.4 else rng.choice(palette)[2]
    aux = stroke if rng.random() < 0.5 else rng.choice(palette)[2]
    text_v = style.ink(rng)
    text_n = text_v if rng.random() < 0.6 else rng.choice(palette)[2]
    lw = rng.choice((2, 2, 3, 3, 4))
    fill = None
    if rng.random() < 0.5:
        tint = rng.choice(style.COLORS)[2]
        alpha = rng.uniform(0.12, 0.28)
        fill = tuple(int(bg[i] * (1 - alpha) + tint[i] * alpha) for i in range(3))

    # orientation
    if fig.rot == "free":
        theta = rng.uniform(-180, 180)
    elif fig.rot == "quad":
        theta = rng.choice((0.0, 0.0, 90.0, rng.uniform(-25, 25)))
    else:
        theta = 0.0 if rng.random() < 0.5 else rng.uniform(-30, 30)
    mirror = rng.random() < 0.5
    ct, st = math.cos(math.radians(theta)), math.sin(math.radians(theta))

    def rot(x: float, y: float) -> tuple[float, float]:
        if mirror:
            x = -x
        return x * ct - y * st, x * st + y * ct

    model = {n: rot(*p) for n, p in fig.pts.items()}
    xs = [p[0] for p in model.values()]
    ys = [p[1] for p in model.values()]
    for c, r in fig.circles:
        cx, cy = model[c]
        xs += [cx - r, cx + r]
        ys += [cy - r, cy + r]
    margin = 2.6 * fs + 12
    bw, bh = max(xs) - min(xs), max(ys) - min(ys)
    scale = min((W - 2 * margin) / max(bw, 1e-6), (H - 2 * margin) / max(bh, 1e-6))
    ox = W / 2 - scale * (min(xs) + max(xs)) / 2
    oy = H / 2 + scale * (min(ys) + max(ys)) / 2
    P = {n: (ox + scale * x, oy - scale * y) for n, (x, y) in model.items()}

    def sdir(d: tuple[float, float]) -> tuple[float, float]:
        x, y = rot(*d)
        return _unit(x, -y)

    poly_pts = [P[n] for poly in fig.polys for n in poly] or list(P.values())
    cen = (sum(p[0] for p in poly_pts) / len(poly_pts), sum(p[1] for p in poly_pts) / len(poly_pts))
    for c, _ in fig.circles:
        cen = P[c]

    # shapes
    for poly in fig.polys:
        pts = [P[n] for n in poly]
        if fill:
            draw.polygon(pts, fill=fill)
    for c, r in fig.circles:
        cx, cy = P[c]
        rr = r * scale
        draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=fill, outline=stroke, width=lw)
    for poly in fig.polys:
        pts = [P[n] for n in poly]
        draw.line(pts + [pts[0]], fill=stroke, width=lw, joint="curve")
    for p, q, dashed in fig.segs:
        if dashed:
            _dashed(draw, P[p], P[q], aux, max(1, lw - 1), 4 + 2 * lw, 3 + lw)
        else:
            draw.line(
                [P[p], P[q]],
                fill=stroke if not fig.polys else aux,
                width=max(2, lw - (1 if fig.polys else 0)),
            )

    def side_len(v: str, p: str) -> float:
        return math.dist(P[v], P[p])

    for v, p1, p2 in fig.rights:
        size = max(8.0, min(16.0, 0.07 * min(side_len(v, p1), side_len(v, p2))))
        u1 = _unit(P[p1][0] - P[v][0], P[p1][1] - P[v][1])
        u2 = _unit(P[p2][0] - P[v][0], P[p2][1] - P[v][1])
        vx, vy = P[v]
        a = (vx + u1[0] * size, vy + u1[1] * size)
        b = (vx + (u1[0] + u2[0]) * size, vy + (u1[1] + u2[1]) * size)
        c = (vx + u2[0] * size, vy + u2[1] * size)
        draw.line([a, b, c], fill=stroke, width=max(1, lw - 1))

    for p, q, n in fig.ticks:
        u = _unit(P[q][0] - P[p][0], P[q][1] - P[p][1])
        nx, ny = -u[1], u[0]
        mx, my = (P[p][0] + P[q][0]) / 2, (P[p][1] + P[q][1]) / 2
        for i in range(n):
            o = (i - (n - 1) / 2) * 6
            cx, cy = mx + u[0] * o, my + u[1] * o
            draw.line(
                [(cx - nx * 7, cy - ny * 7), (cx + nx * 7, cy + ny * 7)], fill=stroke, width=max(2, lw - 1)
            )

    labels: list[tuple[tuple[float, float], str, object, tuple]] = []
    for v, p1, p2, text, rf in fig.arcs:
        vx, vy = P[v]
        base_r = max(fs * 1.2, min(fs * 3.5, fig.arc_frac * min(side_len(v, p1), side_len(v, p2))))
        a1 = math.atan2(P[p1][1] - vy, P[p1][0] - vx)
        a2 = math.atan2(P[p2][1] - vy, P[p2][0] - vx)
        sweep = (a2 - a1 + math.pi) % (2 * math.pi) - math.pi
        r = base_r * rf
        n = max(8, int(abs(sweep) * r / 3))
        arc = [
            (vx + r * math.cos(a1 + sweep * i / n), vy + r * math.sin(a1 + sweep * i / n))
            for i in range(n + 1)
        ]
        draw.line(arc, fill=aux, width=max(1, lw - 1), joint="curve")
        if text:
            tw, th = _text_size(font_n, text)
            e = math.hypot(tw, th) / 2
            half = abs(sweep) / 2
            dist = max(r + e + 3, (e + 2) / max(math.sin(half), 0.2))
            mid = a1 + sweep / 2
            labels.append(((vx + dist * math.cos(mid), vy + dist * math.sin(mid)), text, font_n, text_n))

    for n in fig.dots:
        x, y = P[n]
        rr = max(2.5, lw * 1.2)
        draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=stroke)
    if rng.random() < 0.3:
        for poly in fig.polys:
            for n in poly:
                x, y = P[n]
                rr = max(2.0, lw)
                draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=stroke)

    ticked = {frozenset((p, q)) for p, q, _ in fig.ticks}
    for p, q, text, t, away in fig.slabels:
        x1, y1 = P[p]
        x2, y2 = P[q]
        u = _unit(x2 - x1, y2 - y1)
        nx, ny = -u[1], u[0]
        mx, my = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
        ref = P[away] if away else cen
        if (mx - ref[0]) * nx + (my - ref[1]) * ny < 0:
            nx, ny = -nx, -ny
        tw, th = _text_size(font_n, text)
        d = 5 + lw + abs(nx) * tw / 2 + abs(ny) * th / 2 + (8 if frozenset((p, q)) in ticked else 0)
        labels.append(((mx + nx * d, my + ny * d), text, font_n, text_n))

    for name, d, *free in fig.vlabels:
        x, y = P[name]
        u = _unit(x - cen[0], y - cen[1]) if d is None else sdir(d)
        tw, th = _text_size(font_v, name)
        dd = 5 + lw + abs(u[0]) * tw / 2 + abs(u[1]) * th / 2 + 2
        if free:  # the label sits inside an angle of this half-size: keep clear of both arms
            dd = max(dd, (math.hypot(tw, th) / 2 + 3) / math.sin(math.radians(free[0])))
        labels.append(((x + u[0] * dd, y + u[1] * dd), name, font_v, text_v))

    for (x, y), text, font, colour in labels:
        tw, th = _text_size(font, text)
        x = min(max(x, tw / 2 + 3), W - tw / 2 - 3)
        y = min(max(y, th / 2 + 3), H - th / 2 - 3)
        draw.text((x, y), text, font=font, fill=colour, anchor="mm")

    layout = {
        "canvas": [W, H],
        "rotation": round(theta, 2),
        "mirrored": mirror,
        "points": {n: [round(x, 1), round(y, 1)] for n, (x, y) in sorted(P.items()) if not n.startswith("_")},
    }
    return img, layout
