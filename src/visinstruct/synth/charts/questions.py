"""Charts' questions: every fact a chart shows exactly, as a `Fact` for the shared engine.

Values, extremes, comparisons, trends, sums, differences, averages, counts, legend colours,
titles and axis labels; each fact says how its value is written (a pie's values are
percentages) and which wrong values a reader would plausibly give.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

from visinstruct.synth import style
from visinstruct.synth.ask import Fact, Kinds, Said, Voice, nearby
from visinstruct.synth.base import SynthDomain, fmt_num, load_phrasings
from visinstruct.synth.charts.data import COLOR_BY_NAME

Phrase = tuple[str, dict[str, Any]]

KIND_WEIGHTS = {"value": 2, "trend": 2}
KINDS = (
    "value",
    "extreme",
    "extreme_value",
    "compare",
    "compare_ref",
    "series_higher",
    "trend",
    "pattern",
    "largest_change",
    "sum",
    "diff",
    "avg",
    "count",
    "count_above",
    "series_color",
    "color_series",
    "label_color",
    "color_label",
    "title",
    "axis",
)


class ChartVoice(Voice):
    """Charts' phrasings: a chart kind's own wording (`<key>_pie`) is preferred when there is one;
    `chart` may name several kinds, most specific first (`("stacked", "bar")`)."""

    def __init__(self, domain: SynthDomain, rng: random.Random, lang: str, chart: str | tuple[str, ...]):
        super().__init__(domain, rng, lang)
        self.charts = (chart,) if isinstance(chart, str) else tuple(chart)
        self.chart = self.charts[0]
        self.phrasings = load_phrasings(domain.name)

    def key(self, key: str) -> str:
        for chart in self.charts:
            specific = f"{key}_{chart}"
            if specific in self.phrasings:
                return specific
        return key


class ChartFacts:
    """The facts of one chart, worded in one language with the item's random stream.

    A chart type asks the kinds in its class's `KINDS` (a subclass narrows or extends them)."""

    KINDS: tuple[str, ...] = KINDS
    KIND_WEIGHTS: dict[str, int] = KIND_WEIGHTS

    def __init__(self, voice: ChartVoice, facts: dict[str, Any], unit: int):
        self.v, self.rng, self.f, self.unit = voice, voice.rng, facts, unit
        self.chart = facts["chart"]
        self.labels: list[str] = facts["labels"]
        self.series: list[dict[str, Any]] = facts["series"]
        self.pie = self.chart == "pie"

    def kinds(self) -> Kinds:
        """Every kind of short fact, for judgements, multiple choice and short answers."""
        return Kinds(self.rng, {k: getattr(self, f"k_{k}") for k in self.KINDS}, self.KIND_WEIGHTS)

    # -- wording
    def show(self, atype: str, v: Any) -> str:
        """A value as written in an option or an answer."""
        if atype == "num":
            return fmt_num(v) + ("%" if self.f.get("unit") == "%" else "")
        if atype == "color":
            return style.color_name(COLOR_BY_NAME[v], self.v.lang)
        if atype == "word":
            return self.v.say(f"word_{v}")
        if atype == "span":
            return self.v.say("span", a=v[0], b=v[1])
        return str(v)

    def phrase(self, p: Phrase) -> Said:
        """A (key, values) pair worded now."""
        return self.v.said(p[0], **p[1])

    def fact(
        self,
        kind: str,
        category: str,
        args: dict[str, Any],
        atype: str,
        value: Any,
        wrong: list[Any],
        ask: Phrase,
        claim: Callable[[Any], Phrase] | None = None,
        mc_ask: Phrase | None = None,
        **kw: Any,
    ) -> Fact:
        """A fact whose wordings are (key, values) pairs, rendered only when asked."""
        return Fact(
            kind,
            category,
            value,
            wrong,
            show=partial(self.show, atype),
            ask=partial(self.phrase, ask),
            claim=(lambda x: self.phrase(claim(x))) if claim else None,
            mc_ask=partial(self.phrase, mc_ask) if mc_ask else None,
            args=args,
            **kw,
        )

    def scope(self, s: int) -> str:
        """'in series X' when the chart has two series (which series a value belongs to)."""
        if len(self.series) == 1:
            return ""
        return self.v.say("scope", series=self.series[s]["name"])

    def dim(self) -> str:
        return self.f["dimension"].lower()

    # -- helpers
    def pick_s(self) -> int:
        return self.rng.randrange(len(self.series))

    def other_s(self, s: int) -> int:
        """Another series than `s` (the other one of two)."""
        return self.rng.choice([k for k in range(len(self.series)) if k != s])

    def vals(self, s: int) -> list[int]:
        return self.series[s]["values"]

    def near(self, v: int, extra: list[int] | None = None, step: int | None = None) -> list[int]:
        """Plausible misreadings of `v`: whole units off, and `extra` values (a neighbour's) early."""
        out = [int(x) for x in nearby(v, self.rng, step=step or self.unit, lo=0)[:6]]
        if self.pie:
            out = [x for x in out if 0 < x < 100]
        for e in extra or []:
            if e != v and e not in out:
                out.insert(self.rng.randrange(min(3, len(out)) + 1), e)
        return out

    def by_closeness(self, v: int, s: int, exclude: int) -> list[str]:
        """The other labels, those whose values are nearest `v` first: the likeliest confusions."""
        vs = self.vals(s)
        order = sorted((i for i in range(len(vs)) if i != exclude), key=lambda i: (abs(vs[i] - v), i))
        return [self.labels[i] for i in order]

    def other_colors(self, first: list[str], answer: str) -> list[str]:
        """Colours not the answer: `first` (colours in the chart) before the rest."""
        rest = [c[0] for c in style.COLORS if c[0] != answer and c[0] not in first]
        self.rng.shuffle(rest)
        return [c for c in first if c != answer] + rest

    def pick_labels(self, k: int) -> list[int]:
        """`k` distinct label indexes; never every slice of a pie (that always sums to 100)."""
        k = min(k, len(self.labels) - 1 if self.pie else len(self.labels))
        return sorted(self.rng.sample(range(len(self.labels)), k))

    def avg_pick(self, s: int) -> list[int] | None:
        """Labels whose values have a whole-number average (None if none found quickly)."""
        vs = self.vals(s)
        for _ in range(30):
            k = self.rng.randint(2, min(4, len(vs)))
            idx = self.pick_labels(k)
            if sum(vs[i] for i in idx) % len(idx) == 0:
                return idx
        return None

    # -- kinds: each returns a Fact, or None when the chart does not show one
    def k_value(self) -> Fact | None:
        s, i = self.pick_s(), self.rng.randrange(len(self.labels))
        v, label, sc = self.vals(s)[i], self.labels[i], self.scope(s)
        nb = [self.vals(s)[j] for j in (i - 1, i + 1) if 0 <= j < len(self.labels)]
        return self.fact(
            "value",
            "value_lookup",
            {"series": s, "label": label},
            "num",
            v,
            self.near(v, extra=nb[:1]),
            ("value_q", {"label": label, "scope": sc}),
            lambda x: ("value_claim", {"label": label, "scope": sc, "value": self.show("num", x)}),
        )

    def k_extreme(self) -> Fact | None:
        s, rel = self.pick_s(), self.rng.choice(("max", "min"))
        vs = self.vals(s)
        ext = max(vs) if rel == "max" else min(vs)
        i = vs.index(ext)
        sc = self.scope(s)
        return self.fact(
            "extreme_label",
            "extremum",
            {"series": s, "rel": rel},
            "label",
            self.labels[i],
            self.by_closeness(ext, s, i),
            (f"{rel}_q", {"scope": sc, "dim": self.dim()}),
            lambda x: (f"{rel}_claim", {"label": x, "scope": sc}),
        )

    def k_extreme_value(self) -> Fact | None:
        s, rel = self.pick_s(), self.rng.choice(("max", "min"))
        vs = self.vals(s)
        ext = max(vs) if rel == "max" else min(vs)
        runner = sorted(vs)[-2] if rel == "max" else sorted(vs)[1]
        sc = self.scope(s)
        return self.fact(
            "extreme_value",
            "extremum",
            {"series": s, "rel": rel},
            "num",
            ext,
            self.near(ext, extra=[runner]),
            (f"{rel}_value_q", {"scope": sc, "dim": self.dim()}),
            lambda x: (f"{rel}_value_claim", {"scope": sc, "value": self.show("num", x)}),
        )

    def k_compare(self) -> Fact | None:
        s = self.pick_s()
        vs = self.vals(s)
        for _ in range(10):
            i, j = self.rng.sample(range(len(vs)), 2)
            if vs[i] != vs[j]:
                break
        else:
            return None
        rel = self.rng.choice(("larger", "smaller"))
        a, b = self.labels[i], self.labels[j]
        win = a if (vs[i] > vs[j]) == (rel == "larger") else b
        lose = b if win == a else a
        sc = self.scope(s)
        return self.fact(
            "compare",
            "comparison",
            {"series": s, "a": a, "b": b, "rel": rel},
            "label",
            win,
            [lose],
            (f"compare_{rel}_q", {"a": a, "b": b, "scope": sc}),
            lambda x: (f"compare_{rel}_claim", {"x": x, "y": lose if x == win else win, "scope": sc}),
            mc=False,
        )

    def k_compare_ref(self) -> Fact | None:
        s = self.pick_s()
        vs = self.vals(s)
        rel = self.rng.choice(("larger", "smaller"))
        order = list(range(len(vs)))
        self.rng.shuffle(order)
        for r in order:
            good = [i for i in range(len(vs)) if (vs[i] > vs[r] if rel == "larger" else vs[i] < vs[r])]
            bad = [i for i in range(len(vs)) if i != r and i not in good and vs[i] != vs[r]]
            if good and len(bad) >= 3:
                ref = self.labels[r]
                return self.fact(
                    "compare_ref",
                    "comparison",
                    {"series": s, "ref": ref, "rel": rel},
                    "label",
                    self.labels[self.rng.choice(good)],
                    [self.labels[i] for i in bad],
                    (f"compare_ref_{rel}_q", {"ref": ref, "scope": self.scope(s)}),
                    short=False,
                    valid=[self.labels[i] for i in good],
                )
        return None

    def k_series_higher(self) -> Fact | None:
        if len(self.series) < 2:
            return None
        a = self.pick_s() if len(self.series) > 2 else 0
        b = self.other_s(a) if len(self.series) > 2 else 1
        a, b = min(a, b), max(a, b)
        idx = [i for i in range(len(self.labels)) if self.vals(a)[i] != self.vals(b)[i]]
        if not idx:
            return None
        i = self.rng.choice(idx)
        rel = self.rng.choice(("higher", "lower"))
        hi = a if self.vals(a)[i] > self.vals(b)[i] else b
        w = hi if rel == "higher" else a + b - hi
        win, lose = self.series[w]["name"], self.series[a + b - w]["name"]
        label = self.labels[i]
        args: dict[str, Any] = {"label": label, "rel": rel}
        key = f"series_{rel}_q"
        if len(self.series) > 2:  # name the two series compared
            args["pair"] = [a, b]
            key = f"series_{rel}_pair_q"
        names = {"x": self.series[a]["name"], "y": self.series[b]["name"]}
        return self.fact(
            "series_compare",
            "comparison",
            args,
            "series",
            win,
            [lose],
            (key, {"label": label, **names}),
            lambda x: (f"series_{rel}_claim", {"x": x, "y": lose if x == win else win, "label": label}),
            mc=False,
        )

    def k_trend(self) -> Fact | None:
        if not self.f["ordered"]:
            return None
        s = self.pick_s()
        vs = self.vals(s)
        for _ in range(10):
            i, j = sorted(self.rng.sample(range(len(vs)), 2))
            if vs[i] != vs[j]:
                break
        else:
            return None
        a, b = self.labels[i], self.labels[j]
        ans = "increase" if vs[j] > vs[i] else "decrease"
        other = "decrease" if ans == "increase" else "increase"
        sc = self.scope(s)
        return self.fact(
            "trend",
            "trend",
            {"series": s, "a": a, "b": b},
            "word",
            ans,
            [other],
            ("trend_q", {"a": a, "b": b, "scope": sc}),
            lambda x: (f"trend_claim_{x}", {"a": a, "b": b, "scope": sc}),
            mc=False,
        )

    def k_pattern(self) -> Fact | None:
        if not self.f["ordered"] or len(self.labels) < 4:
            return None
        s = self.pick_s()
        vs = self.vals(s)
        steps = [b - a for a, b in zip(vs, vs[1:], strict=False)]
        if all(d > 0 for d in steps):
            ans = "rising"
        elif all(d < 0 for d in steps):
            ans = "falling"
        elif all(d == 0 for d in steps):
            ans = "unchanged"
        else:
            ans = "fluctuating"
        wrong = [p for p in ("fluctuating", "rising", "falling", "unchanged") if p != ans]
        v = {"scope": self.scope(s), "first": self.labels[0], "last": self.labels[-1]}
        return self.fact(
            "pattern",
            "trend",
            {"series": s},
            "word",
            ans,
            wrong,
            ("pattern_q", v),
            lambda x: (f"pattern_claim_{x}", v),
            mc_ask=("pattern_q_mc", v),
        )

    def k_largest_change(self) -> Fact | None:
        if not self.f["ordered"] or len(self.labels) < 5:
            return None
        s = self.pick_s()
        vs = self.vals(s)
        d = [b - a for a, b in zip(vs, vs[1:], strict=False)]
        rels = ["increase", "decrease"]
        self.rng.shuffle(rels)
        for rel in rels:
            key = d if rel == "increase" else [-x for x in d]
            best = max(key)
            if best > 0 and key.count(best) == 1:
                k = key.index(best)
                spans = [[self.labels[i], self.labels[i + 1]] for i in range(len(d))]
                others = sorted((i for i in range(len(d)) if i != k), key=lambda i: (best - key[i], i))
                sc = self.scope(s)
                return self.fact(
                    "largest_change",
                    "trend",
                    {"series": s, "rel": rel},
                    "span",
                    spans[k],
                    [spans[i] for i in others],
                    (f"largest_{rel}_q", {"scope": sc}),
                    lambda x, rel=rel, sc=sc: (
                        f"largest_{rel}_claim",
                        {"span": self.show("span", x), "scope": sc},
                    ),
                )
        return None

    def k_sum(self) -> Fact | None:
        s = self.pick_s()
        vs = self.vals(s)
        idx = self.pick_labels(min(len(vs), self.rng.choice((2, 2, 3))))
        total = sum(vs[i] for i in idx)
        items = self.v.listing([self.labels[i] for i in idx])
        sc = self.scope(s)
        return self.fact(
            "sum",
            "arithmetic",
            {"series": s, "labels": [self.labels[i] for i in idx]},
            "num",
            total,
            self.near(total),
            ("sum_q", {"items": items, "scope": sc}),
            lambda x: ("sum_claim", {"items": items, "scope": sc, "value": self.show("num", x)}),
        )

    def k_diff(self) -> Fact | None:
        s = self.pick_s()
        vs = self.vals(s)
        for _ in range(10):
            i, j = self.rng.sample(range(len(vs)), 2)
            if vs[i] > vs[j]:
                break
        else:
            return None
        a, b = self.labels[i], self.labels[j]
        d = vs[i] - vs[j]
        sc = self.scope(s)
        return self.fact(
            "diff",
            "arithmetic",
            {"series": s, "a": a, "b": b},
            "num",
            d,
            [x for x in self.near(d) if x > 0],
            ("diff_q", {"a": a, "b": b, "scope": sc}),
            lambda x: ("diff_claim", {"a": a, "b": b, "scope": sc, "value": self.show("num", x)}),
        )

    def k_avg(self) -> Fact | None:
        s = self.pick_s()
        idx = self.avg_pick(s)
        if idx is None:
            return None
        vs = self.vals(s)
        avg = sum(vs[i] for i in idx) // len(idx)
        items = self.v.listing([self.labels[i] for i in idx])
        sc = self.scope(s)
        return self.fact(
            "avg",
            "arithmetic",
            {"series": s, "labels": [self.labels[i] for i in idx]},
            "num",
            avg,
            self.near(avg),
            ("avg_q", {"items": items, "scope": sc}),
            lambda x: ("avg_claim", {"items": items, "scope": sc, "value": self.show("num", x)}),
        )

    def k_count(self) -> Fact | None:
        n = len(self.labels)
        wrong = [x for x in (n + 1, n - 1, n + 2, n - 2, n + 3) if x > 0]
        return self.fact(
            "count", "counting", {}, "count", n, wrong, ("count_q", {}), lambda x: ("count_claim", {"n": x})
        )

    def k_count_above(self) -> Fact | None:
        if self.pie:
            return None
        s = self.pick_s()
        vs = self.vals(s)
        t = self.f["tick_step"]
        cands = [k * t for k in range(1, self.f["axis_max"] // t) if k * t not in vs]
        if not self.f["value_labels"]:
            cands = [c for c in cands if min(vs) < c < max(vs)]
        else:
            half = [c + t // 2 for c in cands if t % 2 == 0 and c + t // 2 not in vs]
            cands = [c for c in cands + half if min(vs) < c < max(vs)]
        if not cands:
            return None
        thr = self.rng.choice(cands)
        rel = self.rng.choice(("above", "below"))
        n = sum(1 for v in vs if (v > thr if rel == "above" else v < thr))
        wrong = sorted((x for x in range(len(vs) + 1) if x != n), key=lambda x: (abs(x - n), x))
        sc = self.scope(s)
        return self.fact(
            "count_threshold",
            "counting",
            {"series": s, "threshold": thr, "rel": rel},
            "count",
            n,
            wrong,
            (f"count_{rel}_q", {"threshold": fmt_num(thr), "scope": sc}),
            lambda x: (f"count_{rel}_claim", {"threshold": fmt_num(thr), "scope": sc, "n": x}),
        )

    def k_series_color(self) -> Fact | None:
        if len(self.series) < 2:
            return None
        s = self.pick_s()
        col, name = self.series[s]["color"], self.series[s]["name"]
        return self.fact(
            "series_color",
            "legend",
            {"series": name},
            "color",
            col,
            self.other_colors([x["color"] for k, x in enumerate(self.series) if k != s], col),
            ("series_color_q", {"series": name}),
            lambda x: ("series_color_claim", {"series": name, "color": self.show("color", x)}),
        )

    def k_color_series(self) -> Fact | None:
        if len(self.series) < 2:
            return None
        s = self.pick_s()
        col = self.show("color", self.series[s]["color"])
        return self.fact(
            "color_series",
            "legend",
            {"color": self.series[s]["color"]},
            "series",
            self.series[s]["name"],
            [x["name"] for k, x in enumerate(self.series) if k != s],
            ("color_series_q", {"color": col}),
            lambda x: ("color_series_claim", {"color": col, "series": x}),
            mc=len(self.series) > 3,
        )

    def k_label_color(self) -> Fact | None:
        lc = self.f["label_colors"]
        if not lc:
            return None
        i = self.rng.randrange(len(self.labels))
        label = self.labels[i]
        nb = [lc[j] for j in (i - 1, i + 1) if 0 <= j < len(lc)]
        return self.fact(
            "label_color",
            "legend",
            {"label": label},
            "color",
            lc[i],
            self.other_colors(nb + [c for c in lc if c not in nb], lc[i]),
            ("label_color_q", {"label": label}),
            lambda x: ("label_color_claim", {"label": label, "color": self.show("color", x)}),
        )

    def k_color_label(self) -> Fact | None:
        lc = self.f["label_colors"]
        if not lc:
            return None
        i = self.rng.randrange(len(self.labels))
        col = self.show("color", lc[i])
        order = sorted((j for j in range(len(lc)) if j != i), key=lambda j: (abs(j - i), j))
        return self.fact(
            "color_label",
            "legend",
            {"color": lc[i]},
            "label",
            self.labels[i],
            [self.labels[j] for j in order],
            ("color_label_q", {"color": col}),
            lambda x: ("color_label_claim", {"color": col, "label": x}),
        )

    def k_title(self) -> Fact | None:
        return self.fact(
            "title",
            "text_reading",
            {},
            "text",
            self.f["title"],
            self.f["alt_titles"],
            ("title_q", {}),
            lambda x: ("title_claim", {"title": x}),
        )

    def k_axis(self) -> Fact | None:
        if self.pie:
            return None
        ax = self.rng.choice(("x", "y"))
        return self.fact(
            "axis_title",
            "text_reading",
            {"axis": ax},
            "text",
            self.f[f"{ax}_axis_title"],
            self.f[f"alt_{ax}_axis_titles"],
            (f"axis_{ax}_q", {}),
            lambda x: (f"axis_{ax}_claim", {"text": x}),
        )
