"""Tables' statistics and word problems: totals, means, medians, ranges, counts over a
threshold, row totals, shopping costs and budgets, durations and the longest stay.

Wrong values are the usual slips (the median for the mean, one item left out of a total,
hours and minutes subtracted as plain numbers) before nearby values.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

from visinstruct.synth.ask import Fact, Kinds, Said, Turn
from visinstruct.synth.tables.data import clean, clock, fmt_frac
from visinstruct.synth.tables.questions import TableFacts


def between(lo: int, hi: int, grains: tuple[int, ...], rng: random.Random) -> int:
    """A round threshold strictly between lo and hi if there is one, else hi."""
    for g in grains:
        cands = list(range((lo // g + 1) * g, hi, g))
        if cands:
            return rng.choice(cands)
    return hi


class TableProblems(TableFacts):
    """Every kind of question a table can answer, the simple look-ups included."""

    def kinds(self) -> Kinds:
        """The kinds this table has, shopping and time spans weighted up: they are the heart of
        price lists and schedules."""
        b = self.builders()
        return Kinds(self.rng, b, {k: 2 for k in ("cost", "duration") if k in b})

    def builders(self) -> dict[str, Callable[[], Fact | None]]:
        """This table's kinds of question: what every table has, and what its kind adds."""
        t = self.t
        b: dict[str, Callable[[], Fact | None]] = {
            "lookup": self.p_lookup,
            "reverse": self.p_reverse,
            "compare": self.p_compare,
            "count": self.p_count,
        }
        if self.num:
            b.update(
                extremum_max=lambda: self.p_extremum("max"),
                extremum_min=lambda: self.p_extremum("min"),
                diff=self.p_diff,
                sum=self.p_sum,
                total=self.p_total,
                range=self.p_range,
            )
        if self.ints:
            b.update(mean=self.p_mean, median=self.p_median)
        if t.kind == "grid":
            b["row_total"] = self.p_row_total
        if t.kind == "price":
            b.update(cost=self.p_cost, afford=self.p_afford)
        if self.times:
            b["duration"] = self.p_duration
            if len(self.times) == 2:
                b["longest"] = self.p_longest
        return b

    # ------------------------------------------------------------------ problems

    def p_total(self) -> Fact:
        rng, t = self.rng, self.t
        c = rng.choice(self.num)
        col = t.cols[c]
        s = sum(col.values)
        slips = [col.show(s - v) for v in rng.sample(col.values, 2)]
        wrong = slips[:1] + self.near(col.kind, s)
        rng.shuffle(wrong)
        measure = self.measure(c)
        expr = " + ".join(col.cells)
        return self.fact(
            "total",
            "statistics",
            {"col": c},
            col.show(s),
            wrong,
            ask=lambda: self.said("total", col=col.header, measure=measure, rows=self.rows_word()),
            claim=lambda v: self.said("total_claim", col=col.header, measure=measure, value=v),
            explain=lambda: self.col_steps(c, "total", "total_step", expr=expr, result=col.show(s)),
        )

    def p_mean(self) -> Fact | None:
        rng, t = self.rng, self.t
        c = rng.choice(self.ints)
        col = t.cols[c]
        s, n = sum(col.values), self.n
        mean = Fraction(s, n)
        if not clean(mean):
            return None
        ans = fmt_frac(mean)
        med = self.median_of(col.values)
        first = [fmt_frac(med)] if clean(med) else []
        wrong = first + self.near("int", mean)
        rng.shuffle(wrong)
        measure = self.measure(c)
        expr = " + ".join(col.cells)

        def steps() -> list[Turn]:
            return [
                (
                    self.say("read_col_q", col=col.header, measure=measure),
                    self.say("read_col_a", col=col.header, listing=self.col_listing(c)),
                ),
                (self.say("mean_sum_q"), self.say("mean_sum_a", expr=expr, total=s, n=n)),
                (
                    self.say("mean", col=col.header, measure=measure),
                    self.say("mean_step", total=s, n=n, result=ans),
                ),
            ]

        return self.fact(
            "mean",
            "statistics",
            {"col": c},
            ans,
            wrong,
            ask=lambda: self.said("mean", col=col.header, measure=measure),
            claim=lambda v: self.said("mean_claim", col=col.header, measure=measure, value=v),
            explain=steps,
        )

    @staticmethod
    def median_of(values: list[int]) -> Fraction:
        """The exact median."""
        s = sorted(values)
        n = len(s)
        return Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)

    def p_median(self) -> Fact:
        rng, t = self.rng, self.t
        c = rng.choice(self.ints)
        col = t.cols[c]
        s, n = sorted(col.values), self.n
        med = self.median_of(col.values)
        ans = fmt_frac(med)
        mean = Fraction(sum(s), n)
        first = [str(s[n // 2 - 1]), str(s[(n + 1) // 2])] + ([fmt_frac(mean)] if clean(mean) else [])
        wrong = first + self.near("int", med)
        rng.shuffle(wrong)
        measure = self.measure(c)
        sorted_s = self.frag("list_sep").join(str(v) for v in s)
        if n % 2:
            kw = {"sorted": sorted_s, "n": n, "result": ans}
            key = "median_step_odd"
        else:
            kw = {"sorted": sorted_s, "n": n, "m1": s[n // 2 - 1], "m2": s[n // 2], "result": ans}
            key = "median_step_even"
        return self.fact(
            "median",
            "statistics",
            {"col": c},
            ans,
            wrong,
            ask=lambda: self.said("median", col=col.header, measure=measure),
            claim=lambda v: self.said("median_claim", col=col.header, measure=measure, value=v),
            explain=lambda: self.col_steps(c, "median", key, **kw),
        )

    def p_range(self) -> Fact:
        rng, t = self.rng, self.t
        c = rng.choice(self.num)
        col = t.cols[c]
        hi, lo = max(col.values), min(col.values)
        res = hi - lo
        second = sorted(col.values)[1]
        wrong = [col.show(hi - second)] + self.near(col.kind, res)
        rng.shuffle(wrong)
        measure = self.measure(c)
        return self.fact(
            "range",
            "statistics",
            {"col": c},
            col.show(res),
            wrong,
            ask=lambda: self.said("range", col=col.header, measure=measure),
            claim=lambda v: self.said("range_claim", col=col.header, measure=measure, value=v),
            explain=lambda: self.col_steps(
                c, "range", "range_step", hi=col.show(hi), lo=col.show(lo), result=col.show(res)
            ),
        )

    def p_count(self) -> Fact:
        rng, t = self.rng, self.t
        c = rng.randrange(len(t.cols))
        col = t.cols[c]
        s = sorted(col.values)
        i = rng.randrange(self.n - 1)
        grains = {"money": (100, 50, 25, 5, 1), "time": (60, 30, 15, 5, 1), "int": (10, 5, 1)}[col.kind]
        th = between(s[i], s[i + 1], grains, rng)
        modes = ("before", "after") if col.kind == "time" else ("more", "less")
        mode = rng.choice(modes)
        above = mode in ("more", "after")
        hits = [r for r in range(self.n) if (col.values[r] > th if above else col.values[r] < th)]
        res = len(hits)
        wrong = [str(k) for k in sorted(range(self.n + 3), key=lambda k: (abs(k - res), k)) if k != res][:4]
        rng.shuffle(wrong)
        measure, shown = self.measure(c), col.show(th)

        def steps() -> list[Turn]:
            if hits:
                ans = self.say(
                    "count_step", matches=self.listing([(t.rows[r], col.cells[r]) for r in hits]), result=res
                )
            else:
                ans = self.say("count_step_none")
            return [
                (
                    self.say("read_col_q", col=col.header, measure=measure),
                    self.say("read_col_a", col=col.header, listing=self.col_listing(c)),
                ),
                (self.say(f"count_{mode}", rows=self.rows_word(), measure=measure, n=shown), ans),
            ]

        return self.fact(
            "count",
            "counting",
            {"col": c, "mode": mode, "threshold": th},
            str(res),
            wrong,
            ask=lambda: self.said(f"count_{mode}", rows=self.rows_word(), measure=measure, n=shown),
            claim=lambda v: self.said(
                f"count_{mode}_claim", rows=self.rows_word(), measure=measure, n=shown, value=v
            ),
            explain=steps,
        )

    def p_row_total(self) -> Fact:
        rng, t = self.rng, self.t
        r = rng.randrange(self.n)
        vals = [t.cols[c].values[r] for c in self.num]
        s = sum(vals)
        wrong = [str(s - rng.choice(vals))] + self.near("int", s)
        rng.shuffle(wrong)
        row = t.rows[r]
        listing = self.listing([(t.cols[c].header, t.cols[c].cells[r]) for c in self.num])
        expr = " + ".join(str(v) for v in vals)

        def steps() -> list[Turn]:
            return [
                (self.say("read_row_q", row=row), self.say("read_row_a", row=row, listing=listing)),
                (self.say("row_total", row=row), self.say("total_step", expr=expr, result=s)),
            ]

        return self.fact(
            "row_total",
            "arithmetic",
            {"row": r},
            str(s),
            wrong,
            ask=lambda: self.said("row_total", row=row),
            claim=lambda v: self.said("row_total_claim", row=row, value=v),
            explain=steps,
        )

    def purchase(self, qmax: int) -> tuple[list[int], list[int], int, dict]:
        """Two rows and quantities of each bought: the rows, the quantities, the cost in cents and the
        words for the question."""
        rng, t = self.rng, self.t
        x, y = rng.sample(range(self.n), 2)
        a, b = rng.randint(1, qmax), rng.randint(1, qmax)
        if a == b == 1 and qmax > 2:
            a = rng.randint(2, qmax)
        col = t.cols[0]
        cost = a * col.values[x] + b * col.values[y]
        if t.unit == "each":
            qa = f"{a} {t.singulars[x] if a == 1 else t.plurals[x]}"
            qb = f"{b} {t.singulars[y] if b == 1 else t.plurals[y]}"
        else:
            qa, qb = "", ""
        words = {"a": a, "b": b, "x": t.rows[x], "y": t.rows[y], "qa": qa, "qb": qb}
        return [x, y], [a, b], cost, words

    def p_cost(self) -> Fact:
        rng, t = self.rng, self.t
        (x, y), (a, b), cost, words = self.purchase(5)
        col = t.cols[0]
        px, py = col.values[x], col.values[y]
        slips = [self.money(a * py + b * px), self.money(px + py), self.money((a + b) * max(px, py))]
        wrong = slips + self.near("money", cost)
        rng.shuffle(wrong)
        unit = t.unit
        cx, cy = self.cell(x, 0), self.cell(y, 0)

        def steps() -> list[Turn]:
            return [
                (self.say("lookup", cell=cx), self.say("read_one_a", cell=cx, value=self.money(px))),
                (self.say("lookup", cell=cy), self.say("read_one_a", cell=cy, value=self.money(py))),
                (
                    self.say(f"cost_{unit}", **words),
                    self.say(
                        "cost_step",
                        a=a,
                        b=b,
                        pa=self.money(px),
                        pb=self.money(py),
                        ca=self.money(a * px),
                        cb=self.money(b * py),
                        result=self.money(cost),
                    ),
                ),
            ]

        return self.fact(
            "cost",
            "arithmetic",
            {"rows": [x, y], "qty": [a, b]},
            self.money(cost),
            wrong,
            ask=lambda: self.said(f"cost_{unit}", **words),
            claim=lambda v: self.said(f"cost_{unit}_claim", value=v, **words),
            explain=steps,
        )

    def p_afford(self) -> Fact:
        rng, t = self.rng, self.t
        (x, y), (a, b), cost, words = self.purchase(3)
        person = rng.choice(t.words.people)

        def judge(truth: bool) -> tuple[Said, dict]:
            if truth:
                have = -(-cost // 100) * 100 + 100 * rng.randint(0, 2)
            else:
                have = (cost - 1) // 100 * 100 - 100 * rng.randint(0, 1)
                if have <= 0:
                    have = cost - rng.randint(1, min(50, cost - 1))
            said = self.said(f"afford_{t.unit}", name=person, money=self.money(have), **words)
            return said, {"money": have, "name": person}

        return self.fact(
            "afford",
            "arithmetic",
            {"rows": [x, y], "qty": [a, b]},
            self.money(cost),
            [],
            judge=judge,
            mc=False,
        )

    def p_duration(self) -> Fact | None:
        rng, t = self.rng, self.t
        two = len(self.times) == 2
        if two and rng.random() < 0.4:
            r = rng.randrange(self.n)
            A, B = (r, 0), (r, 1)
        else:
            r1, r2 = sorted(rng.sample(range(self.n), 2))
            ca = rng.randrange(len(t.cols))
            cb = rng.randrange(len(t.cols))
            A, B = (r1, ca), (r2, cb)
        va, vb = self.val(A), self.val(B)
        if vb <= va:
            return None
        res = vb - va
        slips = []
        hhmm = (vb // 60 * 100 + vb % 60) - (va // 60 * 100 + va % 60)
        if hhmm != res:
            slips.append(str(hhmm))
        wrong = slips + self.near("minutes", res)
        rng.shuffle(wrong)
        fmt = t.cols[0].tfmt
        ta, tb = clock(va, fmt), clock(vb, fmt)
        same_row = A[0] == B[0]
        cella, cellb = self.cell(*A), self.cell(*B)
        kw = {"cella": cella, "cellb": cellb, "row": t.rows[A[0]], "vehicle": self.vehicle()}
        key = ("duration_stay" if t.vehicle else "duration_last") if same_row else "duration"

        def steps() -> list[Turn]:
            if va % 60 == 0 or va // 60 == vb // 60:
                last = self.say("duration_step_simple", ta=ta, tb=tb, result=res)
            else:
                nh = (va // 60 + 1) * 60
                last = self.say(
                    "duration_step_split", ta=ta, tb=tb, tn=clock(nh, fmt), m1=nh - va, m2=vb - nh, result=res
                )
            return [
                (self.say("lookup_time", cell=cella), self.say("read_one_a", cell=cella, value=ta)),
                (self.say("lookup_time", cell=cellb), self.say("read_one_a", cell=cellb, value=tb)),
                (self.say(key, **kw), last),
            ]

        return self.fact(
            "duration",
            "arithmetic",
            {"cells": [list(A), list(B)]},
            str(res),
            wrong,
            ask=lambda: self.said(key, **kw),
            claim=lambda v: self.said(f"{key}_claim", value=v, **kw),
            explain=steps,
        )

    def p_longest(self) -> Fact:
        t = self.t
        d = [t.cols[1].values[i] - t.cols[0].values[i] for i in range(self.n)]
        best = max(range(self.n), key=lambda i: d[i])
        others = sorted((i for i in range(self.n) if i != best), key=lambda i: d[best] - d[i])
        kind = "stay" if t.vehicle else "last"
        vehicle, which = self.vehicle(), self.which()

        def steps() -> list[Turn]:
            pairs = [(t.rows[i], self.frag("minutes", n=d[i])) for i in range(self.n)]
            return [
                (
                    self.say(f"durations_{kind}_q", vehicle=vehicle),
                    self.say("durations_a", listing=self.listing(pairs)),
                ),
                (
                    self.say(f"longest_{kind}", which=which, vehicle=vehicle),
                    self.say("longest_a", row=t.rows[best], value=d[best]),
                ),
            ]

        return self.fact(
            "longest",
            "extremum",
            {},
            t.rows[best],
            [t.rows[i] for i in others],
            ask=lambda: self.said(f"longest_{kind}", which=which, vehicle=vehicle),
            claim=lambda name: self.said(f"longest_{kind}_claim", row=name, vehicle=vehicle),
            explain=steps,
            mc=self.n >= 4,
        )
