"""A chart's description from its exact facts: kind, title, axes, categories, every value,
colours, legend, value labels and gridlines (templates: phrasings/charts_describe.yaml)."""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer
from visinstruct.synth.scenes.data import COLOR_ZH

#: Facts not drawn in the image: the questions asked and the wrong titles they offer.
HIDDEN = ("questions", "alt_titles", "alt_x_axis_titles", "alt_y_axis_titles")


def color_word(name: str, lang: str) -> str:
    return COLOR_ZH.get(name, name) if lang == "zh" else name


def _kind_key(f: dict[str, Any]) -> str:
    grouped = len(f["series"]) > 1
    if f["chart"] == "pie":
        return "kind_pie"
    if f["chart"] == "line":
        return "kind_line_multi" if grouped else "kind_line"
    direction = "horizontal" if f["orientation"] == "horizontal" else "vertical"
    return f"kind_{'grouped' if grouped else 'bar'}_{direction}"


def _extremes(labels: list[str], values: list[int]) -> tuple[str, int, str, int] | None:
    hi, lo = max(values), min(values)
    if values.count(hi) != 1 or values.count(lo) != 1 or hi == lo:
        return None
    return labels[values.index(hi)], hi, labels[values.index(lo)], lo


def describe(facts: dict[str, Any], lang: str, rng: random.Random) -> Description:
    """A dense description of the chart: no two charts read alike."""
    w = Writer("charts", rng, lang)
    f = facts
    labels, series = f["labels"], f["series"]
    chart, grouped = f["chart"], len(series) > 1
    parts: list[tuple[str, bool]] = [
        (w.say("intro", kind=w.say(_kind_key(f)), title=w.quote(f["title"])), False)
    ]
    middle: list[list[tuple[str, bool]]] = []
    if chart != "pie":
        setup = [(w.say("axes", x=w.quote(f["x_axis_title"]), y=w.quote(f["y_axis_title"])), False)]
        if f["ordered"]:
            setup.append((w.say("time_span", n=len(labels), first=labels[0], last=labels[-1]), True))
        else:
            setup.append((w.say("categories", n=len(labels), labels=w.listing(labels)), False))
        if w.maybe(0.6):
            setup.append((w.say("scale", max=f["axis_max"], step=f["tick_step"]), True))
        rng.shuffle(setup)
        middle.append(setup)
    # the values, with their colours
    values: list[tuple[str, bool]] = []
    if chart == "pie":
        vals, colors = series[0]["values"], f["label_colors"]
        entries = [
            w.say("pie_entry", label=lab, value=v, color=color_word(c, lang))
            for lab, v, c in zip(labels, vals, colors, strict=True)
        ]
        values.append((w.say("values_pie", list=w.listing(entries)), False))
    elif grouped:
        key = "series_values_line" if chart == "line" else "series_values_bar"
        form = rng.randrange(4)
        legend = []
        for s in series:
            entries = [_entry(w, form, lab, v) for lab, v in zip(labels, s["values"], strict=True)]
            c = color_word(s["color"], lang)
            values.append((w.say(key, series=w.quote(s["name"]), color=c, list=w.listing(entries)), False))
            legend.append(w.say("legend_entry", series=w.quote(s["name"]), color=c))
        values.insert(rng.choice((0, len(values))), (w.say("legend", list=w.listing(legend)), True))
    elif f["label_colors"]:
        entries = [
            w.say("entry_color", label=lab, value=v, color=color_word(c, lang))
            for lab, v, c in zip(labels, series[0]["values"], f["label_colors"], strict=True)
        ]
        values.append((w.say("values_bar", list=w.listing(entries)), False))
    else:
        form = rng.randrange(4)
        entries = [_entry(w, form, lab, v) for lab, v in zip(labels, series[0]["values"], strict=True)]
        key = "values_line" if chart == "line" else "values_bar"
        color = w.say(f"series_color_{chart}", color=color_word(series[0]["color"], lang))
        values.append((w.say(key, list=w.listing(entries)), False))
        values.insert(rng.choice((0, 1)), (color, False))
    middle.append(values)
    # how the values are shown
    shown: list[tuple[str, bool]] = []
    if chart == "pie":
        shown.append((w.say(f"pie_{f['pie_style'] or 'outside'}"), True))
    else:
        if f["value_labels"]:
            shown.append((w.say("value_labels_on_line" if chart == "line" else "value_labels_on"), True))
        else:
            shown.append((w.say("value_labels_off"), True))
        if f["gridlines"] and w.maybe(0.7):
            shown.append((w.say("gridlines"), True))
    if w.maybe(0.5):
        middle.append(shown)
        rng.shuffle(middle)
        tail: list[tuple[str, bool]] = []
    else:
        rng.shuffle(middle)
        tail = shown
    for block in middle:
        parts += block
    # what stands out
    extra: list[tuple[str, bool]] = []
    if chart == "pie":
        ex = _extremes(labels, series[0]["values"])
        if ex and w.maybe(0.7):
            extra.append((w.say("pie_largest", label=ex[0], value=ex[1]), True))
        if w.maybe(0.3):
            extra.append((w.say("pie_total"), True))
    elif grouped:
        for s in series:
            ex = _extremes(labels, s["values"])
            if ex and w.maybe(0.5):
                extra.append((w.say("extremes_series", series=w.quote(s["name"]), **_ex(ex)), True))
    else:
        vals = series[0]["values"]
        ex = _extremes(labels, vals)
        if chart == "line" and w.maybe(0.6):
            trend = _trend(vals)
            extra.append((w.say(f"trend_{trend}", first=vals[0], last=vals[-1]), True))
        if ex and w.maybe(0.7):
            extra.append((w.say("extremes", **_ex(ex)), True))
    rng.shuffle(extra)
    return w.finish(parts + tail + extra)


def _entry(w: Writer, form: int, label: str, value: int) -> str:
    """One `label value` entry of a listing (one wording for the whole listing)."""
    variants = w.phrases["entry"][w.lang]
    w.used.append(f"{w.file}.entry#{form % len(variants)}")
    return variants[form % len(variants)].replace("{label}", label).replace("{value}", str(value))


def _ex(ex: tuple[str, int, str, int]) -> dict[str, Any]:
    return {"max_label": ex[0], "max": ex[1], "min_label": ex[2], "min": ex[3]}


def _trend(values: list[int]) -> str:
    if all(b > a for a, b in zip(values, values[1:], strict=False)):
        return "rising"
    if all(b < a for a, b in zip(values, values[1:], strict=False)):
        return "falling"
    return "fluctuating"


def known(facts: dict[str, Any]) -> Known:
    """A chart's numbers (values, ticks, counts), texts (title, axis titles, labels, series
    names), colours; coverage: title, axis titles, every value with its label, every colour."""
    f = facts
    k = Known()
    labels, series = f["labels"], f["series"]
    k.add_texts(f["title"], *labels)
    if f["chart"] != "pie":
        k.add_texts(f["x_axis_title"], f["y_axis_title"], f["dimension"])
        k.add_numbers(2)  # two axes
        if f["tick_step"]:
            k.add_numbers(*range(0, f["axis_max"] + 1, f["tick_step"]))
    if len(series) > 1:
        k.add_texts(*(s["name"] for s in series))
    if f["chart"] == "pie":
        k.add_numbers(100)
    k.add_numbers(len(labels), len(series), *(v for s in series for v in s["values"]))
    colors = [s["color"] for s in series if s["color"]] + list(f["label_colors"])
    k.colors |= set(colors)
    k.words |= {"x", "y", "x-axis", "y-axis"}
    facts_: list[Fact] = [Fact("title", {"en": ((f["title"],),), "zh": ((f["title"],),)})]
    if f["chart"] != "pie":
        for axis in ("x_axis_title", "y_axis_title"):
            facts_.append(Fact(axis, {"en": ((f[axis],),), "zh": ((f[axis],),)}))
    for s in series:
        for lab, v in zip(labels, s["values"], strict=True):
            groups = ((lab,), (str(v),))
            facts_.append(Fact(f"value:{s['name']}:{lab}", {"en": groups, "zh": groups}))
    named = [(s["color"], s["name"] if len(series) > 1 else None) for s in series if s["color"]]
    named += list(zip(f["label_colors"], labels, strict=False))
    for c, what in named:
        en: tuple[tuple[str, ...], ...] = ((c,),) + (((what,),) if what else ())
        zh: tuple[tuple[str, ...], ...] = ((COLOR_ZH[c],),) + (((what,),) if what else ())
        facts_.append(Fact(f"color:{c}", {"en": en, "zh": zh}))
    k.facts = facts_
    return k
