"""Stacked bar charts, area charts and stacked area charts.

Every segment (and every area's point) prints its value, and a stack prints its total on top,
so each value asked is read, not estimated from the axis.
"""

from __future__ import annotations

import random
from typing import Any

from PIL import Image

from visinstruct.synth.ask import Fact, Kinds
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME, unique_extremes
from visinstruct.synth.charts.draw import MARKERS, RGB, Unfit, marker, text_on, text_size
from visinstruct.synth.charts.frame import open_frame
from visinstruct.synth.charts.long import _fact, long_kinds
from visinstruct.synth.charts.questions import ChartFacts
from visinstruct.synth.charts.series import labelled, nice_axis

STACK_KINDS = (
    "value",
    "extreme",
    "compare",
    "series_higher",
    "sum",
    "diff",
    "count",
    "series_color",
    "color_series",
    "title",
    "axis",
    "trend",
    "total",
    "total_extreme",
)
AREA_KINDS = (
    "value",
    "extreme",
    "extreme_value",
    "compare",
    "compare_ref",
    "trend",
    "pattern",
    "largest_change",
    "sum",
    "diff",
    "avg",
    "count",
    "count_above",
    "title",
    "axis",
)


def totals(f: dict[str, Any]) -> list[int]:
    """Each label's stack total."""
    return [sum(s["values"][i] for s in f["series"]) for i in range(len(f["labels"]))]


# ---------------------------------------------------------------------------------------------
# data


def stacked_data(
    rng: random.Random, attempt: int, lang: str, chart: str
) -> tuple[dict[str, Any], int] | None:
    """A stacked bar chart (`chart` "bar") or stacked area chart ("area") of 2-4 series."""
    easy = attempt >= 12
    ns = rng.choice((2, 2, 3) if easy else (2, 3, 3, 4))
    n = rng.randint(3, 5) if easy else rng.randint(3, 8 if chart == "bar" else 7)
    data = labelled(
        rng, attempt, lang, chart, ns, n=n, ordered=True if chart == "area" else None, lo_frac=(2, 3, 4)
    )
    if data is None:
        return None
    f, unit = data
    t = totals(f)
    if not unique_extremes(t):
        return None
    f["stacked"] = True
    f["tick_step"], f["axis_max"] = nice_axis(rng, max(t))
    return f, unit


def area_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """An area chart of one series along an ordered axis."""
    n = rng.randint(4, 6 if attempt >= 12 else 9)
    data = labelled(rng, attempt, lang, "area", 1, n=n, ordered=True, base="line")
    if data is None:
        return None
    f, unit = data
    f["stacked"] = False
    return f, unit


# ---------------------------------------------------------------------------------------------
# drawing


def lighter(rgb: RGB, k: float) -> RGB:
    """`rgb` mixed with white: `k` of the colour."""
    return tuple(int(255 - (255 - c) * k) for c in rgb)


def draw_stacked_bar(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Stacked bars with each segment's value printed inside it and the total on top."""
    series = f["series"]
    cols = [COLOR_BY_NAME[s["color"]][2] for s in series]
    f["gridlines"] = rng.random() < 0.5
    fr = open_frame(
        rng,
        f,
        attempt,
        lang,
        legend=[(s["name"], c, "") for s, c in zip(series, cols, strict=True)],
        headroom=22,
    )
    n = len(f["labels"])
    bw = fr.slot * rng.uniform(0.5, 0.75)
    t = totals(f)
    vf = fr.value_font([fmt_num(v) for s in series for v in s["values"]] + [fmt_num(x) for x in t], bw - 2)
    th = text_size(vf, "0")[1]
    edge = rng.choice((None, (255, 255, 255)))
    for i in range(n):
        cx, acc = fr.cx(i), 0
        for s, rgb in zip(series, cols, strict=True):
            v = s["values"][i]
            ya, yb = fr.vy(acc + v), fr.vy(acc)
            fr.draw.rectangle([cx - bw / 2, ya, cx + bw / 2, yb], fill=rgb, outline=edge)
            if yb - ya < th + 4:
                raise Unfit("segment too thin for its label")
            fr.texts.put((cx, (ya + yb) / 2), fmt_num(v), vf, text_on(rgb), "mm")
            acc += v
        fr.texts.put((cx, fr.vy(acc) - 3), fmt_num(acc), vf, fr.fg, "md")
    return fr.finish()


def draw_area(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """An area chart (one series) or stacked area chart, values printed at every point."""
    series = f["series"]
    cols = [COLOR_BY_NAME[s["color"]][2] for s in series]
    stacked = f["stacked"]
    f["gridlines"] = rng.random() < 0.5
    legend = [(s["name"], c, "") for s, c in zip(series, cols, strict=True)] if stacked else []
    fr = open_frame(rng, f, attempt, lang, legend=legend, headroom=24)
    n = len(f["labels"])
    xs = [fr.cx(i) for i in range(n)]
    alpha = rng.uniform(0.45, 0.8)
    base = [0] * n
    tops: list[list[int]] = []
    for s, rgb in zip(series, cols, strict=True):
        top = [b + v for b, v in zip(base, s["values"], strict=True)]
        poly = [(x, fr.vy(v)) for x, v in zip(xs, top, strict=True)]
        poly += [(x, fr.vy(v)) for x, v in zip(xs[::-1], base[::-1], strict=True)]
        fr.draw.polygon(poly, fill=lighter(rgb, alpha))
        fr.draw.line([(x, fr.vy(v)) for x, v in zip(xs, top, strict=True)], fill=rgb, width=2)
        tops.append(top)
        base = top
    vf = fr.value_font(
        [fmt_num(v) for s in series for v in s["values"]] + [fmt_num(v) for v in base], fr.slot - 4
    )
    th = text_size(vf, "0")[1]
    if stacked:
        lo = [0] * n
        for s, top, rgb in zip(series, tops, cols, strict=True):
            for i in range(n):
                # the first and last labels go inwards, where the band is drawn
                j, x, anchor = i, xs[i], "mm"
                if i == 0:
                    j, x, anchor = 1, xs[0] + 3, "lm"
                elif i == n - 1:
                    j, x, anchor = n - 2, xs[-1] - 3, "rm"
                thick = min(fr.vy(lo[i]) - fr.vy(top[i]), fr.vy(lo[j]) - fr.vy(top[j]))
                if thick < th + 6:
                    raise Unfit("band too thin for its label")
                ya, yb = fr.vy(top[i]), fr.vy(lo[i])
                fr.texts.put(
                    (x, (ya + yb) / 2), fmt_num(s["values"][i]), vf, text_on(lighter(rgb, alpha)), anchor
                )
            lo = top
        for i in range(n):
            fr.texts.put((xs[i], fr.vy(base[i]) - 4), fmt_num(base[i]), vf, fr.fg, "md", box=fr.bg)
    else:
        shape, r = rng.choice(MARKERS), rng.randint(2, 4)
        for i in range(n):
            v = series[0]["values"][i]
            marker(fr.draw, xs[i], fr.vy(v), r, shape, cols[0], cols[0])
            fr.texts.put((xs[i], fr.vy(v) - r - 3), fmt_num(v), vf, fr.fg, "md", box=fr.bg)
    return fr.finish()


# ---------------------------------------------------------------------------------------------
# questions


class StackedFacts(ChartFacts):
    """A stacked chart's facts: segment values (each printed) and every stack's printed total."""

    KINDS = STACK_KINDS

    def k_total(self) -> Fact | None:
        i = self.rng.randrange(len(self.labels))
        t = totals(self.f)
        label = self.labels[i]
        nb = [t[j] for j in (i - 1, i + 1) if 0 <= j < len(t)]
        return self.fact(
            "stack_total",
            "value_lookup",
            {"label": label},
            "num",
            t[i],
            self.near(t[i], extra=nb[:1]),
            ("total_q", {"label": label}),
            lambda x: ("total_claim", {"label": label, "value": self.show("num", x)}),
        )

    def k_total_extreme(self) -> Fact | None:
        rel = self.rng.choice(("max", "min"))
        t = totals(self.f)
        ext = max(t) if rel == "max" else min(t)
        i = t.index(ext)
        order = sorted((j for j in range(len(t)) if j != i), key=lambda j: (abs(t[j] - ext), j))
        return self.fact(
            "stack_total_extreme",
            "extremum",
            {"rel": rel},
            "label",
            self.labels[i],
            [self.labels[j] for j in order],
            (f"total_{rel}_q", {"dim": self.dim()}),
            lambda x: (f"total_{rel}_claim", {"label": x}),
        )


class AreaFacts(ChartFacts):
    """A single area chart: a line chart's questions."""

    KINDS = AREA_KINDS


def long_total(c: ChartFacts) -> Fact | None:
    """Read one stack's segments, then add them up to its total."""
    i = c.rng.randrange(len(c.labels))
    label = c.labels[i]
    parts = [s["values"][i] for s in c.series]
    say = c.v.say
    reads = c.v.listing(
        [say("reading", label=s["name"], value=c.show("num", s["values"][i])) for s in c.series]
    )
    total = sum(parts)
    turns = [
        (say("segments_q", label=label), say("read_a", readings=reads)),
        (
            say("total_q", label=label),
            say("sum_explain", expr=" + ".join(c.show("num", p) for p in parts), result=c.show("num", total)),
        ),
    ]
    return _fact("total", "arithmetic", {"label": label}, total, turns)


def stacked_long(c: ChartFacts) -> Kinds:
    """Long answers of a stacked chart: a stack's total, and a plain chart's ones."""
    base = long_kinds(c)
    base.builders["total"] = lambda: long_total(c)
    base.weights["total"] = 2
    return base
