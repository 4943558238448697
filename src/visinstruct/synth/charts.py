"""Charts: bar, line and pie charts whose every value can be read exactly from the image.

Values are integers. Either each bar/point carries a printed value label, or the values
sit exactly on labelled ticks with gridlines; pie slices always print their percentages
(on the slice, next to it, or in the legend) and the percentages sum to 100.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from visinstruct.synth import style
from visinstruct.synth.base import (
    Item,
    Question,
    SynthDomain,
    distinct_distractors,
    fmt_num,
    load_phrasings,
    numeric_distractors,
)

# ---------------------------------------------------------------------------------------------
# vocabulary (text drawn inside images stays in English)

# fmt: off
# dimension, labels, measures as (title, axis label, largest plausible scale)
CATEGORY_TOPICS: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str, int], ...]], ...] = (
    ("Fruit", (
        "Apple", "Banana", "Cherry", "Grape", "Mango", "Orange", "Peach", "Pear", "Plum", "Kiwi",
        "Lemon", "Melon"),
     (("Fruit Sales", "Boxes sold", 2000), ("Harvest", "Tonnes", 1000), ("Favourite Fruit", "Votes", 200))),
    ("Country", (
        "Brazil", "Canada", "China", "Egypt", "France", "India", "Italy", "Japan", "Kenya", "Mexico",
        "Peru", "Spain", "Chile", "Norway"),
     (("Medals Won", "Medals", 100), ("Tourist Arrivals", "Visitors (k)", 2000),
      ("Exports", "Value ($bn)", 500))),
    ("Product", (
        "Laptops", "Phones", "Tablets", "Cameras", "Printers", "Monitors", "Speakers", "Watches",
        "Headsets", "Routers"),
     (("Units Sold", "Units", 2000), ("Revenue", "Revenue ($k)", 1000), ("Returns", "Returns", 100))),
    ("Sport", (
        "Soccer", "Tennis", "Golf", "Rugby", "Hockey", "Cricket", "Boxing", "Rowing", "Cycling",
        "Skiing", "Judo", "Archery"),
     (("Club Members", "Members", 500), ("Survey Votes", "Votes", 200), ("Tickets Sold", "Tickets", 2000))),
    ("Animal", (
        "Lions", "Tigers", "Zebras", "Pandas", "Bears", "Wolves", "Otters", "Seals", "Koalas", "Camels"),
     (("Animals at the Zoo", "Count", 50), ("Wildlife Survey", "Sightings", 200))),
    ("City", (
        "Paris", "Tokyo", "Lima", "Oslo", "Rome", "Cairo", "Delhi", "Seoul", "Sydney", "Boston",
        "Dubai", "Berlin"),
     (("Annual Rainfall", "Rainfall (mm)", 2000), ("Hotel Bookings", "Bookings", 1000),
      ("New Stores", "Stores", 50))),
    ("Subject", (
        "Math", "Physics", "History", "Art", "Music", "Biology", "English", "Chemistry", "Geography"),
     (("Students Enrolled", "Students", 500), ("Average Test Score", "Score", 100))),
    ("Transport", (
        "Bus", "Train", "Car", "Bicycle", "Walking", "Tram", "Ferry", "Scooter"),
     (("Commuters", "People", 1000), ("Trips per Day", "Trips", 500))),
    ("Drink", (
        "Coffee", "Tea", "Juice", "Water", "Soda", "Milk", "Cocoa", "Lemonade"),
     (("Drinks Sold", "Cups", 1000), ("Favourite Drink", "Votes", 100))),
    ("Genre", (
        "Rock", "Jazz", "Pop", "Classical", "Hip-hop", "Country", "Blues", "Folk", "Reggae"),
     (("Songs Streamed", "Streams (k)", 2000), ("Concert Tickets", "Tickets", 1000))),
    ("Department", (
        "Toys", "Books", "Garden", "Kitchen", "Sports", "Clothing", "Shoes", "Beauty"),
     (("Department Sales", "Sales ($k)", 500), ("Customer Visits", "Visits", 2000))),
    ("Pet", (
        "Dogs", "Cats", "Fish", "Birds", "Rabbits", "Hamsters", "Turtles"),
     (("Pet Owners Survey", "Households", 500), ("Adoptions", "Adoptions", 100))),
    ("Vegetable", (
        "Carrot", "Potato", "Tomato", "Onion", "Pepper", "Lettuce", "Corn", "Beans", "Peas"),
     (("Vegetable Harvest", "Crates", 500), ("Market Sales", "Kilograms", 1000))),
)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# ordered x axes: dimension and measures (title, axis label, largest scale)
TIME_TOPICS: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...] = (
    (
        "Year",
        (
            ("Annual Sales", "Sales ($k)", 2000),
            ("Website Visitors", "Visitors (k)", 1000),
            ("App Downloads", "Downloads (k)", 500),
            ("Bicycle Sales", "Bicycles", 2000),
            ("School Enrolment", "Students", 1000),
            ("Solar Capacity", "Megawatts", 500),
        ),
    ),
    (
        "Month",
        (
            ("Monthly Rainfall", "Rainfall (mm)", 200),
            ("Ice Cream Sales", "Cones", 2000),
            ("Library Visits", "Visits", 1000),
            ("Electricity Use", "Usage (kWh)", 500),
        ),
    ),
    (
        "Week",
        (
            ("Weekly Orders", "Orders", 500),
            ("Gym Check-ins", "Check-ins", 200),
            ("Parcels Shipped", "Parcels", 1000),
        ),
    ),
    (
        "Day",
        (
            ("Daily Visitors", "Visitors", 500),
            ("Cups of Coffee Sold", "Cups", 200),
            ("Emails Received", "Emails", 100),
        ),
    ),
    ("Quarter", (("Quarterly Profit", "Profit ($k)", 1000), ("New Customers", "Customers", 500))),
)

SERIES_PAIRS = (
    ("2022", "2023"),
    ("2023", "2024"),
    ("Men", "Women"),
    ("Online", "In-store"),
    ("Team A", "Team B"),
    ("Plan", "Actual"),
    ("North", "South"),
    ("Boys", "Girls"),
    ("Store A", "Store B"),
    ("Model X", "Model Y"),
    ("Urban", "Rural"),
    ("East", "West"),
)
# fmt: on

NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500)
SCALES = (10, 20, 50, 100, 200, 500, 1000, 2000)
MARKERS = ("circle", "square", "diamond", "triangle")
BOLD_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf")
COLOR_BY_NAME = {c[0]: c for c in style.COLORS}
PATTERNS = ("rising", "falling", "fluctuating", "unchanged")


class Unfit(Exception):
    """A layout did not fit (text too wide, labels overlapping); the caller draws anew."""


# ---------------------------------------------------------------------------------------------
# small drawing helpers


def _size(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom - top


def _line_h(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


def _fit_font(
    name: str, size: int, texts: list[str], max_w: float, min_size: int = 9
) -> ImageFont.FreeTypeFont:
    """The font at `size` or smaller so every text is at most `max_w` wide (Unfit if impossible)."""
    while size >= min_size:
        f = style.font(name, size)
        if max(_size(f, t)[0] for t in texts) <= max_w:
            return f
        size -= 1
    raise Unfit("text too wide")


def _font_name(f: ImageFont.FreeTypeFont) -> str:
    return f.path.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def _vertical_text(img: Image.Image, text: str, font: ImageFont.FreeTypeFont, fill, cx: int, cy: int) -> None:
    """Text rotated 90 degrees (reading bottom to top), centred at (cx, cy)."""
    left, top, right, bottom = font.getbbox(text)
    tmp = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(tmp).text((2 - left, 2 - top), text, font=font, fill=255)
    rot = tmp.rotate(90, expand=True)
    x, y = cx - rot.width // 2, cy - rot.height // 2
    img.paste(fill, (x, y, x + rot.width, y + rot.height), rot)


def _boxed_text(draw: ImageDraw.ImageDraw, xy, text: str, font, fill, anchor: str, box=None) -> None:
    if box is not None:
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
        draw.rectangle([x0 - 2, y0 - 1, x1 + 1, y1 + 1], fill=box)
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def _marker(draw: ImageDraw.ImageDraw, x: float, y: float, r: int, kind: str, fill, outline) -> None:
    if kind == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=outline)
    elif kind == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=fill, outline=outline)
    elif kind == "diamond":
        q = r + 1
        draw.polygon([(x, y - q), (x + q, y), (x, y + q), (x - q, y)], fill=fill, outline=outline)
    else:
        q = r + 1
        draw.polygon([(x, y - q), (x + q, y + r), (x - q, y + r)], fill=fill, outline=outline)


def _hline(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, fill, dashed: bool) -> None:
    if not dashed:
        draw.line([(x0, y), (x1, y)], fill=fill)
        return
    x = x0
    while x < x1:
        draw.line([(x, y), (min(x + 5, x1), y)], fill=fill)
        x += 9


def _vline(draw: ImageDraw.ImageDraw, x: float, y0: float, y1: float, fill, dashed: bool) -> None:
    if not dashed:
        draw.line([(x, y0), (x, y1)], fill=fill)
        return
    y = y0
    while y < y1:
        draw.line([(x, y), (x, min(y + 5, y1))], fill=fill)
        y += 9


def _darker(rgb, d: int) -> tuple[int, int, int]:
    return tuple(max(0, c - d) for c in rgb)


def _text_on(rgb) -> tuple[int, int, int]:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (255, 255, 255) if lum < 150 else (20, 20, 20)


# ---------------------------------------------------------------------------------------------
# data


def _unique_extremes(values: list[int]) -> bool:
    return values.count(max(values)) == 1 and values.count(min(values)) == 1


def _time_labels(rng: random.Random, dim: str, n: int) -> list[str]:
    if dim == "Year":
        start = rng.randint(1995, 2024 - n)
        return [str(start + i) for i in range(n)]
    if dim == "Month":
        start = rng.randint(0, 12 - n)
        return list(MONTHS[start : start + n])
    if dim == "Week":
        return [f"Week {i + 1}" for i in range(n)]
    if dim == "Day":
        start = rng.randint(0, 7 - n)
        return list(DAYS[start : start + n])
    return [f"Q{i + 1}" for i in range(n)]


def _series_values(rng: random.Random, n: int, lo: int, hi: int, ordered: bool, shape: str) -> list[int]:
    """Integers in [lo, hi]: steadily rising/falling, a walk (ordered x) or independent."""
    if shape in ("rising", "falling") and hi - lo + 1 >= n:
        vals = sorted(rng.sample(range(lo, hi + 1), n))
        return vals if shape == "rising" else vals[::-1]
    if ordered:
        span = hi - lo
        vals = [rng.randint(lo, hi)]
        for _ in range(n - 1):
            for _ in range(20):
                v = vals[-1] + rng.choice((-1, 1)) * rng.randint(1, max(1, span // 3))
                if lo <= v <= hi and v != vals[-1]:
                    break
            else:
                v = lo if vals[-1] != lo else hi
            vals.append(v)
        return vals
    if hi - lo + 1 >= n and rng.random() < 0.75:
        return rng.sample(range(lo, hi + 1), n)
    return [rng.randint(lo, hi) for _ in range(n)]


def _pie_values(rng: random.Random, n: int) -> list[int]:
    for _ in range(200):
        w = [rng.uniform(0.5, 3.0) for _ in range(n)]
        s = sum(w)
        vals = [max(6, round(100 * x / s)) for x in w]
        vals[vals.index(max(vals))] += 100 - sum(vals)
        if min(vals) >= 6 and len(set(vals)) == n:
            return vals
    base = [10 + 3 * i for i in range(n)]
    base[-1] += 100 - sum(base)
    return base


# ---------------------------------------------------------------------------------------------
# questions


@dataclass
class Query:
    """One askable fact: its canonical answer, plausible wrong answers and phrasings."""

    kind: str
    category: str
    args: dict[str, Any]
    atype: str  # num | count | label | series | color | word | span | text
    answer: Any
    wrong: list[Any]  # plausible wrong answers, most plausible first
    ask: tuple[str, dict[str, Any]]
    claim: Callable[[Any], tuple[str, dict[str, Any]]] | None = None
    mc: bool = True
    short: bool = True
    mc_ask: tuple[str, dict[str, Any]] | None = None
    valid: list[Any] = field(default_factory=list)  # compare_ref: every acceptable answer


class _Asker:
    """Builds questions about one chart in one language."""

    def __init__(self, dom: Charts, rng: random.Random, lang: str, facts: dict[str, Any], unit: int):
        self.dom, self.rng, self.lang, self.f, self.unit = dom, rng, lang, facts, unit
        self.chart = facts["chart"]
        self.labels: list[str] = facts["labels"]
        self.series: list[dict[str, Any]] = facts["series"]
        self.pie = self.chart == "pie"
        self.phr = load_phrasings("charts")

    # -- wording
    def say(self, key: str, **vals: Any) -> str:
        specific = f"{key}_{self.chart}"
        if specific in self.phr:
            key = specific
        return self.dom.say(self.rng, key, self.lang, **vals)

    def show(self, atype: str, v: Any) -> str:
        if atype == "num":
            return fmt_num(v) + ("%" if self.pie else "")
        if atype == "color":
            return style.color_name(COLOR_BY_NAME[v], self.lang)
        if atype == "word":
            return self.dom.say(self.rng, f"word_{v}", self.lang)
        if atype == "span":
            return self.dom.say(self.rng, "span", self.lang, a=v[0], b=v[1])
        return str(v)

    def join(self, items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        sep = self.dom.say(self.rng, "list_sep", self.lang)
        last = self.dom.say(self.rng, "list_and", self.lang)
        return sep.join(items[:-1]) + last + items[-1]

    def scope(self, s: int) -> str:
        if len(self.series) == 1:
            return ""
        return self.dom.say(self.rng, "scope", self.lang, series=self.series[s]["name"])

    def dim(self) -> str:
        return self.f["dimension"].lower()

    # -- helpers
    def pick_s(self) -> int:
        return self.rng.randrange(len(self.series))

    def vals(self, s: int) -> list[int]:
        return self.series[s]["values"]

    def near(self, v: int, extra: list[int] | None = None, step: int | None = None) -> list[int]:
        out = [int(x) for x in numeric_distractors(v, self.rng, k=6, step=step or self.unit)]
        if self.pie:
            out = [x for x in out if 0 < x < 100]
        for e in extra or []:
            if e != v and e not in out:
                out.insert(self.rng.randrange(min(3, len(out)) + 1), e)
        return out

    def by_closeness(self, v: int, s: int, exclude: int) -> list[str]:
        vs = self.vals(s)
        order = sorted((i for i in range(len(vs)) if i != exclude), key=lambda i: (abs(vs[i] - v), i))
        return [self.labels[i] for i in order]

    def other_colors(self, first: list[str], answer: str) -> list[str]:
        rest = [c[0] for c in style.COLORS if c[0] != answer and c[0] not in first]
        self.rng.shuffle(rest)
        return [c for c in first if c != answer] + rest

    # -- kinds: each returns a Query or None when the chart does not support it
    def k_value(self) -> Query | None:
        s, i = self.pick_s(), self.rng.randrange(len(self.labels))
        v, label, sc = self.vals(s)[i], self.labels[i], self.scope(s)
        nb = [self.vals(s)[j] for j in (i - 1, i + 1) if 0 <= j < len(self.labels)]
        return Query(
            "value",
            "value_lookup",
            {"series": s, "label": label},
            "num",
            v,
            self.near(v, extra=nb[:1]),
            ("value_q", {"label": label, "scope": sc}),
            lambda x: ("value_claim", {"label": label, "scope": sc, "value": self.show("num", x)}),
        )

    def k_extreme(self) -> Query | None:
        s, rel = self.pick_s(), self.rng.choice(("max", "min"))
        vs = self.vals(s)
        ext = max(vs) if rel == "max" else min(vs)
        i = vs.index(ext)
        sc = self.scope(s)
        return Query(
            "extreme_label",
            "extremum",
            {"series": s, "rel": rel},
            "label",
            self.labels[i],
            self.by_closeness(ext, s, i),
            (f"{rel}_q", {"scope": sc, "dim": self.dim()}),
            lambda x: (f"{rel}_claim", {"label": x, "scope": sc}),
        )

    def k_extreme_value(self) -> Query | None:
        s, rel = self.pick_s(), self.rng.choice(("max", "min"))
        vs = self.vals(s)
        ext = max(vs) if rel == "max" else min(vs)
        runner = sorted(vs)[-2] if rel == "max" else sorted(vs)[1]
        sc = self.scope(s)
        return Query(
            "extreme_value",
            "extremum",
            {"series": s, "rel": rel},
            "num",
            ext,
            self.near(ext, extra=[runner]),
            (f"{rel}_value_q", {"scope": sc, "dim": self.dim()}),
            lambda x: (f"{rel}_value_claim", {"scope": sc, "value": self.show("num", x)}),
        )

    def k_compare(self) -> Query | None:
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
        return Query(
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

    def k_compare_ref(self) -> Query | None:
        s = self.pick_s()
        vs = self.vals(s)
        rel = self.rng.choice(("larger", "smaller"))
        order = list(range(len(vs)))
        self.rng.shuffle(order)
        for r in order:
            good = [i for i in range(len(vs)) if (vs[i] > vs[r] if rel == "larger" else vs[i] < vs[r])]
            bad = [i for i in range(len(vs)) if i != r and i not in good and vs[i] != vs[r]]
            if good and len(bad) >= 3:
                ans = self.labels[self.rng.choice(good)]
                ref = self.labels[r]
                return Query(
                    "compare_ref",
                    "comparison",
                    {"series": s, "ref": ref, "rel": rel},
                    "label",
                    ans,
                    [self.labels[i] for i in bad],
                    (f"compare_ref_{rel}_q", {"ref": ref, "scope": self.scope(s)}),
                    short=False,
                    valid=[self.labels[i] for i in good],
                )
        return None

    def k_series_higher(self) -> Query | None:
        if len(self.series) < 2:
            return None
        idx = [i for i in range(len(self.labels)) if self.vals(0)[i] != self.vals(1)[i]]
        if not idx:
            return None
        i = self.rng.choice(idx)
        rel = self.rng.choice(("higher", "lower"))
        hi = 0 if self.vals(0)[i] > self.vals(1)[i] else 1
        w = hi if rel == "higher" else 1 - hi
        win, lose = self.series[w]["name"], self.series[1 - w]["name"]
        label = self.labels[i]
        return Query(
            "series_compare",
            "comparison",
            {"label": label, "rel": rel},
            "series",
            win,
            [lose],
            (f"series_{rel}_q", {"label": label}),
            lambda x: (f"series_{rel}_claim", {"x": x, "y": lose if x == win else win, "label": label}),
            mc=False,
        )

    def k_trend(self) -> Query | None:
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
        return Query(
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

    def k_pattern(self) -> Query | None:
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
        sc = self.scope(s)
        v = {"scope": sc, "first": self.labels[0], "last": self.labels[-1]}
        return Query(
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

    def k_largest_change(self) -> Query | None:
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
                wrong = [
                    spans[i]
                    for i in sorted((i for i in range(len(d)) if i != k), key=lambda i: (best - key[i], i))
                ]
                sc = self.scope(s)
                return Query(
                    "largest_change",
                    "trend",
                    {"series": s, "rel": rel},
                    "span",
                    spans[k],
                    wrong,
                    (f"largest_{rel}_q", {"scope": sc}),
                    lambda x, rel=rel, sc=sc: (
                        f"largest_{rel}_claim",
                        {"span": self.show("span", x), "scope": sc},
                    ),
                )
        return None

    def _pick_labels(self, k: int) -> list[int]:
        """`k` distinct label indexes; never every slice of a pie (that always sums to 100)."""
        k = min(k, len(self.labels) - 1 if self.pie else len(self.labels))
        return sorted(self.rng.sample(range(len(self.labels)), k))

    def k_sum(self) -> Query | None:
        s = self.pick_s()
        vs = self.vals(s)
        idx = self._pick_labels(min(len(vs), self.rng.choice((2, 2, 3))))
        total = sum(vs[i] for i in idx)
        items = self.join([self.labels[i] for i in idx])
        sc = self.scope(s)
        return Query(
            "sum",
            "arithmetic",
            {"series": s, "labels": [self.labels[i] for i in idx]},
            "num",
            total,
            self.near(total),
            ("sum_q", {"items": items, "scope": sc}),
            lambda x: ("sum_claim", {"items": items, "scope": sc, "value": self.show("num", x)}),
        )

    def k_diff(self) -> Query | None:
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
        return Query(
            "diff",
            "arithmetic",
            {"series": s, "a": a, "b": b},
            "num",
            d,
            [x for x in self.near(d) if x > 0],
            ("diff_q", {"a": a, "b": b, "scope": sc}),
            lambda x: ("diff_claim", {"a": a, "b": b, "scope": sc, "value": self.show("num", x)}),
        )

    def _avg_pick(self, s: int) -> list[int] | None:
        vs = self.vals(s)
        for _ in range(30):
            k = self.rng.randint(2, min(4, len(vs)))
            idx = self._pick_labels(k)
            if sum(vs[i] for i in idx) % len(idx) == 0:
                return idx
        return None

    def k_avg(self) -> Query | None:
        s = self.pick_s()
        idx = self._avg_pick(s)
        if idx is None:
            return None
        vs = self.vals(s)
        avg = sum(vs[i] for i in idx) // len(idx)
        items = self.join([self.labels[i] for i in idx])
        sc = self.scope(s)
        return Query(
            "avg",
            "arithmetic",
            {"series": s, "labels": [self.labels[i] for i in idx]},
            "num",
            avg,
            self.near(avg),
            ("avg_q", {"items": items, "scope": sc}),
            lambda x: ("avg_claim", {"items": items, "scope": sc, "value": self.show("num", x)}),
        )

    def k_count(self) -> Query | None:
        n = len(self.labels)
        wrong = [x for x in (n + 1, n - 1, n + 2, n - 2, n + 3) if x > 0]
        return Query(
            "count", "counting", {}, "count", n, wrong, ("count_q", {}), lambda x: ("count_claim", {"n": x})
        )

    def k_count_above(self) -> Query | None:
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
        return Query(
            "count_threshold",
            "counting",
            {"series": s, "threshold": thr, "rel": rel},
            "count",
            n,
            wrong,
            (f"count_{rel}_q", {"threshold": fmt_num(thr), "scope": sc}),
            lambda x: (f"count_{rel}_claim", {"threshold": fmt_num(thr), "scope": sc, "n": x}),
        )

    def k_series_color(self) -> Query | None:
        if len(self.series) < 2:
            return None
        s = self.pick_s()
        col = self.series[s]["color"]
        name = self.series[s]["name"]
        wrong = self.other_colors([self.series[1 - s]["color"]], col)
        return Query(
            "series_color",
            "legend",
            {"series": name},
            "color",
            col,
            wrong,
            ("series_color_q", {"series": name}),
            lambda x: ("series_color_claim", {"series": name, "color": self.show("color", x)}),
        )

    def k_color_series(self) -> Query | None:
        if len(self.series) < 2:
            return None
        s = self.pick_s()
        col = self.show("color", self.series[s]["color"])
        return Query(
            "color_series",
            "legend",
            {"color": self.series[s]["color"]},
            "series",
            self.series[s]["name"],
            [self.series[1 - s]["name"]],
            ("color_series_q", {"color": col}),
            lambda x: ("color_series_claim", {"color": col, "series": x}),
            mc=False,
        )

    def k_label_color(self) -> Query | None:
        lc = self.f["label_colors"]
        if not lc:
            return None
        i = self.rng.randrange(len(self.labels))
        label = self.labels[i]
        nb = [lc[j] for j in (i - 1, i + 1) if 0 <= j < len(lc)]
        wrong = self.other_colors(nb + [c for c in lc if c not in nb], lc[i])
        return Query(
            "label_color",
            "legend",
            {"label": label},
            "color",
            lc[i],
            wrong,
            ("label_color_q", {"label": label}),
            lambda x: ("label_color_claim", {"label": label, "color": self.show("color", x)}),
        )

    def k_color_label(self) -> Query | None:
        lc = self.f["label_colors"]
        if not lc:
            return None
        i = self.rng.randrange(len(self.labels))
        col = self.show("color", lc[i])
        order = sorted((j for j in range(len(lc)) if j != i), key=lambda j: (abs(j - i), j))
        return Query(
            "color_label",
            "legend",
            {"color": lc[i]},
            "label",
            self.labels[i],
            [self.labels[j] for j in order],
            ("color_label_q", {"color": col}),
            lambda x: ("color_label_claim", {"color": col, "label": x}),
        )

    def k_title(self) -> Query | None:
        return Query(
            "title",
            "text_reading",
            {},
            "text",
            self.f["title"],
            self.f["alt_titles"],
            ("title_q", {}),
            lambda x: ("title_claim", {"title": x}),
        )

    def k_axis(self) -> Query | None:
        if self.pie:
            return None
        ax = self.rng.choice(("x", "y"))
        text = self.f[f"{ax}_axis_title"]
        alts = self.f[f"alt_{ax}_axis_titles"]
        return Query(
            "axis_title",
            "text_reading",
            {"axis": ax},
            "text",
            text,
            alts,
            (f"axis_{ax}_q", {}),
            lambda x, ax=ax: (f"axis_{ax}_claim", {"text": x}),
        )

    KINDS = (
        "value",
        "value",
        "extreme",
        "extreme_value",
        "compare",
        "compare_ref",
        "series_higher",
        "trend",
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

    def query(self, want: Callable[[Query], bool], used: list[str]) -> Query:
        fresh = [k for k in self.KINDS if k not in used]
        for attempt in range(80):
            kind = self.rng.choice(fresh if attempt < 40 and fresh else self.KINDS)
            q = getattr(self, f"k_{kind}")()
            if q is not None and want(q):
                used.append(kind)
                return q
        raise RuntimeError("no question kind fits this chart")

    # -- the four question types
    def judgement(self, truth: bool, used: list[str]) -> tuple[Question, dict]:
        q = self.query(lambda q: q.claim is not None and bool(q.wrong), used)
        shown = q.answer if truth else q.wrong[self.rng.randrange(min(3, len(q.wrong)))]
        key, vals = q.claim(shown)
        text = self.say(key, **vals)
        spec = {
            "type": "judgement",
            "kind": q.kind,
            "args": q.args,
            "answer": q.answer,
            "shown": shown,
            "truth": truth,
        }
        return Question("judgement", q.category, [(text, "")], truth=truth, phrasing=key), spec

    def multiple_choice(self, used: list[str]) -> tuple[Question, dict]:
        def ok(q: Query) -> bool:
            return (
                q.mc and len({self.show(q.atype, w) for w in q.wrong} - {self.show(q.atype, q.answer)}) >= 3
            )

        q = self.query(ok, used)
        correct = self.show(q.atype, q.answer)
        distractors = distinct_distractors(
            correct, [self.show(q.atype, w) for w in q.wrong], self.rng, shuffle=False
        )
        key, vals = q.mc_ask or q.ask
        text = self.say(key, **vals)
        spec = {
            "type": "multiple_choice",
            "kind": q.kind,
            "args": q.args,
            "answer": q.answer,
            "valid": q.valid,
        }
        return Question(
            "multiple_choice",
            q.category,
            [(text, "")],
            correct=correct,
            distractors=distractors,
            phrasing=key,
        ), spec

    def short(self, used: list[str]) -> tuple[Question, dict]:
        q = self.query(lambda q: q.short, used)
        ans = self.show(q.atype, q.answer)
        key, vals = q.ask
        text = self.say(key, **vals)
        spec = {"type": "short_vqa", "kind": q.kind, "args": q.args, "answer": q.answer}
        return Question("short_vqa", q.category, [(text, ans)], short_answer=ans, phrasing=key), spec

    # -- long answers: read values, then reason
    def readings(self, s: int, idx: list[int]) -> str:
        vs = self.vals(s)
        return self.join(
            [self.say("reading", label=self.labels[i], value=self.show("num", vs[i])) for i in idx]
        )

    def long(self) -> tuple[Question, dict]:
        kinds = ["arith", "arith", "extreme"]
        if self.f["ordered"]:
            kinds += ["trend", "trend"]
        if len(self.series) > 1 or self.f["label_colors"]:
            kinds += ["legend"]
        for _ in range(20):
            kind = self.rng.choice(kinds)
            out = getattr(self, f"long_{kind}")()
            if out is not None:
                turns, cat, args, answer = out
                spec = {"type": "long_vqa", "kind": f"long_{kind}", "args": args, "answer": answer}
                return Question("long_vqa", cat, turns, phrasing=f"long_{kind}"), spec
        raise RuntimeError("no long question fits this chart")

    def long_arith(self):
        s = self.pick_s()
        vs = self.vals(s)
        sc = self.scope(s)
        op = self.rng.choice(("sum", "diff", "avg"))
        if op == "avg":
            idx = self._avg_pick(s)
            if idx is None:
                return None
        elif op == "diff":
            idx = self._pick_labels(2)
            if vs[idx[0]] == vs[idx[1]]:
                return None
            idx.sort(key=lambda i: -vs[i])
        else:
            idx = self._pick_labels(min(len(vs), self.rng.choice((2, 3, 3, 4))))
        names = [self.labels[i] for i in idx]
        nums = [self.show("num", vs[i]) for i in idx]
        turns = [
            (
                self.say("read_q", items=self.join(names), scope=sc),
                self.say("read_a", readings=self.readings(s, idx)),
            )
        ]
        if op == "sum":
            res = sum(vs[i] for i in idx)
            expr = " + ".join(nums)
            turns.append(
                (
                    self.say("sum_q", items=self.join(names), scope=sc),
                    self.say("sum_explain", expr=expr, result=self.show("num", res)),
                )
            )
        elif op == "diff":
            res = vs[idx[0]] - vs[idx[1]]
            turns.append(
                (
                    self.say("diff_q", a=names[0], b=names[1], scope=sc),
                    self.say(
                        "diff_explain",
                        a=names[0],
                        b=names[1],
                        big=nums[0],
                        small=nums[1],
                        result=self.show("num", res),
                    ),
                )
            )
        else:
            total = sum(vs[i] for i in idx)
            res = total // len(idx)
            turns.append(
                (
                    self.say("avg_q", items=self.join(names), scope=sc),
                    self.say(
                        "avg_explain",
                        expr=" + ".join(nums),
                        total=self.show("num", total),
                        k=len(idx),
                        result=self.show("num", res),
                    ),
                )
            )
        args = {"series": s, "op": op, "labels": names}
        return turns, "arithmetic", args, res

    def long_extreme(self):
        s = self.pick_s()
        vs = self.vals(s)
        sc = self.scope(s)
        rel = self.rng.choice(("max", "min"))
        i = vs.index(max(vs) if rel == "max" else min(vs))
        turns = [
            (
                self.say("list_q", scope=sc),
                self.say("list_a", readings=self.readings(s, list(range(len(vs))))),
            ),
            (
                self.say(f"{rel}_q", scope=sc, dim=self.dim()),
                self.say(f"{rel}_explain", label=self.labels[i], value=self.show("num", vs[i])),
            ),
        ]
        answer: Any = self.labels[i]
        if self.rng.random() < 0.6:
            hi, lo = vs.index(max(vs)), vs.index(min(vs))
            answer = vs[hi] - vs[lo]
            turns.append(
                (
                    self.say("range_q", scope=sc),
                    self.say(
                        "range_a",
                        high_label=self.labels[hi],
                        high=self.show("num", vs[hi]),
                        low_label=self.labels[lo],
                        low=self.show("num", vs[lo]),
                        result=self.show("num", answer),
                    ),
                )
            )
        return turns, "extremum", {"series": s, "rel": rel, "range": len(turns) == 3}, answer

    def long_trend(self):
        s = self.pick_s()
        vs = self.vals(s)
        i, j = sorted(self.rng.sample(range(len(vs)), 2))
        if vs[i] == vs[j]:
            return None
        sc = self.scope(s)
        a, b = self.labels[i], self.labels[j]
        direction = "increase" if vs[j] > vs[i] else "decrease"
        d = abs(vs[j] - vs[i])
        turns = [
            (
                self.say("value_q", label=a, scope=sc),
                self.say("value_a", label=a, value=self.show("num", vs[i])),
            ),
            (
                self.say("value_q", label=b, scope=sc),
                self.say("value_a", label=b, value=self.show("num", vs[j])),
            ),
            (
                self.say("trend_change_q", a=a, b=b, scope=sc),
                self.say(
                    f"trend_change_a_{direction}",
                    a=a,
                    b=b,
                    va=self.show("num", vs[i]),
                    vb=self.show("num", vs[j]),
                    result=self.show("num", d),
                ),
            ),
        ]
        return turns, "trend", {"series": s, "a": a, "b": b}, d if direction == "increase" else -d

    def long_legend(self):
        i = self.rng.randrange(len(self.labels))
        label = self.labels[i]
        if len(self.series) > 1:
            s = self.pick_s()
            name, col = self.series[s]["name"], self.show("color", self.series[s]["color"])
            v = self.vals(s)[i]
            turns = [
                (self.say("series_color_q", series=name), self.say("legend_color_a", series=name, color=col)),
                (
                    self.say("value_q", label=label, scope=self.scope(s)),
                    self.say("value_by_color_a", color=col, label=label, value=self.show("num", v)),
                ),
            ]
            answer: Any = v
            o = 1 - s
            vo = self.vals(o)[i]
            if vo != v and self.rng.random() < 0.7:
                hi = s if v > vo else o
                answer = self.series[hi]["name"]
                turns.append(
                    (
                        self.say("series_gap_q", label=label, other=self.series[o]["name"]),
                        self.say(
                            "series_gap_a",
                            label=label,
                            s1=name,
                            v1=self.show("num", v),
                            s2=self.series[o]["name"],
                            v2=self.show("num", vo),
                            winner=answer,
                            result=self.show("num", abs(v - vo)),
                        ),
                    )
                )
            return turns, "legend", {"series": s, "label": label, "gap": len(turns) == 3}, answer
        lc = self.f["label_colors"]
        col = self.show("color", lc[i])
        v = self.vals(0)[i]
        turns = [
            (self.say("color_label_q", color=col), self.say("color_label_a", color=col, label=label)),
            (
                self.say("value_q", label=label, scope=""),
                self.say("value_a", label=label, value=self.show("num", v)),
            ),
        ]
        return turns, "legend", {"series": 0, "label": label, "gap": False}, v


# ---------------------------------------------------------------------------------------------
# the domain


class Charts(SynthDomain):
    name = "charts"
    description = "Bar, line and pie charts with exactly readable values, legends, titles and axis labels."

    def make(self, rng: random.Random, lang: str) -> Item:
        for attempt in range(40):
            data = self._data(rng, attempt)
            if data is None:
                continue
            facts, unit = data
            try:
                img = self._draw(rng, facts, attempt)
            except Unfit:
                continue
            break
        else:  # pragma: no cover - the conservative late attempts always fit
            raise RuntimeError("no chart layout fitted")
        asker = _Asker(self, rng, lang, facts, unit)
        qs: list[Question] = []
        specs: list[dict] = []

        def add(pair: tuple[Question, dict]) -> None:
            qs.append(pair[0])
            specs.append(pair[1])

        used: list[str] = []
        truths = [True, False] * rng.choice((1, 1, 2))
        rng.shuffle(truths)
        for t in truths:
            add(asker.judgement(t, used))
        for _ in range(rng.choice((1, 1, 2))):
            add(asker.multiple_choice(used))
        for _ in range(rng.choice((1, 2))):
            add(asker.short(used))
        add(asker.long())
        facts["questions"] = specs
        return Item([img], facts, qs)

    # -- data
    def _data(self, rng: random.Random, attempt: int) -> tuple[dict[str, Any], int] | None:
        easy = attempt >= 12
        chart = rng.choice(("bar", "bar", "bar", "line", "line", "pie"))
        grouped = chart != "pie" and rng.random() < (0.1 if easy else 0.4)
        ns = 2 if grouped else 1
        ordered = chart == "line" or (chart == "bar" and rng.random() < 0.3)
        if chart == "pie":
            n = rng.randint(3, 6)
        elif chart == "line":
            n = rng.randint(4, 7 if grouped else 8)
        else:
            n = rng.randint(3, 6 if grouped else 8)
        if easy:
            n = min(n, 5)
        if ordered:
            dim, measures = rng.choice(TIME_TOPICS)
            if dim == "Day":
                n = min(n, 7)
            if dim == "Quarter":
                n = min(n, 4)
            labels = _time_labels(rng, dim, n)
        else:
            dim, pool, measures = rng.choice(CATEGORY_TOPICS)
            labels = rng.sample(pool, min(n, len(pool)))
        n = len(labels)
        measure, axis_label, cap = rng.choice(measures)
        others = [m for m in measures if m[0] != measure]

        # values: exact on ticks (no value labels) or free integers with printed labels
        value_labels = chart == "pie" or rng.random() < 0.6
        series_vals: list[list[int]] = []
        if chart == "pie":
            series_vals = [_pie_values(rng, n)]
            tick_step, axis_max = 0, 100
            unit = rng.choice((1, 2, 5))
        else:
            shape = rng.choice(("rising", "falling", "walk", "walk", "walk")) if ordered else "free"
            if value_labels:
                scale = rng.choice([s for s in SCALES if s <= cap])
                lo = max(1, scale // rng.choice((5, 10, 20)))
                for _ in range(50):
                    series_vals = [
                        _series_values(rng, n, lo, scale, ordered, shape if k == 0 else "walk")
                        for k in range(ns)
                    ]
                    if all(_unique_extremes(v) for v in series_vals):
                        break
                if not all(_unique_extremes(v) for v in series_vals):
                    return None
                vmax = max(max(v) for v in series_vals)
                steps = [t for t in NICE_STEPS if 4 <= -(-vmax // t) <= 10]
                tick_step = rng.choice(steps) if steps else max(1, -(-vmax // 5))
                axis_max = -(-vmax // tick_step) * tick_step
                if axis_max == vmax and rng.random() < 0.5:
                    axis_max += tick_step
                unit = rng.choice((1, 1, max(1, tick_step // 5)))
            else:
                tick_step = rng.choice([t for t in NICE_STEPS if t * 5 <= cap] or [1])
                top = rng.randint(min(10, max(5, n + 2)), 10)
                for _ in range(50):
                    units = [
                        _series_values(rng, n, 1, top, ordered, shape if k == 0 else "walk")
                        for k in range(ns)
                    ]
                    if all(_unique_extremes(u) for u in units) and max(max(u) for u in units) >= 4:
                        break
                if not (all(_unique_extremes(u) for u in units) and max(max(u) for u in units) >= 4):
                    return None
                series_vals = [[u * tick_step for u in us] for us in units]
                steps_n = max(max(u) for u in units) + (1 if rng.random() < 0.3 else 0)
                axis_max = steps_n * tick_step
                unit = tick_step
        # colours
        exclude = ("yellow",) if chart == "line" else ("black",) if chart == "pie" else ()
        label_colors: list[str] = []
        if chart == "pie" or (chart == "bar" and ns == 1 and rng.random() < 0.3):
            label_colors = [
                c[0] for c in style.pick_colors(rng, n, exclude=("black", "gray") if chart == "pie" else ())
            ]
        cols = style.pick_colors(rng, ns, exclude=exclude)
        if ns == 2:
            pairs = [p for p in SERIES_PAIRS if not (dim == "Year" and p[0].isdigit())]
            names = list(rng.choice(pairs))
        else:
            names = [axis_label]
        series = [
            {"name": names[k], "color": "" if label_colors else cols[k][0], "values": series_vals[k]}
            for k in range(ns)
        ]

        # titles (drawn in English)
        title, form = self._title(rng, chart, measure, dim, labels, ordered)
        alt_titles = []
        for m in [o[0] for o in others] + [t[2][0][0] for t in CATEGORY_TOPICS if t[2][0][0] != measure]:
            cand = self._title(rng, chart, m, dim, labels, ordered, form)[0]
            if cand != title and cand not in alt_titles:
                alt_titles.append(cand)
        alt_titles = alt_titles[:6]
        orientation = "" if chart != "bar" else ("horizontal" if rng.random() < 0.35 else "vertical")
        cat_title, val_title = dim, axis_label
        alt_val = [o[1] for o in others] + [t[2][0][1] for t in CATEGORY_TOPICS if t[2][0][1] != axis_label]
        alt_cat = [t[0] for t in CATEGORY_TOPICS if t[0] != dim] + [t[0] for t in TIME_TOPICS if t[0] != dim]
        rng.shuffle(alt_cat)
        alt_val = list(dict.fromkeys(a for a in alt_val if a != axis_label))
        if orientation == "horizontal":
            x_t, y_t, alt_x, alt_y = val_title, cat_title, alt_val, alt_cat
        else:
            x_t, y_t, alt_x, alt_y = cat_title, val_title, alt_cat, alt_val
        facts = {
            "chart": chart,
            "orientation": orientation,
            "title": title,
            "alt_titles": alt_titles,
            "dimension": dim,
            "x_axis_title": "" if chart == "pie" else x_t,
            "y_axis_title": "" if chart == "pie" else y_t,
            "alt_x_axis_titles": alt_x[:6],
            "alt_y_axis_titles": alt_y[:6],
            "labels": labels,
            "ordered": ordered,
            "series": series,
            "label_colors": label_colors,
            "unit": "%" if chart == "pie" else "",
            "tick_step": tick_step,
            "axis_max": axis_max,
            "value_labels": value_labels,
            "gridlines": False,
            "legend": ns == 2,
            "pie_style": "",
        }
        return facts, unit

    @staticmethod
    def _title(
        rng: random.Random,
        chart: str,
        measure: str,
        dim: str,
        labels: list[str],
        ordered: bool,
        form: str = "",
    ) -> tuple[str, str]:
        if chart == "pie":
            forms = ("Share of {m}", "{m} by {d}", "{m} Breakdown")
        elif ordered:
            forms = ("{m} by {d}", "{m}, {a}-{b}", "{m} ({a}-{b})")
        else:
            forms = ("{m} by {d}", "{m} per {d}", "{m}")
        if dim.lower() in measure.lower():
            forms = tuple(x for x in forms if "{d}" not in x) or ("{m}",)
        if form not in forms:
            form = rng.choice(forms)
        return form.format(m=measure, d=dim, a=labels[0], b=labels[-1]), form

    # -- drawing
    def _draw(self, rng: random.Random, f: dict[str, Any], attempt: int) -> Image.Image:
        if f["chart"] == "pie":
            return self._draw_pie(rng, f, attempt)
        return self._draw_xy(rng, f, attempt)

    def _fonts(self, rng: random.Random):
        title_name = rng.choice(BOLD_FONTS) if rng.random() < 0.6 else _font_name(style.pick_font(rng, 12))
        body = _font_name(style.pick_font(rng, 12))
        return title_name, body

    def _title_draw(self, rng, draw, f, W, pad, title_name, size, fg) -> int:
        tf = _fit_font(title_name, size, [f["title"]], W - 2 * pad, min_size=12)
        align = rng.choice(("center", "center", "left"))
        x = W // 2 if align == "center" else pad
        draw.text((x, pad), f["title"], font=tf, fill=fg, anchor="ma" if align == "center" else "la")
        return pad + _line_h(tf)

    def _legend_size(self, font, names: list[str], sw: int, orient: str) -> tuple[int, int]:
        lh = max(_line_h(font), sw)
        widths = [sw + 6 + _size(font, n)[0] for n in names]
        if orient == "row":
            return sum(widths) + 16 * (len(names) - 1), lh
        return max(widths), lh * len(names) + 6 * (len(names) - 1)

    def _legend(self, draw, x, y, font, entries, sw, orient, fg, kind, lw=2) -> None:
        lh = max(_line_h(font), sw)
        for name, rgb, marker in entries:
            cy = y + lh // 2
            if kind == "line":
                draw.line([(x, cy), (x + sw, cy)], fill=rgb, width=lw)
                _marker(draw, x + sw / 2, cy, 3, marker, rgb, rgb)
            else:
                draw.rectangle([x, cy - sw // 2, x + sw, cy + sw // 2], fill=rgb)
            draw.text((x + sw + 6, cy), name, font=font, fill=fg, anchor="lm")
            w = sw + 6 + _size(font, name)[0]
            if orient == "row":
                x += w + 16
            else:
                y += lh + 6

    def _draw_xy(self, rng: random.Random, f: dict[str, Any], attempt: int) -> Image.Image:
        chart, horizontal = f["chart"], f["orientation"] == "horizontal"
        labels, series = f["labels"], f["series"]
        n, ns = len(labels), len(series)
        base = rng.choice((480, 560, 640)) + (80 if attempt >= 20 else 0)
        W, H = style.canvas_size(rng, base, 0.2)
        if horizontal:
            H = max(H, 24 * n * ns + 160)
        W, H = min(W, 800), min(H, 800)
        img, draw = style.canvas(rng, W, H, plain=not f["value_labels"] or rng.random() < 0.5)
        bg = img.getpixel((W - 1, H - 1))
        plot_fill = rng.choice((None, None, (255, 255, 255), (246, 246, 246), (250, 248, 240)))
        box_bg = plot_fill or bg
        fg = style.ink(rng)
        title_name, body = self._fonts(rng)
        tick_f = style.font(body, rng.randint(11 if f["value_labels"] else 12, 14))
        axis_f = style.font(body if rng.random() < 0.7 else rng.choice(BOLD_FONTS), rng.randint(12, 15))
        val_size = rng.randint(11, 14)
        pad = rng.randint(10, 18)
        gap = 6
        tick_len = rng.choice((0, 4, 5))
        grid = (not f["value_labels"]) or rng.random() < 0.5
        f["gridlines"] = grid
        dashed = rng.random() < 0.3
        grid_col = _darker(box_bg, rng.randint(30, 60))
        axis_col = rng.choice((fg, (90, 90, 90), (60, 60, 60)))
        axis_style = rng.choice(("both", "both", "base", "box"))
        colors = [COLOR_BY_NAME[s["color"]][2] for s in series] if not f["label_colors"] else []
        label_rgbs = [COLOR_BY_NAME[c][2] for c in f["label_colors"]]
        outline = rng.random() < 0.3

        top = self._title_draw(rng, draw, f, W, pad, title_name, rng.randint(16, 22), fg) + gap
        markers = rng.sample(MARKERS, ns)
        legend_pos = rng.choice(("top", "right")) if ns == 2 else ""
        leg_f = style.font(body, rng.randint(11, 13))
        sw = rng.randint(10, 14)
        names = [s["name"] for s in series]
        right = W - pad
        if legend_pos == "top":
            lw, lh = self._legend_size(leg_f, names, sw, "row")
            if lw > W - 2 * pad:
                raise Unfit("legend")
            self._legend(
                draw,
                (W - lw) // 2,
                top,
                leg_f,
                list(zip(names, colors, markers, strict=True)),
                sw,
                "row",
                fg,
                chart,
            )
            top += lh + gap
        elif legend_pos == "right":
            lw, lh = self._legend_size(leg_f, names, sw, "col")
            right = W - pad - lw - 12
        val_f = style.font(body, val_size)
        vh = _line_h(val_f)
        ticks = list(range(0, f["axis_max"] + 1, f["tick_step"]))
        tick_texts = [fmt_num(t) for t in ticks]
        cat_title_h = _line_h(axis_f)
        marker_r = rng.randint(3, 5)

        if not horizontal:
            ytw = max(_size(tick_f, t)[0] for t in tick_texts)
            x0 = pad + cat_title_h + gap + ytw + tick_len + 4
            headroom = (vh + marker_r + 6) if f["value_labels"] else 8
            y0 = top + headroom
            y1 = H - pad - cat_title_h - gap - _line_h(tick_f) - tick_len - 4
            x1 = right - (8 if chart == "line" else 0)
            if x1 - x0 < 200 or y1 - y0 < 140:
                raise Unfit("plot too small")
            slot = (x1 - x0) / n
            cat_f = _fit_font(body, tick_f.size, labels, slot - 4)
            if (y1 - y0) / (len(ticks) - 1) < _line_h(tick_f) + 2:
                raise Unfit("ticks too dense")
            if (
                _size(axis_f, f["y_axis_title"])[0] > y1 - y0 + 40
                or _size(axis_f, f["x_axis_title"])[0] > W - 2 * pad
            ):
                raise Unfit("axis title")

            def vy(v: float) -> float:
                return y1 - v / f["axis_max"] * (y1 - y0)

            # gridlines and value ticks
            for t, tt in zip(ticks, tick_texts, strict=True):
                y = vy(t)
                if grid and t > 0:
                    _hline(draw, x0, x1, y, grid_col, dashed)
                if tick_len:
                    draw.line([(x0 - tick_len, y), (x0, y)], fill=axis_col)
                draw.text((x0 - tick_len - 4, y), tt, font=tick_f, fill=fg, anchor="rm")
            for i, lab in enumerate(labels):
                draw.text((x0 + slot * (i + 0.5), y1 + tick_len + 4), lab, font=cat_f, fill=fg, anchor="ma")
            draw.text(((x0 + x1) // 2, H - pad), f["x_axis_title"], font=axis_f, fill=fg, anchor="md")
            _vertical_text(img, f["y_axis_title"], axis_f, fg, pad + cat_title_h // 2, int((y0 + y1) / 2))
            if chart == "bar":
                gw = slot * rng.uniform(0.5, 0.8)
                bw = gw / ns
                lim = (slot - 4) if ns == 1 else (bw - 1)
                vf = _fit_font(body, val_size, [fmt_num(v) for s in series for v in s["values"]], lim)
                for i in range(n):
                    for k, s in enumerate(series):
                        v = s["values"][i]
                        bx = x0 + slot * i + (slot - gw) / 2 + k * bw
                        rgb = label_rgbs[i] if label_rgbs else colors[k]
                        draw.rectangle(
                            [bx, vy(v), bx + bw - (1 if ns > 1 else 0), y1],
                            fill=rgb,
                            outline=_darker(rgb, 60) if outline else None,
                        )
                        if f["value_labels"]:
                            draw.text((bx + bw / 2, vy(v) - 3), fmt_num(v), font=vf, fill=fg, anchor="md")
            else:
                self._lines_vertical(
                    rng,
                    draw,
                    f,
                    x0,
                    slot,
                    vy,
                    y0,
                    y1,
                    colors,
                    markers,
                    marker_r,
                    val_f,
                    fg,
                    box_bg,
                    body,
                    val_size,
                )
            self._axes(draw, axis_style, x0, y0, x1, y1, axis_col)
        else:
            cat_f = tick_f
            ctw = max(_size(cat_f, lab)[0] for lab in labels)
            x0 = pad + cat_title_h + gap + ctw + tick_len + 6
            vlab_w = max(_size(val_f, fmt_num(v))[0] for s in series for v in s["values"]) + 8
            x1 = right - (vlab_w if f["value_labels"] else _size(tick_f, tick_texts[-1])[0] // 2 + 2)
            y0 = top + 4
            y1 = H - pad - cat_title_h - gap - _line_h(tick_f) - tick_len - 4
            if x1 - x0 < 180 or y1 - y0 < 120:
                raise Unfit("plot too small")
            slot = (y1 - y0) / n
            if _line_h(cat_f) > slot:
                raise Unfit("categories too dense")
            step_px = (x1 - x0) / (len(ticks) - 1)
            if max(_size(tick_f, t)[0] for t in tick_texts) > step_px - 4:
                raise Unfit("ticks too dense")

            def vx(v: float) -> float:
                return x0 + v / f["axis_max"] * (x1 - x0)

            for t, tt in zip(ticks, tick_texts, strict=True):
                x = vx(t)
                if grid and t > 0:
                    _vline(draw, x, y0, y1, grid_col, dashed)
                if tick_len:
                    draw.line([(x, y1), (x, y1 + tick_len)], fill=axis_col)
                draw.text((x, y1 + tick_len + 4), tt, font=tick_f, fill=fg, anchor="ma")
            for i, lab in enumerate(labels):
                draw.text((x0 - tick_len - 5, y0 + slot * (i + 0.5)), lab, font=cat_f, fill=fg, anchor="rm")
            draw.text(((x0 + x1) // 2, H - pad), f["x_axis_title"], font=axis_f, fill=fg, anchor="md")
            _vertical_text(img, f["y_axis_title"], axis_f, fg, pad + cat_title_h // 2, int((y0 + y1) / 2))
            if (
                _size(axis_f, f["x_axis_title"])[0] > W - 2 * pad
                or _size(axis_f, f["y_axis_title"])[0] > y1 - y0 + 40
            ):
                raise Unfit("axis title")
            gh = slot * rng.uniform(0.5, 0.8)
            bh = gh / ns
            if f["value_labels"] and _size(val_f, "0")[1] > (bh + 2 if ns > 1 else slot - 2):
                raise Unfit("value labels too tall")
            for i in range(n):
                for k, s in enumerate(series):
                    v = s["values"][i]
                    by = y0 + slot * i + (slot - gh) / 2 + k * bh
                    rgb = label_rgbs[i] if label_rgbs else colors[k]
                    draw.rectangle(
                        [x0, by, vx(v), by + bh - (1 if ns > 1 else 0)],
                        fill=rgb,
                        outline=_darker(rgb, 60) if outline else None,
                    )
                    if f["value_labels"]:
                        draw.text((vx(v) + 4, by + bh / 2), fmt_num(v), font=val_f, fill=fg, anchor="lm")
            if axis_style == "box":
                draw.rectangle([x0, y0, x1, y1], outline=axis_col)
            else:
                draw.line([(x0, y0), (x0, y1)], fill=axis_col, width=2)
                if axis_style == "both":
                    draw.line([(x0, y1), (x1, y1)], fill=axis_col, width=2)
        if legend_pos == "right":
            lw, lh = self._legend_size(leg_f, names, sw, "col")
            lx, ly = W - pad - lw, top + rng.randint(0, 30)
            if rng.random() < 0.4:
                draw.rectangle([lx - 5, ly - 5, lx + lw + 5, ly + lh + 5], outline=axis_col)
            self._legend(
                draw, lx, ly, leg_f, list(zip(names, colors, markers, strict=True)), sw, "col", fg, chart
            )
        return img

    @staticmethod
    def _axes(draw, axis_style, x0, y0, x1, y1, col) -> None:
        if axis_style == "box":
            draw.rectangle([x0, y0, x1, y1], outline=col)
            return
        draw.line([(x0, y1), (x1, y1)], fill=col, width=2)
        if axis_style == "both":
            draw.line([(x0, y0), (x0, y1)], fill=col, width=2)

    def _lines_vertical(
        self, rng, draw, f, x0, slot, vy, y0, y1, colors, markers, r, val_f, fg, box_bg, body, val_size
    ) -> None:
        series = f["series"]
        n = len(f["labels"])
        lw = rng.randint(2, 4)
        hollow = rng.random() < 0.3
        xs = [x0 + slot * (i + 0.5) for i in range(n)]
        for k, s in enumerate(series):
            pts = [(xs[i], vy(v)) for i, v in enumerate(s["values"])]
            draw.line(pts, fill=colors[k], width=lw, joint="curve")
        for k, s in enumerate(series):
            for i, v in enumerate(s["values"]):
                _marker(
                    draw, xs[i], vy(v), r, markers[k], (255, 255, 255) if hollow else colors[k], colors[k]
                )
        if not f["value_labels"]:
            return
        vf = _fit_font(body, val_size, [fmt_num(v) for s in series for v in s["values"]], slot - 3)
        vh = _line_h(vf)
        boxed = rng.random() < 0.6
        for i in range(n):
            vals = [s["values"][i] for s in series]
            places = []
            if len(series) == 1:
                v = vals[0]
                nb = [series[0]["values"][j] for j in (i - 1, i + 1) if 0 <= j < n]
                above = v >= sum(nb) / len(nb) or vy(v) + r + 4 + vh > y1 - 2
                places.append((v, above))
            else:
                a, b = vals
                if abs(vy(a) - vy(b)) < vh + 2 * r + 6:
                    raise Unfit("line labels collide")
                hi, lo = max(a, b), min(a, b)
                if vy(lo) + r + 4 + vh > y1 - 2:
                    raise Unfit("label under the axis")
                places += [(hi, True), (lo, False)]
            for v, above in places:
                y = vy(v) - r - 3 if above else vy(v) + r + 3
                _boxed_text(
                    draw, (xs[i], y), fmt_num(v), vf, fg, "md" if above else "ma", box_bg if boxed else None
                )

    def _draw_pie(self, rng: random.Random, f: dict[str, Any], attempt: int) -> Image.Image:
        labels = f["labels"]
        vals = f["series"][0]["values"]
        n = len(labels)
        W, H = style.canvas_size(rng, rng.choice((480, 560, 640)) + (80 if attempt >= 20 else 0), 0.2)
        img, draw = style.canvas(rng, W, H, plain=rng.random() < 0.5)
        bg = img.getpixel((W - 1, H - 1))
        fg = style.ink(rng)
        title_name, body = self._fonts(rng)
        pad = rng.randint(10, 18)
        top = self._title_draw(rng, draw, f, W, pad, title_name, rng.randint(16, 22), fg) + 10
        rgbs = [COLOR_BY_NAME[c][2] for c in f["label_colors"]]
        font_ = style.font(body, rng.randint(12, 15))
        lh = _line_h(font_)
        mode = "outside" if attempt >= 25 else rng.choice(("outside", "legend_pct", "legend_inside"))
        f["pie_style"] = mode
        donut = rng.random() < 0.25
        start = rng.choice((-90.0, 0.0, rng.uniform(-180, 180)))
        sep = rng.choice(("paren", "colon"))
        pct = [f"{v}%" for v in vals]
        sw = rng.randint(10, 14)
        if mode == "outside":
            form = rng.choice(("{l} {p}", "{l}: {p}", "{l} ({p})"))
            texts = [form.format(l=lab, p=p) for lab, p in zip(labels, pct, strict=True)]
            tw = max(_size(font_, t)[0] for t in texts)
            area_w, area_h = W - 2 * pad, H - top - pad
            r = int(min(area_w / 2 - tw - 18, area_h / 2 - lh - 10))
            cx, cy = W // 2, top + area_h // 2
        else:
            if mode == "legend_pct":
                entries = [
                    f"{lab} ({p})" if sep == "paren" else f"{lab}: {p}"
                    for lab, p in zip(labels, pct, strict=True)
                ]
            else:
                entries = list(labels)
            leg_pos = rng.choice(("right", "bottom"))
            ew = max(_size(font_, e)[0] for e in entries) + sw + 6
            row = max(lh, sw) + 6
            if leg_pos == "right":
                area_w, area_h = W - 2 * pad - ew - 20, H - top - pad
                cx, cy = pad + area_w // 2, top + area_h // 2
                lx, ly = W - pad - ew, cy - (row * n) // 2
            else:
                per_row = max(1, int((W - 2 * pad) // (ew + 16)))
                rows = -(-n // per_row)
                area_w, area_h = W - 2 * pad, H - top - pad - rows * row - 10
                cx, cy = W // 2, top + area_h // 2
                lx, ly = pad + (W - 2 * pad - per_row * (ew + 16) + 16) // 2, H - pad - rows * row
            r = int(min(area_w, area_h) / 2) - 6
            if leg_pos == "right" and (ly < top or ly + row * n > H - pad or lx < pad):
                raise Unfit("legend too tall")
        if r < 70:
            raise Unfit("pie too small")
        r = min(r, 220)
        edge = rng.choice((None, (255, 255, 255), bg))
        # slices, clockwise from `start`
        angles = []
        a = start
        for v in vals:
            angles.append((a, a + 360 * v / 100))
            a += 360 * v / 100
        for (a0, a1), rgb in zip(angles, rgbs, strict=True):
            draw.pieslice(
                [cx - r, cy - r, cx + r, cy + r], a0, a1, fill=rgb, outline=edge, width=2 if edge else 1
            )
        if donut:
            ri = int(r * rng.uniform(0.4, 0.55))
            draw.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=bg)
        if mode == "outside":
            boxes = []
            for (a0, a1), t in zip(angles, texts, strict=True):
                mid = math.radians((a0 + a1) / 2)
                c, s = math.cos(mid), math.sin(mid)
                tx, ty = cx + (r + 14) * c, cy + (r + 10) * s
                anchor = "lm" if c >= 0 else "rm"
                if abs(c) < 0.25:
                    anchor = "md" if s < 0 else "ma"
                box = draw.textbbox((tx, ty), t, font=font_, anchor=anchor)
                if box[0] < 2 or box[2] > W - 2 or box[1] < top - 6 or box[3] > H - 2:
                    raise Unfit("label off canvas")
                if any(
                    not (box[2] + 3 < b[0] or b[2] + 3 < box[0] or box[3] + 2 < b[1] or b[3] + 2 < box[1])
                    for b in boxes
                ):
                    raise Unfit("labels overlap")
                nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
                if math.hypot(nx - cx, ny - cy) < r + 2:
                    raise Unfit("label over the pie")
                boxes.append(box)
                draw.line(
                    [(cx + (r - 4) * c, cy + (r - 4) * s), (cx + (r + 8) * c, cy + (r + 6) * s)], fill=fg
                )
                draw.text((tx, ty), t, font=font_, fill=fg, anchor=anchor)
        else:
            if mode == "legend_inside":
                rr = r * (0.75 if donut else 0.62)
                pf = style.font(rng.choice((body, body, BOLD_FONTS[0])), max(12, font_.size))
                for (a0, a1), p, rgb in zip(angles, pct, rgbs, strict=True):
                    w, h = _size(pf, p)
                    if math.radians(a1 - a0) * rr < w + 4 or (donut and r * 0.45 < h + 4):
                        raise Unfit("percent does not fit the slice")
                    mid = math.radians((a0 + a1) / 2)
                    draw.text(
                        (cx + rr * math.cos(mid), cy + rr * math.sin(mid)),
                        p,
                        font=pf,
                        fill=_text_on(rgb),
                        anchor="mm",
                    )
            x, y = lx, ly
            if leg_pos == "right":
                for e, rgb in zip(entries, rgbs, strict=True):
                    draw.rectangle(
                        [x, y + (row - 6 - sw) // 2, x + sw, y + (row - 6 - sw) // 2 + sw], fill=rgb
                    )
                    draw.text((x + sw + 6, y + (row - 6) // 2), e, font=font_, fill=fg, anchor="lm")
                    y += row
            else:
                for i, (e, rgb) in enumerate(zip(entries, rgbs, strict=True)):
                    ex = x + (i % per_row) * (ew + 16)
                    ey = y + (i // per_row) * row
                    draw.rectangle(
                        [ex, ey + (row - 6 - sw) // 2, ex + sw, ey + (row - 6 - sw) // 2 + sw], fill=rgb
                    )
                    draw.text((ex + sw + 6, ey + (row - 6) // 2), e, font=font_, fill=fg, anchor="lm")
        return img
