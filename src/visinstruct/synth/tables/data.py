"""Tables' data: price lists, frequency tables, score grids and schedules, stored exactly.

Prices are integer cents and times minutes after midnight, so every question about a
table is computed exactly from what its cells show. English tables draw the English lists
below; Chinese tables draw native Chinese ones (`synth/words/tables.zh.yaml`), in yuan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, cached_property
from typing import Any

from visinstruct.synth.base import fmt_num, load_words

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


@dataclass(frozen=True)
class Vocab:
    """What a table in one language lists and how it is headed."""

    currency: str
    time_formats: tuple[str, ...]
    people: tuple[str, ...]
    price_each: tuple  # (titles, lo cents, hi cents, ((singular, plural), ...))
    price_headers: tuple[str, ...]
    price_row_headers: tuple[str, ...]
    price_kg: tuple  # (titles, lo cents, hi cents, items)
    price_kg_headers: tuple[str, ...]
    count_themes: tuple
    row_headers: dict[str, str]
    grid_themes: tuple
    transit: tuple
    transit_heads: tuple[tuple[str, str], ...]
    stop_headers: tuple[str, ...]
    ferry_headers: tuple[str, ...]
    activities: tuple  # (titles, items)
    activity_heads: tuple[tuple[str, str], ...]
    activity_headers: tuple[str, ...]


EN = Vocab(
    "$",
    ("A.M.", "A.M.", "am", "24h"),
    PEOPLE,
    PRICE_EACH,
    ("Price", "Cost", "Price each"),
    ("Item", "Product"),
    PRICE_KG,
    ("Price per kg", "Cost per kg", "$ per kg"),
    COUNT_THEMES,
    {
        "color": "Color",
        "fruit": "Fruit",
        "sport": "Sport",
        "person": "Name",
        "club": "Club",
        "animal": "Animal",
        "day": "Day",
    },
    GRID_THEMES,
    TRANSIT,
    (("Arrive", "Depart"), ("Arrival", "Departure")),
    ("Stop", "Station", "Location"),
    ("Stop", "Location"),
    ACTIVITIES,
    (("Begin", "End"), ("Start", "Finish"), ("Starts", "Ends")),
    ("Activity", "Event"),
)


def _tuples(v: Any) -> Any:
    """YAML lists as tuples, all the way down (the vocabulary is read-only)."""
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


@cache
def vocab(lang: str) -> Vocab:
    """The table vocabulary of `lang` (Chinese from its word file, anything else English)."""
    if lang != "zh":
        return EN
    w = load_words("tables.zh")
    named = {"people": tuple(w["people"]), "days": tuple(w["days"])}

    def rows(v: Any) -> tuple:
        return named[v] if isinstance(v, str) else _tuples(v)

    return Vocab(
        w["currency"],
        _tuples(w["time_formats"]),
        named["people"],
        tuple(
            (_tuples(t["titles"]), *t["cents"], tuple((x, x) for x in t["items"])) for t in w["price_each"]
        ),
        _tuples(w["price_headers"]),
        _tuples(w["price_row_headers"]),
        (_tuples(w["price_kg"]["titles"]), *w["price_kg"]["cents"], _tuples(w["price_kg"]["items"])),
        _tuples(w["price_kg_headers"]),
        tuple((*t[:4], rows(t[4]), *t[5:]) for t in (_tuples(x) for x in w["count_themes"])),
        dict(w["row_headers"]),
        tuple((*t[:5], rows(t[5]), *t[6:]) for t in (_tuples(x) for x in w["grid_themes"])),
        _tuples(w["transit"]),
        _tuples(w["transit_heads"]),
        _tuples(w["stop_headers"]),
        _tuples(w["ferry_headers"]),
        (_tuples(w["activities"]["titles"]), _tuples(w["activities"]["items"])),
        _tuples(w["activity_heads"]),
        _tuples(w["activity_headers"]),
    )


def money(cents: int, symbol: str = "$") -> str:
    """Cents as dollars (or another currency), e.g. 425 -> "$4.25"."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{symbol}{cents // 100:,}.{cents % 100:02d}"


ZH_PARTS = ((12 * 60, "上午"), (13 * 60, "中午"), (18 * 60, "下午"), (24 * 60, "晚上"))


def clock(minutes: int, fmt: str) -> str:
    """Minutes after midnight as "9:05 A.M.", "9:05 am", "09:05" or "上午9:05" (fmt "zh")."""
    h, m = divmod(minutes, 60)
    if fmt == "24h":
        return f"{h:02d}:{m:02d}"
    if fmt == "zh":
        part = next(p for end, p in ZH_PARTS if minutes < end)
        return f"{part}{h % 12 or 12}:{m:02d}"
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
    """One value column: its header, how its cells are written and their exact values."""

    header: str
    kind: str  # int | money | time
    ref: str  # phrasing reference of its cells: cell_<ref>, measure_<ref>
    values: list[int]
    tfmt: str = ""
    currency: str = "$"

    def show(self, v: int) -> str:
        """A value as the column writes it: "$4.25", "9:05 A.M." or "17"."""
        if self.kind == "money":
            return money(v, self.currency)
        if self.kind == "time":
            return clock(v, self.tfmt)
        return str(v)

    @cached_property
    def cells(self) -> list[str]:
        """Every value as written in its cell (written once: drawing and questions read them often)."""
        return [self.show(v) for v in self.values]


@dataclass
class Table:
    """A table: a label column of `rows` and one to three value columns."""

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
    lang: str = "en"

    @property
    def words(self) -> Vocab:
        """The vocabulary the table was made from."""
        return vocab(self.lang)


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


def make_table(rng: random.Random, lang: str = "en") -> Table:
    """A random table of one of the four kinds, 3-7 rows, in `lang`."""
    w = vocab(lang)
    kind = rng.choice(("price", "price", "count", "count", "grid", "grid", "schedule", "schedule"))
    n = rng.randint(3, 7)
    if kind == "price":
        if rng.random() < 0.75:
            titles, lo, hi, items = rng.choice(w.price_each)
            picked = rng.sample(items, n)
            singulars, plurals = [p[0] for p in picked], [p[1] for p in picked]
            names = list(singulars)
            unit, header, ref, rowref = (
                "each",
                rng.choice(w.price_headers),
                "price",
                "item",
            )
        else:
            titles, lo, hi, items = w.price_kg
            names, singulars, plurals = rng.sample(items, n), [], []
            unit, header, ref, rowref = (
                "kg",
                rng.choice(w.price_kg_headers),
                "price_kg",
                "food",
            )
        if rng.random() < 0.4:
            names = [s[:1].upper() + s[1:] for s in names]
        step = rng.choice((1, 5, 5, 25))
        col = Column(header, "money", ref, distinct_values(rng, n, lo, hi, step), currency=w.currency)
        return Table(
            "price",
            rng.choice(titles),
            rng.choice(w.price_row_headers),
            names,
            [col],
            rowref,
            unit=unit,
            singulars=singulars,
            plurals=plurals,
            lang=lang,
        )
    if kind == "count":
        ref, rowref, titles, headers, pool, lo, hi, ordered = rng.choice(w.count_themes)
        names = rng.sample(pool, n)
        if ordered:
            names.sort(key=pool.index)
        if rowref == "animal" and rng.random() < 0.5:
            names = [s[:1].upper() + s[1:] for s in names]
        row_header = w.row_headers[rowref]
        col = Column(rng.choice(headers), "int", ref, distinct_values(rng, n, lo, hi))
        return Table("count", rng.choice(titles), row_header, names, [col], rowref, lang=lang)
    if kind == "grid":
        ref, rowref, titles, row_headers, header_sets, pool, lo, hi = rng.choice(w.grid_themes)
        k = rng.randint(2, 3)
        headers = rng.choice(header_sets)[:k]
        names = rng.sample(pool, n)
        if rowref == "item" and rng.random() < 0.5:
            names = [s[:1].upper() + s[1:] for s in names]
        cols = [Column(h, "int", ref, distinct_values(rng, n, lo, hi)) for h in headers]
        return Table("grid", rng.choice(titles), rng.choice(row_headers), names, cols, rowref, lang=lang)
    return schedule(rng, n, lang)


def schedule(rng: random.Random, n: int, lang: str = "en") -> Table:
    """A timetable (stops of a bus, train or ferry) or a day's activities, in time order."""
    w = vocab(lang)
    tfmt = rng.choice(w.time_formats)
    two = rng.random() < 0.65
    if rng.random() < 0.55:
        vehicle, titles, pool = rng.choice(w.transit)
        names = rng.sample(pool, n)
        stays = rng.sample(range(2, 21), n)
        t = rng.randrange(5 * 60, 15 * 60, 5)
        first, second = [], []
        for i in range(n):
            first.append(t)
            second.append(t + stays[i])
            t = second[-1] + rng.randint(4, 40)
        heads = rng.choice(w.transit_heads)
        refs = ("arrive", "depart")
        row_header, rowref = rng.choice(w.stop_headers), "stop"
        if vehicle == "ferry":
            row_header = rng.choice(w.ferry_headers)
    else:
        vehicle = ""
        titles, pool = w.activities
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
        heads = rng.choice(w.activity_heads)
        refs = ("begin", "end")
        row_header, rowref = rng.choice(w.activity_headers), "activity"
    cols = [
        Column(heads[0], "time", refs[0], first, tfmt),
        Column(heads[1], "time", refs[1], second, tfmt),
    ]
    if not two:
        cols = [cols[1]] if vehicle and rng.random() < 0.3 else [cols[0]]
    return Table("schedule", rng.choice(titles), row_header, names, cols, rowref, vehicle=vehicle, lang=lang)


# ------------------------------------------------------------------ make
