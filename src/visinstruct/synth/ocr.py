"""Rendered text: signs, receipts, business cards, notices, labels, paragraphs and word grids.

Every line of text is generated here, measured with the font before drawing and placed so
it never overlaps another line or leaves the image, so the exact strings, their boxes and
the document's fields are known. Questions ask to read lines and fields, count words,
find where a word is, and transcribe everything.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from visinstruct.synth import style
from visinstruct.synth.base import Item, Question, SynthDomain, distinct_distractors, numeric_distractors

# ----------------------------------------------------------------------------------------
# Vocabulary (text drawn in images is English)

# fmt: off
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Karen", "Leo",
    "Maria", "Nina", "Oscar", "Paul", "Rosa", "Sam", "Tina", "Victor", "Wendy", "Alice", "Brian", "Chloe",
    "Daniel", "Ella", "George", "Hannah", "Ivan", "Julia", "Kevin", "Laura", "Martin", "Olivia", "Peter",
    "Ruth", "Simon", "Sophie", "Thomas", "Zoe", "Lucas", "Mia", "Noah", "Eva", "Hugo", "Iris",
)
LAST_NAMES = (
    "Smith", "Brown", "Taylor", "Wilson", "Clark", "Walker", "Hall", "Young", "King", "Wright", "Lopez",
    "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Turner", "Parker", "Collins",
    "Edwards", "Stewart", "Morris", "Reed", "Cook", "Morgan", "Bell", "Murphy", "Bailey", "Cooper", "Howard",
    "Ward", "Diaz", "Richards", "Wood", "Watson", "Brooks", "Price", "Fisher", "Foster", "Grant",
)
STREET_NAMES = (
    "Maple", "Oak", "Pine", "Cedar", "Elm", "Birch", "Willow", "Chestnut", "Walnut", "Spruce", "Lake", "Hill",
    "River", "Park", "Church", "Mill", "Station", "Market", "Bridge", "Garden", "Sunset", "Highland",
    "Meadow", "Forest", "Spring", "Harbor", "Victoria", "Main", "Orchard", "Valley",
)
STREET_TYPES = (
    "Street", "Avenue", "Road", "Lane", "Drive", "Way", "Place", "Court",
)
PRODUCTS = (
    "Milk", "Bread", "Eggs", "Butter", "Cheese", "Coffee", "Tea", "Rice", "Pasta", "Honey", "Yogurt",
    "Apples", "Bananas", "Oranges", "Grapes", "Tomatoes", "Carrots", "Potatoes", "Onions", "Lettuce",
    "Chicken", "Salmon", "Cereal", "Cookies", "Chocolate", "Juice", "Water", "Flour", "Sugar", "Salt",
    "Olive Oil", "Jam", "Peanut Butter", "Soap", "Shampoo", "Toothpaste", "Tissues", "Batteries", "Candles",
    "Notebook", "Pencils", "Sponges", "Napkins", "Lemons", "Mushrooms", "Spinach", "Beans", "Oats",
    "Crackers", "Muffins", "Bagels", "Ice Cream", "Peppers", "Walnuts", "Noodles", "Tuna",
)
STORE_ADJS = (
    "Sunny", "Green", "Golden", "Blue", "Happy", "Little", "Maple", "River", "Corner", "Fresh", "Village",
    "Harbor", "Silver", "Morning", "Hilltop", "Lucky",
)
STORE_NOUNS = (
    "Market", "Bakery", "Cafe", "Grocery", "Pantry", "Deli", "Books", "Hardware", "Pharmacy", "Store",
    "Kitchen", "Mart", "Foods", "Goods",
)
JOB_TITLES = (
    "Sales Manager", "Software Engineer", "Graphic Designer", "Accountant", "Head Chef", "Project Manager",
    "Marketing Director", "Data Analyst", "Architect", "Photographer", "Lawyer", "Nurse", "Teacher",
    "Consultant", "Product Designer", "Office Manager", "Editor", "Financial Advisor", "Web Developer",
    "Research Scientist", "Art Director", "Travel Agent", "Dentist", "Pilot",
)
COMPANY_HEADS = (
    "Bright", "North", "Summit", "Pixel", "Cedar", "Atlas", "Nova", "Harbor", "Orbit", "Crown", "Vista",
    "Redwood", "Beacon", "Falcon", "Lumen", "Copper",
)
COMPANY_TAILS = (
    "Labs", "Studio", "Partners", "Group", "Design", "Systems", "Solutions", "Media", "Works", "Consulting",
)
CITIES = (
    "Boston", "Denver", "Portland", "Austin", "Chicago", "Seattle", "Dallas", "Phoenix", "Atlanta", "Miami",
    "Detroit", "Madison", "Oakland", "Tucson",
)
DAYS = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)
ADJS = (
    "small", "big", "old", "new", "red", "blue", "green", "quiet", "busy", "bright", "warm", "cold", "happy",
    "little", "friendly", "tall", "sunny", "lovely", "strange", "famous", "tiny", "shiny",
)
NOUNS = (
    "cat", "dog", "bird", "book", "lamp", "chair", "window", "bicycle", "letter", "basket", "kite", "boat",
    "clock", "table", "bench", "tree", "bridge", "train", "bus", "car", "cake", "cup", "hat", "key", "box",
    "piano", "camera", "umbrella", "wagon", "ladder", "mirror", "blanket", "map", "jar", "rug", "fence",
)
PLURALS = (
    "books", "shoes", "plants", "lamps", "toys", "cups", "hats", "bags", "cakes", "shirts", "maps", "candles",
    "bottles", "papers", "boxes", "chairs",
)
ANIMALS = (
    "ducks", "birds", "fish", "goats", "pigeons", "animals", "squirrels", "geese",
)
PLACES = (
    "park", "library", "museum", "station", "market", "school", "bakery", "harbor", "garden", "office",
    "kitchen", "village", "stadium", "beach", "lake", "theater", "hospital", "zoo",
)
VERBS = (
    "read", "walk", "paint", "cook", "sing", "swim", "draw", "play", "rest", "write", "dance", "study",
)
COMMON_WORDS = (
    "apple", "river", "garden", "window", "yellow", "happy", "music", "planet", "silver", "forest", "bridge",
    "candle", "letter", "pocket", "rabbit", "orange", "summer", "winter", "market", "ticket", "island",
    "basket", "castle", "doctor", "engine", "flower", "guitar", "hammer", "jacket", "kitten", "ladder",
    "mirror", "number", "office", "pencil", "rocket", "tomato", "violin", "wallet", "anchor", "beach",
    "cloud", "dance", "eagle", "field", "grape", "house", "juice", "knife", "lemon", "money", "night",
    "ocean", "paper", "queen", "radio", "smile", "table", "uncle", "voice", "water", "zebra", "bread",
    "chair", "dream", "earth", "frost", "glass", "heart", "light", "metal", "north", "plant", "quiet",
    "stone", "train", "watch", "young", "brave", "clean", "early", "fresh", "green", "heavy", "large",
    "quick", "round", "sharp", "small", "sweet", "warm", "wild", "bright", "calm", "dark", "soft", "honey",
    "tiger", "spoon", "piano", "camel", "storm", "shell", "crown", "tower", "wheel", "maple", "cabin",
    "pearl", "robot", "snow", "moon", "star", "lake", "road", "ship", "bell", "coin", "door", "farm", "gift",
    "hill", "kite", "lamp", "nest", "rain", "sand", "tree", "wind", "wolf", "salt", "milk", "rice", "corn",
    "duck", "frog", "goat", "horse", "mouse", "sheep", "whale", "owl",
)
SIGN_TITLES = (
    "GRAND OPENING", "SUMMER SALE", "FARMERS MARKET", "BOOK FAIR", "BAKE SALE", "YARD SALE", "OPEN HOUSE",
    "JAZZ NIGHT", "FREE CONCERT", "CRAFT FAIR", "MOVIE NIGHT", "FUN RUN", "ART SHOW", "FOOD FESTIVAL",
    "CAR WASH", "LOST DOG", "ROOM FOR RENT", "WELCOME", "CHESS CLUB", "GARDEN TOUR", "WINTER SALE",
    "STREET PARTY", "FLEA MARKET", "YOGA CLASS",
)
SIGN_LINES = (
    "{day} from {h1} to {h2}", "{num} {street}", "Fresh {p1} and {p2}", "Everyone is welcome",
    "Free entry for kids", "Call {phone}", "Ask for {first}", "All {plural} half price",
    "Music food and games", "Tickets {price}", "Doors open at {h1} PM", "Bring a friend",
    "Hosted by {first} {last}", "Near the {place}", "Starts {day} at {h1}", "Only {price} per person",
    "Next to {store}", "See you there",
)
NOTICE_HEADERS = (
    "NOTICE", "CAUTION", "ATTENTION", "PLEASE NOTE", "STAFF ONLY", "REMINDER", "WARNING", "IMPORTANT",
)
NOTICE_LINES = (
    "Keep this door closed", "No food or drinks", "Wash your hands", "Wet floor ahead",
    "Office closed on {day}", "Return books by {day}", "Do not feed the {animal}", "Lift out of order",
    "Use the {side} entrance", "Quiet please", "Exit on the {side}", "Open {day} to {day2}",
    "Back at {h1} PM", "Ask {first} for help", "Mind the step", "No parking after {h1} PM",
    "Visitors sign in here", "Room {num} is closed", "Please recycle {plural}", "Meeting in room {num}",
    "Keep the {place} clean", "Call {phone} for help",
)
LABEL_ADJS = (
    "Organic", "Fresh", "Classic", "Premium", "Natural", "Homemade", "Golden", "Wild", "Country", "Farm",
)
LABEL_LINES = (
    "Store in a cool dry place", "Made in {city}", "Batch {batch}", "Keep refrigerated", "Serves {serves}",
    "Shake well before use", "No added sugar",
)
SENTENCES = (
    "{First} walked to the {place} on {day}.", "The {adj} {noun} is next to the {noun2}.",
    "We bought {p1} and {p2} at the market.", "{First} likes to {verb} in the {place}.",
    "The {place} opens early every {day}.", "My friend {first} has a {adj} {noun}.",
    "It was a {adj} day near the {place}.", "Please bring the {noun} to the {place}.",
    "{First} and {first2} will {verb} after lunch.", "There is a {adj} {noun} on {street}.",
    "The {noun} and the {noun2} are {adj}.", "Nobody saw the {adj} {noun} yesterday.",
    "{First} found a {noun} under the {noun2}.", "On {day} we will {verb} at the {place}.",
)
# fmt: on

PUNCT = ".,:;!?\"'()"
VOWELS = "aeiou"
CONSONANTS = "bcdfghklmnprstvwy"
DIGITS = "0123456789"

LAYOUTS = ("sign", "receipt", "business_card", "notice", "label", "paragraph", "word_grid")

# ----------------------------------------------------------------------------------------
# Text helpers


def norm(token: str) -> str:
    """A token without surrounding punctuation, lower-cased."""
    return token.strip(PUNCT).lower()


def words_of(line: str) -> list[str]:
    """The words of a line: whitespace-separated tokens without surrounding punctuation."""
    return [t.strip(PUNCT) for t in line.split() if t.strip(PUNCT)]


def is_wordy(line: str) -> bool:
    """A line made only of alphabetic words, so its word count is unambiguous."""
    toks = line.split()
    return bool(toks) and all(t.strip(PUNCT).isalpha() for t in toks)


def occurrences(word: str, lines: list[str]) -> list[int]:
    """How often `word` (case-insensitive, whole token) occurs on each line."""
    w = word.lower()
    return [sum(norm(t) == w for t in line.split()) for line in lines]


def valid_target(word: str, lines: list[str]) -> bool:
    """A word safe to ask about: alphabetic, never hidden inside a longer token, one spelling."""
    if not word.isalpha() or len(word) < 3:
        return False
    w = word.lower()
    forms = []
    for line in lines:
        for t in line.split():
            if w in t.lower():
                if norm(t) != w:
                    return False
                forms.append(t.strip(PUNCT))
    return bool(forms) and all(f == forms[0] for f in forms)


def targets(lines: list[str]) -> list[str]:
    """Words one can ask about, as spelled in the image, in reading order."""
    out: list[str] = []
    for line in lines:
        for t in line.split():
            s = t.strip(PUNCT)
            if s not in out and valid_target(s, lines):
                out.append(s)
    return out


def near_miss(s: str, rng: random.Random, avoid: tuple | list = (), mode: str = "any") -> str | None:
    """`s` with one letter or digit changed (`mode`: any, letters, digits): a plausible misreading."""
    idx = [
        i
        for i, c in enumerate(s)
        if (c.isalpha() and mode != "digits") or (c.isdigit() and mode != "letters")
    ]
    if not idx:
        return None
    for _ in range(30):
        i = rng.choice(idx)
        c = s[i]
        if c.isdigit():
            r = rng.choice([d for d in DIGITS if d != c])
        else:
            pool = VOWELS if c.lower() in VOWELS else CONSONANTS
            r = rng.choice([x for x in pool if x != c.lower()])
            if c.isupper():
                r = r.upper()
        t = s[:i] + r + s[i + 1 :]
        if t != s and t not in avoid:
            return t
    return None


def near_misses(s: str, rng: random.Random, k: int, avoid: tuple | list = (), mode: str = "any") -> list[str]:
    out: list[str] = []
    for _ in range(k * 4):
        t = near_miss(s, rng, list(avoid) + out, mode)
        if t is not None and t not in out:
            out.append(t)
        if len(out) == k:
            break
    return out


def count_cands(k: int, rng: random.Random) -> list[str]:
    """Wrong counts near `k`, all at least 1 (a line or a listing is never empty)."""
    near = [str(k + d) for d in (-2, -1, 1, 2) if k + d >= 1]
    far = [str(k + d) for d in (-3, 3, 4, 5) if k + d >= 1]
    rng.shuffle(near)
    rng.shuffle(far)
    return near + far


def phone(rng: random.Random) -> str:
    a, b, c = rng.randint(200, 989), rng.randint(200, 989), rng.randint(1000, 9999)
    return rng.choice((f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}"))


def money(cents: int, dollar: bool) -> str:
    return f"{'$' if dollar else ''}{cents // 100}.{cents % 100:02d}"


def date(rng: random.Random) -> str:
    m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(2019, 2027)
    return rng.choice((f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}"))


def street(rng: random.Random) -> str:
    return f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"


def fill_slots(rng: random.Random, template: str) -> str:
    """Fill an in-image text template with random vocabulary."""
    p1, p2 = rng.sample(PRODUCTS, 2)
    f1, f2 = rng.sample(FIRST_NAMES, 2)
    n1, n2 = rng.sample(NOUNS, 2)
    d1, d2 = rng.sample(DAYS, 2)
    h1 = rng.randint(1, 8)
    values = {
        "day": d1,
        "day2": d2,
        "h1": h1,
        "h2": h1 + rng.randint(3, 4),
        "num": rng.randint(2, 980),
        "street": street(rng),
        "p1": p1.lower(),
        "p2": p2.lower(),
        "phone": phone(rng),
        "first": f1,
        "First": f1,
        "first2": f2,
        "last": rng.choice(LAST_NAMES),
        "plural": rng.choice(PLURALS),
        "price": money(rng.randint(2, 40) * 100 + rng.choice((0, 0, 50, 99)), True),
        "place": rng.choice(PLACES),
        "store": f"{rng.choice(STORE_ADJS)} {rng.choice(STORE_NOUNS)}",
        "animal": rng.choice(ANIMALS),
        "side": rng.choice(("north", "south", "east", "west", "back", "side")),
        "city": rng.choice(CITIES),
        "batch": f"{rng.choice('ABCDEFGHKLMN')}{rng.randint(100, 9999)}",
        "serves": rng.randint(2, 8),
        "adj": rng.choice(ADJS),
        "noun": n1,
        "noun2": n2,
        "verb": rng.choice(VERBS),
    }
    return template.format(**values)


def unique_lines(rng: random.Random, templates: tuple[str, ...], k: int, taken: list[str]) -> list[str]:
    out: list[str] = []
    if k <= 0:
        return out
    for t in rng.sample(templates, len(templates)):
        s = fill_slots(rng, t)
        if s not in out and s not in taken:
            out.append(s)
        if len(out) == k:
            break
    return out


# ----------------------------------------------------------------------------------------
# Layout: a stack of rows measured and placed inside a panel


@dataclass
class Row:
    cells: list[str]  # 1 cell: aligned text; 2 cells: left/right pair; more: grid columns
    font: str
    size: int
    fill: tuple
    align: str = "left"
    gap: float = 0.0  # extra space above the row, as a fraction of its size
    underline: bool = False
    sep_above: bool = False
    grid: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.cells)


@dataclass
class Panel:
    rows: list[Row]
    width: int  # preferred panel width
    min_h: int = 0
    max_w: int = 720
    max_h: int = 720
    pad_x: int = 24
    pad_y: int = 20
    spacing: float = 1.25
    valign: float = 0.0
    col_gap: int = 28
    cell_boxes: bool = False
    extra: dict = field(default_factory=dict)


MIN_SIZE = 13
MAX_SIDE = 760  # before a slight rotation


def measure(panel: Panel):
    """Fit the rows (shrinking fonts if needed); return sizes and per-row geometry, or None."""
    rows = panel.rows
    for _ in range(8):
        fonts = [style.font(r.font, r.size) for r in rows]
        ncols = max((len(r.cells) for r in rows if r.grid), default=0)
        col_w = [0.0] * ncols
        for r, f in zip(rows, fonts, strict=True):
            if r.grid:
                for j, c in enumerate(r.cells):
                    col_w[j] = max(col_w[j], f.getlength(c))
        grid_w = sum(col_w) + panel.col_gap * max(0, ncols - 1)
        widths, heights = [], []
        for r, f in zip(rows, fonts, strict=True):
            if r.grid:
                w = grid_w
            elif len(r.cells) == 2:
                w = f.getlength(r.cells[0]) + f.getlength(r.cells[1]) + max(24, r.size * 1.5)
            else:
                w = f.getlength(r.cells[0])
            widths.append(w)
            asc, desc = f.getmetrics()
            heights.append(int((asc + desc) * panel.spacing + r.gap * r.size))
        need_w = max(widths) + 2 * panel.pad_x
        need_h = sum(heights) + 2 * panel.pad_y
        if need_w <= panel.max_w and need_h <= panel.max_h:
            return fonts, col_w, widths, heights, int(math.ceil(need_w)), need_h
        factor = min(panel.max_w / need_w, panel.max_h / need_h) * 0.97
        if all(r.size <= MIN_SIZE for r in rows):
            return None
        for r in rows:
            r.size = max(MIN_SIZE, min(r.size - 1, int(r.size * factor)))
    return None


def draw_panel(draw: ImageDraw.ImageDraw, panel: Panel, ox: int, oy: int, geo, pw: int, ph: int):
    """Draw the rows of a measured panel at (ox, oy); return line texts and their boxes."""
    fonts, col_w, widths, heights, _, need_h = geo
    y = oy + panel.pad_y + int((ph - need_h) * panel.valign)
    lines, boxes = [], []
    ncols = len(col_w)
    grid_w = sum(col_w) + panel.col_gap * max(0, ncols - 1)
    for r, f, w, h in zip(panel.rows, fonts, widths, heights, strict=True):
        y += int(r.gap * r.size)
        if r.sep_above:
            sy = y - int(r.gap * r.size) // 2
            for x in range(ox + panel.pad_x, ox + pw - panel.pad_x, 10):
                draw.line([(x, sy), (min(x + 5, ox + pw - panel.pad_x), sy)], fill=r.fill, width=1)
        asc, desc = f.getmetrics()
        box = None
        if r.grid:
            if r.align == "center":
                x0 = ox + (pw - grid_w) / 2
            elif r.align == "right":
                x0 = ox + pw - panel.pad_x - grid_w
            else:
                x0 = ox + panel.pad_x
            for j, c in enumerate(r.cells):
                x = int(x0 + sum(col_w[:j]) + panel.col_gap * j)
                b = draw.textbbox((x, y), c, font=f, anchor="la")
                if panel.cell_boxes:
                    m = max(4, panel.col_gap // 4)
                    mv = max(2, min(m, int((h - asc - desc) / 2) - 2))
                    draw.rectangle(
                        [x - m, y - mv, x + col_w[j] + m, y + asc + desc + mv],
                        outline=panel.extra.get("box_color", r.fill),
                        width=1,
                    )
                draw.text((x, y), c, font=f, fill=r.fill, anchor="la")
                box = b if box is None else union(box, b)
        elif len(r.cells) == 2:
            left, right = r.cells
            xl = ox + panel.pad_x
            xr = ox + pw - panel.pad_x - int(math.ceil(f.getlength(right)))
            draw.text((xl, y), left, font=f, fill=r.fill, anchor="la")
            draw.text((xr, y), right, font=f, fill=r.fill, anchor="la")
            box = union(
                draw.textbbox((xl, y), left, font=f, anchor="la"),
                draw.textbbox((xr, y), right, font=f, anchor="la"),
            )
        else:
            if r.align == "center":
                x = ox + int((pw - w) / 2)
            elif r.align == "right":
                x = ox + pw - panel.pad_x - int(math.ceil(w))
            else:
                x = ox + panel.pad_x
            draw.text((x, y), r.cells[0], font=f, fill=r.fill, anchor="la")
            box = draw.textbbox((x, y), r.cells[0], font=f, anchor="la")
            if r.underline:
                uy = y + asc + max(2, r.size // 9)
                draw.line([(x, uy), (x + int(w), uy)], fill=r.fill, width=max(1, r.size // 14))
        lines.append(r.text)
        boxes.append([int(v) for v in box])
        y += h - int(r.gap * r.size)
    return lines, boxes


def union(a, b):
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


LIGHT_TEXT = ((250, 250, 250), (255, 236, 150), (235, 240, 255))
DARK_PANELS = ("blue", "red", "green", "purple", "brown", "black")
INK_COLORS = ("blue", "red", "green", "purple", "brown", "black")
TABLE_COLORS = ((96, 104, 116), (150, 112, 80), (188, 178, 160), (70, 80, 70), (200, 205, 212), (120, 60, 50))


def rgb(name: str) -> tuple[int, int, int]:
    return next(c[2] for c in style.COLORS if c[0] == name)


def tint(c: tuple, k: float) -> tuple[int, int, int]:
    """Mix a colour with white (k=1 is white)."""
    return tuple(int(v + (255 - v) * k) for v in c)


# ----------------------------------------------------------------------------------------


@dataclass
class Doc:
    layout: str
    panel: Panel
    fields: dict[str, str]
    items: list[dict] = field(default_factory=list)
    has_title: bool = False
    style: dict = field(default_factory=dict)


class Ocr(SynthDomain):
    name = "ocr"
    description = (
        "Rendered text (signs, receipts, business cards, notices, labels, paragraphs, word grids) "
        "with exact line strings, boxes and fields."
    )

    # ------------------------------------------------------------------ content

    def build(self, rng: random.Random, layout: str) -> Doc:
        return getattr(self, "_" + layout)(rng)

    def _sign(self, rng: random.Random) -> Doc:
        title = rng.choice(SIGN_TITLES)
        if rng.random() < 0.3:
            title = title.title()
        body = unique_lines(rng, SIGN_LINES, rng.randint(3, 4), [title])
        dark = rng.random() < 0.5
        if dark:
            bg = rgb(rng.choice(DARK_PANELS))
            fg = rng.choice(LIGHT_TEXT)
            title_fg = fg
        else:
            bg = rng.choice(((255, 255, 255), (255, 250, 225), (240, 248, 255), (250, 240, 230)))
            fg = style.ink(rng)
            title_fg = rgb(rng.choice(INK_COLORS)) if rng.random() < 0.6 else fg
        align = rng.choice(("center", "center", "left"))
        tfont = rng.choice(("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSans.ttf"))
        bfont = rng.choice(style.FONT_FILES)
        tsize, bsize = rng.randint(32, 56), rng.randint(18, 28)
        rows = [Row([title], tfont, tsize, title_fg, align, underline=rng.random() < 0.4)]
        rows += [Row([t], bfont, bsize, fg, align, gap=0.5 if i == 0 else 0.0) for i, t in enumerate(body)]
        w = rng.randint(360, 640)
        panel = Panel(
            rows,
            w,
            min_h=int(w * rng.uniform(0.55, 0.9)),
            pad_x=rng.randint(24, 48),
            pad_y=rng.randint(24, 40),
            spacing=rng.uniform(1.2, 1.5),
            valign=0.5,
        )
        panel.extra = {
            "fill": bg,
            "outline": rgb(rng.choice(INK_COLORS)) if not dark else tint(bg, 0.5),
            "border": rng.randint(0, 6),
            "radius": rng.choice((0, 8, 16)),
            "margin": rng.randint(0, 40),
        }
        return Doc("sign", panel, {"title": title}, has_title=True)

    def _receipt(self, rng: random.Random) -> Doc:
        store = f"{rng.choice(STORE_ADJS)} {rng.choice(STORE_NOUNS)}"
        if rng.random() < 0.5:
            store = store.upper()
        dollar = rng.random() < 0.6
        names = rng.sample(PRODUCTS, rng.randint(3, 6))
        cents = [rng.randint(49, 1999) for _ in names]
        if rng.random() < 0.5:
            cents = [c - c % 10 + 9 for c in cents]
        total = money(sum(cents), dollar)
        mono = rng.random() < 0.7
        fnt = "DejaVuSansMono.ttf" if mono else rng.choice(style.FONT_FILES)
        bold = "DejaVuSansMono.ttf" if mono else "DejaVuSans-Bold.ttf"
        size = rng.randint(14, 20)
        fg = style.ink(rng)
        rows = [Row([store], bold, size + rng.randint(2, 8), fg, "center")]
        fields = {"store": store}
        if rng.random() < 0.6:
            rows.append(Row([f"{rng.randint(2, 980)} {street(rng)}"], fnt, size, fg, "center"))
        if rng.random() < 0.6:
            d = date(rng)
            fields["date"] = d
            rows.append(Row([rng.choice(("Date", "Date:")) + " " + d], fnt, size, fg, "center"))
        items = []
        for i, (n, c) in enumerate(zip(names, cents, strict=True)):
            label = n.upper() if mono and rng.random() < 0.3 else n
            p = money(c, dollar)
            items.append({"name": label, "price": p})
            rows.append(Row([label, p], fnt, size, fg, gap=0.8 if i == 0 else 0.0, sep_above=i == 0))
        tlabel = rng.choice(("TOTAL", "Total", "TOTAL DUE"))
        rows.append(Row([tlabel, total], bold, size + rng.randint(0, 3), fg, gap=0.8, sep_above=True))
        fields["total"] = total
        if rng.random() < 0.5:
            rows.append(
                Row(
                    [rng.choice(("THANK YOU", "Thank you", "Please come again"))],
                    fnt,
                    size,
                    fg,
                    "center",
                    gap=0.6,
                )
            )
        w = rng.randint(280, 400)
        panel = Panel(
            rows,
            w,
            max_w=440,
            pad_x=rng.randint(16, 28),
            pad_y=rng.randint(18, 30),
            spacing=rng.uniform(1.2, 1.45),
        )
        paper = rng.choice(((255, 255, 255), (252, 250, 242), (248, 248, 240)))
        panel.extra = {
            "fill": paper,
            "outline": (190, 190, 190),
            "border": rng.choice((0, 1)),
            "radius": 0,
            "margin": rng.randint(24, 90),
            "table": rng.choice(TABLE_COLORS),
        }
        return Doc("receipt", panel, fields, items=items)

    def _business_card(self, rng: random.Random) -> Doc:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        job = rng.choice(JOB_TITLES)
        head, tail = rng.choice(COMPANY_HEADS), rng.choice(COMPANY_TAILS)
        company = f"{head} {tail}"
        ph = phone(rng)
        domain = rng.choice((f"{head}{tail}".lower(), head.lower(), "mail"))
        user = rng.choice(
            (first.lower(), first[0].lower() + last.lower(), first.lower() + "." + last.lower())
        )
        email = f"{user}@{domain}.com"
        fg = style.ink(rng)
        accent = rgb(rng.choice(INK_COLORS))
        align = rng.choice(("left", "left", "center", "right"))
        nfont = rng.choice(
            ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSans.ttf")
        )
        bfont = rng.choice(style.FONT_FILES)
        bsize = rng.randint(16, 23)
        rows = [
            Row([name], nfont, rng.randint(26, 40), accent if rng.random() < 0.5 else fg, align),
            Row([job], bfont, bsize + 2, fg, align),
            Row([company], bfont, bsize, fg, align, gap=0.3),
        ]
        contact = [
            rng.choice(("", "Tel: ", "Phone: ", "T: ")) + ph,
            rng.choice(("", "Email: ", "E: ")) + email,
        ]
        if rng.random() < 0.5:
            contact.append(f"{rng.randint(2, 980)} {street(rng)}")
        rng.shuffle(contact)
        rows += [Row([c], bfont, bsize, fg, align, gap=0.6 if i == 0 else 0.0) for i, c in enumerate(contact)]
        w = rng.randint(440, 680)
        panel = Panel(
            rows,
            w,
            min_h=int(w * rng.uniform(0.5, 0.62)),
            pad_x=rng.randint(26, 44),
            pad_y=rng.randint(22, 36),
            spacing=rng.uniform(1.15, 1.4),
            valign=rng.choice((0.0, 0.5)),
        )
        card = rng.choice(((255, 255, 255), (250, 248, 240), (242, 246, 250), (252, 246, 238)))
        panel.extra = {
            "fill": card,
            "outline": (170, 170, 170),
            "border": rng.choice((0, 1, 2)),
            "radius": rng.choice((0, 6, 12)),
            "margin": rng.randint(20, 70),
            "table": rng.choice(TABLE_COLORS),
            "bar": accent if rng.random() < 0.4 else None,
        }
        fields = {"name": name, "job": job, "company": company, "phone": ph, "email": email}
        return Doc("business_card", panel, fields, has_title=False)

    def _notice(self, rng: random.Random) -> Doc:
        header = rng.choice(NOTICE_HEADERS)
        body = unique_lines(rng, NOTICE_LINES, rng.randint(3, 5), [header])
        if rng.random() < 0.25:
            body = [b.upper() for b in body]
        accent = rgb(rng.choice(("red", "orange", "blue", "green", "black", "purple")))
        fg = style.ink(rng)
        align = rng.choice(("center", "left"))
        tfont = rng.choice(("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf"))
        bfont = rng.choice(style.FONT_FILES)
        bsize = rng.randint(17, 26)
        rows = [Row([header], tfont, rng.randint(28, 44), accent, align, underline=rng.random() < 0.35)]
        rows += [Row([b], bfont, bsize, fg, align, gap=0.4 if i == 0 else 0.0) for i, b in enumerate(body)]
        w = rng.randint(360, 620)
        panel = Panel(
            rows,
            w,
            min_h=int(w * rng.uniform(0.5, 0.85)),
            pad_x=rng.randint(26, 44),
            pad_y=rng.randint(26, 40),
            spacing=rng.uniform(1.2, 1.5),
            valign=rng.choice((0.0, 0.5)),
        )
        panel.extra = {
            "fill": rng.choice(((255, 255, 255), (255, 252, 230), (250, 250, 250))),
            "outline": accent,
            "border": rng.randint(2, 8),
            "radius": rng.choice((0, 10)),
            "margin": rng.randint(0, 40),
        }
        return Doc("notice", panel, {"title": header}, has_title=True)

    def _label(self, rng: random.Random) -> Doc:
        product = f"{rng.choice(LABEL_ADJS)} {rng.choice(PRODUCTS)}"
        weight = f"{rng.choice(range(50, 1000, 25))} g"
        best = date(rng)
        price = money(rng.randint(1, 25) * 100 + rng.choice((0, 25, 49, 50, 95, 99)), True)
        fields = {"title": product, "weight": weight, "date": best, "price": price}
        body = [
            rng.choice(("Net weight ", "Net wt ", "Weight ")) + weight,
            rng.choice(("Best before ", "Use by ", "Expires ")) + best,
            rng.choice(("Price ", "Price: ", "Only ")) + price,
        ]
        body += unique_lines(rng, LABEL_LINES, rng.randint(0, 2), body)
        rng.shuffle(body)
        accent = rgb(rng.choice(INK_COLORS))
        fg = style.ink(rng)
        align = rng.choice(("center", "left"))
        rows = [
            Row(
                [product],
                rng.choice(("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf")),
                rng.randint(24, 38),
                accent,
                align,
                underline=rng.random() < 0.3,
            )
        ]
        bfont = rng.choice(style.FONT_FILES)
        bsize = rng.randint(15, 22)
        rows += [Row([b], bfont, bsize, fg, align, gap=0.5 if i == 0 else 0.0) for i, b in enumerate(body)]
        w = rng.randint(340, 560)
        panel = Panel(
            rows,
            w,
            min_h=int(w * rng.uniform(0.5, 0.8)),
            pad_x=rng.randint(24, 40),
            pad_y=rng.randint(20, 34),
            spacing=rng.uniform(1.2, 1.45),
            valign=0.5,
        )
        panel.extra = {
            "fill": tint(accent, rng.uniform(0.86, 0.95)),
            "outline": accent,
            "border": rng.randint(1, 4),
            "radius": rng.choice((0, 12, 20)),
            "margin": rng.randint(16, 60),
        }
        return Doc("label", panel, fields, has_title=True)

    def _paragraph(self, rng: random.Random) -> Doc:
        templates = rng.sample(SENTENCES, len(SENTENCES))
        k = rng.randint(2, 5)
        sentences = [fill_slots(rng, t) for t in templates[:k]]
        fnt = rng.choice(style.FONT_FILES)
        size = rng.randint(16, 24)
        w = rng.randint(380, 720)
        pad = rng.randint(20, 40)
        f = style.font(fnt, size)
        # wrap to at least four lines: narrow the text, or add a sentence once it is narrow enough
        width = w - 2 * pad
        while True:
            lines, cur = [], ""
            for wd in " ".join(sentences).split():
                cand = f"{cur} {wd}" if cur else wd
                if cur and f.getlength(cand) > width:
                    lines.append(cur)
                    cur = wd
                else:
                    cur = cand
            lines.append(cur)
            if len(lines) >= 4:
                break
            if width * 0.8 >= 240:
                width = int(width * 0.8)
            else:
                sentences.append(fill_slots(rng, templates[len(sentences)]))
        fg = style.ink(rng) if rng.random() < 0.8 else rgb(rng.choice(INK_COLORS))
        align = rng.choice(("left", "left", "center"))
        rows = [Row([ln], fnt, size, fg, align) for ln in lines]
        panel = Panel(
            rows,
            width + 2 * pad,
            max_w=width + 2 * pad,
            min_h=rng.randint(200, 320),
            pad_x=pad,
            pad_y=rng.randint(20, 40),
            spacing=rng.uniform(1.2, 1.7),
            valign=rng.choice((0.0, 0.5)),
        )
        panel.extra = {"fill": None, "margin": 0}
        return Doc("paragraph", panel, {}, style={"sentences": len(sentences)})

    def _word_grid(self, rng: random.Random) -> Doc:
        nrows, ncols = rng.randint(4, 6), rng.randint(2, 4)
        pool = rng.sample(COMMON_WORDS, max(4, int(nrows * ncols * rng.uniform(0.55, 1.0))))
        case = rng.choice(("lower", "lower", "title", "upper"))
        pool = [getattr(p, case)() for p in pool]
        grid = [[rng.choice(pool) for _ in range(ncols)] for _ in range(nrows)]
        mono = rng.random() < 0.4
        fnt = "DejaVuSansMono.ttf" if mono else rng.choice(style.FONT_FILES)
        fg = style.ink(rng) if rng.random() < 0.7 else rgb(rng.choice(INK_COLORS))
        size = rng.randint(16, 28)
        boxes = rng.random() < 0.4
        rows = [Row(r, fnt, size, fg, rng.choice(("left", "center")), grid=True) for r in grid]
        align = rows[0].align
        for r in rows:
            r.align = align
        panel = Panel(
            rows,
            rng.randint(340, 560),
            min_h=rng.randint(240, 360),
            pad_x=rng.randint(24, 40),
            pad_y=rng.randint(24, 40),
            spacing=rng.uniform(1.6, 2.0) if boxes else rng.uniform(1.3, 1.8),
            valign=0.5,
            col_gap=rng.randint(28, 56),
            cell_boxes=boxes,
        )
        panel.extra = {"fill": None, "margin": 0, "box_color": tint(fg, 0.5)}
        return Doc("word_grid", panel, {}, style={"rows": nrows, "cols": ncols})

    # ------------------------------------------------------------------ drawing

    def draw(self, rng: random.Random, doc: Doc):
        panel = doc.panel
        ex = panel.extra
        margin = ex.get("margin", 0)
        panel.max_w = min(panel.max_w, MAX_SIDE - 2 * margin)
        panel.max_h = min(panel.max_h, MAX_SIDE - 2 * margin)
        geo = measure(panel)
        if geo is None:
            return None
        need_w, need_h = geo[4], geo[5]
        pw = min(panel.max_w, max(panel.width, need_w))
        ph = min(panel.max_h, max(panel.min_h, need_h))
        w, h = max(320, pw + 2 * margin), max(320, ph + 2 * margin)
        w, h = w + (-w) % 8, h + (-h) % 8
        table = ex.get("table")
        if table is not None:
            img = Image.new("RGB", (w, h), table)
            draw = ImageDraw.Draw(img)
        else:
            img, draw = style.canvas(rng, w, h, plain=ex.get("fill") is not None or rng.random() < 0.5)
        ox, oy = (w - pw) // 2, (h - ph) // 2
        if ex.get("fill") is not None:
            if table is not None:  # a soft shadow under paper lying on a table
                sh = tuple(max(0, c - 30) for c in table)
                draw.rectangle([ox + 4, oy + 5, ox + pw + 3, oy + ph + 4], fill=sh)
            border = ex.get("border", 0)
            kw = {
                "fill": ex["fill"],
                "outline": ex.get("outline") if border else None,
                "width": max(1, border),
            }
            if ex.get("radius"):
                draw.rounded_rectangle([ox, oy, ox + pw - 1, oy + ph - 1], radius=ex["radius"], **kw)
            else:
                draw.rectangle([ox, oy, ox + pw - 1, oy + ph - 1], **kw)
            if ex.get("bar") is not None:
                bx = ox + pw - 10 if panel.rows[0].align == "left" else ox
                draw.rectangle([bx, oy, bx + 9, oy + ph - 1], fill=ex["bar"])
                if panel.rows[0].align != "left":
                    ox += 6  # keep text clear of the bar
                    pw -= 6
        lines, boxes = draw_panel(draw, panel, ox, oy, geo, pw, ph)
        angle = 0.0
        if rng.random() < 0.4:
            angle = round(rng.choice((-1, 1)) * rng.uniform(1.0, 5.0), 1)
            outer = rng.choice(TABLE_COLORS) if table is None else table
            img, boxes = rotate(img, boxes, angle, outer)
        return img, lines, boxes, angle

    # ------------------------------------------------------------------ questions

    def make(self, rng: random.Random, lang: str) -> Item:
        layout = rng.choice(LAYOUTS)
        for _ in range(20):
            doc = self.build(rng, layout)
            out = self.draw(rng, doc)
            if out is not None and (layout == "word_grid" or len(set(out[1])) == len(out[1])):
                break
        else:  # pragma: no cover - layouts are sized to always fit
            raise RuntimeError("could not fit text")
        img, lines, boxes, angle = out
        facts = {
            "layout": layout,
            "lines": lines,
            "boxes": boxes,
            "fields": dict(doc.fields),
            "items": doc.items,
            "has_title": doc.has_title,
            "rotation": angle,
            "size": [img.width, img.height],
            "unit": "row" if layout == "word_grid" else "line",
            "queries": [],
        }
        qs = Asker(self, rng, lang, facts).ask()
        return Item([img], facts, qs)


def rotate(img: Image.Image, boxes: list[list[int]], angle: float, fill: tuple):
    """Rotate counter-clockwise by `angle` degrees with expand; return the new axis-aligned boxes."""
    w, h = img.size
    out = img.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=fill)
    nw, nh = out.size
    t = math.radians(angle)
    ca, sa = math.cos(t), math.sin(t)
    new = []
    for x0, y0, x1, y1 in boxes:
        xs, ys = [], []
        for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
            dx, dy = x - w / 2, y - h / 2
            xs.append(nw / 2 + dx * ca + dy * sa)
            ys.append(nh / 2 - dx * sa + dy * ca)
        new.append(
            [
                int(math.floor(min(xs))),
                int(math.floor(min(ys))),
                int(math.ceil(max(xs))),
                int(math.ceil(max(ys))),
            ]
        )
    return out, new


# ----------------------------------------------------------------------------------------


class Asker:
    """Builds the questions of one item and records what each asks in `facts['queries']`."""

    def __init__(self, dom: Ocr, rng: random.Random, lang: str, facts: dict):
        self.dom, self.rng, self.lang, self.facts = dom, rng, lang, facts
        self.lines: list[str] = facts["lines"]
        self.n = len(self.lines)
        self.layout = facts["layout"]
        self.qs: list[Question] = []
        self.queries: list[dict] = facts["queries"]
        self.unit = self.say("unit_row" if self.layout == "word_grid" else "unit_line")
        self.units = self.say("units_row" if self.layout == "word_grid" else "units_line")
        self.doc = self.say("doc_" + self.layout)
        self.targets = targets(self.lines)
        self.unique = [w for w in self.targets if sum(c > 0 for c in occurrences(w, self.lines)) == 1]
        self.wordy = [i for i, ln in enumerate(self.lines) if is_wordy(ln) and len(ln.split()) >= 2]
        self.edge = [
            i
            for i, ln in enumerate(self.lines)
            if len(ln.split()) >= 2
            and ln.split()[0].strip(PUNCT).isalpha()
            and ln.split()[-1].strip(PUNCT).isalpha()
        ]
        fields = facts["fields"]
        self.fields = [
            k
            for k in ("store", "total", "date", "name", "job", "company", "phone", "email", "weight", "price")
            if k in fields
        ]

    def say(self, key: str, **values) -> str:
        return self.dom.say(self.rng, key, self.lang, **values)

    def add(self, q: Question, query: dict) -> None:
        self.qs.append(q)
        self.queries.append(query)

    def ordinal(self, n: int) -> str:
        words = (
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
        )
        return words[n - 1] if n <= len(words) else f"{n}th"

    def line_vals(self, i: int) -> dict:
        return {"n": i + 1, "ordinal": self.ordinal(i + 1), "unit": self.unit}

    # -------------------------------------------------------------- question kinds

    def kinds(self, qtype: str) -> list[str]:
        ks = ["read_line", "count_lines"]
        if self.facts["has_title"] and qtype != "judgement":
            ks.append("read_title")
        if self.fields:
            ks += ["field", "field"]
        if self.facts["items"]:
            ks.append("item_price")
        if self.wordy:
            ks.append("count_words")
        if qtype == "judgement":
            ks.append("word_present")
            ks.remove("count_lines")
        else:
            if self.targets:
                ks.append("count_word")
            if self.unique:
                ks += ["find_line", "find_line"]
            if self.edge:
                ks.append("edge_word")
        return ks

    def ask(self) -> list[Question]:
        rng = self.rng
        for kind in self.pick(self.kinds("judgement"), rng.choice((1, 1, 2))):
            pair = [True, False]
            rng.shuffle(pair)
            for truth in pair:
                self.judgement(kind, truth)
        for kind in self.pick(self.kinds("mc"), rng.choice((1, 2))):
            self.ask_value(kind, mc=True)
        for kind in self.pick(self.kinds("short"), rng.choice((1, 2))):
            self.ask_value(kind, mc=False)
        self.long()
        return self.qs

    def pick(self, kinds: list[str], k: int) -> list[str]:
        """`k` distinct kinds, those listed twice being twice as likely."""
        out: list[str] = []
        for kind in self.rng.sample(kinds, len(kinds)):
            if kind not in out:
                out.append(kind)
        return out[:k]

    def value(self, kind: str):
        """Pick the parameters of a question of `kind`; return (phrasing key, values, answer, query,
        category, candidate distractors)."""
        rng, lines = self.rng, self.lines
        if kind == "read_line":
            i = rng.randrange(self.n)
            others = [ln for j, ln in enumerate(lines) if j != i]
            rng.shuffle(others)
            cands = others[:2] + near_misses(lines[i], rng, 4, avoid=lines)
            return (
                "read_line",
                self.line_vals(i),
                lines[i],
                {"kind": "read_line", "line": i + 1},
                "text_reading",
                cands,
            )
        if kind == "read_title":
            cands = near_misses(lines[0], rng, 3, avoid=lines, mode="letters") + lines[1:]
            return ("read_title", {"doc": self.doc}, lines[0], {"kind": "read_title"}, "text_reading", cands)
        if kind == "count_lines":
            return (
                "count_lines",
                {"units": self.units},
                str(self.n),
                {"kind": "count_lines"},
                "counting",
                count_cands(self.n, rng),
            )
        if kind == "field":
            f = rng.choice(self.fields)
            v = self.facts["fields"][f]
            vals = {"field": self.say("field_" + f), "doc": self.doc}
            return (
                "ask_field",
                vals,
                v,
                {"kind": "field", "field": f},
                "value_lookup",
                self.field_cands(f, v),
            )
        if kind == "item_price":
            items = self.facts["items"]
            it = rng.choice(items)
            cands = [x["price"] for x in items] + [self.facts["fields"]["total"]]
            cands = [c for c in cands if c != it["price"]]
            rng.shuffle(cands)
            cands = cands[:2] + near_misses(it["price"], rng, 3, mode="digits")
            return (
                "ask_item_price",
                {"item": it["name"], "doc": self.doc},
                it["price"],
                {"kind": "item_price", "item": it["name"]},
                "value_lookup",
                cands,
            )
        if kind == "count_words":
            i = rng.choice(self.wordy)
            k = len(lines[i].split())
            return (
                "count_words",
                self.line_vals(i),
                str(k),
                {"kind": "count_words", "line": i + 1},
                "counting",
                count_cands(k, rng),
            )
        if kind == "count_word":
            repeated = [w for w in self.targets if sum(occurrences(w, lines)) > 1]
            w = rng.choice(repeated) if repeated and rng.random() < 0.7 else rng.choice(self.targets)
            k = sum(occurrences(w, lines))
            return (
                "count_word",
                {"word": w},
                str(k),
                {"kind": "count_word", "word": w},
                "counting",
                numeric_distractors(k, rng),
            )
        if kind == "find_line":
            w = rng.choice(self.unique)
            i = next(j for j, c in enumerate(occurrences(w, lines)) if c)
            cands = [str(j) for j in range(1, max(self.n, 4) + 1) if j != i + 1]
            vals = {"word": w, "unit": self.unit}
            return ("find_line", vals, str(i + 1), {"kind": "find_line", "word": w}, "localization", cands)
        if kind == "edge_word":
            i = rng.choice(self.edge)
            which = rng.choice(("first", "last"))
            toks = words_of(lines[i])
            ans = toks[0] if which == "first" else toks[-1]
            cands = [t for t in toks if t != ans] + near_misses(ans, rng, 3, mode="letters")
            return (
                which + "_word",
                self.line_vals(i),
                ans,
                {"kind": which + "_word", "line": i + 1},
                "text_reading",
                cands,
            )
        raise ValueError(kind)

    def field_cands(self, f: str, v: str) -> list[str]:
        rng = self.rng
        cands: list[str] = []
        if f == "total":
            cands = [x["price"] for x in self.facts["items"]]
            rng.shuffle(cands)
            cands = cands[:2]
        elif f == "job":
            cands = [rng.choice(JOB_TITLES)]
        elif f == "name":
            first, last = v.split(" ", 1)
            cands = [f"{first} {rng.choice(LAST_NAMES)}", f"{rng.choice(FIRST_NAMES)} {last}"]
        elif f == "company":
            head, tail = v.split(" ", 1)
            cands = [f"{head} {rng.choice(COMPANY_TAILS)}"]
        elif f == "weight":
            g = int(v.split()[0])
            cands = [f"{g + d} g" for d in (-50, -25, 25, 50, 100) if g + d > 0]
            rng.shuffle(cands)
            cands = cands[:2]
        cands = [c for c in cands if c != v]
        mode = "letters" if f in ("store", "name", "job", "company", "email") else "digits"
        return cands + near_misses(v, rng, 4, avoid=[v], mode=mode)

    def ask_value(self, kind: str, mc: bool) -> None:
        key, vals, ans, query, cat, cands = self.value(kind)
        q = self.say(key, **vals)
        if mc:
            ordered = kind in ("read_line", "count_lines", "count_words", "count_word")  # nearest first
            ds = distinct_distractors(ans, cands, self.rng, shuffle=not ordered)
            self.add(
                Question("multiple_choice", cat, [(q, "")], correct=ans, distractors=ds, phrasing=key), query
            )
        else:
            self.add(Question("short_vqa", cat, [(q, ans)], short_answer=ans, phrasing=key), query)

    def judgement(self, kind: str, truth: bool) -> None:
        rng = self.rng
        if kind == "word_present":
            if truth:
                w = rng.choice(self.targets) if self.targets else None
                if w is None:  # every layout has at least one target word; fall back to reading a line
                    return self.judgement("read_line", truth)
            else:
                w = self.absent_word()
            q = self.say("word_present", word=w)
            return self.add(
                Question("judgement", "word_search", [(q, "")], truth=truth, phrasing="word_present"),
                {"kind": "word_present", "word": w},
            )
        key, vals, ans, query, cat, cands = self.value(kind)
        claim = ans if truth else rng.choice(distinct_distractors(ans, cands, rng))
        jkey = "is_" + key
        q = self.say(jkey, claim=claim, **vals)
        self.add(Question("judgement", cat, [(q, "")], truth=truth, phrasing=jkey), dict(query, claim=claim))

    def absent_word(self) -> str:
        rng = self.rng
        text = " ".join(self.lines).lower()
        if self.layout == "receipt":
            pool = [p for p in PRODUCTS if " " not in p]
        elif self.layout == "business_card":
            pool = list(FIRST_NAMES) + list(LAST_NAMES)
        elif self.layout == "word_grid":
            pool = list(COMMON_WORDS)
            case = next((w for w in self.targets), "a")
            if case.isupper():
                pool = [p.upper() for p in pool]
            elif case[0].isupper():
                pool = [p.title() for p in pool]
        else:
            pool = list(COMMON_WORDS) + list(PLURALS) + list(PLACES) + list(DAYS)
        pool = [p for p in pool if p.lower() not in text and len(p) >= 3]
        return rng.choice(pool)

    # -------------------------------------------------------------- long

    def long(self) -> None:
        rng, lines = self.rng, self.lines
        text = "\n".join(lines)
        turns = [(self.say("transcribe", doc=self.doc), self.say("transcribe_answer", text=text))]
        follows = ["count_lines"]
        if self.targets:
            follows.append("count_word")
        if self.unique:
            follows.append("find_line")
        if self.wordy:
            follows.append("count_words")
        chosen = rng.sample(follows, min(len(follows), rng.choice((1, 2))))
        sep = self.say("list_sep")
        query = {"kind": "transcribe", "follow": []}
        for kind in chosen:
            if kind == "count_lines":
                q = self.say("follow_count_lines", units=self.units)
                a = self.say("follow_count_lines_answer", units=self.units, k=self.n, last=lines[-1])
                query["follow"].append({"kind": "count_lines", "answer": str(self.n)})
            elif kind == "count_word":
                w = rng.choice(self.targets)
                occ = occurrences(w, lines)
                k = sum(occ)
                pieces = sep.join(
                    self.say("occ_piece", unit=self.unit, n=j + 1, k=c) for j, c in enumerate(occ) if c
                )
                q = self.say("follow_count_word", word=w)
                a = self.say("follow_count_word_answer", word=w, pieces=pieces, k=k)
                query["follow"].append({"kind": "count_word", "word": w, "answer": str(k)})
            elif kind == "find_line":
                w = rng.choice(self.unique)
                i = next(j for j, c in enumerate(occurrences(w, lines)) if c)
                q = self.say("follow_find_line", word=w, unit=self.unit)
                a = self.say("follow_find_line_answer", word=w, text=lines[i], **self.line_vals(i))
                query["follow"].append({"kind": "find_line", "word": w, "answer": str(i + 1)})
            else:
                i = rng.choice(self.wordy)
                toks = lines[i].split()
                q = self.say("follow_count_words", **self.line_vals(i))
                a = self.say(
                    "follow_count_words_answer",
                    text=lines[i],
                    words=sep.join(toks),
                    k=len(toks),
                    **self.line_vals(i),
                )
                query["follow"].append({"kind": "count_words", "line": i + 1, "answer": str(len(toks))})
            turns.append((q, a))
        self.add(Question("long_vqa", "transcription", turns, phrasing="transcribe"), query)
