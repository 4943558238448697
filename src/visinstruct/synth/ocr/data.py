"""OCR's vocabulary and text helpers: the words, names, products and templates drawn in the
images, palettes, and how tokens, target words and misreadings are found.

English documents draw the English lists below; Chinese documents draw native Chinese ones
(`synth/words/ocr.zh.yaml`). Chinese has no spaces between words, so a Chinese document's
words are the vocabulary words its lines contain, found as substrings (`targets_zh`).
"""

from __future__ import annotations

import random
import re
from functools import cache
from types import SimpleNamespace

from visinstruct.synth import style
from visinstruct.synth.base import load_words

# ----------------------------------------------------------------------------------------
# Vocabulary of English documents

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


LIGHT_TEXT = ((250, 250, 250), (255, 236, 150), (235, 240, 255))
DARK_PANELS = ("blue", "red", "green", "purple", "brown", "black")
INK_COLORS = ("blue", "red", "green", "purple", "brown", "black")
TABLE_COLORS = ((96, 104, 116), (150, 112, 80), (188, 178, 160), (70, 80, 70), (200, 205, 212), (120, 60, 50))


def rgb(name: str) -> tuple[int, int, int]:
    """A palette colour by name."""
    return next(c[2] for c in style.COLORS if c[0] == name)


def tint(c: tuple, k: float) -> tuple[int, int, int]:
    """Mix a colour with white (k=1 is white)."""
    return tuple(int(v + (255 - v) * k) for v in c)


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
    return _valid(word, _tokens(lines))


def _tokens(lines: list[str]) -> list[tuple[str, str, str]]:
    """Every token of `lines` as (lower-cased, without punctuation and lower-cased, as spelled)."""
    return [(t.lower(), norm(t), t.strip(PUNCT)) for line in lines for t in line.split()]


def _valid(word: str, tokens: list[tuple[str, str, str]]) -> bool:
    if not word.isalpha() or len(word) < 3:
        return False
    w = word.lower()
    forms = []
    for low, bare, spelled in tokens:
        if w in low:
            if bare != w:
                return False
            forms.append(spelled)
    return bool(forms) and all(f == forms[0] for f in forms)


def targets(lines: list[str]) -> list[str]:
    """Words one can ask about, as spelled in the image, in reading order."""
    tokens = _tokens(lines)
    out: list[str] = []
    for _, _, s in tokens:
        if s not in out and _valid(s, tokens):
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
        elif CJK.match(c):  # a hanzi misread as another
            r = rng.choice([h for h in ZH().hanzi if h != c])
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
    """Up to `k` distinct misreadings of `s`."""
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
    """A phone number in one of three common formats."""
    a, b, c = rng.randint(200, 989), rng.randint(200, 989), rng.randint(1000, 9999)
    return rng.choice((f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}"))


def money(cents: int, dollar: bool, symbol: str = "$") -> str:
    """Cents as a price, with or without the currency sign."""
    return f"{symbol if dollar else ''}{cents // 100}.{cents % 100:02d}"


def date(rng: random.Random, lang: str = "en") -> str:
    """A date in one of three common formats (Chinese also writes 2024年5月1日)."""
    m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(2019, 2027)
    if lang == "zh":
        return rng.choice((f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}.{m:02d}.{d:02d}"))
    return rng.choice((f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}"))


def street(rng: random.Random, lang: str = "en") -> str:
    """A street name."""
    if lang == "zh":
        return rng.choice(ZH().streets)
    return f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"


def address(rng: random.Random, lang: str = "en") -> str:
    """A street address: "12 Oak Lane", "中山路12号"."""
    if lang == "zh":
        return f"{street(rng, lang)}{rng.randint(2, 980)}号"
    return f"{rng.randint(2, 980)} {street(rng)}"


def store_name(rng: random.Random, lang: str = "en") -> str:
    """A shop's name: "Sunny Market", "阳光超市"."""
    if lang == "zh":
        return rng.choice(ZH().store_heads) + rng.choice(ZH().store_tails)
    return f"{rng.choice(STORE_ADJS)} {rng.choice(STORE_NOUNS)}"


def zh_phone(rng: random.Random) -> str:
    """A Chinese mobile or landline number."""
    a, b = rng.choice("3456789"), rng.randint(0, 9)
    mid, end = rng.randint(1000, 9999), rng.randint(1000, 9999)
    area = rng.choice(("010", "021", "020", "028", "0571", "027"))
    return rng.choice(
        (f"1{a}{b}-{mid}-{end}", f"1{a}{b}{mid}{end}", f"{area}-{mid}{end}", f"1{a}{b} {mid} {end}")
    )


def fill_slots(rng: random.Random, template: str, lang: str = "en") -> str:
    """Fill an in-image text template with random vocabulary."""
    if lang == "zh":
        return fill_slots_zh(rng, template)
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


def fill_slots_zh(rng: random.Random, template: str) -> str:
    """Fill a Chinese in-image text template with random Chinese vocabulary."""
    w = ZH()
    p1, p2 = rng.sample(w.products, 2)
    f1, f2 = rng.sample(w.people, 2)
    n1, n2 = rng.sample(w.nouns, 2)
    d1, d2 = rng.sample(w.days, 2)
    h1 = rng.randint(1, 8)
    values = {
        "day": d1,
        "day2": d2,
        "h1": h1,
        "h2": h1 + rng.randint(3, 4),
        "num": rng.randint(2, 980),
        "street": street(rng, "zh"),
        "p1": p1,
        "p2": p2,
        "phone": zh_phone(rng),
        "first": f1,
        "first2": f2,
        "plural": rng.choice(w.plurals),
        "price": money(rng.randint(2, 40) * 100 + rng.choice((0, 0, 50, 90)), True, "¥"),
        "place": rng.choice(w.places),
        "store": store_name(rng, "zh"),
        "animal": rng.choice(w.animals),
        "side": rng.choice(w.sides),
        "city": rng.choice(w.cities),
        "batch": f"{rng.choice('ABCDEFGHKLMN')}{rng.randint(100, 9999)}",
        "serves": rng.randint(2, 8),
        "adj": rng.choice(w.adjs),
        "noun": n1,
        "noun2": n2,
        "verb": rng.choice(w.verbs),
    }
    return template.format(**values)


@cache
def ZH() -> SimpleNamespace:  # noqa: N802 - reads as the Chinese vocabulary
    """The Chinese documents' vocabulary (`synth/words/ocr.zh.yaml`), with the people named from it
    and the words a question may look for (`vocabulary`)."""
    w = SimpleNamespace(**{k: tuple(v) for k, v in load_words("ocr.zh").items()})
    w.people = tuple(s + g for s in w.surnames[:12] for g in w.given_names[::3])
    groups = (w.common_words, w.products, w.places, w.nouns, w.plurals, w.animals, w.cities, w.days)
    w.vocabulary = tuple(dict.fromkeys(x for group in groups for x in group if len(x) >= 2))
    w.hanzi = "".join(sorted({c for x in w.vocabulary for c in x if CJK.match(c)}))
    return w


CJK = re.compile(r"[\u4e00-\u9fff]")


def targets_zh(lines: list[str]) -> list[str]:
    """Words one can ask about in Chinese lines, in reading order: vocabulary words the text
    contains, except those inside a longer one it contains (asked about, they would be ambiguous)."""
    text, flat = "\n".join(lines), "".join(lines)
    # a word broken across two lines is left out too: read line by line it is not there
    present = [w for w in ZH().vocabulary if w in text and flat.count(w) == text.count(w)]
    keep = [w for w in present if not any(w != o and w in o for o in present)]
    return sorted(keep, key=text.index)


def occurrences_zh(word: str, lines: list[str]) -> list[int]:
    """How often `word` is written on each Chinese line (Chinese runs words together: substrings)."""
    return [line.count(word) for line in lines]


def unique_lines(
    rng: random.Random, templates: tuple[str, ...], k: int, taken: list[str], lang: str = "en"
) -> list[str]:
    """`k` filled templates, none repeated and none already `taken`."""
    out: list[str] = []
    if k <= 0:
        return out
    for t in rng.sample(templates, len(templates)):
        s = fill_slots(rng, t, lang)
        if s not in out and s not in taken:
            out.append(s)
        if len(out) == k:
            break
    return out
