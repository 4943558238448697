"""The facts check: does a description of a synthetic image say only what the image holds?

A synthetic image's facts are exact, so a description of it (template-made or rewritten by a
model) can be checked claim by claim. From the text this check extracts

- numbers: written with digits ("12:30" is 12 and 30, "17.60" is 17.6), as English number
  words ("three", "twenty-four"), and as Chinese numerals before a measure word ("三个");
- colour words: "red", "grey", "violet", "红色", "粉红色", ...;
- shape words, in domains of shapes: "circle", "hexagon", "五角星", ...;
- labels and text: quoted spans, capitalised words inside an English sentence, Latin words in
  a Chinese one;

and flags each that the facts do not hold (after text the image shows, such as a title or a
transcribed line, is set aside: its own words and numbers are the image's). A flagged term
is a hallucinated value, colour, object or text, and sends the sample to review.

It also measures coverage: the share of the facts a description should mention (per domain,
`Known.facts`) that one of its sentences does mention.

A sentence-initial capitalised word is not taken for a label (it is usually just the first
word of the sentence), nor are lowercase names: a made-up label is caught in those places
only by its number or colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from visinstruct.checks.results import REVIEW, failed, passed
from visinstruct.synth.describe import Fact, Known, canon, has_description, known, numbers_in

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULLWIDTH = str.maketrans("０１２３４５６７８９％", "0123456789%")
_SUPERSCRIPTS = str.maketrans({"²": " ", "³": " ", "°": " "})

_SMALL = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_TENS["ninety"] = 90
_WORD_NUMBER_RE = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:[- ]({'|'.join(_SMALL[1:10])}))?|({'|'.join(_SMALL[2:])}))\b",
    re.IGNORECASE,
)
_ZH_DIGITS = {"两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUMBER_RE = re.compile(
    r"(?<![第每一二三四五六七八九十两])([两二三四五六七八九十]{1,3})"
    r"(?=[个根条张行列块种处项组段片幅位名类扇家件次])"
)

# colour words → the palette name they mean
_EN_COLORS = {
    "red": "red", "blue": "blue", "green": "green", "orange": "orange", "purple": "purple",
    "violet": "purple", "yellow": "yellow", "brown": "brown", "pink": "pink", "gray": "gray",
    "grey": "gray", "cyan": "cyan", "black": "black", "white": "white", "gold": "gold",
    "golden": "gold", "silver": "silver", "magenta": "magenta", "teal": "teal", "navy": "navy",
    "beige": "beige", "maroon": "maroon", "turquoise": "turquoise", "indigo": "indigo",
    "lime": "lime", "olive": "olive", "crimson": "red", "scarlet": "red", "lavender": "lavender",
}  # fmt: skip
_EN_COLOR_RE = re.compile(rf"\b({'|'.join(_EN_COLORS)})\b", re.IGNORECASE)
_ZH_COLORS = {
    "粉红": "pink", "洋红": "magenta", "紫红": "magenta", "天蓝": "blue", "深蓝": "blue", "浅蓝": "blue",
    "红": "red", "蓝": "blue", "绿": "green", "橙": "orange", "橘": "orange", "紫": "purple",
    "黄": "yellow", "棕": "brown", "褐": "brown", "咖啡": "brown", "粉": "pink", "灰": "gray",
    "青": "cyan", "黑": "black", "白": "white", "金": "gold", "银": "silver",
}  # fmt: skip
_ZH_COLOR_RE = re.compile(f"({'|'.join(sorted(_ZH_COLORS, key=len, reverse=True))})色")

_EN_SHAPES = {
    "circle": "circle", "square": "square", "triangle": "triangle", "star": "star",
    "diamond": "diamond", "hexagon": "hexagon", "pentagon": "pentagon", "rectangle": "rectangle",
    "oval": "oval", "ellipse": "oval", "heart": "heart", "cube": "cube", "sphere": "sphere",
    "cylinder": "cylinder", "cone": "cone", "octagon": "octagon", "rhombus": "diamond",
}  # fmt: skip
_EN_SHAPE_RE = re.compile(rf"\b({'|'.join(_EN_SHAPES)})(?:e?s)?\b", re.IGNORECASE)
_ZH_SHAPES = {
    "正方形": "square", "方形": "square", "三角形": "triangle", "五角星": "star", "星形": "star",
    "菱形": "diamond", "六边形": "hexagon", "五边形": "pentagon", "长方形": "rectangle",
    "矩形": "rectangle", "椭圆": "oval", "心形": "heart", "八边形": "octagon", "圆柱": "cylinder",
    "圆锥": "cone", "球体": "sphere", "立方体": "cube", "圆形": "circle", "圆": "circle",
}  # fmt: skip
_ZH_SHAPE_RE = re.compile("|".join(sorted(_ZH_SHAPES, key=len, reverse=True)))

_QUOTED_RE = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|「([^」\n]+)」|『([^』\n]+)』")
_CAP_RUN_RE = re.compile(r"(?:[A-Z][\w'’.-]*|[0-9]+[A-Za-z][\w'’-]*)(?:\s+(?:[A-Z][\w'’.-]*|\d+))*")
_LATIN_RUN_RE = re.compile(r"[A-Za-z][A-Za-z0-9'’&.@\-]*(?:\s+[A-Za-z0-9][A-Za-z0-9'’&.@\-]*)*")
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’@\-]*")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?。！？]\s*|\n\s*)[\"“(\[]?$")
_AFTER_COLON_RE = re.compile(r":\s*[\"“(\[]?$")
#: words that start a sentence after a colon as well ("Reading the rows: In the first, ...")
_OPENERS = frozenset(
    [
        "a",
        "an",
        "the",
        "in",
        "on",
        "at",
        "for",
        "from",
        "to",
        "by",
        "with",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "there",
        "here",
        "each",
        "every",
        "both",
        "all",
        "some",
        "one",
        "first",
        "next",
        "then",
        "finally",
        "overall",
        "together",
        "meanwhile",
        "also",
        "and",
        "but",
        "while",
    ]
)
_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(\x01])|[。！？；;\n]")
#: capitalised words any English text may use
_GENERIC_CAPS = frozenset({"i", "a.m.", "p.m.", "am", "pm", "a.m", "p.m", "ok"})
MASK = "\u2063"  # stands in for text the image shows, once it is set aside


@dataclass
class FactsReport:
    """What a text says that the facts do not hold, and how much of the facts it mentions."""

    unknown: list[str]
    mentioned: int
    of: int
    missing: list[str]

    @property
    def coverage(self) -> float:
        return self.mentioned / self.of if self.of else 1.0


def _prepare(text: str) -> str:
    return text.translate(_FULLWIDTH)


def _boundary_pattern(needle: str) -> str:
    p = re.escape(needle)
    if needle[:1].isascii() and needle[:1].isalnum():
        p = r"(?<![A-Za-z0-9])" + p
    if needle[-1:].isascii() and needle[-1:].isalnum():
        p += r"(?![A-Za-z0-9])"
    return p


def _mask(text: str, k: Known) -> str:
    """`text` with every text the image shows replaced by MASK (longest first)."""
    texts = sorted({t for t in k.texts if t}, key=len, reverse=True)
    if not texts:
        return text
    pattern = re.compile("|".join(_boundary_pattern(t) for t in texts), re.IGNORECASE)
    # a text ending in a full stop ("9:35 A.M.") may end its sentence too: the stop is kept
    return pattern.sub(lambda m: MASK + ("." if m.group(0).endswith(".") else ""), text)


def _tokens(k: Known) -> set[str]:
    out = {w.casefold() for w in k.words}
    for t in k.texts:
        out |= {x.casefold().strip(".'’-") for x in _TOKEN_RE.findall(t)}
    return out


def _zh_number(s: str) -> int | None:
    if s.startswith("十"):
        s = "一" + s
    if "十" in s:
        tens, _, ones = s.partition("十")
        t = _ZH_DIGITS.get(tens, 1 if tens == "一" else None)
        if t is None or len(ones) > 1:
            return None
        return t * 10 + (_ZH_DIGITS.get(ones, 0) if ones else 0)
    return _ZH_DIGITS.get(s) if len(s) == 1 else None


def _numbers(text: str, lang: str) -> list[tuple[str, str]]:
    """(as written, canonical) for every number in `text`."""
    clean = text.translate(_SUPERSCRIPTS)
    out = [(n, n) for n in numbers_in(clean)]
    for m in _WORD_NUMBER_RE.finditer(clean):
        if m.group(3):
            v = _SMALL.index(m.group(3).lower())
        else:
            v = _TENS[m.group(1).lower()] + (_SMALL.index(m.group(2).lower()) if m.group(2) else 0)
        out.append((m.group(0), str(v)))
    if lang == "zh":
        for m in _ZH_NUMBER_RE.finditer(clean):
            v = _zh_number(m.group(1))
            if v is not None:
                out.append((m.group(1), str(v)))
    return out


def _colors(text: str) -> list[tuple[str, str]]:
    out = [(m.group(0), _EN_COLORS[m.group(1).lower()]) for m in _EN_COLOR_RE.finditer(text)]
    out += [(m.group(0), _ZH_COLORS[m.group(1)]) for m in _ZH_COLOR_RE.finditer(text)]
    return out


def _shapes(text: str) -> list[tuple[str, str]]:
    out = [(m.group(0), _EN_SHAPES[m.group(1).lower()]) for m in _EN_SHAPE_RE.finditer(text)]
    out += [(m.group(0), _ZH_SHAPES[m.group(0)]) for m in _ZH_SHAPE_RE.finditer(text)]
    return out


def _known_text(span: str, k: Known, tokens: set[str]) -> bool:
    cf = span.casefold().strip()
    if not re.search(r"[^\W_]", cf.replace(MASK, "")):
        return True  # only text already known, and punctuation
    if any(cf in t.casefold() for t in k.texts):
        return True
    words = [w.casefold().strip(".'’-") for w in _TOKEN_RE.findall(span)]
    return bool(words) and all(w in tokens or w in _GENERIC_CAPS for w in words)


def _labels(masked: str, lang: str, k: Known, tokens: set[str]) -> list[str]:
    out: list[str] = []
    rest = masked
    for m in _QUOTED_RE.finditer(masked):
        span = next(g for g in m.groups() if g is not None)
        if not _known_text(span, k, tokens):
            out.append(span)
    rest = _QUOTED_RE.sub(MASK, masked)
    if lang == "zh":
        for m in _LATIN_RUN_RE.finditer(rest):
            for w in _TOKEN_RE.findall(m.group(0)):
                cf = w.casefold().strip(".'’-")
                if cf and cf not in tokens and cf not in _GENERIC_CAPS and not cf.isdigit():
                    out.append(w)
        return out
    for m in _CAP_RUN_RE.finditer(rest):
        pieces = re.split(r"(?<=[.!?])\s+", m.group(0))  # a run may cross the end of a sentence
        before = rest[: m.start()]
        first = pieces[0].split()
        if _SENTENCE_START_RE.search(before) or (
            _AFTER_COLON_RE.search(before) and first[0].casefold() in _OPENERS
        ):
            first = first[1:]  # the first word of a sentence is capitalised anyway
        words = first + [w for p in pieces[1:] for w in p.split()[1:]]
        unknown = [
            w for w in words if not w.isdigit() and w.casefold().strip(".'’-") not in tokens | _GENERIC_CAPS
        ]
        if unknown:
            out.append(" ".join(unknown))
    return out


def unknown_terms(text: str, lang: str, k: Known) -> list[str]:
    """Numbers, colours, shapes and labels in `text` that the facts do not hold, as written."""
    text = _prepare(text)
    masked = _mask(text, k)
    tokens = _tokens(k)
    out: list[str] = []
    for written, value in _numbers(masked, lang):
        if value not in k.numbers:
            out.append(written)
    for written, name in _colors(masked):
        if name not in k.colors:
            out.append(written)
    if k.shapes is not None:
        for written, name in _shapes(masked):
            if name not in k.shapes:
                out.append(written)
    out += _labels(masked, lang, k, tokens)
    return list(dict.fromkeys(out))


def sentences(text: str) -> list[str]:
    """The sentences (and clauses split by semicolons) of `text`; a quoted text is never split
    (a transcribed line may hold the end of one sentence and the start of the next)."""
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quoted.append(m.group(0))
        return f"\x01{len(quoted) - 1}\x02"

    hidden = _QUOTED_RE.sub(hide, _prepare(text))
    out = []
    for s in _SPLIT_RE.split(hidden):
        if s and s.strip():
            out.append(re.sub(r"\x01(\d+)\x02", lambda m: quoted[int(m.group(1))], s))
    return out


def _mentions(sentence: str, numbers: set[str], groups: tuple[tuple[str, ...], ...]) -> bool:
    cf = sentence.casefold()
    for alternatives in groups:
        for needle in alternatives:
            if re.fullmatch(r"\d+(?:\.\d+)?", needle):
                if canon(needle) in numbers:
                    break
            elif re.search(_boundary_pattern(needle.casefold()), cf):
                break
        else:
            return False
    return True


def coverage(text: str, lang: str, facts: list[Fact]) -> tuple[int, list[str]]:
    """(how many of `facts` one sentence of `text` mentions, keys of those none does)."""
    parts = [(s, {v for _, v in _numbers(s, lang)}) for s in sentences(text)]
    missing = []
    hit = 0
    for f in facts:
        groups = f.needles.get(lang) or f.needles.get("en") or ()
        if any(_mentions(s, nums, groups) for s, nums in parts):
            hit += 1
        else:
            missing.append(f.key)
    return hit, missing


def check_text(text: str, lang: str, k: Known) -> FactsReport:
    """The facts check of one text against what is known of its image."""
    hit, missing = coverage(text, lang, k.facts)
    return FactsReport(unknown_terms(text, lang, k), hit, len(k.facts), missing)


def check_facts(text: str, lang: str, domain: str, facts: dict[str, Any]) -> FactsReport:
    """The facts check of a description of an item of synthetic `domain` with `facts`."""
    return check_text(text, lang, known(domain, facts))


def facts_result(sample: Any) -> dict[str, Any] | None:
    """The `facts` check result of a caption sample of a synthetic image (None for any other
    sample): it fails (to review) when the text names a number, colour, shape or label the
    image does not hold, and records the share of the image's facts it mentions."""
    facts = (sample.context or {}).get("facts")
    if sample.type != "caption" or not isinstance(facts, dict) or not has_description(sample.domain):
        return None
    text = "\n".join(t.answer for t in sample.turns)
    try:
        report = check_facts(text, sample.language, sample.domain, facts)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        return failed(f"the facts of this sample cannot be read ({type(e).__name__}: {e})", REVIEW)
    extra = {
        "coverage": round(report.coverage, 3),
        "mentioned": report.mentioned,
        "of": report.of,
        "unknown": report.unknown[:20],
        "missing": report.missing[:20],
        "method": "facts check",
    }
    if report.unknown:
        shown = ", ".join(report.unknown[:8])
        return failed(f"mentions what the image does not show: {shown}", REVIEW, **extra)
    return passed(**extra)


def coverage_figures(db: Any) -> list[tuple[str, str, str, int, float, float, int]]:
    """Per domain, language and writer ("template" or "rewrite"): (domain, language, writer,
    caption samples, mean and least coverage of their facts, how many the check flagged), from
    a run's database."""
    rows = db.execute(
        "SELECT s.domain, s.language, "
        "CASE WHEN s.generator LIKE 'synth/%' THEN 'template' ELSE 'rewrite' END, "
        "COUNT(*), AVG(json_extract(c.result, '$.facts.coverage')), "
        "MIN(json_extract(c.result, '$.facts.coverage')), "
        "SUM(json_extract(c.result, '$.facts.pass') = 0) "
        "FROM check_results c JOIN samples s ON s.rowid = c.sample "
        "WHERE c.stage = 'rules' AND s.type = 'caption' "
        "AND json_extract(c.result, '$.facts.coverage') IS NOT NULL "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    return [
        (d, lang, w, n, float(avg or 0), float(low or 0), int(bad or 0))
        for d, lang, w, n, avg, low, bad in rows
    ]
