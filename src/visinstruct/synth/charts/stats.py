"""Histograms and box plots.

A histogram's bins are equal and their edges labelled ticks; its counts are printed on the
bars or sit exactly on labelled gridlines. Facts: `bins` (the edges), `counts`. A box plot's
five numbers (min, quartiles, median, max) each sit exactly on a labelled gridline. Facts:
`groups` [{label, min, q1, median, q3, max}].
"""

from __future__ import annotations

import random
from typing import Any

from PIL import Image

from visinstruct.synth import style
from visinstruct.synth.ask import Fact, Kinds
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME, unique_extremes
from visinstruct.synth.charts.draw import darker
from visinstruct.synth.charts.frame import open_frame
from visinstruct.synth.charts.long import _fact
from visinstruct.synth.charts.questions import ChartFacts
from visinstruct.synth.charts.series import nice_axis, type_words

HIST_KINDS = ("bin_count", "modal_bin", "total_count", "count_from", "count_bins", "title", "axis")
BOX_KINDS = ("box_stat", "median_extreme", "range_extreme", "iqr", "count_groups", "title", "axis")
STATS = ("min", "q1", "median", "q3", "max")


def _base(
    chart: str, title: str, topics: list[list[Any]], xt: str, yt: str, labels: list[str]
) -> dict[str, Any]:
    others = [t for t in topics if t[0] != title]
    return {
        "chart": chart,
        "orientation": "",
        "title": title,
        "alt_titles": [str(t[0]) for t in others][:6],
        "dimension": xt,
        "x_axis_title": xt,
        "y_axis_title": yt,
        "alt_x_axis_titles": list(dict.fromkeys(str(t[1]) for t in others if t[1] != xt))[:6],
        "alt_y_axis_titles": list(dict.fromkeys(str(t[2]) for t in others if t[2] != yt))[:6],
        "labels": labels,
        "ordered": False,
        "series": [],
        "label_colors": [],
        "unit": "",
        "legend": False,
        "pie_style": "",
    }


# ---------------------------------------------------------------------------------------------
# histogram


def histogram_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """5-10 equal bins with one tallest bin; counts printed or on gridlines."""
    topics = type_words(lang)["histogram"]
    title, xt, yt, (lo, width, kmax) = rng.choice(topics)
    k = rng.randint(5, kmax if attempt < 12 else min(kmax, 7))
    edges = [lo + i * width for i in range(k + 1)]
    labelled_ = rng.random() < 0.6
    peak = rng.uniform(0.2, 0.8) * k
    top = rng.choice((20, 50, 100, 200)) if labelled_ else rng.randint(6, 10)
    counts = [max(1, round(top * (1 - abs(i + 0.5 - peak) / k * rng.uniform(0.9, 1.6)))) for i in range(k)]
    if counts.count(max(counts)) != 1:
        return None
    f = _base(
        "histogram",
        str(title),
        topics,
        str(xt),
        str(yt),
        [f"{a}-{b}" for a, b in zip(edges, edges[1:], strict=False)],
    )
    if labelled_:
        f["tick_step"], f["axis_max"] = nice_axis(rng, max(counts))
        unit = 1
    else:
        step = rng.choice((1, 2, 5, 10))
        counts = [c * step for c in counts]
        f["tick_step"], f["axis_max"] = step, (max(counts) // step + rng.choice((0, 1))) * step
        unit = step
    f.update(
        bins=edges,
        counts=counts,
        x_min=edges[0],
        x_max=edges[-1],
        x_step=width,
        value_labels=labelled_,
        gridlines=not labelled_,
        bar_color=style.pick_colors(rng, 1, exclude=("yellow",))[0][0],
    )
    return f, unit


def draw_histogram(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Touching bars over the bins, edges labelled below, counts printed on top when labelled."""
    if f["value_labels"]:
        f["gridlines"] = rng.random() < 0.5
    fr = open_frame(rng, f, attempt, lang, x_ticks=f["bins"], headroom=18 if f["value_labels"] else 4)
    rgb = COLOR_BY_NAME[f["bar_color"]][2]
    edge = rng.choice(((255, 255, 255), darker(rgb, 60)))
    edges, counts = f["bins"], f["counts"]
    vf = fr.value_font([fmt_num(c) for c in counts], fr.vx(edges[1]) - fr.vx(edges[0]) - 2)
    for a, b, c in zip(edges, edges[1:], counts, strict=False):
        fr.draw.rectangle([fr.vx(a), fr.vy(c), fr.vx(b), fr.vy(fr.lo)], fill=rgb, outline=edge)
        if f["value_labels"]:
            fr.texts.put(((fr.vx(a) + fr.vx(b)) / 2, fr.vy(c) - 3), fmt_num(c), vf, fr.fg, "md")
    return fr.finish()


class HistogramFacts(ChartFacts):
    """A histogram's facts: counts per bin, the modal bin, totals."""

    KINDS = HIST_KINDS

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.edges: list[int] = self.f["bins"]
        self.counts: list[int] = self.f["counts"]

    def span(self, i: int) -> list[str]:
        return [fmt_num(self.edges[i]), fmt_num(self.edges[i + 1])]

    def k_bin_count(self) -> Fact | None:
        i = self.rng.randrange(len(self.counts))
        a, b = self.span(i)
        c = self.counts[i]
        nb = [self.counts[j] for j in (i - 1, i + 1) if 0 <= j < len(self.counts)]
        return self.fact(
            "bin_count",
            "value_lookup",
            {"bin": i},
            "num",
            c,
            self.near(c, extra=nb[:1]),
            ("bin_count_q", {"a": a, "b": b, "what": self.f["y_axis_title"]}),
            lambda x: ("bin_count_claim", {"a": a, "b": b, "n": fmt_num(x)}),
        )

    def k_modal_bin(self) -> Fact | None:
        i = self.counts.index(max(self.counts))
        order = sorted(
            (j for j in range(len(self.counts)) if j != i),
            key=lambda j: (max(self.counts) - self.counts[j], j),
        )
        return self.fact(
            "modal_bin",
            "extremum",
            {},
            "span",
            self.span(i),
            [self.span(j) for j in order],
            ("modal_q", {}),
            lambda x: ("modal_claim", {"span": self.show("span", x)}),
        )

    def k_total_count(self) -> Fact | None:
        t = sum(self.counts)
        return self.fact(
            "total_count",
            "arithmetic",
            {},
            "num",
            t,
            self.near(t, extra=[t - self.counts[0], t - self.counts[-1]]),
            ("hist_total_q", {"what": self.f["y_axis_title"]}),
            lambda x: ("hist_total_claim", {"n": fmt_num(x)}),
        )

    def k_count_from(self) -> Fact | None:
        i = self.rng.randrange(1, len(self.counts))
        t = sum(self.counts[i:])
        e = fmt_num(self.edges[i])
        return self.fact(
            "count_from",
            "arithmetic",
            {"bin": i},
            "num",
            t,
            self.near(t, extra=[t - self.counts[i], t + self.counts[i - 1]]),
            ("count_from_q", {"edge": e, "what": self.f["y_axis_title"]}),
            lambda x: ("count_from_claim", {"edge": e, "n": fmt_num(x)}),
        )

    def k_count_bins(self) -> Fact | None:
        n = len(self.counts)
        wrong = [x for x in (n + 1, n - 1, n + 2, n - 2, n + 3) if x > 0]
        return self.fact(
            "count_bins",
            "counting",
            {},
            "count",
            n,
            wrong,
            ("count_bins_q", {}),
            lambda x: ("count_bins_claim", {"n": x}),
        )


def long_hist(c: HistogramFacts) -> Fact | None:
    """Read the bins from an edge up, then add them."""
    i = c.rng.randrange(1, len(c.counts) - 1)
    say = c.v.say
    idx = list(range(i, len(c.counts)))
    reads = c.v.listing(
        [say("bin_reading", a=c.span(j)[0], b=c.span(j)[1], n=fmt_num(c.counts[j])) for j in idx]
    )
    total = sum(c.counts[j] for j in idx)
    e = fmt_num(c.edges[i])
    turns = [
        (say("bins_from_q", edge=e), say("read_a", readings=reads)),
        (
            say("count_from_q", edge=e, what=c.f["y_axis_title"]),
            say("sum_explain", expr=" + ".join(fmt_num(c.counts[j]) for j in idx), result=fmt_num(total)),
        ),
    ]
    return _fact("hist", "arithmetic", {"bin": i}, total, turns)


def hist_long(c: ChartFacts) -> Kinds:
    return Kinds(c.rng, {"hist": lambda: long_hist(c)})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# box plot


def box_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """3-6 groups, each five distinct numbers on gridlines; one largest and one smallest median
    and range."""
    topics = type_words(lang)["box"]
    title, dim, axis, (lo, hi, step), names = rng.choice(topics)
    k = rng.randint(3, min(len(names), 6 if attempt < 12 else 4))
    levels = list(range(lo, hi + 1, step))
    picked = [str(x) for x in rng.sample(names, k)]
    for _ in range(40):
        groups = [
            {"label": name, **dict(zip(STATS, sorted(rng.sample(levels, 5)), strict=True))} for name in picked
        ]
        med = [g["median"] for g in groups]
        spread = [g["max"] - g["min"] for g in groups]
        if unique_extremes(med) and unique_extremes(spread):
            break
    else:
        return None
    f = _base("box", str(title), topics, str(dim), str(axis), [g["label"] for g in groups])
    f.update(groups=groups, axis_min=lo, axis_max=hi, tick_step=step, value_labels=False, gridlines=True)
    f["box_color"] = style.pick_colors(rng, 1, exclude=("yellow", "black"))[0][0]
    return f, step


def draw_box(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """A box from the lower to the upper quartile with a line at the median and whiskers to the
    minimum and maximum, per group."""
    fr = open_frame(rng, f, attempt, lang, headroom=4)
    rgb = COLOR_BY_NAME[f["box_color"]][2]
    light = tuple(int(255 - (255 - c) * 0.45) for c in rgb)
    bw = fr.slot * rng.uniform(0.35, 0.6)
    ink = darker(rgb, 70)
    for i, g in enumerate(f["groups"]):
        x = fr.cx(i)
        fr.draw.line([(x, fr.vy(g["max"])), (x, fr.vy(g["q3"]))], fill=ink, width=2)
        fr.draw.line([(x, fr.vy(g["q1"])), (x, fr.vy(g["min"]))], fill=ink, width=2)
        for v in (g["min"], g["max"]):
            fr.draw.line([(x - bw / 4, fr.vy(v)), (x + bw / 4, fr.vy(v))], fill=ink, width=2)
        fr.draw.rectangle(
            [x - bw / 2, fr.vy(g["q3"]), x + bw / 2, fr.vy(g["q1"])], fill=light, outline=ink, width=2
        )
        fr.draw.line([(x - bw / 2, fr.vy(g["median"])), (x + bw / 2, fr.vy(g["median"]))], fill=ink, width=3)
    return fr.finish()


class BoxFacts(ChartFacts):
    """A box plot's facts: each group's five numbers, and which group's median or range is
    largest."""

    KINDS = BOX_KINDS

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.groups: list[dict[str, Any]] = self.f["groups"]

    def k_box_stat(self) -> Fact | None:
        g = self.rng.choice(self.groups)
        stat = self.rng.choice(("median", "median", "max", "min", "q1", "q3"))
        v = g[stat]
        extra = [g[s] for s in STATS if s != stat]
        return self.fact(
            "box_stat",
            "value_lookup",
            {"label": g["label"], "stat": stat},
            "num",
            v,
            self.near(v, extra=extra[:2]),
            (f"box_{stat}_q", {"label": g["label"]}),
            lambda x: (f"box_{stat}_claim", {"label": g["label"], "value": fmt_num(x)}),
        )

    def _extreme(self, kind: str, key: Any) -> Fact:
        rel = self.rng.choice(("max", "min"))
        vals = [key(g) for g in self.groups]
        best = max(vals) if rel == "max" else min(vals)
        i = vals.index(best)
        order = sorted((j for j in range(len(vals)) if j != i), key=lambda j: (abs(vals[j] - best), j))
        return self.fact(
            kind,
            "extremum",
            {"rel": rel},
            "label",
            self.labels[i],
            [self.labels[j] for j in order],
            (f"{kind}_{rel}_q", {}),
            lambda x: (f"{kind}_{rel}_claim", {"label": x}),
        )

    def k_median_extreme(self) -> Fact | None:
        return self._extreme("median_extreme", lambda g: g["median"])

    def k_range_extreme(self) -> Fact | None:
        return self._extreme("range_extreme", lambda g: g["max"] - g["min"])

    def k_iqr(self) -> Fact | None:
        g = self.rng.choice(self.groups)
        v = g["q3"] - g["q1"]
        return self.fact(
            "iqr",
            "arithmetic",
            {"label": g["label"]},
            "num",
            v,
            [x for x in self.near(v, extra=[g["max"] - g["min"]]) if x > 0],
            ("iqr_q", {"label": g["label"]}),
            lambda x: ("iqr_claim", {"label": g["label"], "value": fmt_num(x)}),
        )

    def k_count_groups(self) -> Fact | None:
        n = len(self.groups)
        wrong = [x for x in (n + 1, n - 1, n + 2, n - 2, n + 3) if x > 0]
        return self.fact(
            "count",
            "counting",
            {},
            "count",
            n,
            wrong,
            ("count_q_box", {}),
            lambda x: ("count_claim_box", {"n": x}),
        )


def long_box(c: BoxFacts) -> Fact | None:
    """Read a group's quartiles, then their difference (the interquartile range); or read every
    median, then name the highest."""
    say = c.v.say
    if c.rng.random() < 0.5:
        g = c.rng.choice(c.groups)
        v = g["q3"] - g["q1"]
        turns = [
            (
                say("quartiles_q", label=g["label"]),
                say("quartiles_a", label=g["label"], q1=fmt_num(g["q1"]), q3=fmt_num(g["q3"])),
            ),
            (
                say("iqr_q", label=g["label"]),
                say("gap_a", big=fmt_num(g["q3"]), small=fmt_num(g["q1"]), result=fmt_num(v)),
            ),
        ]
        return _fact("box", "arithmetic", {"label": g["label"], "op": "iqr"}, v, turns)
    meds = [g["median"] for g in c.groups]
    i = meds.index(max(meds))
    reads = c.v.listing([say("reading", label=g["label"], value=fmt_num(g["median"])) for g in c.groups])
    turns = [
        (say("medians_q"), say("read_a", readings=reads)),
        (say("median_extreme_max_q"), say("max_explain", label=c.labels[i], value=fmt_num(meds[i]))),
    ]
    return _fact("box", "extremum", {"op": "median_max"}, c.labels[i], turns)


def box_long(c: ChartFacts) -> Kinds:
    return Kinds(c.rng, {"box": lambda: long_box(c)})  # type: ignore[arg-type]
