"""Heatmaps (rows × columns of shaded cells, each printing its value) and radar charts (spokes
with values on labelled rings, or printed at the points for one series)."""

from __future__ import annotations

import math
import random
from typing import Any

from PIL import Image

from visinstruct.synth import style
from visinstruct.synth.ask import Fact, Kinds
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME, unique_extremes
from visinstruct.synth.charts.draw import (
    Unfit,
    darker,
    draw_legend,
    fit_font,
    legend_size,
    line_h,
    text_on,
    text_size,
)
from visinstruct.synth.charts.frame import open_page
from visinstruct.synth.charts.long import long_kinds
from visinstruct.synth.charts.questions import ChartFacts
from visinstruct.synth.charts.series import labelled, type_words

HEATMAP_KINDS = (
    "value",
    "extreme",
    "extreme_value",
    "compare",
    "series_higher",
    "sum",
    "diff",
    "avg",
    "count",
    "title",
    "axis",
    "cell_extreme",
)
RADAR_KINDS = (
    "value",
    "extreme",
    "extreme_value",
    "compare",
    "series_higher",
    "sum",
    "diff",
    "count",
    "series_color",
    "color_series",
    "title",
)
HUES = ("blue", "red", "green", "purple", "orange")


# ---------------------------------------------------------------------------------------------
# heatmap


def heatmap_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """3-5 rows (series) × 4-8 columns (labels) of printed values, one largest cell."""
    easy = attempt >= 12
    ns = rng.randint(3, 4 if easy else 5)
    n = rng.randint(4, 5 if easy else 8)
    data = labelled(rng, attempt, lang, "heatmap", ns, n=n, colors=False)
    if data is None:
        return None
    f, unit = data
    # one largest and one smallest cell: nudge a tied one (it stays its row's extreme)
    rows = [s["values"] for s in f["series"]]
    hi = max(max(r) for r in rows)
    tied = [r for r in rows if hi in r]
    if len(tied) > 1:
        tied[0][tied[0].index(hi)] += 1
    lo = min(min(r) for r in rows)
    tied = [r for r in rows if lo in r]
    if len(tied) > 1:
        if lo <= 1:
            return None
        tied[0][tied[0].index(lo)] -= 1
    f["y_axis_title"], f["alt_y_axis_titles"] = "", []
    f["hue"] = rng.choice(HUES)
    f["legend"] = False
    return f, unit


def draw_heatmap(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Cells shaded from light to the hue by value, the value printed in each, row names on the
    left, column labels below, and a colour bar on the right."""
    labels, series = f["labels"], f["series"]
    n, ns = len(labels), len(series)
    img, draw, texts, fg, body, pad, top = open_page(rng, f, attempt, lang, plain=0.6, gap=12)
    W, H = img.size
    lab_f = style.font(body, rng.randint(11, 14))
    axis_f = style.font(body, rng.randint(12, 15))
    rw = max(text_size(lab_f, s["name"])[0] for s in series)
    bar_w = 14 if rng.random() < 0.7 else 0
    vals = [v for s in series for v in s["values"]]
    lo, hi = min(vals), max(vals)
    bar_tw = text_size(lab_f, fmt_num(hi))[0] + 6 if bar_w else 0
    x0, x1 = pad + rw + 8, W - pad - (bar_w + bar_tw + 12 if bar_w else 0)
    y0 = top
    y1 = H - pad - line_h(axis_f) - 6 - line_h(lab_f) - 6
    cw, ch = (x1 - x0) / n, (y1 - y0) / ns
    if ch > 70:
        ch = 70.0
        y1 = y0 + ch * ns
    col_f = fit_font(body, lab_f.size, labels, cw - 4, min_size=9)
    val_f = fit_font(body, rng.randint(11, 14), [fmt_num(v) for v in vals], cw - 4, min_size=9)
    if ch < line_h(val_f) + 4 or cw < 24:
        raise Unfit("cells too small")
    hue = COLOR_BY_NAME[f["hue"]][2]
    light = (248, 248, 244)

    def shade(v: int) -> tuple[int, int, int]:
        t = (v - lo) / max(1, hi - lo) * 0.85 + 0.1
        return tuple(int(a + (b - a) * t) for a, b in zip(light, hue, strict=True))

    gap = rng.choice((0, 1, 2))
    for r, s in enumerate(series):
        cy = y0 + ch * (r + 0.5)
        texts.put((x0 - 8, cy), s["name"], lab_f, fg, "rm")
        for c, v in enumerate(s["values"]):
            rgb = shade(v)
            draw.rectangle(
                [x0 + c * cw, y0 + r * ch, x0 + (c + 1) * cw - gap, y0 + (r + 1) * ch - gap], fill=rgb
            )
            texts.put((x0 + (c + 0.5) * cw, cy), fmt_num(v), val_f, text_on(rgb), "mm")
    for c, lab in enumerate(labels):
        texts.put((x0 + (c + 0.5) * cw, y1 + 6), lab, col_f, fg, "ma")
    texts.put(((x0 + x1) / 2, H - pad), f["x_axis_title"], axis_f, fg, "md")
    if bar_w:
        bx = x1 + 12
        steps = 40
        for k in range(steps):
            v = hi - (hi - lo) * k / steps
            ya = y0 + (y1 - y0) * k / steps
            draw.rectangle([bx, ya, bx + bar_w, ya + (y1 - y0) / steps + 1], fill=shade(int(round(v))))
        draw.rectangle([bx, y0, bx + bar_w, y1], outline=darker(fg, 0))
        texts.put((bx + bar_w + 4, y0), fmt_num(hi), lab_f, fg, "lt")
        texts.put((bx + bar_w + 4, y1), fmt_num(lo), lab_f, fg, "lb")
    return img


class HeatmapFacts(ChartFacts):
    """A heatmap's facts: each row is a series, each column a label."""

    KINDS = HEATMAP_KINDS

    def k_axis(self) -> Fact | None:
        return self.fact(
            "axis_title",
            "text_reading",
            {"axis": "x"},
            "text",
            self.f["x_axis_title"],
            self.f["alt_x_axis_titles"],
            ("axis_x_q", {}),
            lambda x: ("axis_x_claim", {"text": x}),
        )

    def k_cell_extreme(self) -> Fact | None:
        rel = self.rng.choice(("max", "min"))
        best = max if rel == "max" else min
        cells = [(v, r) for r, s in enumerate(self.series) for v in s["values"]]
        v, r = best(cells)
        rows = sorted(
            (k for k in range(len(self.series)) if k != r), key=lambda k: abs(best(self.vals(k)) - v)
        )
        return self.fact(
            "cell_extreme",
            "extremum",
            {"rel": rel},
            "series",
            self.series[r]["name"],
            [self.series[k]["name"] for k in rows],
            (f"cell_{rel}_q", {}),
            lambda x: (f"cell_{rel}_claim", {"series": x}),
        )


# ---------------------------------------------------------------------------------------------
# radar


def radar_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """1-3 series over 5-8 spokes: printed values for one series, values on the rings otherwise."""
    topics = type_words(lang)["radar"]
    title, spokes, names, (top, _ring) = rng.choice(topics)
    n = rng.randint(5, min(len(spokes), 6 if attempt >= 12 else 8))
    labels = [str(x) for x in rng.sample(spokes, n)]
    ns = rng.choice((1, 2, 2, 3)) if attempt < 12 else rng.choice((1, 2))
    step = top // 5
    vals: list[list[int]] = []
    for _ in range(ns):
        if ns == 1:
            v = rng.sample(range(max(1, top // 5), top + 1), n)
        else:  # on the rings: one spoke at the highest level used, one at the lowest
            a, b = sorted(rng.sample(range(1, 6), 2))
            if b - a < 2:
                a, b = (1, 3) if b <= 3 else (b - 2, b)
            mid = [rng.randint(a + 1, b - 1) for _ in range(n - 2)]
            v = [b * step, a * step, *(m * step for m in mid)]
            rng.shuffle(v)
        vals.append(v)
    if not all(unique_extremes(v) for v in vals):
        return None
    names = [str(x) for x in names[:ns]] if ns > 1 else [str(title)]
    cols = style.pick_colors(rng, ns, exclude=("yellow", "gray"))
    f = {
        "chart": "radar",
        "orientation": "",
        "title": str(title),
        "alt_titles": [str(t[0]) for t in topics if t[0] != title][:6],
        "dimension": "",
        "x_axis_title": "",
        "y_axis_title": "",
        "alt_x_axis_titles": [],
        "alt_y_axis_titles": [],
        "labels": labels,
        "ordered": False,
        "series": [{"name": names[k], "color": cols[k][0], "values": vals[k]} for k in range(ns)],
        "label_colors": [],
        "unit": "",
        "tick_step": step,
        "axis_max": top,
        "value_labels": ns == 1,
        "gridlines": True,
        "legend": ns > 1,
        "pie_style": "",
    }
    return f, 1 if ns == 1 else step


def draw_radar(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Spokes from the centre, rings at every tick (labelled along the first spoke), a polygon per
    series; one series prints its values at its points."""
    labels, series = f["labels"], f["series"]
    n = len(labels)
    img, draw, texts, fg, body, pad, top = open_page(rng, f, attempt, lang, plain=0.6, gap=10)
    W, H = img.size
    lab_f = style.font(body, rng.randint(12, 14))
    tick_f = style.font(body, rng.randint(10, 12))
    cols = [COLOR_BY_NAME[s["color"]][2] for s in series]
    leg_f = style.font(body, rng.randint(11, 13))
    sw = 12
    bottom = H - pad
    if f["legend"]:
        lw, lh = legend_size(leg_f, [s["name"] for s in series], sw, "row")
        if lw > W - 2 * pad:
            raise Unfit("legend")
        bottom -= lh + 8
    lwid = max(text_size(lab_f, x)[0] for x in labels)
    r = min((W - 2 * pad) / 2 - lwid - 12, (bottom - top) / 2 - line_h(lab_f) - 8)
    if r < 90:
        raise Unfit("radar too small")
    r = min(r, 230)
    cx, cy = W / 2, top + (bottom - top) / 2
    angles = [-math.pi / 2 + 2 * math.pi * i / n for i in range(n)]
    grid = darker((255, 255, 255), rng.randint(50, 90))
    step, mx = f["tick_step"], f["axis_max"]
    rings = list(range(step, mx + 1, step))
    if r / len(rings) < line_h(tick_f) + 1:
        raise Unfit("rings too close")
    polygon_rings = rng.random() < 0.6
    f["radar_style"] = "polygon" if polygon_rings else "circle"
    for t in rings:
        rr = r * t / mx
        if polygon_rings:
            pts = [(cx + rr * math.cos(a), cy + rr * math.sin(a)) for a in angles]
            draw.polygon(pts, outline=grid)
        else:
            draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=grid)
    for a in angles:
        draw.line([(cx, cy), (cx + r * math.cos(a), cy + r * math.sin(a))], fill=grid)
    for s, rgb in zip(series, cols, strict=True):
        pts = [
            (cx + r * v / mx * math.cos(a), cy + r * v / mx * math.sin(a))
            for v, a in zip(s["values"], angles, strict=True)
        ]
        draw.polygon(pts, outline=rgb, width=2)
        for x, y in pts:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=rgb)
    # ring labels along the first spoke (straight up), set off to its right
    for t in rings:
        texts.put((cx + 4, cy - r * t / mx), fmt_num(t), tick_f, fg, "lm", check=False)
    for lab, a in zip(labels, angles, strict=True):
        c, s_ = math.cos(a), math.sin(a)
        x, y = cx + (r + 8) * c, cy + (r + 8) * s_
        anchor = ("l" if c > 0.2 else "r" if c < -0.2 else "m") + (
            "d" if s_ < -0.5 else "a" if s_ > 0.5 else "m"
        )
        texts.put((x, y), lab, lab_f, fg, anchor)
    if len(series) == 1:
        vf = style.font(body, rng.randint(11, 13))
        bgc = img.getpixel((W - 1, H - 1))
        for v, a in zip(series[0]["values"], angles, strict=True):
            rr = r * v / mx
            x, y = cx + rr * math.cos(a), cy + rr * math.sin(a)
            c, s_ = math.cos(a), math.sin(a)
            places = [
                ((x + 11 * c, y + 11 * s_), "mm"),
                ((x - 13 * c, y - 13 * s_), "mm"),
                ((x - 12 * s_, y + 12 * c), "mm"),
                ((x + 12 * s_, y - 12 * c), "mm"),
            ]
            texts.put_first(places, fmt_num(v), vf, cols[0], box=bgc)
    if f["legend"]:
        names = [s["name"] for s in series]
        lw, lh = legend_size(leg_f, names, sw, "row")
        entries = [(nm, rgb, "") for nm, rgb in zip(names, cols, strict=True)]
        draw_legend(draw, (W - lw) / 2, H - pad - lh, leg_f, entries, sw, "row", fg, "box")
        texts.keep(((W - lw) / 2, H - pad - lh, (W + lw) / 2, H - pad))
    return img


class RadarFacts(ChartFacts):
    """A radar chart's facts: each spoke a label, each polygon a series."""

    KINDS = RADAR_KINDS


def heatmap_long(c: ChartFacts) -> Kinds:
    """A heatmap's long answers: a plain chart's, without legend look-ups (rows are named)."""
    k = long_kinds(c)
    k.builders.pop("legend", None)
    k.weights.pop("legend", None)
    return k
