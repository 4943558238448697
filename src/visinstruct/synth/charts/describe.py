"""A chart's description from its exact facts, for every chart type `synth/charts` draws:
vertical, horizontal, grouped and stacked bars, lines (one or two), areas (plain or stacked),
bar + line combinations, pies and donuts, scatter and bubble plots, histograms, box plots,
heatmaps, radar charts, funnels and waterfalls. Each says the type, the title, the axes and
scales, every value with its label (and series), the colours, how values are shown, and what
stands out, in varied wording and order (templates: phrasings/charts_describe.yaml).

Only what is drawn is said: a stack's printed total, a heatmap's colour bar or which radar
series prints its values are left out where the facts do not hold them, so every number,
label and colour of a description is one of the facts (`known` says which).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer
from visinstruct.synth.scenes.data import COLOR_ZH
from visinstruct.templates import render

#: Facts not drawn in the image: the questions asked and the wrong titles they offer.
HIDDEN = ("questions", "alt_titles", "alt_x_axis_titles", "alt_y_axis_titles")

Parts = list[tuple[str, bool]]  # (sentence, optional)


def color_word(name: str, lang: str) -> str:
    return COLOR_ZH.get(name, name) if lang == "zh" else name


def chart_type(f: dict[str, Any]) -> str:
    """The type of a chart as a reader names it, one of the 19 (`kind_<type>` templates)."""
    c, n = f["chart"], len(f.get("series") or [])
    if c == "bar":
        if f.get("stacked"):
            return "stacked_bar"
        direction = "horizontal" if f.get("orientation") == "horizontal" else "vertical"
        return f"{'grouped' if n > 1 else 'bar'}_{direction}"
    if c == "line":
        return "line_multi" if n > 1 else "line"
    if c == "area":
        return "stacked_area" if f.get("stacked") else "area"
    if c == "pie":
        return "donut" if f.get("donut") else "pie"
    return c  # combo, scatter, bubble, histogram, box, heatmap, radar, funnel, waterfall


#: The 19 chart types, as `chart_type` names them.
CHART_TYPES = (
    "bar_vertical",
    "bar_horizontal",
    "grouped_vertical",
    "grouped_horizontal",
    "stacked_bar",
    "line",
    "line_multi",
    "area",
    "stacked_area",
    "pie",
    "donut",
    "combo",
    "scatter",
    "bubble",
    "histogram",
    "box",
    "heatmap",
    "radar",
    "funnel",
    "waterfall",
)


def _unique_extremes(labels: list[str], values: list[int]) -> tuple[str, int, str, int] | None:
    hi, lo = max(values), min(values)
    if values.count(hi) != 1 or values.count(lo) != 1 or hi == lo:
        return None
    return labels[values.index(hi)], hi, labels[values.index(lo)], lo


def _ex(ex: tuple[str, int, str, int]) -> dict[str, Any]:
    return {"max_label": ex[0], "max": ex[1], "min_label": ex[2], "min": ex[3]}


def _trend(values: list[int]) -> str:
    if all(b > a for a, b in zip(values, values[1:], strict=False)):
        return "rising"
    if all(b < a for a, b in zip(values, values[1:], strict=False)):
        return "falling"
    return "fluctuating"


def _entry(w: Writer, form: int, label: str, value: object, key: str = "entry") -> str:
    """One `label value` entry of a listing (one wording, `form`, for the whole listing)."""
    variants = w.phrases[key][w.lang]
    w.used.append(f"{w.file}.{key}#{form % len(variants)}")
    return variants[form % len(variants)].replace("{label}", str(label)).replace("{value}", str(value))


def _entries(w: Writer, labels: list[str], values: list[int], key: str = "entry") -> str:
    form = w.rng.randrange(len(w.phrases[key][w.lang]))
    return w.listing([_entry(w, form, lab, v, key) for lab, v in zip(labels, values, strict=True)])


def _signed(v: int) -> str:
    return f"+{v}" if v > 0 else str(v)


# ---------------------------------------------------------------------------------------------
# the pieces most types share


def _intro(w: Writer, f: dict[str, Any]) -> Parts:
    return [(w.say("intro", kind=w.say(f"kind_{chart_type(f)}"), title=w.quote(f["title"])), False)]


def _axes(w: Writer, f: dict[str, Any]) -> tuple[str, bool] | None:
    x, y = f.get("x_axis_title") or "", f.get("y_axis_title") or ""
    if x and y:
        return w.say("axes", x=w.quote(x), y=w.quote(y)), False
    if y:
        return w.say("axis_y_only", y=w.quote(y)), False
    if x:
        return w.say("axis_x_only", x=w.quote(x)), False
    return None


def _categories(w: Writer, f: dict[str, Any]) -> tuple[str, bool]:
    labels = f["labels"]
    if f.get("ordered"):
        return w.say("time_span", n=len(labels), first=labels[0], last=labels[-1]), True
    return w.say("categories", n=len(labels), labels=w.listing(labels)), False


def _scale(w: Writer, f: dict[str, Any], key: str = "scale") -> tuple[str, bool] | None:
    if not f.get("tick_step") or not f.get("axis_max"):
        return None
    lo = f.get("axis_min", 0)
    return w.say(key, min=lo, max=f["axis_max"], step=f["tick_step"]), True


def _setup(w: Writer, f: dict[str, Any], scale_p: float = 0.6) -> Parts:
    """Axes, categories and scale, in shuffled order."""
    out: Parts = [p for p in (_axes(w, f), _categories(w, f)) if p]
    sc = _scale(w, f)
    if sc and w.maybe(scale_p):
        out.append(sc)
    w.rng.shuffle(out)
    return out


def _legend(w: Writer, series: list[dict[str, Any]]) -> tuple[str, bool]:
    lang = w.lang
    entries = [
        w.say("legend_entry", series=w.quote(s["name"]), color=color_word(s["color"], lang)) for s in series
    ]
    return w.say("legend", n=len(series), list=w.listing(entries)), True


def _series_extremes(w: Writer, f: dict[str, Any], p: float = 0.5) -> Parts:
    out: Parts = []
    for s in f["series"]:
        ex = _unique_extremes(f["labels"], s["values"])
        if ex and w.maybe(p):
            out.append((w.say("extremes_series", series=w.quote(s["name"]), **_ex(ex)), True))
    return out


def _assemble(w: Writer, head: Parts, middle: list[Parts], shown: Parts, extra: Parts) -> Description:
    """The intro, then the middle blocks and the note on how values are shown in shuffled
    order, then what stands out (shuffled)."""
    rng = w.rng
    if w.maybe(0.5):
        middle = [*middle, shown]
        rng.shuffle(middle)
        tail: Parts = []
    else:
        rng.shuffle(middle)
        tail = shown
    parts = list(head)
    for block in middle:
        parts += block
    rng.shuffle(extra)
    return w.finish(parts + tail + extra)


# ---------------------------------------------------------------------------------------------
# per type


def _bar_line(w: Writer, f: dict[str, Any]) -> Description:
    """Plain, horizontal and grouped bars; one or two lines."""
    lang, rng = w.lang, w.rng
    labels, series = f["labels"], f["series"]
    chart, grouped = f["chart"], len(series) > 1
    values: Parts = []
    if grouped:
        key = "series_values_line" if chart == "line" else "series_values_bar"
        for s in series:
            c = color_word(s["color"], lang)
            values.append(
                (w.say(key, series=w.quote(s["name"]), color=c, list=_entries(w, labels, s["values"])), False)
            )
        values.insert(rng.choice((0, len(values))), _legend(w, series))
    elif f["label_colors"]:
        form = rng.randrange(len(w.phrases["entry_color"][lang]))
        entries = []
        for lab, v, c in zip(labels, series[0]["values"], f["label_colors"], strict=True):
            entries.append(_entry(w, form, lab, v, "entry_color").replace("{color}", color_word(c, lang)))
        values.append((w.say("values_bar", list=w.listing(entries)), False))
    else:
        key = "values_line" if chart == "line" else "values_bar"
        color = w.say(f"series_color_{chart}", color=color_word(series[0]["color"], lang))
        values.append((w.say(key, list=_entries(w, labels, series[0]["values"])), False))
        values.insert(rng.choice((0, 1)), (color, False))
    shown: Parts = []
    if f["value_labels"]:
        shown.append((w.say("value_labels_on_line" if chart == "line" else "value_labels_on"), True))
    else:
        shown.append((w.say("value_labels_off"), True))
    if f["gridlines"] and w.maybe(0.7):
        shown.append((w.say("gridlines"), True))
    extra: Parts = []
    if grouped:
        extra += _series_extremes(w, f)
    else:
        vals = series[0]["values"]
        if chart == "line" and w.maybe(0.6):
            extra.append((w.say(f"trend_{_trend(vals)}", first=vals[0], last=vals[-1]), True))
        ex = _unique_extremes(labels, vals)
        if ex and w.maybe(0.7):
            extra.append((w.say("extremes", **_ex(ex)), True))
    return _assemble(w, _intro(w, f), [_setup(w, f), values], shown, extra)


def _stacked(w: Writer, f: dict[str, Any]) -> Description:
    """Stacked bars and stacked areas: each series' segments (or band), every one printed."""
    lang, rng = w.lang, w.rng
    labels, series = f["labels"], f["series"]
    area = f["chart"] == "area"
    key = "series_values_band" if area else "series_values_stack"
    values: Parts = []
    for s in series:
        c = color_word(s["color"], lang)
        values.append(
            (w.say(key, series=w.quote(s["name"]), color=c, list=_entries(w, labels, s["values"])), False)
        )
    values.insert(rng.choice((0, len(values))), _legend(w, series))
    if w.maybe(0.5):
        order = w.listing([w.quote(s["name"]) for s in series])
        values.insert(0, (w.say("stack_order_area" if area else "stack_order", list=order), True))
    shown: Parts = [(w.say("stacked_labels_area" if area else "stacked_labels"), True)]
    if f["gridlines"] and w.maybe(0.6):
        shown.append((w.say("gridlines"), True))
    extra = _series_extremes(w, f, 0.4)
    return _assemble(w, _intro(w, f), [_setup(w, f), values], shown, extra)


def _area(w: Writer, f: dict[str, Any]) -> Description:
    """One area under a line along an ordered axis, every point printed."""
    lang, rng = w.lang, w.rng
    labels, vals = f["labels"], f["series"][0]["values"]
    values: Parts = [(w.say("values_line", list=_entries(w, labels, vals)), False)]
    values.insert(
        rng.choice((0, 1)),
        (w.say("series_color_area", color=color_word(f["series"][0]["color"], lang)), False),
    )
    shown: Parts = [(w.say("value_labels_on_line"), True)]
    if f["gridlines"] and w.maybe(0.6):
        shown.append((w.say("gridlines"), True))
    extra: Parts = []
    if w.maybe(0.6):
        extra.append((w.say(f"trend_{_trend(vals)}", first=vals[0], last=vals[-1]), True))
    ex = _unique_extremes(labels, vals)
    if ex and w.maybe(0.6):
        extra.append((w.say("extremes", **_ex(ex)), True))
    return _assemble(w, _intro(w, f), [_setup(w, f), values], shown, extra)


def _combo(w: Writer, f: dict[str, Any]) -> Description:
    """One series as bars, the other as a line, on one value axis."""
    lang, rng = w.lang, w.rng
    labels = f["labels"]
    by_mark = dict(zip(f["marks"], f["series"], strict=True))
    values: Parts = []
    for mark in ("bar", "line"):
        s = by_mark[mark]
        c = color_word(s["color"], lang)
        values.append(
            (
                w.say(
                    f"combo_{mark}", series=w.quote(s["name"]), color=c, list=_entries(w, labels, s["values"])
                ),
                False,
            )
        )
    rng.shuffle(values)
    values.insert(rng.choice((0, len(values))), _legend(w, [by_mark["bar"], by_mark["line"]]))
    shown: Parts = [(w.say("combo_labels"), True)]
    if f["gridlines"] and w.maybe(0.6):
        shown.append((w.say("gridlines"), True))
    extra = _series_extremes(w, f, 0.4)
    return _assemble(w, _intro(w, f), [_setup(w, f), values], shown, extra)


def _pie(w: Writer, f: dict[str, Any]) -> Description:
    """Pies and donuts: every slice's percentage and colour."""
    lang = w.lang
    labels, vals, colors = f["labels"], f["series"][0]["values"], f["label_colors"]
    form = w.rng.randrange(len(w.phrases["pie_entry"][lang]))
    entries = [
        _entry(w, form, lab, v, "pie_entry").replace("{color}", color_word(c, lang))
        for lab, v, c in zip(labels, vals, colors, strict=True)
    ]
    values: Parts = [(w.say("values_pie", n=len(labels), list=w.listing(entries)), False)]
    if f.get("donut") and w.maybe(0.7):
        values.append((w.say("donut_hole"), True))
    shown: Parts = [(w.say(f"pie_{f['pie_style'] or 'outside'}"), True)]
    extra: Parts = []
    ex = _unique_extremes(labels, vals)
    if ex and w.maybe(0.7):
        extra.append((w.say("pie_largest", label=ex[0], value=ex[1]), True))
    if w.maybe(0.3):
        extra.append((w.say("pie_total"), True))
    return _assemble(w, _intro(w, f), [values], shown, extra)


def _scatter(w: Writer, f: dict[str, Any]) -> Description:
    """Scatter and bubble plots: every named point's x and y (and a bubble's printed size)."""
    lang, rng = w.lang, w.rng
    pts = f["points"]
    bubble = f["chart"] == "bubble"
    setup: Parts = [p for p in (_axes(w, f),) if p]
    if w.maybe(0.7):
        setup.append(
            (
                w.say(
                    "xy_ranges",
                    x_min=f["x_min"],
                    x_max=f["x_max"],
                    x_step=f["x_step"],
                    y_min=f.get("axis_min", 0),
                    y_max=f["axis_max"],
                    y_step=f["tick_step"],
                ),
                True,
            )
        )
    rng.shuffle(setup)
    key = "bubble_entry" if bubble else "point_entry"
    form = rng.randrange(len(w.phrases[key][lang]))
    entries = []
    variants = w.phrases[key][lang]
    w.used.append(f"{w.file}.{key}#{form}")
    for p in pts:
        text = variants[form]
        for slot, v in (("label", p["label"]), ("x", p["x"]), ("y", p["y"]), ("size", p.get("size", ""))):
            text = text.replace("{" + slot + "}", str(v))
        entries.append(text)
    color = color_word(f["point_color"], lang)
    values: Parts = [
        (w.say("bubbles_lead" if bubble else "points_lead", n=len(pts), color=color), False),
        (w.say("points_values", list=("；" if lang == "zh" else "; ").join(entries)), False),
    ]
    shown: Parts = [(w.say("bubble_labels" if bubble else "point_labels"), True)]
    if w.maybe(0.6):
        shown.append((w.say("gridlines_xy"), True))
    extra: Parts = []
    r = _pearson([p["x"] for p in pts], [p["y"] for p in pts])
    if r is not None and abs(r) >= 0.6 and w.maybe(0.7):
        extra.append((w.say("relation_rising" if r > 0 else "relation_falling"), True))
    if bubble and w.maybe(0.6):
        sizes = [p["size"] for p in pts]
        ex = _unique_extremes([p["label"] for p in pts], sizes)
        if ex:
            extra.append((w.say("bubble_largest", label=ex[0], value=ex[1]), True))
    return _assemble(w, _intro(w, f), [setup, values], shown, extra)


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sx = sum((x - mx) ** 2 for x in xs)
    sy = sum((y - my) ** 2 for y in ys)
    if not sx or not sy:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sx * sy)


def _histogram(w: Writer, f: dict[str, Any]) -> Description:
    """Touching bars over equal bins: every bin's count."""
    lang = w.lang
    labels, counts = f["labels"], f["counts"]
    setup: Parts = [p for p in (_axes(w, f),) if p]
    setup.append(
        (w.say("bins", n=len(labels), first=f["bins"][0], last=f["bins"][-1], step=f["x_step"]), False)
    )
    sc = _scale(w, f)
    if sc and w.maybe(0.5):
        setup.append(sc)
    w.rng.shuffle(setup)
    edges = f["bins"]
    form = w.rng.randrange(len(w.phrases["bin_entry"][lang]))
    w.used.append(f"{w.file}.bin_entry#{form}")
    entries = [
        render(w.phrases["bin_entry"][lang][form], {"a": a, "b": b, "value": c})
        for a, b, c in zip(edges, edges[1:], counts, strict=False)
    ]
    values: Parts = [
        (w.say("series_color_histogram", color=color_word(f["bar_color"], lang)), False),
        (w.say("values_histogram", list=w.listing(entries)), False),
    ]
    w.rng.shuffle(values)
    shown: Parts = [(w.say("value_labels_on" if f["value_labels"] else "value_labels_off"), True)]
    extra: Parts = []
    top = max(counts)
    if counts.count(top) == 1 and w.maybe(0.7):
        i = counts.index(top)
        extra.append((w.say("modal_bin", a=edges[i], b=edges[i + 1], value=top), True))
    return _assemble(w, _intro(w, f), [setup, values], shown, extra)


def _box(w: Writer, f: dict[str, Any]) -> Description:
    """A box per group: its minimum, quartiles, median and maximum."""
    lang = w.lang
    groups = f["groups"]
    setup: Parts = [p for p in (_axes(w, f), _categories(w, f), _scale(w, f)) if p]
    w.rng.shuffle(setup)
    form = w.rng.randrange(len(w.phrases["box_entry"][lang]))
    variants = w.phrases["box_entry"][lang]
    w.used.append(f"{w.file}.box_entry#{form}")
    values: Parts = [(w.say("series_color_box", color=color_word(f["box_color"], lang)), False)]
    for g in groups:
        text = variants[form]
        for slot in ("label", "min", "q1", "median", "q3", "max"):
            text = text.replace("{" + slot + "}", str(g[slot]))
        values.append((text, False))
    shown: Parts = [(w.say("box_how"), True)]
    extra: Parts = []
    meds = [g["median"] for g in groups]
    ex = _unique_extremes([g["label"] for g in groups], meds)
    if ex and w.maybe(0.7):
        extra.append((w.say("median_extremes", **_ex(ex)), True))
    return _assemble(w, _intro(w, f), [setup, values], shown, extra)


def _heatmap(w: Writer, f: dict[str, Any]) -> Description:
    """A grid of cells, rows by columns, shaded by value, every value printed."""
    lang = w.lang
    labels, rows = f["labels"], f["series"]
    setup: Parts = [
        (
            w.say(
                "heatmap_grid",
                rows=len(rows),
                cols=len(labels),
                row_names=w.listing([w.quote(s["name"]) for s in rows]),
                col_names=w.listing(labels),
            ),
            False,
        )
    ]
    ax = _axes(w, f)
    if ax:
        setup.append(ax)
    w.rng.shuffle(setup)
    values: Parts = [
        (w.say("heatmap_row", row=w.quote(s["name"]), list=_entries(w, labels, s["values"])), False)
        for s in rows
    ]
    shown: Parts = [(w.say("heatmap_shading", color=color_word(f["hue"], lang)), False)]
    extra: Parts = []
    cells = [(s["name"], lab, v) for s in rows for lab, v in zip(labels, s["values"], strict=True)]
    vals = [c[2] for c in cells]
    top = max(vals)
    if vals.count(top) == 1 and w.maybe(0.6):
        row, col, _ = cells[vals.index(top)]
        extra.append((w.say("heatmap_max", row=w.quote(row), col=col, value=top), True))
    return _assemble(w, _intro(w, f), [setup, values], shown, extra)


def _radar(w: Writer, f: dict[str, Any]) -> Description:
    """Spokes, rings and one polygon per series."""
    lang, rng = w.lang, w.rng
    labels, series = f["labels"], f["series"]
    setup: Parts = [(w.say("radar_spokes", n=len(labels), labels=w.listing(labels)), False)]
    if f.get("tick_step") and w.maybe(0.7):
        setup.append((w.say("radar_rings", max=f["axis_max"], step=f["tick_step"]), True))
    rng.shuffle(setup)
    values: Parts = []
    for s in series:
        c, entries = color_word(s["color"], lang), _entries(w, labels, s["values"])
        if len(series) == 1:  # no legend: the series is not named in the image
            values.append((w.say("radar_single", color=c, list=entries), False))
        else:
            values.append((w.say("radar_series", series=w.quote(s["name"]), color=c, list=entries), False))
    if f.get("legend"):
        values.insert(rng.choice((0, len(values))), _legend(w, series))
    shown: Parts = [(w.say("radar_how"), True)]
    extra = _series_extremes(w, f, 0.4)
    return _assemble(w, _intro(w, f), [setup, values], shown, extra)


def _funnel(w: Writer, f: dict[str, Any]) -> Description:
    """Stages from the top down, every stage's value printed."""
    lang = w.lang
    labels, vals = f["labels"], f["series"][0]["values"]
    style = "trapezoid" if f.get("funnel_style") == "trapezoid" else "bars"
    values: Parts = [
        (w.say("funnel_stages", n=len(labels), first=labels[0], last=labels[-1]), False),
        (w.say(f"funnel_{style}", color=color_word(f["series"][0]["color"], lang)), False),
        (w.say("values_funnel", list=_entries(w, labels, vals)), False),
    ]
    shown: Parts = [(w.say("funnel_labels"), True)]
    extra: Parts = []
    if w.maybe(0.6):
        extra.append(
            (w.say("funnel_ends", first=labels[0], top=vals[0], last=labels[-1], bottom=vals[-1]), True)
        )
    return _assemble(w, _intro(w, f), [values], shown, extra)


def _waterfall(w: Writer, f: dict[str, Any]) -> Description:
    """A start bar, signed steps and an end bar."""
    lang = w.lang
    labels, vals = f["labels"], f["series"][0]["values"]
    steps = vals[1:-1]
    setup: Parts = [p for p in (_axes(w, f), _scale(w, f)) if p]
    w.rng.shuffle(setup)
    values: Parts = [
        (w.say("waterfall_ends", first=labels[0], start=vals[0], last=labels[-1], end=vals[-1]), False),
        (
            w.say(
                "waterfall_steps",
                n=len(steps),
                list=_entries(w, labels[1:-1], [_signed(v) for v in steps], "step_entry"),
            ),
            False,
        ),
    ]
    colors: Parts = []
    total = color_word(f["series"][0]["color"], lang)
    if any(v > 0 for v in steps):
        colors.append((w.say("waterfall_up", color=color_word(f["up_color"], lang)), False))
    if any(v < 0 for v in steps):
        colors.append((w.say("waterfall_down", color=color_word(f["down_color"], lang)), False))
    colors.append((w.say("waterfall_total", color=total), False))
    w.rng.shuffle(colors)
    shown: Parts = [(w.say("waterfall_labels"), True)]
    extra: Parts = []
    ex = _unique_extremes(labels[1:-1], [abs(v) for v in steps])
    if ex and w.maybe(0.5):
        i = labels.index(ex[0])
        extra.append((w.say("waterfall_biggest", label=ex[0], value=_signed(vals[i])), True))
    return _assemble(w, _intro(w, f), [setup, values, colors], shown, extra)


DESCRIBERS: dict[str, Callable[[Writer, dict[str, Any]], Description]] = {
    "stacked_bar": _stacked,
    "stacked_area": _stacked,
    "area": _area,
    "combo": _combo,
    "pie": _pie,
    "donut": _pie,
    "scatter": _scatter,
    "bubble": _scatter,
    "histogram": _histogram,
    "box": _box,
    "heatmap": _heatmap,
    "radar": _radar,
    "funnel": _funnel,
    "waterfall": _waterfall,
}


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A dense description of the chart: no two charts read alike."""
    w = Writer("charts", rng, lang)
    return DESCRIBERS.get(chart_type(facts), _bar_line)(w, facts)


# ---------------------------------------------------------------------------------------------
# what is true of a chart


def _both(*groups: tuple[str, ...]) -> dict[str, tuple[tuple[str, ...], ...]]:
    return {"en": groups, "zh": groups}


def _color_fact(c: str, what: str | None) -> Fact:
    en: tuple[tuple[str, ...], ...] = ((c,),) + (((what,),) if what else ())
    zh: tuple[tuple[str, ...], ...] = ((COLOR_ZH[c],),) + (((what,),) if what else ())
    return Fact(f"color:{c}:{what or ''}", {"en": en, "zh": zh})


def _num(v: int | float) -> str:
    """A value as a coverage needle: its digits (a sign is not a digit)."""
    return str(abs(v))


def known(facts: dict[str, Any]) -> Known:
    """A chart's numbers (values, ticks, counts), texts (title, axis titles, labels, series and
    point names), colours; coverage: title, axis titles, every value with its label (and
    series), every colour."""
    f = facts
    k = Known()
    t = chart_type(f)
    labels, series = f["labels"], f.get("series") or []
    k.add_texts(f["title"], *labels)
    k.add_texts(*(x for x in (f.get("x_axis_title"), f.get("y_axis_title"), f.get("dimension")) if x))
    k.add_texts(*(s["name"] for s in series))
    k.add_numbers(2, len(labels), len(series))  # two axes; how many labels and series
    if f.get("tick_step") and f.get("axis_max"):
        k.add_numbers(f["tick_step"], *range(f.get("axis_min", 0), f["axis_max"] + 1, f["tick_step"]))
    if t in ("pie", "donut"):
        k.add_numbers(100)
    values = [v for s in series for v in s["values"]]
    k.add_numbers(*values)
    k.add_numbers(*(abs(v) for v in values))
    if t in ("stacked_bar", "stacked_area"):  # each stack's total is printed
        k.add_numbers(*(sum(s["values"][i] for s in series) for i in range(len(labels))))
    if t == "waterfall":
        k.add_numbers(len(labels) - 2)
    points = f.get("points") or []
    for p in points:
        k.add_numbers(p["x"], p["y"], *([p["size"]] if "size" in p else []))
    if points:
        k.add_numbers(len(points), f["x_step"], *range(f["x_min"], f["x_max"] + 1, f["x_step"]))
    if t == "histogram":
        k.add_numbers(*f["bins"], *f["counts"], f["x_step"])
    for g in f.get("groups") or []:
        k.add_numbers(*(g[s] for s in ("min", "q1", "median", "q3", "max")))
        k.add_numbers(*(abs(g[s]) for s in ("min", "q1", "median", "q3", "max")))
    colors = [s["color"] for s in series if s.get("color")] + list(f.get("label_colors") or [])
    colors += [f[c] for c in ("point_color", "bar_color", "box_color", "hue") if f.get(c)]
    if t == "waterfall":
        colors += [f["up_color"], f["down_color"]]
    k.colors |= set(colors)
    k.words |= {"x", "y", "x-axis", "y-axis"}
    k.facts = _coverage(f, t)
    return k


def _coverage(f: dict[str, Any], t: str) -> list[Fact]:
    labels, series = f["labels"], f.get("series") or []
    out = [Fact("title", _both((f["title"],)))]
    for axis in ("x_axis_title", "y_axis_title"):
        if f.get(axis) and t not in ("pie", "donut"):
            out.append(Fact(axis, _both((f[axis],))))
    if t in ("scatter", "bubble"):
        for p in f["points"]:
            groups = [(p["label"],), (_num(p["x"]),), (_num(p["y"]),)]
            if t == "bubble":
                groups.append((_num(p["size"]),))
            out.append(Fact(f"point:{p['label']}", _both(*groups)))
        out.append(_color_fact(f["point_color"], None))
        return out
    if t == "histogram":
        edges = f["bins"]
        for lab, a, b, c in zip(labels, edges, edges[1:], f["counts"], strict=False):
            out.append(Fact(f"bin:{lab}", _both((_num(a),), (_num(b),), (_num(c),))))
        out.append(_color_fact(f["bar_color"], None))
        return out
    if t == "box":
        for g in f["groups"]:
            groups = [(g["label"],)] + [(_num(g[s]),) for s in ("min", "q1", "median", "q3", "max")]
            out.append(Fact(f"box:{g['label']}", _both(*groups)))
        out.append(_color_fact(f["box_color"], None))
        return out
    for s in series:
        for lab, v in zip(labels, s["values"], strict=True):
            groups = [(lab,), (_num(v),)]
            if t == "heatmap" or len(series) > 1:
                groups.append((s["name"],))
            out.append(Fact(f"value:{s['name']}:{lab}", _both(*groups)))
    if t == "heatmap":
        out.append(_color_fact(f["hue"], None))
        return out
    if t == "waterfall":
        steps = series[0]["values"][1:-1]
        if any(v > 0 for v in steps):
            out.append(_color_fact(f["up_color"], None))
        if any(v < 0 for v in steps):
            out.append(_color_fact(f["down_color"], None))
        out.append(_color_fact(series[0]["color"], None))
        return out
    named = [(s["color"], s["name"] if len(series) > 1 else None) for s in series if s.get("color")]
    named += list(zip(f.get("label_colors") or [], labels, strict=False))
    out += [_color_fact(c, what) for c, what in named]
    return out
