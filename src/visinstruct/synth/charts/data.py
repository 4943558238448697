"""Charts' data: topics, labels and series values, all integers so every value reads exactly.

Values either carry printed labels or sit exactly on labelled ticks; pie shares are whole
percentages summing to 100. English charts draw the English lists below; Chinese charts draw
native Chinese ones (`synth/words/charts.zh.yaml`), so a Chinese question quotes the Chinese
labels its picture shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from visinstruct.synth import style
from visinstruct.synth.base import load_words

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

Measure = tuple[str, str, int]


@dataclass(frozen=True)
class Vocab:
    """What a chart in one language is about and how it is labelled."""

    category_topics: tuple[tuple[str, tuple[str, ...], tuple[Measure, ...]], ...]
    time_topics: tuple[tuple[str, str, tuple[Measure, ...]], ...]  # key (Year, Month...), name, measures
    year: str  # "{y}"
    months: tuple[str, ...]
    days: tuple[str, ...]
    week: str  # "Week {n}"
    quarters: tuple[str, ...]
    series_pairs: tuple[tuple[str, str], ...]
    title_forms: dict[str, tuple[str, ...]]


EN = Vocab(
    CATEGORY_TOPICS,
    tuple((dim, dim, measures) for dim, measures in TIME_TOPICS),
    "{y}",
    MONTHS,
    DAYS,
    "Week {n}",
    ("Q1", "Q2", "Q3", "Q4"),
    SERIES_PAIRS,
    {
        "pie": ("Share of {m}", "{m} by {d}", "{m} Breakdown"),
        "ordered": ("{m} by {d}", "{m}, {a}-{b}", "{m} ({a}-{b})"),
        "category": ("{m} by {d}", "{m} per {d}", "{m}"),
    },
)


def _measures(ms: list) -> tuple[Measure, ...]:
    return tuple((str(t), str(a), int(c)) for t, a, c in ms)


@cache
def vocab(lang: str) -> Vocab:
    """The chart vocabulary of `lang` (Chinese from its word file, anything else English)."""
    if lang != "zh":
        return EN
    w = load_words("charts.zh")
    return Vocab(
        tuple((t["dim"], tuple(t["labels"]), _measures(t["measures"])) for t in w["category_topics"]),
        tuple((t["key"], t["dim"], _measures(t["measures"])) for t in w["time_topics"]),
        w["year"],
        tuple(w["months"]),
        tuple(w["days"]),
        w["week"],
        tuple(w["quarters"]),
        tuple((a, b) for a, b in w["series_pairs"]),
        {k: tuple(v) for k, v in w["title_forms"].items()},
    )


NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500)
SCALES = (10, 20, 50, 100, 200, 500, 1000, 2000)
COLOR_BY_NAME = {c[0]: c for c in style.COLORS}
PATTERNS = ("rising", "falling", "fluctuating", "unchanged")


def unique_extremes(values: list[int]) -> bool:
    """No tie for the largest or the smallest value, so extremum questions have one answer."""
    return values.count(max(values)) == 1 and values.count(min(values)) == 1


def time_labels(rng: random.Random, dim: str, n: int, words: Vocab = EN) -> list[str]:
    """`n` consecutive labels of an ordered axis (years, months, weeks, days or quarters)."""
    if dim == "Year":
        start = rng.randint(1995, 2024 - n)
        return [words.year.format(y=start + i) for i in range(n)]
    if dim == "Month":
        start = rng.randint(0, 12 - n)
        return list(words.months[start : start + n])
    if dim == "Week":
        return [words.week.format(n=i + 1) for i in range(n)]
    if dim == "Day":
        start = rng.randint(0, 7 - n)
        return list(words.days[start : start + n])
    return list(words.quarters[:n])


def series_values(rng: random.Random, n: int, lo: int, hi: int, ordered: bool, shape: str) -> list[int]:
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


def pie_values(rng: random.Random, n: int) -> list[int]:
    """`n` distinct whole percentages of at least 6 that sum to 100."""
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


def chart_data(
    rng: random.Random,
    attempt: int,
    lang: str = "en",
    chart: str = "",
    ordered: bool | None = None,
    n: int = 0,
) -> tuple[dict[str, Any], int] | None:
    """A chart's facts and the unit its wrong values step by (None: draw again), labelled in `lang`.

    `chart` (bar, line or pie), `ordered` (an ordered x axis) and `n` (how many labels) are
    chosen at random unless given. Later attempts (`attempt` >= 12) make smaller, easier charts
    so a layout always fits.
    """
    words = vocab(lang)
    easy = attempt >= 12
    chart = chart or rng.choice(("bar", "bar", "bar", "line", "line", "pie"))
    grouped = chart != "pie" and rng.random() < (0.1 if easy else 0.4)
    ns = 2 if grouped else 1
    if ordered is None:
        ordered = chart == "line" or (chart == "bar" and rng.random() < 0.3)
    want_n = n
    if chart == "pie":
        n = rng.randint(3, 6)
    elif chart == "line":
        n = rng.randint(4, 7 if grouped else 8)
    else:
        n = rng.randint(3, 6 if grouped else 8)
    if easy:
        n = min(n, 5)
    n = want_n or n
    if ordered:
        key, dim, measures = rng.choice(words.time_topics)
        if key == "Day":
            n = min(n, 7)
        if key == "Quarter":
            n = min(n, 4)
        labels = time_labels(rng, key, n, words)
    else:
        key = ""
        dim, pool, measures = rng.choice(words.category_topics)
        labels = rng.sample(pool, min(n, len(pool)))
    n = len(labels)
    measure, axis_label, cap = rng.choice(measures)
    others = [m for m in measures if m[0] != measure]

    # values: exact on ticks (no value labels) or free integers with printed labels
    value_labels = chart == "pie" or rng.random() < 0.6
    series_vals: list[list[int]] = []
    if chart == "pie":
        series_vals = [pie_values(rng, n)]
        tick_step, axis_max = 0, 100
        unit = rng.choice((1, 2, 5))
    else:
        shape = rng.choice(("rising", "falling", "walk", "walk", "walk")) if ordered else "free"
        if value_labels:
            scale = rng.choice([s for s in SCALES if s <= cap])
            lo = max(1, scale // rng.choice((5, 10, 20)))
            for _ in range(50):
                series_vals = [
                    series_values(rng, n, lo, scale, ordered, shape if k == 0 else "walk") for k in range(ns)
                ]
                if all(unique_extremes(v) for v in series_vals):
                    break
            if not all(unique_extremes(v) for v in series_vals):
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
                    series_values(rng, n, 1, top, ordered, shape if k == 0 else "walk") for k in range(ns)
                ]
                if all(unique_extremes(u) for u in units) and max(max(u) for u in units) >= 4:
                    break
            if not (all(unique_extremes(u) for u in units) and max(max(u) for u in units) >= 4):
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
        pairs = [p for p in words.series_pairs if not (key == "Year" and p[0][:1].isdigit())]
        names = list(rng.choice(pairs))
    else:
        names = [axis_label]
    series = [
        {"name": names[k], "color": "" if label_colors else cols[k][0], "values": series_vals[k]}
        for k in range(ns)
    ]

    # titles (drawn in the item's language)
    title, form = make_title(rng, chart, measure, dim, labels, ordered, words=words)
    alt_titles = []
    for m in [o[0] for o in others] + [t[2][0][0] for t in words.category_topics if t[2][0][0] != measure]:
        cand = make_title(rng, chart, m, dim, labels, ordered, form, words)[0]
        if cand != title and cand not in alt_titles:
            alt_titles.append(cand)
    alt_titles = alt_titles[:6]
    orientation = "" if chart != "bar" else ("horizontal" if rng.random() < 0.35 else "vertical")
    cat_title, val_title = dim, axis_label
    topics = words.category_topics
    alt_val = [o[1] for o in others] + [t[2][0][1] for t in topics if t[2][0][1] != axis_label]
    alt_cat = [t[0] for t in topics if t[0] != dim] + [t[1] for t in words.time_topics if t[1] != dim]
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


def make_title(
    rng: random.Random,
    chart: str,
    measure: str,
    dim: str,
    labels: list[str],
    ordered: bool,
    form: str = "",
    words: Vocab = EN,
) -> tuple[str, str]:
    """A title in one of the chart's forms (`form` to reuse one) and the form used."""
    forms = words.title_forms["pie" if chart == "pie" else "ordered" if ordered else "category"]
    if dim.lower() in measure.lower():
        forms = tuple(x for x in forms if "{d}" not in x) or ("{m}",)
    if form not in forms:
        form = rng.choice(forms)
    return form.format(m=measure, d=dim, a=labels[0], b=labels[-1]), form
