"""A spec's facts → draft questions of the four types, every answer computed from the facts.

Facts are what the validated spec states (a chart's data, a table's cells, an SVG's shapes
and texts, an HTML page's headings, texts and tables), narrowed by the renderer's
measurements to what the image shows: a shape outside the canvas, covered or without ink is
never counted, and a kind of shape one of which cannot be seen is not counted at all.
Questions go through the synthetic domains' engine (`synth.ask`): judgement pairs (one true
statement, one false built from a plausible wrong value), multiple choice with three
plausible distractors, short answers and a worked long answer.
"""

from __future__ import annotations

import colorsys
import math
import random
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from visinstruct.synth.ask import (
    Asked,
    Fact,
    Kinds,
    Said,
    judgement,
    long_answer,
    multiple_choice,
    nearby,
    short_answer,
)
from visinstruct.synth.base import fmt_num
from visinstruct.templates import render

SHAPE_WORDS = ("rect", "circle", "ellipse", "line", "polygon", "polyline")
COLOURS = (
    "red",
    "orange",
    "yellow",
    "green",
    "cyan",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
)


@cache
def phrasings() -> dict[str, Any]:
    text = resources.files("visinstruct.coded").joinpath("phrasings.yaml").read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class Voice:
    """The phrasings in one language, chosen with the item's random stream."""

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng, self.lang = rng, lang

    def say(self, key: str, **values: object) -> str:
        return render(self.rng.choice(phrasings()[key][self.lang]), values)

    def said(self, key: str, **values: object) -> Said:
        return Said(key, self.say(key, **values))

    def word(self, key: str, which: str) -> str:
        return phrasings()[key][self.lang][which]

    def listing(self, items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        return self.say("list_sep").join(items[:-1]) + self.say("list_and") + items[-1]

    def scope(self, series: str | None) -> str:
        return self.say("scope", series=series) if series else ""


def number_step(values: list[float]) -> float:
    """How far apart plausible misreadings of these numbers are: a tenth of their magnitude,
    at least 1 for whole numbers (0.1 or 0.5 otherwise)."""
    big = max((abs(v) for v in values), default=1) or 1
    step = 10 ** max(0, math.floor(math.log10(big)) - 1)
    if all(float(v).is_integer() for v in values):
        return max(1, step)
    return 0.5 if all(float(v * 2).is_integer() for v in values) else 0.1


def wrong_numbers(value: float, rng: random.Random, step: float, others: list[float]) -> list[float]:
    """Plausible wrong numbers: the other values shown (most plausible), then a few steps away."""
    lo = 0 if value >= 0 else None
    near = [round(v, 2) for v in nearby(value, rng, step=step, lo=lo)]
    seen: list[float] = []
    for v in [*others, *near]:
        if v != value and v not in seen:
            seen.append(v)
    return seen


def _num(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d{1,12}(\.\d{1,2})?", v):
        return float(v)
    return None


def _show(v: Any) -> str:
    return fmt_num(v) if isinstance(v, int | float) else str(v)


# ---------------------------------------------------------------------------------------------
# charts


def chart_kinds(facts: dict[str, Any], rng: random.Random, v: Voice) -> tuple[dict[str, Callable], dict]:
    """Fact builders of a chart: value look-up, extremes, comparison, category count, total."""
    points = facts["points"]
    field, cat_field = facts["value_field"], facts["category_field"]
    series = facts["series"] or [None]
    values = [p["value"] for p in points]
    step = number_step(values)
    by: dict[Any, dict[str, float]] = {s: {} for s in series}
    for p in points:
        by[p["series"]][p["category"]] = p["value"]

    def value_fact() -> Fact | None:
        p = rng.choice(points)
        sc, label, val = v.scope(p["series"]), p["category"], p["value"]
        row = by[p["series"]]
        others = [x for x in row.values() if x != val]
        rng.shuffle(others)
        wrong = wrong_numbers(val, rng, step, others[:2])
        ask = {"field": field, "label": label, "scope": sc}
        rivals = [c for c in row if c != label]

        def explain() -> list[tuple[str, str]]:
            other = rng.choice(rivals)
            w = row[other]
            word = v.say("word_higher" if val > w else "word_lower")
            first = (v.say("chart_value_q", **ask), v.say("chart_value_a", **ask, value=fmt_num(val)))
            if w == val:
                return [
                    first,
                    (
                        v.say("chart_compare_q", other=other),
                        v.say("chart_value_a", **{**ask, "label": other}, value=fmt_num(w)),
                    ),
                ]
            diff = fmt_num(round(abs(val - w), 2))
            return [
                first,
                (
                    v.say("chart_compare_q", other=other),
                    v.say(
                        "chart_compare_a", other=other, value2=fmt_num(w), label=label, word=word, diff=diff
                    ),
                ),
            ]

        return Fact(
            "value",
            "value_lookup",
            val,
            wrong,
            show=fmt_num,
            ask=lambda: v.said("chart_value_q", **ask),
            claim=lambda x: v.said("chart_value_claim", **ask, value=fmt_num(x)),
            explain=explain if rivals else None,
            args={"category": label, "series": p["series"]},
        )

    def extreme_fact(high: bool) -> Callable[[], Fact | None]:
        def build() -> Fact | None:
            s = rng.choice(series)
            row = by[s]
            if len(row) < 2:
                return None
            best = (max if high else min)(row.values())
            top = [c for c, x in row.items() if x == best]
            if len(top) != 1:
                return None
            label = top[0]
            ranked = sorted((c for c in row if c != label), key=lambda c: abs(row[c] - best))
            sc = v.scope(s)
            ask = {"field": field, "cat_field": cat_field, "scope": sc}
            key = "max" if high else "min"

            def explain() -> list[tuple[str, str]]:
                other_best = (min if high else max)(row.values())
                other = next(c for c, x in row.items() if x == other_best)
                return [
                    (
                        v.say(f"chart_{key}_q", **ask),
                        v.say("chart_extreme_a", label=label, field=field, value=fmt_num(best)),
                    ),
                    (
                        v.say(f"chart_other_extreme_q_{key}"),
                        v.say(
                            "chart_other_extreme_a",
                            label=other,
                            value=fmt_num(other_best),
                            diff=fmt_num(round(abs(best - other_best), 2)),
                        ),
                    ),
                ]

            return Fact(
                key,
                "extremum",
                label,
                ranked,
                ask=lambda: v.said(f"chart_{key}_q", **ask),
                claim=lambda c: v.said(f"chart_{key}_claim", **ask, label=c),
                explain=explain,
                args={"series": s, "highest": high},
            )

        return build

    def count_fact() -> Fact | None:
        n = len(facts["categories"])
        return Fact(
            "count",
            "counting",
            n,
            [x for x in nearby(n, rng, lo=1)],
            show=fmt_num,
            ask=lambda: v.said("chart_count_q", cat_field=cat_field),
            claim=lambda x: v.said("chart_count_claim", cat_field=cat_field, value=fmt_num(x)),
        )

    def compare_fact() -> Fact | None:
        s = rng.choice(series)
        row = by[s]
        spread = (max(row.values()) - min(row.values())) or 1
        pairs = [(a, b) for a in row for b in row if row[a] - row[b] >= 0.05 * spread and a != b]
        if not pairs:
            return None
        a, b = rng.choice(pairs)  # row[a] > row[b]
        sc = v.scope(s)

        def judge(truth: bool) -> tuple[Said, dict[str, Any]]:
            x, y = (a, b) if truth else (b, a)
            return v.said("compare_judge", field=field, a=x, b=y, scope=sc), {"greater": x, "than": y}

        return Fact(
            "compare",
            "comparison",
            a,
            (),
            judge=judge,
            mc=False,
            short=False,
            args={"a": a, "b": b, "series": s},
        )

    def total_fact() -> Fact | None:
        s = rng.choice(series)
        row = by[s]
        total = round(sum(row.values()), 2)
        sc = v.scope(s)
        ask = {"field": field, "cat_field": cat_field, "scope": sc}

        def explain() -> list[tuple[str, str]]:
            listing = v.listing([v.say("pair", label=c, value=fmt_num(x)) for c, x in row.items()])
            return [
                (v.say("chart_values_q", **ask), listing),
                (
                    v.say("values_sum_q"),
                    v.say(
                        "values_sum_a", sum=" + ".join(fmt_num(x) for x in row.values()), value=fmt_num(total)
                    ),
                ),
            ]

        return Fact(
            "total",
            "arithmetic",
            total,
            wrong_numbers(total, rng, number_step(list(row.values())), []),
            show=fmt_num,
            ask=lambda: v.said("chart_total_q", **ask),
            claim=lambda x: v.said("chart_total_claim", **ask, value=fmt_num(x)),
            explain=explain,
            args={"series": s},
        )

    builders = {
        "value": value_fact,
        "max": extreme_fact(True),
        "min": extreme_fact(False),
        "count": count_fact,
        "compare": compare_fact,
        "total": total_fact,
    }
    return builders, {"value": 3, "max": 2, "min": 2}


# ---------------------------------------------------------------------------------------------
# tables


def table_kinds(t: dict[str, Any], rng: random.Random, v: Voice) -> tuple[dict[str, Callable], dict]:
    """Fact builders of a table: cell look-up, column extremes, row count, column total."""
    cols, rows = t["columns"], t["rows"]
    row_field = cols[0]
    numeric = [j for j in range(1, len(cols)) if all(_num(r[j]) is not None for r in rows)]

    def cell_fact() -> Fact | None:
        i, j = rng.randrange(len(rows)), rng.randrange(1, len(cols))
        label, col, val = _show(rows[i][0]), cols[j], rows[i][j]
        column = [r[j] for k, r in enumerate(rows) if k != i]
        rng.shuffle(column)
        ask = {"column": col, "label": label}
        if j in numeric:
            x = _num(val)
            step = number_step([_num(r[j]) for r in rows])  # type: ignore[misc]
            wrong: list[Any] = wrong_numbers(x, rng, step, [_num(c) for c in column][:2])  # type: ignore[arg-type]
            show: Callable[[Any], str] = fmt_num
            value: Any = x
        else:
            wrong, show, value = [_show(c) for c in column], str, _show(val)
        others = [k for k in range(len(rows)) if k != i]

        def explain() -> list[tuple[str, str]]:
            k = rng.choice(others)
            other, w = _show(rows[k][0]), rows[k][j]
            first = (v.say("table_cell_q", **ask), v.say("table_cell_a", **ask, value=show(value)))
            q2 = v.say("table_other_q", column=col, other=other)
            if j in numeric and _num(w) != value:
                wv = _num(w)
                word = v.say("word_higher" if value > wv else "word_lower")
                return [
                    first,
                    (
                        q2,
                        v.say(
                            "table_other_diff_a",
                            other=other,
                            value2=fmt_num(wv),
                            label=label,
                            word=word,
                            diff=fmt_num(round(abs(value - wv), 2)),
                        ),
                    ),
                ]
            return [first, (q2, v.say("table_other_a", other=other, value2=_show(w)))]

        return Fact(
            "cell",
            "value_lookup",
            value,
            wrong,
            show=show,
            ask=lambda: v.said("table_cell_q", **ask),
            claim=lambda x: v.said("table_cell_claim", **ask, value=show(x)),
            explain=explain if others else None,
            args={"row": label, "column": col},
        )

    def extreme_fact(high: bool) -> Callable[[], Fact | None]:
        def build() -> Fact | None:
            if not numeric:
                return None
            j = rng.choice(numeric)
            vals = [_num(r[j]) for r in rows]
            best = (max if high else min)(vals)  # type: ignore[type-var]
            if vals.count(best) != 1:
                return None
            label = _show(rows[vals.index(best)][0])
            ranked = [
                _show(r[0])
                for r, x in sorted(zip(rows, vals, strict=True), key=lambda p: abs(p[1] - best))
                if x != best
            ]  # type: ignore[operator]
            key = "max" if high else "min"
            ask = {"row_field": row_field, "column": cols[j]}
            return Fact(
                key,
                "extremum",
                label,
                ranked,
                ask=lambda: v.said(f"table_{key}_q", **ask),
                claim=lambda c: v.said(f"table_{key}_claim", **ask, label=c),
                args={"column": cols[j], "highest": high},
            )

        return build

    def rows_fact() -> Fact | None:
        n = len(rows)
        return Fact(
            "rows",
            "counting",
            n,
            list(nearby(n, rng, lo=1)),
            show=fmt_num,
            ask=lambda: v.said("table_rows_q"),
            claim=lambda x: v.said("table_rows_claim", value=fmt_num(x)),
        )

    def total_fact() -> Fact | None:
        if not numeric:
            return None
        j = rng.choice(numeric)
        vals = [_num(r[j]) for r in rows]
        total = round(sum(vals), 2)  # type: ignore[arg-type]
        ask = {"column": cols[j], "row_field": row_field}

        def explain() -> list[tuple[str, str]]:
            listing = v.listing(
                [v.say("pair", label=_show(r[0]), value=fmt_num(x)) for r, x in zip(rows, vals, strict=True)]
            )  # type: ignore[arg-type]
            return [
                (v.say("table_values_q", **ask), listing),
                (
                    v.say("values_sum_q"),
                    v.say("values_sum_a", sum=" + ".join(fmt_num(x) for x in vals), value=fmt_num(total)),
                ),  # type: ignore[arg-type]
            ]

        return Fact(
            "total",
            "arithmetic",
            total,
            wrong_numbers(total, rng, number_step(vals), []),  # type: ignore[arg-type]
            show=fmt_num,
            ask=lambda: v.said("table_total_q", **ask),
            claim=lambda x: v.said("table_total_claim", **ask, value=fmt_num(x)),
            explain=explain,
            args={"column": cols[j]},
        )

    builders = {
        "cell": cell_fact,
        "max": extreme_fact(True),
        "min": extreme_fact(False),
        "rows": rows_fact,
        "total": total_fact,
    }
    return builders, {"cell": 3}


# ---------------------------------------------------------------------------------------------
# drawings and pages


def colour_name(css: str | None) -> str | None:
    """A basic colour name for a computed CSS colour, or None where a reader could name it
    otherwise (near a border between names, translucent, a gradient, none)."""
    m = re.fullmatch(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\)", (css or "").strip())
    if not m or (m.group(4) is not None and float(m.group(4)) < 0.95):
        return None
    r, g, b = (int(m.group(i)) / 255 for i in (1, 2, 3))
    h, s, val = colorsys.rgb_to_hsv(r, g, b)
    hue = h * 360

    def near(x: float, edges: tuple[float, ...], margin: float) -> bool:
        return any(abs(x - e) < margin for e in edges)

    if val < 0.18:
        return "black"
    if s < 0.12:
        if near(val, (0.86, 0.3), 0.06):
            return None
        return "white" if val > 0.86 else "gray"
    if s < 0.25 or val < 0.3 or near(val, (0.3,), 0.06):
        return None
    edges = (15, 40, 70, 165, 195, 255, 290, 335)
    if near(hue, edges, 6):
        return None
    if hue < 15 or hue >= 335:
        if s < 0.5 and val > 0.7:
            return "pink" if s < 0.42 else None
        return "brown" if val < 0.55 else "red"
    if hue < 40:
        return "brown" if val < 0.55 else "orange"
    if hue < 70:
        return "yellow" if val > 0.6 else None
    if hue < 165:
        return "green"
    if hue < 195:
        return "cyan"
    if hue < 255:
        return "blue"
    if hue < 290:
        return "purple"
    return "pink"


def visible_shapes(facts: dict[str, Any]) -> tuple[list[dict], set[str]]:
    """The shapes counted (not the background), and the kinds with one that cannot be seen."""
    w, h = facts["canvas"]
    counted, unclear = [], set()
    for s in facts["shapes"]:
        box = s.get("box") or [0, 0, 0, 0]
        if s["shape"] == "path":
            continue
        if box[2] * box[3] >= 0.9 * w * h:  # a background fills the canvas: not a shape a reader counts
            continue
        if not s.get("visible"):
            unclear.add(s["shape"])
            continue
        counted.append(s)
    return counted, unclear


def markup_kinds(
    kind: str, facts: dict[str, Any], rng: random.Random, v: Voice
) -> tuple[dict[str, Callable], dict]:
    """Fact builders of an SVG drawing or an HTML page: shape counts, colours, texts; a page's
    first readable table as a table."""
    builders: dict[str, Callable] = {}
    weights: dict[str, int] = {}
    shapes, unclear = visible_shapes(facts) if kind == "svg" else ([], set())
    paths = any(s["shape"] == "path" for s in facts.get("shapes", ()))
    by_kind: dict[str, list[dict]] = {}
    for s in shapes:
        by_kind.setdefault(s["shape"], []).append(s)
    countable = [k for k in by_kind if k not in unclear and k in SHAPE_WORDS]
    for s in shapes:
        s["colour"] = colour_name(s.get("paint"))

    def plural(k: str, n: int) -> str:
        return v.word(f"word_{k}" if k == "shape" else f"shape_{k}", "one" if n == 1 else "many")

    def be(n: int) -> str:
        return "is" if n == 1 else "are"

    def count_fact(k: str) -> Callable[[], Fact | None]:
        def build() -> Fact | None:
            n = len(by_kind[k])
            many = v.word(f"shape_{k}", "many")
            colours = [s["colour"] for s in by_kind[k]]

            def explain() -> list[tuple[str, str]]:
                first = (
                    v.say("shape_count_q", shapes=many),
                    v.say("shape_count_a", shapes=plural(k, n), be=be(n), value=n),
                )
                if all(colours) and n > 1:
                    names = v.listing([v.word("colours", c) for c in colours])  # type: ignore[index]
                    return [first, (v.say("shape_colours_q"), v.say("shape_colours_a", colours=names))]
                if not unclear and not paths and len(countable) > 1:
                    parts = v.listing(
                        [
                            v.say("count_of", n=len(by_kind[x]), shapes=plural(x, len(by_kind[x])))
                            for x in countable
                        ]
                    )
                    return [
                        first,
                        (v.say("shape_all_q"), v.say("shape_all_a", parts=parts, value=len(shapes))),
                    ]
                return [first]  # not asked: `explain` is offered only when a second turn exists

            return Fact(
                f"count_{k}",
                "counting",
                n,
                list(nearby(n, rng, lo=0)),
                show=fmt_num,
                ask=lambda: v.said("shape_count_q", shapes=many),
                claim=lambda x: v.said("shape_count_claim", shapes=plural(k, x), be=be(x), value=fmt_num(x)),
                explain=explain
                if (all(colours) and n > 1) or (not unclear and not paths and len(countable) > 1)
                else None,
                args={"shape": k},
            )

        return build

    for k in countable:
        builders[f"count_{k}"] = count_fact(k)
    all_named = shapes and not unclear and not paths and all(s["colour"] for s in shapes)
    if all_named:
        present = sorted({s["colour"] for s in shapes})

        def colour_count() -> Fact | None:
            c = rng.choice(present)
            n = sum(s["colour"] == c for s in shapes)
            name = v.word("colours", c)
            return Fact(
                "count_colour",
                "counting",
                n,
                list(nearby(n, rng, lo=0)),
                show=fmt_num,
                ask=lambda: v.said("colour_count_q", colour=name),
                claim=lambda x: v.said(
                    "colour_count_claim", colour=name, shapes=plural("shape", x), be=be(x), value=fmt_num(x)
                ),
                args={"colour": c},
            )

        builders["count_colour"] = colour_count
    singles = [k for k in countable if len(by_kind[k]) == 1 and by_kind[k][0]["colour"]]
    if singles:
        in_image = sorted({s["colour"] for s in shapes if s["colour"]})

        def shape_colour() -> Fact | None:
            k = rng.choice(singles)
            c = by_kind[k][0]["colour"]
            wrong = [x for x in in_image if x != c]
            rng.shuffle(wrong)
            rest = [x for x in COLOURS if x != c and x not in wrong]
            rng.shuffle(rest)
            one = v.word(f"shape_{k}", "one")
            show = lambda x: v.word("colours", x)  # noqa: E731
            return Fact(
                "colour",
                "attribute",
                c,
                wrong + rest,
                show=show,
                ask=lambda: v.said("shape_colour_q", shape=one),
                claim=lambda x: v.said("shape_colour_claim", shape=one, colour=show(x)),
                args={"shape": k},
            )

        builders["colour"] = shape_colour
    texts = [t for t in facts.get("texts", ()) if t.get("visible") and 1 <= len(t["text"]) <= 60]
    if kind == "svg":
        titled = [t for t in texts if t.get("size")]
        sizes = sorted((t["size"] for t in titled), reverse=True)
        title = next((t for t in titled if t["size"] == sizes[0]), None) if titled else None
        if title is not None and (len(sizes) == 1 or sizes[0] >= 1.2 * sizes[1]):
            _title_facts(builders, "svg", title["text"], texts, rng, v)
    elif texts:
        heads = [t for t in texts if t["tag"] == "h1"]
        if len(heads) == 1:
            _title_facts(builders, "html", heads[0]["text"], texts, rng, v)
    if texts:
        words = [t["text"] for t in texts]

        def presence() -> Fact | None:
            t = rng.choice(words)
            fake = altered(t, words, rng)
            if fake is None:
                return None

            def judge(truth: bool) -> tuple[Said, dict[str, Any]]:
                said = v.said("text_judge", text=t if truth else fake)
                return said, {"text": t if truth else fake}

            return Fact("presence", "ocr", t, (), judge=judge, mc=False, short=False, args={"text": t})

        builders["presence"] = presence
    weights.update({k: 2 for k in builders if k.startswith("count_")})
    for t in facts.get("tables", ()):
        if t.get("visible"):
            more, w = table_kinds(t, rng, v)
            builders.update({f"table_{k}": b for k, b in more.items()})
            weights.update({f"table_{k}": n for k, n in w.items()})
            break
    return builders, weights


def _title_facts(
    builders: dict, kind: str, title: str, texts: list[dict], rng: random.Random, v: Voice
) -> None:
    others = list(dict.fromkeys(t["text"] for t in texts if t["text"].casefold() != title.casefold()))

    def build() -> Fact | None:
        wrong = list(others)
        rng.shuffle(wrong)
        for _ in range(4):
            if len(wrong) >= 3:
                break
            fake = altered(title, [title, *others, *wrong], rng)
            if fake is None:
                break
            wrong.append(fake)

        def explain() -> list[tuple[str, str]]:
            listing = v.listing([f'"{t}"' if v.lang == "en" else f"“{t}”" for t in [title, *others][:8]])
            return [
                (v.say("texts_q"), v.say("texts_a", count=len(others) + 1, texts=listing)),
                (v.say("texts_which_q"), v.say("texts_which_a", value=title)),
            ]

        return Fact(
            "title",
            "ocr",
            title,
            wrong,
            ask=lambda: v.said(f"title_q_{kind}"),
            claim=lambda x: v.said(f"title_claim_{kind}", value=x),
            explain=explain if others and len(others) < 8 and kind == "svg" else None,
        )

    builders["title"] = build


HANZI_PAIR = re.compile(r"(?=[\u3400-\u9fff]{2})(?=(.)(?!\1))")


def altered(text: str, taken: list[str], rng: random.Random) -> str | None:
    """A plausible text that is not in the image: a number in it changed, else two words
    (in Chinese, two characters) swapped, else a word doubled; None when every try reads like
    a text that is there."""
    seen = " \n ".join(taken).casefold()
    tries: list[str] = []
    nums = list(re.finditer(r"\d+", text))
    if nums:
        m = rng.choice(nums)
        n = int(m.group())
        for d in (1, 2, 10, 3):
            tries.append(text[: m.start()] + str(n + d) + text[m.end() :])
    words = text.split()
    if len(words) >= 2:
        i = rng.randrange(len(words) - 1)
        w = list(words)
        w[i], w[i + 1] = w[i + 1], w[i]
        tries.append(" ".join(w))
    pairs = [m.start() for m in HANZI_PAIR.finditer(text)]
    if pairs and len(words) < 2:  # Chinese has no spaces: two neighbouring characters swapped
        i = rng.choice(pairs)
        tries.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    if words:
        i = rng.randrange(len(words))
        tries.append(" ".join(words[: i + 1] + words[i:]))
    for t in tries:
        if t.casefold() not in seen and t != text:
            return t
    return None


# ---------------------------------------------------------------------------------------------
# an item's drafts


def drafts(kind: str, facts: dict[str, Any], rng: random.Random, lang: str) -> list[Asked]:
    """The item's draft questions (with the facts each asks about): a judgement pair or two,
    one or two multiple-choice and short answers, and one long answer, of whatever the facts
    can be asked as."""
    v = Voice(rng, lang)
    if kind == "vega-lite":
        builders, weights = chart_kinds(facts, rng, v)
    elif kind == "table":
        builders, weights = table_kinds(facts, rng, v)
    else:
        builders, weights = markup_kinds(kind, facts, rng, v)
    if not builders:
        return []
    kinds = Kinds(rng, builders, weights)
    out: list[Asked] = []
    facts_j = kinds.pick("judgement", 2 * (2 if rng.random() < 0.4 else 1))
    facts_j = facts_j[: len(facts_j) // 2 * 2]
    truths = [True, False] * (len(facts_j) // 2)
    rng.shuffle(truths)
    out += [judgement(f, t, rng) for f, t in zip(facts_j, truths, strict=True)]
    seen = {a.question.turns[0][0] for a in out}
    for f in kinds.pick("multiple_choice", rng.randint(1, 2)):
        a = multiple_choice(f, rng)
        if a.question.turns[0][0] not in seen:
            seen.add(a.question.turns[0][0])
            out.append(a)
    for f in kinds.pick("short_vqa", rng.randint(1, 2)):
        a = short_answer(f)
        if a.question.turns[0][0] not in seen:
            seen.add(a.question.turns[0][0])
            out.append(a)
    out += [long_answer(f) for f in kinds.pick("long_vqa", 1)]
    return out


def measured(kind: str, facts: dict[str, Any], seen: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The facts with what the renderer saw of each element: box, paint, size, visible (and
    why not). An element the renderer did not report is not visible."""

    def of(item: dict[str, Any]) -> dict[str, Any]:
        m = seen.get(item["id"], {})
        out = {
            **item,
            "visible": bool(m.get("visible")),
            "box": [round(x, 1) for x in m.get("box", [0, 0, 0, 0])],
        }
        if not out["visible"]:
            out["why"] = m.get("why") or "not drawn"
        if kind == "svg" and "shape" in item:
            fill = m.get("fill")
            out["paint"] = m.get("stroke") if fill in (None, "none") else fill
        if "text" in item:
            out["size"] = m.get("font")
        return out

    facts = dict(facts)
    if "shapes" in facts:
        facts["shapes"] = [of(s) for s in facts["shapes"]]
    if "texts" in facts:
        facts["texts"] = [of(t) for t in facts["texts"]]
    if "tables" in facts:
        tables = []
        for t in facts["tables"]:
            ids = [c for row in t["cells"] for c in row]
            tables.append(
                {
                    **{k: x for k, x in t.items() if k != "cells"},
                    "visible": all(seen.get(c, {}).get("visible") for c in ids),
                }
            )
        facts["tables"] = tables
    return facts
