"""Data of the newer labels × series chart types: labels and titles as plain charts have, then
values made for the type (several series, stacks, signed steps), all integers read exactly.

A chart of one of these types keeps the facts keys plain charts have (`labels`, `series` of
{name, color, values}, `tick_step`, `axis_max`, `value_labels`, ...), so the questions about
plain charts apply to it where they make sense.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from visinstruct.synth import style
from visinstruct.synth.base import load_words
from visinstruct.synth.charts.data import NICE_STEPS, SCALES, chart_data, series_values, unique_extremes


@cache
def type_words(lang: str) -> dict[str, Any]:
    """The word lists of the newer chart types in `lang` (`synth/words/chart_types.yaml`)."""
    w = load_words("chart_types")
    return w["zh" if lang == "zh" else "en"]


def series_names(rng: random.Random, ns: int, lang: str, years_on_x: bool) -> list[str]:
    """`ns` series names from one set (never years when the x axis is years)."""
    sets = [s for s in type_words(lang)["series_sets"] if not (years_on_x and str(s[0])[:1].isdigit())]
    return [str(x) for x in rng.choice(sets)[:ns]]


def nice_axis(rng: random.Random, vmax: int, lo_ticks: int = 4, hi_ticks: int = 10) -> tuple[int, int]:
    """A tick step giving `lo_ticks`..`hi_ticks` steps up to `vmax`, and the axis maximum."""
    steps = [t for t in NICE_STEPS + (1000, 2000, 2500, 5000) if lo_ticks <= -(-vmax // t) <= hi_ticks]
    step = rng.choice(steps) if steps else max(1, -(-vmax // 5))
    top = -(-vmax // step) * step
    if top == vmax and rng.random() < 0.5:
        top += step
    return step, top


def labelled(
    rng: random.Random,
    attempt: int,
    lang: str,
    chart: str,
    ns: int,
    *,
    n: int = 0,
    ordered: bool | None = None,
    base: str = "bar",
    lo_frac: tuple[int, ...] = (5, 10, 20),
    colors: bool = True,
) -> tuple[dict[str, Any], int] | None:
    """A `chart` of `ns` series over labels, every value printed (None: draw again).

    Labels, titles and axis titles come from `chart_data` (as a `base` chart); values are
    integers between a scale's 1/`lo_frac` and the scale, with no ties for a series' extremes.
    """
    data = chart_data(rng, attempt, lang, chart=base, ordered=ordered, n=n)
    if data is None:
        return None
    f, _ = data
    n = len(f["labels"])
    cap = max(10, f["axis_max"] * 2)
    scale = rng.choice([s for s in SCALES if s <= max(cap, 50)] or [100])
    lo = max(1, scale // rng.choice(lo_frac))
    shape = rng.choice(("rising", "falling", "walk", "walk")) if f["ordered"] else "free"
    vals: list[list[int]] = []
    for _ in range(30):
        vals = [
            series_values(rng, n, lo, scale, f["ordered"], shape if k == 0 else "walk") for k in range(ns)
        ]
        if all(unique_extremes(v) for v in vals):
            break
    else:
        return None
    names = (
        [f["y_axis_title"]]
        if ns == 1
        else series_names(rng, ns, lang, bool(f["ordered"]) and f["labels"][0][:1].isdigit())
    )
    if ns == 1 and f["orientation"] == "horizontal":
        names = [f["x_axis_title"]]
    cols = style.pick_colors(rng, ns, exclude=("yellow",) if base == "line" else ())
    f["series"] = [
        {"name": names[k], "color": cols[k][0] if colors else "", "values": vals[k]} for k in range(ns)
    ]
    if f["orientation"] == "horizontal":  # the newer types draw their values up the y axis
        f["x_axis_title"], f["y_axis_title"] = f["y_axis_title"], f["x_axis_title"]
        f["alt_x_axis_titles"], f["alt_y_axis_titles"] = f["alt_y_axis_titles"], f["alt_x_axis_titles"]
    f["chart"], f["orientation"] = chart, ""
    f["label_colors"] = []
    f["value_labels"], f["legend"] = True, ns > 1
    vmax = max(max(v) for v in vals)
    f["tick_step"], f["axis_max"] = nice_axis(rng, vmax)
    return f, rng.choice((1, 1, max(1, f["tick_step"] // 5)))
