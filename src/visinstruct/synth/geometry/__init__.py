"""Plane geometry: labelled figures whose lengths, angles, areas and perimeters are exact.

Each item draws one figure roughly to scale (rectangle, square, right triangle, triangle
with angles, isosceles triangle, triangle with sides, circle, parallelogram, trapezoid,
or angles formed by lines) with its given measurements written on it. Questions ask for
a length, an angle, an area or a perimeter; wrong options and false statements come from
common mistakes (perimeter for area, forgetting the 1/2, diameter used as radius...).

    model.py                 names, triples, figures, quantities, wording and number formats
    polygons.py, triangles.py, circles.py   the figure builders
    draw.py                  drawing a figure
    questions.py             quantities as facts for the shared engine; the worked answer
"""

from __future__ import annotations

import random
from collections.abc import Callable

from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.geometry.circles import build_angles, build_circle
from visinstruct.synth.geometry.draw import render
from visinstruct.synth.geometry.model import Built, Ctx, base_angles_ok, pick_kind
from visinstruct.synth.geometry.polygons import (
    build_parallelogram,
    build_rectangle,
    build_square,
    build_trapezoid,
)
from visinstruct.synth.geometry.questions import ask_figure, record
from visinstruct.synth.geometry.triangles import (
    build_isosceles,
    build_right_triangle,
    build_triangle_angles,
    build_triangle_sides,
)

BUILDERS: dict[str, Callable[[Ctx], Built]] = {
    "rectangle": build_rectangle,
    "square": build_square,
    "right_triangle": build_right_triangle,
    "triangle_angles": build_triangle_angles,
    "isosceles": build_isosceles,
    "triangle_sides": build_triangle_sides,
    "circle": build_circle,
    "parallelogram": build_parallelogram,
    "trapezoid": build_trapezoid,
    "angles": build_angles,
}


class Geometry(SynthDomain):
    name = "geometry"
    description = (
        "Labelled plane figures (polygons, triangles, circles, angles between lines) drawn to scale; "
        "lengths, angles, areas and perimeters are computed exactly."
    )

    coordinates = {"points": "points"}  # where each vertex is drawn

    def make(self, rng: random.Random, lang: str) -> Item:
        kind = pick_kind(rng)
        ctx = Ctx(self, rng, lang)
        fig, facts, quants, givens, shape, shape_q = BUILDERS[kind](ctx)
        img, layout = render(rng, fig, lang)
        asked = ask_figure(ctx, quants, givens, shape, shape_q)
        facts = {
            "figure": kind,
            **facts,
            "unit": ctx.unit,
            "pi_mode": "pi" if ctx.pi else "3.14",
            "answers": {q.qid: ctx.fmt(q.kind, q.value) for q in quants},
            "asked": [record(ctx, a) for a in asked],
            **layout,
        }
        return Item([img], facts, [a.question for a in asked])


__all__ = ["Geometry", "base_angles_ok"]
