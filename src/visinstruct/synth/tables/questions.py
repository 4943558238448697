"""Tables' questions: look-ups, reverse look-ups, extremes, comparisons and two-cell arithmetic.

Every question is a `Fact` for the shared engine; the wording of cells, columns and rows
comes from the phrasing file (`cell_<ref>`, `measure_<ref>`, `which_<rowref>`...).
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

from visinstruct.synth.ask import Fact, Said, Turn, Voice, nearby, numeric_distractors
from visinstruct.synth.base import SynthDomain
from visinstruct.synth.tables.data import Table, clock, money

DOUBLE_STOP = re.compile(r"\.\.(?=\s|$)")


class TableVoice(Voice):
    """Tables' phrasings: full sentences are capitalised in English; `frag` gives a bare fragment."""

    def say(self, key: str, **kw: object) -> str:
        s = self.frag(key, **kw)
        if self.lang != "en":
            return s
        s = DOUBLE_STOP.sub(".", s)  # "... 2:12 P.M.." -> "... 2:12 P.M."
        return s[:1].upper() + s[1:]

    def said(self, key: str, **kw: object) -> Said:
        return Said(key, self.say(key, **kw))

    def frag(self, key: str, **kw: object) -> str:
        """A fragment to be placed inside a sentence."""
        return self.domain.say(self.rng, key, self.lang, **kw)


class TableFacts:
    """The facts of one table, worded in one language with the item's random stream."""

    def __init__(self, domain: SynthDomain, rng: random.Random, lang: str, t: Table):
        self.v = TableVoice(domain, rng, lang)
        self.say, self.said, self.frag = self.v.say, self.v.said, self.v.frag
        self.rng, self.t = rng, t
        self.n = len(t.rows)
        self.num = [j for j, c in enumerate(t.cols) if c.kind in ("int", "money")]
        self.ints = [j for j, c in enumerate(t.cols) if c.kind == "int"]
        self.times = [j for j, c in enumerate(t.cols) if c.kind == "time"]

    def money(self, cents: int) -> str:
        """An amount as the table writes it, in its currency."""
        return money(cents, self.t.words.currency)

    def fact(self, kind: str, category: str, params: dict, answer: str, wrong: list[str], **kw) -> Fact:
        """A fact whose values are already written as the table writes them."""
        return Fact(kind, category, answer, wrong, args=params, choose_from=len(wrong), **kw)

    # -- wording of the table's parts
    def vehicle(self) -> str:
        return self.frag(f"vehicle_{self.t.vehicle}") if self.t.vehicle else ""

    def cell(self, r: int, c: int) -> str:
        col = self.t.cols[c]
        return self.frag(f"cell_{col.ref}", row=self.t.rows[r], col=col.header, vehicle=self.vehicle())

    def measure(self, c: int) -> str:
        col = self.t.cols[c]
        return self.frag(f"measure_{col.ref}", col=col.header, vehicle=self.vehicle())

    def which(self) -> str:
        return self.frag(f"which_{self.t.rowref}")

    def rows_word(self) -> str:
        return self.frag(f"rows_{self.t.rowref}")

    def listing(self, pairs: list[tuple[str, str]]) -> str:
        """'A: 3, B: 5' from (row, value) pairs."""
        sep = self.frag("list_sep")
        return sep.join(self.frag("pair", row=r, value=v) for r, v in pairs)

    def col_listing(self, c: int) -> str:
        """Every row with its value in column `c`."""
        col = self.t.cols[c]
        return self.listing(list(zip(self.t.rows, col.cells, strict=True)))

    def near(self, kind: str, v: int | Fraction, k: int = 6) -> list[str]:
        """Plausible wrong values near `v`, written as a column of `kind` writes them."""
        rng = self.rng
        if kind == "money":
            vals = nearby(v, rng, rings=((5, 10, 25, 50, 100, 1, 20, 200),), lo=1)
            return list(dict.fromkeys(self.money(u) for u in vals))[:k]
        if kind in ("time", "minutes"):
            vals = nearby(v, rng, rings=((5, 10, 15, 60, 1, 2, 20, 30),), lo=1, hi=24 * 60 - 1)
            show = (lambda u: clock(u, self.t.cols[0].tfmt)) if kind == "time" else str
            return list(dict.fromkeys(show(u) for u in vals))[:k]
        if isinstance(v, Fraction):
            if v.denominator != 1:
                return numeric_distractors(float(v), rng, k, step=rng.choice((1, 1, 0.5)))
            v = v.numerator
        step = 1 if abs(v) < 30 else rng.choice((1, 2, 5, 10))
        return numeric_distractors(v, rng, k, step=step)

    def col_steps(self, c: int, key: str, answer_key: str, **kw: object) -> list[Turn]:
        """Read the column, then compute: the usual working of a column statistic."""
        col = self.t.cols[c]
        measure = self.measure(c)
        return [
            (
                self.say("read_col_q", col=col.header, measure=measure),
                self.say("read_col_a", col=col.header, listing=self.col_listing(c)),
            ),
            (
                self.say(key, col=col.header, measure=measure, rows=self.rows_word()),
                self.say(answer_key, **kw),
            ),
        ]

    # -- facts
    def p_lookup(self) -> Fact:
        rng, t = self.rng, self.t
        c, r = rng.randrange(len(t.cols)), rng.randrange(self.n)
        col = t.cols[c]
        other = [col.cells[i] for i in range(self.n) if i != r]
        rng.shuffle(other)
        wrong = other[:2] + self.near(col.kind, col.values[r])
        rng.shuffle(wrong)
        cell = self.cell(r, c)
        key = "lookup_time" if col.kind == "time" else "lookup"
        return self.fact(
            "lookup",
            "value_lookup",
            {"row": r, "col": c},
            col.cells[r],
            wrong,
            ask=lambda: self.said(key, cell=cell),
            claim=lambda v: self.said("lookup_claim", cell=cell, value=v),
        )

    def p_reverse(self) -> Fact:
        rng, t = self.rng, self.t
        c, r = rng.randrange(len(t.cols)), rng.randrange(self.n)
        col = t.cols[c]
        others = sorted(
            (i for i in range(self.n) if i != r), key=lambda i: abs(col.values[i] - col.values[r])
        )
        value, measure, which = col.cells[r], self.measure(c), self.which()

        def claim(name: str) -> Said:
            return self.said("lookup_claim", cell=self.cell(t.rows.index(name), c), value=value)

        return self.fact(
            "reverse",
            "value_lookup",
            {"col": c, "value_row": r},
            t.rows[r],
            [t.rows[i] for i in others],
            ask=lambda: self.said("reverse", which=which, measure=measure, value=value),
            claim=claim,
            mc=self.n >= 4,
        )

    def p_extremum(self, mode: str) -> Fact:
        rng, t = self.rng, self.t
        c = rng.choice(self.num)
        vals = t.cols[c].values
        best = (max if mode == "max" else min)(range(self.n), key=lambda i: vals[i])
        others = sorted((i for i in range(self.n) if i != best), key=lambda i: abs(vals[i] - vals[best]))
        measure, which = self.measure(c), self.which()

        def steps() -> list[Turn]:
            return [
                (
                    self.say("read_col_q", col=t.cols[c].header, measure=measure),
                    self.say("read_col_a", col=t.cols[c].header, listing=self.col_listing(c)),
                ),
                (
                    self.say(f"extremum_{mode}", which=which, measure=measure),
                    self.say(
                        f"extremum_{mode}_a", value=t.cols[c].cells[best], row=t.rows[best], measure=measure
                    ),
                ),
            ]

        return self.fact(
            f"extremum_{mode}",
            "extremum",
            {"col": c, "mode": mode},
            t.rows[best],
            [t.rows[i] for i in others],
            ask=lambda: self.said(f"extremum_{mode}", which=which, measure=measure),
            claim=lambda name: self.said(f"extremum_{mode}_claim", row=name, measure=measure),
            explain=steps,
            mc=self.n >= 4,
        )

    def p_compare(self) -> Fact:
        rng, t = self.rng, self.t
        c = rng.randrange(len(t.cols))
        col = t.cols[c]
        a, b = rng.sample(range(self.n), 2)
        timed = col.kind == "time"
        mode = rng.choice(("earlier", "later") if timed else ("more", "less"))
        pick_first = (col.values[a] < col.values[b]) == (mode in ("earlier", "less"))
        measure, which = self.measure(c), self.which()

        def judge(truth: bool) -> tuple[Said, dict]:
            rel = rng.choice(("earlier", "later") if timed else ("gt", "lt"))
            p, q = a, b
            holds = col.values[p] > col.values[q] if rel in ("gt", "later") else col.values[p] < col.values[q]
            if holds != truth:
                p, q = q, p
            said = self.said(f"compare_claim_{rel}", cella=self.cell(p, c), cellb=self.cell(q, c))
            return said, {"rows": [p, q], "relation": rel}

        return self.fact(
            "compare",
            "comparison",
            {"col": c, "rows": [a, b], "mode": mode},
            t.rows[a] if pick_first else t.rows[b],
            [t.rows[b] if pick_first else t.rows[a]],
            ask=lambda: self.said(f"compare_{mode}", which=which, measure=measure, a=t.rows[a], b=t.rows[b]),
            judge=judge,
            mc=False,
        )

    def two_cells(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Two cells of one number column (or, in grids, sometimes of one row), larger first."""
        rng, t = self.rng, self.t
        if t.kind == "grid" and rng.random() < 0.4:
            r = rng.randrange(self.n)
            ca, cb = rng.sample(self.num, 2)
            cells = [(r, ca), (r, cb)]
        else:
            c = rng.choice(self.num)
            ra, rb = rng.sample(range(self.n), 2)
            cells = [(ra, c), (rb, c)]
        cells.sort(key=lambda rc: -t.cols[rc[1]].values[rc[0]])
        return cells[0], cells[1]

    def val(self, rc: tuple[int, int]) -> int:
        return self.t.cols[rc[1]].values[rc[0]]

    def p_diff(self) -> Fact | None:
        return self.p_pair("diff")

    def p_sum(self) -> Fact | None:
        return self.p_pair("sum")

    def p_pair(self, op: str) -> Fact | None:
        """The difference or the sum of two cells (adding when asked to subtract is the mistake)."""
        A, B = self.two_cells()
        va, vb = self.val(A), self.val(B)
        if va == vb:
            return None
        col = self.t.cols[A[1]]
        res = va - vb if op == "diff" else va + vb
        other = va + vb if op == "diff" else va - vb
        cella, cellb = self.cell(*A), self.cell(*B)
        sa, sb, sr = col.show(va), col.show(vb), col.show(res)

        def steps() -> list[Turn]:
            return [
                (
                    self.say("read_cells_q", cella=cella, cellb=cellb),
                    self.say("read_cells_a", cella=cella, cellb=cellb, va=sa, vb=sb),
                ),
                (
                    self.say(op, cella=cella, cellb=cellb),
                    self.say(f"{op}_step", cella=cella, cellb=cellb, va=sa, vb=sb, result=sr),
                ),
            ]

        return self.fact(
            op,
            "arithmetic",
            {"cells": [list(A), list(B)]},
            sr,
            [col.show(other)] + self.near(col.kind, res),
            ask=lambda: self.said(op, cella=cella, cellb=cellb),
            claim=lambda v: self.said(f"{op}_claim", cella=cella, cellb=cellb, value=v),
            explain=steps,
        )
