"""Tables with math word problems: price lists, frequency tables, score grids and schedules.

Every number is stored exactly (prices in integer cents, times in minutes after midnight),
so look-ups, sums, differences, costs, means, medians, ranges, extrema, comparisons and
counts are computed exactly from what the table shows.

    data.py       the vocabulary and the tables
    draw.py       drawing a table
    questions.py  look-ups, extremes, comparisons, two-cell arithmetic
    problems.py   statistics and word problems; every kind of question together
"""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.ask import Asked, ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.tables.data import make_table
from visinstruct.synth.tables.draw import draw
from visinstruct.synth.tables.problems import TableProblems


def record(a: Asked) -> dict[str, Any]:
    """What a question asks, with its parameters (and for a judgement what it states) together."""
    rec = a.record()
    params = dict(rec.pop("args"))
    if a.type == "judgement":
        stated = rec.pop("stated", None)
        params.update(stated if stated is not None else {"claim": rec.pop("shown")})
    rec["params"] = params
    return rec


class Tables(SynthDomain):
    name = "tables"
    description = (
        "Tables (price lists, frequency tables, score grids, schedules) with word problems computed exactly "
        "from the cells: look-ups, sums, differences, costs, mean/median/range, extrema, comparisons, counts."
    )

    def make(self, rng: random.Random, lang: str) -> Item:
        t = make_table(rng, lang)
        img, look = draw(rng, t, lang)
        asked = ask_all(
            rng,
            TableProblems(self, rng, lang, t).kinds(),
            pairs=2 if rng.random() < 0.3 else 1,
            mc=rng.randint(1, 2),
            short=rng.randint(1, 2),
        )
        facts = {
            "kind": t.kind,
            "title": t.title,
            "row_header": t.row_header,
            "rows": list(t.rows),
            "columns": [
                {
                    "header": c.header,
                    "type": c.kind,
                    "ref": c.ref,
                    "values": list(c.values),
                    "cells": list(c.cells),
                }
                for c in t.cols
            ],
            "unit": t.unit,
            "currency": t.words.currency,
            "singulars": list(t.singulars),
            "plurals": list(t.plurals),
            "vehicle": t.vehicle,
            "time_format": t.cols[0].tfmt,
            "style": look,
            "questions": [record(a) for a in asked],
        }
        return Item([img], facts, [a.question for a in asked])


__all__ = ["Tables"]
