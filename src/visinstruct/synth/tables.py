"""Tables with math word problems: price lists, frequency tables, score grids and schedules.

Every number is stored exactly (prices in integer cents, times in minutes after midnight),
so look-ups, sums, differences, costs, means, medians, ranges, extrema, comparisons and
counts are computed exactly from what the table shows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from visinstruct.synth import style
from visinstruct.synth.base import (
    Item,
    Question,
    SynthDomain,
    distinct_distractors,
    fmt_num,
    numeric_distractors,
)

# fmt: off
PEOPLE = (
    "Ann", "Ben", "Carlos", "Dana", "Eli", "Fatima", "Grace", "Hiro", "Ivy", "Jamal", "Kara", "Leo", "Maya",
    "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# price lists, price per item: titles, cents range, (singular, plural)
PRICE_EACH = (
    (("Bakery menu", "Baked goods", "Bakery prices"), 50, 650,
     (("bagel", "bagels"), ("muffin", "muffins"), ("croissant", "croissants"), ("cookie", "cookies"),
      ("cupcake", "cupcakes"), ("brownie", "brownies"), ("donut", "donuts"),
      ("slice of pie", "slices of pie"), ("loaf of bread", "loaves of bread"), ("scone", "scones"),
      ("cinnamon roll", "cinnamon rolls"))),
    (("School store", "Office supplies", "Stationery prices"), 25, 1200,
     (("pencil", "pencils"), ("eraser", "erasers"), ("notebook", "notebooks"), ("ruler", "rulers"),
      ("glue stick", "glue sticks"), ("marker", "markers"), ("box of crayons", "boxes of crayons"),
      ("pair of scissors", "pairs of scissors"), ("stapler", "staplers"), ("folder", "folders"),
      ("sketchbook", "sketchbooks"))),
    (("Toy store", "Toy prices", "Gift shop"), 150, 3500,
     (("yo-yo", "yo-yos"), ("toy car", "toy cars"), ("kite", "kites"), ("jigsaw puzzle", "jigsaw puzzles"),
      ("jump rope", "jump ropes"), ("teddy bear", "teddy bears"), ("rubber ball", "rubber balls"),
      ("board game", "board games"), ("toy robot", "toy robots"), ("puppet", "puppets"))),
    (("Hardware store", "Tool prices"), 200, 4500,
     (("hammer", "hammers"), ("wrench", "wrenches"), ("screwdriver", "screwdrivers"),
      ("tape measure", "tape measures"), ("flashlight", "flashlights"), ("paintbrush", "paintbrushes"),
      ("box of nails", "boxes of nails"), ("pair of gloves", "pairs of gloves"), ("padlock", "padlocks"))),
    (("Cafe menu", "Snack bar", "Lunch counter"), 99, 1200,
     (("glass of juice", "glasses of juice"), ("cup of coffee", "cups of coffee"),
      ("cup of tea", "cups of tea"), ("bottle of water", "bottles of water"), ("sandwich", "sandwiches"),
      ("bowl of soup", "bowls of soup"), ("salad", "salads"), ("smoothie", "smoothies"),
      ("slice of pizza", "slices of pizza"))),
)
PRICE_KG = (
    ("Bulk foods", "Price per kilogram", "Health food store", "Market prices"), 90, 3000,
    ("rice", "lentils", "almonds", "oats", "flour", "coffee beans", "brown sugar", "walnuts", "raisins",
     "pasta", "quinoa", "cashews", "dried apricots", "sunflower seeds"),
)

# frequency tables: cell ref, row ref, titles, column headers, rows, value range, keep row order
COUNT_THEMES = (
    ("votes", "color", ("Favorite colors", "Class vote: favorite color"), ("Votes", "Number of votes"),
     ("Red", "Blue", "Green", "Purple", "Orange", "Yellow", "Pink", "Teal"), 2, 60, False),
    ("votes", "fruit", ("Favorite fruit", "Fruit survey"), ("Votes", "Number of votes"),
     ("Apples", "Bananas", "Grapes", "Mangoes", "Oranges", "Pears", "Peaches", "Cherries", "Kiwis"),
     2, 60, False),
    ("votes", "sport", ("Favorite sport", "Sports survey"), ("Votes", "Number of votes"),
     ("Soccer", "Basketball", "Tennis", "Swimming", "Baseball", "Volleyball", "Hockey", "Cycling"),
     2, 60, False),
    ("books", "person", ("Books read this month", "Summer reading challenge"), ("Books", "Books read"),
     PEOPLE, 1, 30, False),
    ("members", "club", ("Club membership", "After-school clubs"), ("Members", "Number of members"),
     ("Chess club", "Drama club", "Robotics club", "Art club", "Science club", "Book club", "Debate club",
      "Music club", "Garden club", "Photo club"), 4, 60, False),
    ("animals", "animal", ("Animals at the shelter", "Shelter animals"), ("Number", "Count"),
     ("dogs", "cats", "rabbits", "hamsters", "guinea pigs", "parrots", "turtles", "ferrets"), 2, 50, False),
    ("animals", "animal", ("Animals on the farm", "Farm animals"), ("Number", "Count"),
     ("cows", "pigs", "goats", "sheep", "chickens", "ducks", "horses", "geese"), 2, 80, False),
    ("stickers", "person", ("Sticker collections", "Stickers collected"), ("Stickers", "Number of stickers"),
     PEOPLE, 10, 150, False),
    ("visitors", "day", ("Museum visitors", "Library visitors", "Zoo visitors"),
     ("Visitors", "Number of visitors"), DAYS, 30, 600, True),
)

# grids with several number columns: cell ref, row ref, titles, row headers, header sets, rows, range
GRID_THEMES = (
    ("score", "person", ("Scores", "Points scored", "Competition results", "Score sheet"),
     ("Name", "Player"),
     (("Round 1", "Round 2", "Round 3"), ("Game 1", "Game 2", "Game 3"), ("Quiz 1", "Quiz 2", "Quiz 3"),
      ("Week 1", "Week 2", "Week 3")), PEOPLE, 10, 100),
    ("stock", "item", ("Store inventory", "Supplies in stock"), ("Item", "Product"),
     (("Store A", "Store B", "Store C"), ("Shop 1", "Shop 2", "Shop 3"),
      ("Branch A", "Branch B", "Branch C")),
     ("pencils", "erasers", "notebooks", "rulers", "markers", "folders", "pens", "glue sticks", "staplers"),
     0, 90),
    ("sales", "item", ("Bake sale results", "Items sold", "Bakery sales"), ("Item", "Baked good"),
     (("Monday", "Tuesday", "Wednesday"), ("Friday", "Saturday", "Sunday"),
      ("Thursday", "Friday", "Saturday")),
     ("muffins", "cookies", "brownies", "cupcakes", "bagels", "scones", "donuts", "pies"), 3, 80),
    ("medals", "country", ("Medal count", "Tournament medals"), ("Country", "Team"),
     (("Gold", "Silver", "Bronze"),),
     ("Brazil", "Canada", "Chile", "Egypt", "France", "Germany", "India", "Japan", "Kenya", "Mexico",
      "Norway", "Peru", "Spain"), 0, 40),
)

TRANSIT = (
    ("bus", ("Bus schedule", "City bus timetable", "Route 7 bus"),
     ("Main Street", "City Hall", "Library", "Park Avenue", "Museum", "Hospital", "Market Square",
      "High School", "Riverside", "Oak Lane")),
    ("train", ("Train schedule", "Train timetable", "Express train"),
     ("Pine Valley", "Lakeside", "Springfield", "Cedar Grove", "Maple Town", "Harbor City", "Fairview",
      "Greenfield", "Westport")),
    ("ferry", ("Ferry schedule", "Island ferry timetable"),
     ("North Pier", "Fisher Island", "Seal Rock", "Lighthouse Point", "Harbor Dock", "Sunset Bay",
      "Gull Island")),
)
ACTIVITIES = (
    ("Camp schedule", "Saturday schedule", "Field day schedule", "Science fair schedule",
     "Club day schedule"),
    ("Swimming", "Arts and crafts", "Lunch", "Hiking", "Archery", "Canoeing", "Story time", "Soccer", "Music",
     "Cooking class", "Nature walk", "Board games"),
)
# fmt: on

DOUBLE_STOP = re.compile(r"\.\.(?=\s|$)")

BOLD = {
    "DejaVuSans.ttf": "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf": "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf": "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf": "DejaVuSerif-Bold.ttf",
    "DejaVuSerifCondensed-Italic.ttf": "DejaVuSerif-Bold.ttf",
}


def money(cents: int) -> str:
    """Cents as dollars, e.g. 425 -> "$4.25"."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def clock(minutes: int, fmt: str) -> str:
    """Minutes after midnight as "9:05 A.M.", "9:05 am" or "09:05"."""
    h, m = divmod(minutes, 60)
    if fmt == "24h":
        return f"{h:02d}:{m:02d}"
    suffix = ("A.M.", "P.M.") if fmt == "A.M." else ("am", "pm")
    return f"{h % 12 or 12}:{m:02d} {suffix[h >= 12]}"


def fmt_frac(v: Fraction) -> str:
    """An exact fraction with a terminating decimal, as a person writes it."""
    if v.denominator == 1:
        return str(v.numerator)
    return fmt_num(float(v))


def clean(v: Fraction) -> bool:
    """True if `v` has at most 2 decimal places."""
    return (v * 100).denominator == 1


@dataclass
class Column:
    header: str
    kind: str  # int | money | time
    ref: str  # phrasing reference of its cells: cell_<ref>, measure_<ref>
    values: list[int]
    tfmt: str = ""

    def show(self, v: int) -> str:
        if self.kind == "money":
            return money(v)
        if self.kind == "time":
            return clock(v, self.tfmt)
        return str(v)

    @property
    def cells(self) -> list[str]:
        return [self.show(v) for v in self.values]


@dataclass
class Table:
    kind: str  # price | count | grid | schedule
    title: str
    row_header: str
    rows: list[str]
    cols: list[Column]
    rowref: str
    unit: str = ""  # price tables: each | kg
    singulars: list[str] = field(default_factory=list)  # price tables: how to name 1 or n of an item
    plurals: list[str] = field(default_factory=list)
    vehicle: str = ""


@dataclass
class Problem:
    """One question about the table, askable as several instruction types."""

    kind: str
    category: str
    params: dict
    answer: str
    wrong: list[str]  # plausible wrong answers, most plausible first
    ask: Callable[[], str] | None = None
    claim: Callable[[str], str] | None = None  # a yes/no question claiming the answer is the given string
    judge: Callable[[bool], tuple[str, dict]] | None = None  # custom yes/no question of a given truth
    steps: Callable[[], list[tuple[str, str]]] | None = None
    mc: bool = True


def distinct_values(rng: random.Random, n: int, lo: int, hi: int, step: int = 1) -> list[int]:
    """`n` distinct multiples of `step` in [lo, hi]; for whole numbers, the mean has at most 2 decimals."""
    while True:
        vals = [v * step for v in rng.sample(range(-(-lo // step), hi // step + 1), n)]
        if step != 1 or clean(Fraction(sum(vals), n)):
            return vals
        r = sum(vals) % n
        for i in rng.sample(range(n), n):
            for nv in (vals[i] - r, vals[i] + n - r):
                if lo <= nv <= hi and nv not in vals:
                    vals[i] = nv
                    return vals


def between(lo: int, hi: int, grains: tuple[int, ...], rng: random.Random) -> int:
    """A round threshold strictly between lo and hi if there is one, else hi."""
    for g in grains:
        cands = list(range((lo // g + 1) * g, hi, g))
        if cands:
            return rng.choice(cands)
    return hi


def tint(rgb: tuple, a: float) -> tuple[int, int, int]:
    return tuple(int(255 - (255 - c) * a) for c in rgb)


def luma(rgb: tuple) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


class Tables(SynthDomain):
    name = "tables"
    description = (
        "Tables (price lists, frequency tables, score grids, schedules) with word problems computed exactly "
        "from the cells: look-ups, sums, differences, costs, mean/median/range, extrema, comparisons, counts."
    )

    # ------------------------------------------------------------------ data

    def table(self, rng: random.Random) -> Table:
        kind = rng.choice(("price", "price", "count", "count", "grid", "grid", "schedule", "schedule"))
        n = rng.randint(3, 7)
        if kind == "price":
            if rng.random() < 0.75:
                titles, lo, hi, items = rng.choice(PRICE_EACH)
                picked = rng.sample(items, n)
                singulars, plurals = [p[0] for p in picked], [p[1] for p in picked]
                names = list(singulars)
                unit, header, ref, rowref = (
                    "each",
                    rng.choice(("Price", "Cost", "Price each")),
                    "price",
                    "item",
                )
            else:
                titles, lo, hi, items = PRICE_KG
                names, singulars, plurals = rng.sample(items, n), [], []
                unit, header, ref, rowref = (
                    "kg",
                    rng.choice(("Price per kg", "Cost per kg", "$ per kg")),
                    "price_kg",
                    "food",
                )
            if rng.random() < 0.4:
                names = [s[:1].upper() + s[1:] for s in names]
            step = rng.choice((1, 5, 5, 25))
            col = Column(header, "money", ref, distinct_values(rng, n, lo, hi, step))
            return Table(
                "price",
                rng.choice(titles),
                rng.choice(("Item", "Product")),
                names,
                [col],
                rowref,
                unit=unit,
                singulars=singulars,
                plurals=plurals,
            )
        if kind == "count":
            ref, rowref, titles, headers, pool, lo, hi, ordered = rng.choice(COUNT_THEMES)
            names = rng.sample(pool, n)
            if ordered:
                names.sort(key=pool.index)
            if rowref == "animal" and rng.random() < 0.5:
                names = [s[:1].upper() + s[1:] for s in names]
            row_header = {
                "color": "Color",
                "fruit": "Fruit",
                "sport": "Sport",
                "person": "Name",
                "club": "Club",
                "animal": "Animal",
                "day": "Day",
            }[rowref]
            col = Column(rng.choice(headers), "int", ref, distinct_values(rng, n, lo, hi))
            return Table("count", rng.choice(titles), row_header, names, [col], rowref)
        if kind == "grid":
            ref, rowref, titles, row_headers, header_sets, pool, lo, hi = rng.choice(GRID_THEMES)
            k = rng.randint(2, 3)
            headers = rng.choice(header_sets)[:k]
            names = rng.sample(pool, n)
            if rowref == "item" and rng.random() < 0.5:
                names = [s[:1].upper() + s[1:] for s in names]
            cols = [Column(h, "int", ref, distinct_values(rng, n, lo, hi)) for h in headers]
            return Table("grid", rng.choice(titles), rng.choice(row_headers), names, cols, rowref)
        return self.schedule(rng, n)

    def schedule(self, rng: random.Random, n: int) -> Table:
        tfmt = rng.choice(("A.M.", "A.M.", "am", "24h"))
        two = rng.random() < 0.65
        if rng.random() < 0.55:
            vehicle, titles, pool = rng.choice(TRANSIT)
            names = rng.sample(pool, n)
            stays = rng.sample(range(2, 21), n)
            t = rng.randrange(5 * 60, 15 * 60, 5)
            first, second = [], []
            for i in range(n):
                first.append(t)
                second.append(t + stays[i])
                t = second[-1] + rng.randint(4, 40)
            heads = rng.choice((("Arrive", "Depart"), ("Arrival", "Departure")))
            refs = ("arrive", "depart")
            row_header, rowref = rng.choice(("Stop", "Station", "Location")), "stop"
            if vehicle == "ferry":
                row_header = rng.choice(("Stop", "Location"))
        else:
            vehicle = ""
            titles, pool = ACTIVITIES
            names = rng.sample(pool, n)
            lengths = rng.sample(range(15, 100, 5), n)
            t = rng.randrange(7 * 60, 12 * 60, 15)
            first, second = [], []
            for i in range(n):
                first.append(t)
                second.append(t + lengths[i])
                t = second[-1] + rng.choice((0, 5, 10, 15, 30))
            over = second[-1] - (23 * 60 + 55)
            if over > 0:
                shift = -(-over // 15) * 15
                first, second = [v - shift for v in first], [v - shift for v in second]
            heads = rng.choice((("Begin", "End"), ("Start", "Finish"), ("Starts", "Ends")))
            refs = ("begin", "end")
            row_header, rowref = rng.choice(("Activity", "Event")), "activity"
        cols = [
            Column(heads[0], "time", refs[0], first, tfmt),
            Column(heads[1], "time", refs[1], second, tfmt),
        ]
        if not two:
            cols = [cols[1]] if vehicle and rng.random() < 0.3 else [cols[0]]
        return Table("schedule", rng.choice(titles), row_header, names, cols, rowref, vehicle=vehicle)

    # ------------------------------------------------------------------ make

    def make(self, rng: random.Random, lang: str) -> Item:
        t = self.table(rng)
        img, look = self.draw(rng, t)
        x = Ctx(self, rng, lang, t)
        builders = x.builders()
        qs: list[Question] = []
        records: list[dict] = []

        def pick(names: list[str], ok: Callable[[Problem], bool], count: int) -> list[Problem]:
            order = list(names)
            rng.shuffle(order)
            out: list[Problem] = []
            tries = 0
            while len(out) < count and tries < 4 * len(order) + 8:
                name = order[tries % len(order)]
                tries += 1
                if tries <= len(order) and any(p.kind == name for p in out):
                    continue
                p = builders[name]()
                if p is not None and ok(p):
                    out.append(p)
            return out

        # shopping and time-span problems are the heart of price lists and schedules: weight them up
        kinds = list(builders) + [k for k in ("cost", "duration") if k in builders]
        # judgement: half true, half false
        judged = pick(
            kinds, lambda p: p.claim is not None or p.judge is not None, 4 if rng.random() < 0.3 else 2
        )
        judged = judged[: len(judged) // 2 * 2]
        truths = [True, False] * (len(judged) // 2)
        rng.shuffle(truths)
        for p, truth in zip(judged, truths, strict=True):
            if p.judge is not None:
                text, extra = p.judge(truth)
            else:
                shown = p.answer if truth else rng.choice(p.wrong[:3])
                text, extra = p.claim(shown), {"claim": shown}
            qs.append(Question("judgement", p.category, [(text, "")], truth=truth, phrasing=p.kind))
            records.append(
                {
                    "type": "judgement",
                    "kind": p.kind,
                    "params": {**p.params, **extra},
                    "answer": p.answer,
                    "truth": truth,
                }
            )
        for p in pick(
            kinds,
            lambda p: p.ask is not None and p.mc and len(set(p.wrong) - {p.answer}) >= 3,
            rng.randint(1, 2),
        ):
            distractors = distinct_distractors(p.answer, p.wrong, rng)
            qs.append(
                Question(
                    "multiple_choice",
                    p.category,
                    [(p.ask(), "")],
                    correct=p.answer,
                    distractors=distractors,
                    phrasing=p.kind,
                )
            )
            records.append(
                {
                    "type": "multiple_choice",
                    "kind": p.kind,
                    "params": p.params,
                    "answer": p.answer,
                    "distractors": distractors,
                }
            )
        for p in pick(kinds, lambda p: p.ask is not None, rng.randint(1, 2)):
            qs.append(
                Question(
                    "short_vqa", p.category, [(p.ask(), p.answer)], short_answer=p.answer, phrasing=p.kind
                )
            )
            records.append({"type": "short_vqa", "kind": p.kind, "params": p.params, "answer": p.answer})
        for p in pick(kinds, lambda p: p.steps is not None, 1):
            qs.append(Question("long_vqa", p.category, p.steps(), phrasing=p.kind))
            records.append({"type": "long_vqa", "kind": p.kind, "params": p.params, "answer": p.answer})

        facts = {
            "kind": t.kind,
            "title": t.title,
            "row_header": t.row_header,
            "rows": list(t.rows),
            "columns": [
                {"header": c.header, "type": c.kind, "ref": c.ref, "values": list(c.values), "cells": c.cells}
                for c in t.cols
            ],
            "unit": t.unit,
            "singulars": list(t.singulars),
            "plurals": list(t.plurals),
            "vehicle": t.vehicle,
            "time_format": t.cols[0].tfmt,
            "style": look,
            "questions": records,
        }
        return Item([img], facts, qs)

    # ------------------------------------------------------------------ drawing

    def draw(self, rng: random.Random, t: Table):
        n = len(t.rows)
        header = [t.row_header] + [c.header for c in t.cols]
        body = [[t.rows[i]] + [c.cells[i] for c in t.cols] for i in range(n)]
        ncol = len(header)
        fname = rng.choice(style.FONT_FILES)
        hname = BOLD.get(fname, fname) if rng.random() < 0.65 else fname
        tname = BOLD.get(fname, fname) if rng.random() < 0.7 else fname
        size = rng.randint(14, 22)
        tsize = size + rng.randint(1, 6)
        padx, pady = rng.randint(8, 22), rng.randint(4, 12)
        mx, my = rng.randint(14, 50), rng.randint(14, 50)
        title_mode = rng.choice(("above", "above", "above_left", "row"))
        uniform = rng.random() < 0.35
        while True:
            fb, fh, ft = style.font(fname, size), style.font(hname, size), style.font(tname, tsize)
            widths = []
            for j in range(ncol):
                w = max([fh.getlength(header[j])] + [fb.getlength(r[j]) for r in body])
                widths.append(int(w) + 2 * padx + 2)
            if uniform and ncol > 2:
                widths[1:] = [max(widths[1:])] * (ncol - 1)
            title_w = int(ft.getlength(t.title)) + 2 * padx
            tw = sum(widths)
            if tw < title_w:
                extra = title_w - tw
                for j in range(ncol):
                    widths[j] += extra // ncol + (1 if j < extra % ncol else 0)
                tw = sum(widths)
            if tw + 2 * mx <= 790 or size <= 11:
                break
            size, tsize, padx = size - 1, tsize - 1, max(6, padx - 2)
            mx = max(10, mx - 6)
        asc, desc = fb.getmetrics()
        rh = asc + desc + 2 * pady
        tasc, tdesc = ft.getmetrics()
        title_gap = rng.randint(6, 16)
        title_h = tasc + tdesc + (title_gap if title_mode != "row" else 2 * pady)
        th = title_h + rh * (n + 1)
        w, h = max(320, tw + 2 * mx), max(288, th + 2 * my)
        filled = rng.random() < 0.7
        img, draw = style.canvas(rng, w, h, plain=not filled or rng.random() < 0.5)
        x0 = (w - tw) // 2 if rng.random() < 0.6 else mx
        y0 = (h - th) // 2 if rng.random() < 0.6 else my
        ink = style.ink(rng)
        accent = rng.choice(style.COLORS)[2]
        head_mode = rng.choice(("plain", "tint", "solid"))
        if head_mode == "solid" and luma(accent) > 150:
            head_mode = "tint"
        zebra = (
            tint(rng.choice((accent, (128, 128, 128))), rng.uniform(0.08, 0.16))
            if rng.random() < 0.5
            else None
        )
        parity = rng.randrange(2)
        border = rng.choice(("grid", "grid", "rows", "outer", "none", "booktabs"))
        lw = rng.choice((1, 1, 2))
        line = rng.choice(((0, 0, 0), (90, 90, 90), (160, 160, 160), tuple(int(c * 0.6) for c in accent)))
        align_label = rng.choice(("l", "l", "c"))
        align_num = rng.choice(("r", "c", "c", "l"))
        align_head = rng.choice(("same", "c"))

        ty = y0 + title_h  # top of the header row
        x1, y1 = x0 + tw, ty + rh * (n + 1)
        if filled:
            draw.rectangle([x0, ty, x1, y1], fill=(255, 255, 255))
        head_fill = {"plain": None, "tint": tint(accent, rng.uniform(0.2, 0.35)), "solid": accent}[head_mode]
        head_ink = (255, 255, 255) if head_mode == "solid" else ink
        if head_fill:
            draw.rectangle([x0, ty, x1, ty + rh], fill=head_fill)
        if zebra:
            for i in range(n):
                if i % 2 == parity:
                    draw.rectangle([x0, ty + rh * (i + 1), x1, ty + rh * (i + 2)], fill=zebra)
        # title
        if title_mode == "row":
            fill = head_fill if head_mode == "solid" else tint(accent, 0.45)
            draw.rectangle([x0, y0, x1, ty], fill=fill)
            draw.text(
                ((x0 + x1) // 2, (y0 + ty) // 2),
                t.title,
                font=ft,
                anchor="mm",
                fill=(255, 255, 255) if head_mode == "solid" else ink,
            )
            if border in ("grid", "outer", "booktabs"):
                draw.rectangle([x0, y0, x1, ty], outline=line, width=lw)
        else:
            tx = (x0 + x1) // 2 if title_mode == "above" else x0 + 2
            draw.text((tx, y0), t.title, font=ft, anchor="ma" if title_mode == "above" else "la", fill=ink)
        # lines
        xs = [x0]
        for wd in widths:
            xs.append(xs[-1] + wd)
        if border == "grid":
            for i in range(n + 2):
                draw.line([(x0, ty + rh * i), (x1, ty + rh * i)], fill=line, width=lw)
            for xv in xs:
                draw.line([(xv, ty), (xv, y1)], fill=line, width=lw)
        elif border == "rows":
            for i in range(n + 2):
                draw.line([(x0, ty + rh * i), (x1, ty + rh * i)], fill=line, width=lw)
        elif border == "outer":
            draw.rectangle([x0, ty, x1, y1], outline=line, width=lw)
            draw.line([(x0, ty + rh), (x1, ty + rh)], fill=line, width=lw)
        elif border == "booktabs":
            draw.line([(x0, ty), (x1, ty)], fill=line, width=lw + 1)
            draw.line([(x0, ty + rh), (x1, ty + rh)], fill=line, width=1)
            draw.line([(x0, y1), (x1, y1)], fill=line, width=lw + 1)
        elif head_mode == "plain":
            draw.line([(x0, ty + rh), (x1, ty + rh)], fill=line, width=lw)
        # text
        for i, cells in enumerate([header] + body):
            yc = ty + rh * i + rh // 2
            f, fill = (fh, head_ink) if i == 0 else (fb, ink)
            for j, text in enumerate(cells):
                a = align_label if j == 0 else align_num
                if i == 0 and align_head == "c":
                    a = "c"
                if a == "l":
                    draw.text((xs[j] + padx, yc), text, font=f, anchor="lm", fill=fill)
                elif a == "r":
                    draw.text((xs[j + 1] - padx, yc), text, font=f, anchor="rm", fill=fill)
                else:
                    draw.text(((xs[j] + xs[j + 1]) // 2, yc), text, font=f, anchor="mm", fill=fill)
        look = {
            "font": fname,
            "size": size,
            "border": border,
            "header": head_mode,
            "zebra": zebra is not None,
            "title": title_mode,
            "width": w,
            "height": h,
        }
        return img, look


class Ctx:
    """Question building for one table, one language and one random stream."""

    def __init__(self, dom: Tables, rng: random.Random, lang: str, t: Table):
        self.dom, self.rng, self.lang, self.t = dom, rng, lang, t
        self.n = len(t.rows)
        self.num = [j for j, c in enumerate(t.cols) if c.kind in ("int", "money")]
        self.ints = [j for j, c in enumerate(t.cols) if c.kind == "int"]
        self.times = [j for j, c in enumerate(t.cols) if c.kind == "time"]

    # phrasing helpers
    def say(self, key: str, **kw: object) -> str:
        """A full sentence (capitalised in English)."""
        s = self.dom.say(self.rng, key, self.lang, **kw)
        if self.lang != "en":
            return s
        s = DOUBLE_STOP.sub(".", s)  # "... 2:12 P.M.." -> "... 2:12 P.M."
        return s[:1].upper() + s[1:]

    def frag(self, key: str, **kw: object) -> str:
        """A fragment to be placed inside a sentence."""
        return self.dom.say(self.rng, key, self.lang, **kw)

    def vehicle(self) -> str:
        return self.frag(f"vehicle_{self.t.vehicle}") if self.t.vehicle else ""

    def cell(self, r: int, c: int) -> str:
        col = self.t.cols[c]
        return self.frag(f"cell_{col.ref}", row=self.t.rows[r], col=col.header, vehicle=self.vehicle())

    def measure(self, c: int) -> str:
        col = self.t.cols[c]
        return self.frag(f"measure_{col.ref}", col=col.header, vehicle=self.vehicle())

    def which(self) -> str:
        return self.frag(f"which_{self.t.rowref}")

    def rows_word(self) -> str:
        return self.frag(f"rows_{self.t.rowref}")

    def listing(self, pairs: list[tuple[str, str]]) -> str:
        sep = self.frag("list_sep")
        return sep.join(self.frag("pair", row=r, value=v) for r, v in pairs)

    def col_listing(self, c: int) -> str:
        col = self.t.cols[c]
        return self.listing(list(zip(self.t.rows, col.cells, strict=True)))

    # plausible wrong values
    def near(self, kind: str, v: int | Fraction, k: int = 6) -> list[str]:
        rng = self.rng
        if kind == "money":
            deltas = [5, 10, 25, 50, 100, 1, 20, 200]
            vals = [v + s * d for d in deltas for s in (1, -1) if v + s * d > 0]
            rng.shuffle(vals)
            return distinct_distractors(money(v), [money(u) for u in vals], rng, k, shuffle=False)
        if kind in ("time", "minutes"):
            deltas = [5, 10, 15, 60, 1, 2, 20, 30]
            vals = [v + s * d for d in deltas for s in (1, -1) if 0 < v + s * d < 24 * 60]
            rng.shuffle(vals)
            show = (lambda u: clock(u, self.t.cols[0].tfmt)) if kind == "time" else str
            return distinct_distractors(show(v), [show(u) for u in vals], rng, k, shuffle=False)
        if isinstance(v, Fraction):
            if v.denominator == 1:
                v = v.numerator
            else:
                return numeric_distractors(float(v), rng, k, step=rng.choice((1, 1, 0.5)))
        step = 1 if abs(v) < 30 else rng.choice((1, 2, 5, 10))
        return numeric_distractors(v, rng, k, step=step)

    @staticmethod
    def mix(answer: str, first: list[str], near: list[str]) -> list[str]:
        """Plausible mistakes first, then near values, without repeats and never the answer itself."""
        out: list[str] = []
        for s in first + near:
            if s != answer and s not in out:
                out.append(s)
        return out

    def builders(self) -> dict[str, Callable[[], Problem | None]]:
        t = self.t
        b: dict[str, Callable[[], Problem | None]] = {
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

    def p_lookup(self) -> Problem:
        rng, t = self.rng, self.t
        c, r = rng.randrange(len(t.cols)), rng.randrange(self.n)
        col = t.cols[c]
        other = [col.cells[i] for i in range(self.n) if i != r]
        rng.shuffle(other)
        wrong = self.mix(col.cells[r], other[:2], self.near(col.kind, col.values[r]))
        rng.shuffle(wrong)
        cell = self.cell(r, c)
        key = "lookup_time" if col.kind == "time" else "lookup"
        return Problem(
            "lookup",
            "value_lookup",
            {"row": r, "col": c},
            col.cells[r],
            wrong,
            ask=lambda: self.say(key, cell=cell),
            claim=lambda v: self.say("lookup_claim", cell=cell, value=v),
        )

    def p_reverse(self) -> Problem:
        rng, t = self.rng, self.t
        c, r = rng.randrange(len(t.cols)), rng.randrange(self.n)
        col = t.cols[c]
        others = sorted(
            (i for i in range(self.n) if i != r), key=lambda i: abs(col.values[i] - col.values[r])
        )
        wrong = [t.rows[i] for i in others]
        value, measure, which = col.cells[r], self.measure(c), self.which()

        def claim(name: str) -> str:
            return self.say("lookup_claim", cell=self.cell(t.rows.index(name), c), value=value)

        return Problem(
            "reverse",
            "value_lookup",
            {"col": c, "value_row": r},
            t.rows[r],
            wrong,
            ask=lambda: self.say("reverse", which=which, measure=measure, value=value),
            claim=claim,
            mc=self.n >= 4,
        )

    def p_extremum(self, mode: str) -> Problem:
        rng, t = self.rng, self.t
        c = rng.choice(self.num)
        vals = t.cols[c].values
        best = (max if mode == "max" else min)(range(self.n), key=lambda i: vals[i])
        others = sorted((i for i in range(self.n) if i != best), key=lambda i: abs(vals[i] - vals[best]))
        measure, which = self.measure(c), self.which()

        def steps() -> list[tuple[str, str]]:
            return [
                (
                    self.say("read_col_q", col=t.cols[c].header, measure=measure),
                    self.say("read_col_a", col=t.cols[c].header, listing=self.col_listing(c)),
                ),
                (
                    self.say(f"extremum_{mode}", which=which, measure=measure),
                    self.say(
                        f"extremum_{mode}_a", value=t.cols[c].cells[best], row=t.rows[best], measure=measure
                    ),
                ),
            ]

        return Problem(
            f"extremum_{mode}",
            "extremum",
            {"col": c, "mode": mode},
            t.rows[best],
            [t.rows[i] for i in others],
            ask=lambda: self.say(f"extremum_{mode}", which=which, measure=measure),
            claim=lambda name: self.say(f"extremum_{mode}_claim", row=name, measure=measure),
            steps=steps,
            mc=self.n >= 4,
        )

    def p_compare(self) -> Problem:
        rng, t = self.rng, self.t
        c = rng.randrange(len(t.cols))
        col = t.cols[c]
        a, b = rng.sample(range(self.n), 2)
        timed = col.kind == "time"
        mode = rng.choice(("earlier", "later") if timed else ("more", "less"))
        pick_first = (col.values[a] < col.values[b]) == (mode in ("earlier", "less"))
        ans = t.rows[a] if pick_first else t.rows[b]
        measure, which = self.measure(c), self.which()

        def judge(truth: bool) -> tuple[str, dict]:
            rel = rng.choice(("earlier", "later") if timed else ("gt", "lt"))
            p, q = a, b
            holds = col.values[p] > col.values[q] if rel in ("gt", "later") else col.values[p] < col.values[q]
            if holds != truth:
                p, q = q, p
            text = self.say(f"compare_claim_{rel}", cella=self.cell(p, c), cellb=self.cell(q, c))
            return text, {"rows": [p, q], "relation": rel}

        return Problem(
            "compare",
            "comparison",
            {"col": c, "rows": [a, b], "mode": mode},
            ans,
            [t.rows[b] if pick_first else t.rows[a]],
            ask=lambda: self.say(f"compare_{mode}", which=which, measure=measure, a=t.rows[a], b=t.rows[b]),
            judge=judge,
            mc=False,
        )

    def two_cells(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Two cells of one number column (or, in grids, sometimes of one row), larger first."""
        rng, t = self.rng, self.t
        if t.kind == "grid" and rng.random() < 0.4:
            r = rng.randrange(self.n)
            ca, cb = rng.sample(self.num, 2)
            cells = [(r, ca), (r, cb)]
        else:
            c = rng.choice(self.num)
            ra, rb = rng.sample(range(self.n), 2)
            cells = [(ra, c), (rb, c)]
        cells.sort(key=lambda rc: -t.cols[rc[1]].values[rc[0]])
        return cells[0], cells[1]

    def val(self, rc: tuple[int, int]) -> int:
        return self.t.cols[rc[1]].values[rc[0]]

    def p_diff(self) -> Problem | None:
        return self.p_pair("diff")

    def p_sum(self) -> Problem | None:
        return self.p_pair("sum")

    def p_pair(self, op: str) -> Problem | None:
        t = self.t
        A, B = self.two_cells()
        va, vb = self.val(A), self.val(B)
        if va == vb:
            return None
        col = t.cols[A[1]]
        res = va - vb if op == "diff" else va + vb
        other = va + vb if op == "diff" else va - vb
        wrong = self.mix(col.show(res), [col.show(other)], self.near(col.kind, res))
        cella, cellb = self.cell(*A), self.cell(*B)
        sa, sb, sr = col.show(va), col.show(vb), col.show(res)

        def steps() -> list[tuple[str, str]]:
            return [
                (
                    self.say("read_cells_q", cella=cella, cellb=cellb),
                    self.say("read_cells_a", cella=cella, cellb=cellb, va=sa, vb=sb),
                ),
                (
                    self.say(op, cella=cella, cellb=cellb),
                    self.say(f"{op}_step", cella=cella, cellb=cellb, va=sa, vb=sb, result=sr),
                ),
            ]

        return Problem(
            op,
            "arithmetic",
            {"cells": [list(A), list(B)]},
            sr,
            wrong,
            ask=lambda: self.say(op, cella=cella, cellb=cellb),
            claim=lambda v: self.say(f"{op}_claim", cella=cella, cellb=cellb, value=v),
            steps=steps,
        )

    def col_steps(self, c: int, key: str, answer_key: str, **kw: object) -> list[tuple[str, str]]:
        col = self.t.cols[c]
        measure = self.measure(c)
        return [
            (
                self.say("read_col_q", col=col.header, measure=measure),
                self.say("read_col_a", col=col.header, listing=self.col_listing(c)),
            ),
            (
                self.say(key, col=col.header, measure=measure, rows=self.rows_word()),
                self.say(answer_key, **kw),
            ),
        ]

    def p_total(self) -> Problem:
        rng, t = self.rng, self.t
        c = rng.choice(self.num)
        col = t.cols[c]
        s = sum(col.values)
        slips = [col.show(s - v) for v in rng.sample(col.values, 2)]
        wrong = self.mix(col.show(s), slips[:1], self.near(col.kind, s))
        rng.shuffle(wrong)
        measure = self.measure(c)
        expr = " + ".join(col.cells)
        return Problem(
            "total",
            "statistics",
            {"col": c},
            col.show(s),
            wrong,
            ask=lambda: self.say("total", col=col.header, measure=measure, rows=self.rows_word()),
            claim=lambda v: self.say("total_claim", col=col.header, measure=measure, value=v),
            steps=lambda: self.col_steps(c, "total", "total_step", expr=expr, result=col.show(s)),
        )

    def p_mean(self) -> Problem | None:
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
        wrong = self.mix(ans, first, self.near("int", mean))
        rng.shuffle(wrong)
        measure = self.measure(c)
        expr = " + ".join(col.cells)

        def steps() -> list[tuple[str, str]]:
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

        return Problem(
            "mean",
            "statistics",
            {"col": c},
            ans,
            wrong,
            ask=lambda: self.say("mean", col=col.header, measure=measure),
            claim=lambda v: self.say("mean_claim", col=col.header, measure=measure, value=v),
            steps=steps,
        )

    @staticmethod
    def median_of(values: list[int]) -> Fraction:
        s = sorted(values)
        n = len(s)
        return Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)

    def p_median(self) -> Problem:
        rng, t = self.rng, self.t
        c = rng.choice(self.ints)
        col = t.cols[c]
        s, n = sorted(col.values), self.n
        med = self.median_of(col.values)
        ans = fmt_frac(med)
        mean = Fraction(sum(s), n)
        first = [str(s[n // 2 - 1]), str(s[(n + 1) // 2])] + ([fmt_frac(mean)] if clean(mean) else [])
        wrong = self.mix(ans, first, self.near("int", med))
        rng.shuffle(wrong)
        measure = self.measure(c)
        sorted_s = self.frag("list_sep").join(str(v) for v in s)
        if n % 2:
            kw = {"sorted": sorted_s, "n": n, "result": ans}
            key = "median_step_odd"
        else:
            kw = {"sorted": sorted_s, "n": n, "m1": s[n // 2 - 1], "m2": s[n // 2], "result": ans}
            key = "median_step_even"
        return Problem(
            "median",
            "statistics",
            {"col": c},
            ans,
            wrong,
            ask=lambda: self.say("median", col=col.header, measure=measure),
            claim=lambda v: self.say("median_claim", col=col.header, measure=measure, value=v),
            steps=lambda: self.col_steps(c, "median", key, **kw),
        )

    def p_range(self) -> Problem:
        rng, t = self.rng, self.t
        c = rng.choice(self.num)
        col = t.cols[c]
        hi, lo = max(col.values), min(col.values)
        res = hi - lo
        second = sorted(col.values)[1]
        wrong = self.mix(col.show(res), [col.show(hi - second)], self.near(col.kind, res))
        rng.shuffle(wrong)
        measure = self.measure(c)
        return Problem(
            "range",
            "statistics",
            {"col": c},
            col.show(res),
            wrong,
            ask=lambda: self.say("range", col=col.header, measure=measure),
            claim=lambda v: self.say("range_claim", col=col.header, measure=measure, value=v),
            steps=lambda: self.col_steps(
                c, "range", "range_step", hi=col.show(hi), lo=col.show(lo), result=col.show(res)
            ),
        )

    def p_count(self) -> Problem:
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

        def steps() -> list[tuple[str, str]]:
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

        return Problem(
            "count",
            "counting",
            {"col": c, "mode": mode, "threshold": th},
            str(res),
            wrong,
            ask=lambda: self.say(f"count_{mode}", rows=self.rows_word(), measure=measure, n=shown),
            claim=lambda v: self.say(
                f"count_{mode}_claim", rows=self.rows_word(), measure=measure, n=shown, value=v
            ),
            steps=steps,
        )

    def p_row_total(self) -> Problem:
        rng, t = self.rng, self.t
        r = rng.randrange(self.n)
        vals = [t.cols[c].values[r] for c in self.num]
        s = sum(vals)
        wrong = self.mix(str(s), [str(s - rng.choice(vals))], self.near("int", s))
        rng.shuffle(wrong)
        row = t.rows[r]
        listing = self.listing([(t.cols[c].header, t.cols[c].cells[r]) for c in self.num])
        expr = " + ".join(str(v) for v in vals)

        def steps() -> list[tuple[str, str]]:
            return [
                (self.say("read_row_q", row=row), self.say("read_row_a", row=row, listing=listing)),
                (self.say("row_total", row=row), self.say("total_step", expr=expr, result=s)),
            ]

        return Problem(
            "row_total",
            "arithmetic",
            {"row": r},
            str(s),
            wrong,
            ask=lambda: self.say("row_total", row=row),
            claim=lambda v: self.say("row_total_claim", row=row, value=v),
            steps=steps,
        )

    def purchase(self, qmax: int) -> tuple[list[int], list[int], int, dict]:
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

    def p_cost(self) -> Problem:
        rng, t = self.rng, self.t
        (x, y), (a, b), cost, words = self.purchase(5)
        col = t.cols[0]
        px, py = col.values[x], col.values[y]
        slips = [money(a * py + b * px), money(px + py), money((a + b) * max(px, py))]
        wrong = self.mix(money(cost), slips, self.near("money", cost))
        rng.shuffle(wrong)
        unit = t.unit
        cx, cy = self.cell(x, 0), self.cell(y, 0)

        def steps() -> list[tuple[str, str]]:
            return [
                (self.say("lookup", cell=cx), self.say("read_one_a", cell=cx, value=money(px))),
                (self.say("lookup", cell=cy), self.say("read_one_a", cell=cy, value=money(py))),
                (
                    self.say(f"cost_{unit}", **words),
                    self.say(
                        "cost_step",
                        a=a,
                        b=b,
                        pa=money(px),
                        pb=money(py),
                        ca=money(a * px),
                        cb=money(b * py),
                        result=money(cost),
                    ),
                ),
            ]

        return Problem(
            "cost",
            "arithmetic",
            {"rows": [x, y], "qty": [a, b]},
            money(cost),
            wrong,
            ask=lambda: self.say(f"cost_{unit}", **words),
            claim=lambda v: self.say(f"cost_{unit}_claim", value=v, **words),
            steps=steps,
        )

    def p_afford(self) -> Problem:
        rng, t = self.rng, self.t
        (x, y), (a, b), cost, words = self.purchase(3)
        person = rng.choice(PEOPLE)

        def judge(truth: bool) -> tuple[str, dict]:
            if truth:
                have = -(-cost // 100) * 100 + 100 * rng.randint(0, 2)
            else:
                have = (cost - 1) // 100 * 100 - 100 * rng.randint(0, 1)
                if have <= 0:
                    have = cost - rng.randint(1, min(50, cost - 1))
            text = self.say(f"afford_{t.unit}", name=person, money=money(have), **words)
            return text, {"money": have, "name": person}

        return Problem(
            "afford", "arithmetic", {"rows": [x, y], "qty": [a, b]}, money(cost), [], judge=judge, mc=False
        )

    def p_duration(self) -> Problem | None:
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
        wrong = self.mix(str(res), slips, self.near("minutes", res))
        rng.shuffle(wrong)
        fmt = t.cols[0].tfmt
        ta, tb = clock(va, fmt), clock(vb, fmt)
        same_row = A[0] == B[0]
        cella, cellb = self.cell(*A), self.cell(*B)
        kw = {"cella": cella, "cellb": cellb, "row": t.rows[A[0]], "vehicle": self.vehicle()}
        key = ("duration_stay" if t.vehicle else "duration_last") if same_row else "duration"

        def steps() -> list[tuple[str, str]]:
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

        return Problem(
            "duration",
            "arithmetic",
            {"cells": [list(A), list(B)]},
            str(res),
            wrong,
            ask=lambda: self.say(key, **kw),
            claim=lambda v: self.say(f"{key}_claim", value=v, **kw),
            steps=steps,
        )

    def p_longest(self) -> Problem:
        t = self.t
        d = [t.cols[1].values[i] - t.cols[0].values[i] for i in range(self.n)]
        best = max(range(self.n), key=lambda i: d[i])
        others = sorted((i for i in range(self.n) if i != best), key=lambda i: d[best] - d[i])
        kind = "stay" if t.vehicle else "last"
        vehicle, which = self.vehicle(), self.which()

        def steps() -> list[tuple[str, str]]:
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

        return Problem(
            "longest",
            "extremum",
            {},
            t.rows[best],
            [t.rows[i] for i in others],
            ask=lambda: self.say(f"longest_{kind}", which=which, vehicle=vehicle),
            claim=lambda name: self.say(f"longest_{kind}_claim", row=name, vehicle=vehicle),
            steps=steps,
            mc=self.n >= 4,
        )
