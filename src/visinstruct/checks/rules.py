"""Rule checks every sample gets, whatever produced it.

`structure` and `check_samples` are the minimal shape check the engine runs on every
sample it makes. `rule_checks` adds the content rules, each recorded under its own name:

- `structure`: the sample has the shape its type needs (reject);
- `options` (multiple choice only): four distinct options, a valid answer letter that points
  at `short_answer`, and option lines in the question that match `options` (reject);
- `length`: answer and question lengths within per-type bounds, `DEFAULT_LIMITS` (review);
  a multiple-choice question counts its stem only; a long VQA needs its minimum over all
  its answers together, and at least `STEP_MIN` in each;
- `language`: the text is written in the sample's language (reject): English samples hold at
  most `MAX_FOREIGN_IN_EN` CJK characters; in Chinese samples every question and every
  explanatory answer is at least `MIN_HAN_SHARE` Chinese (Han characters among Han characters
  and Latin words, quoted text and transcribed Latin-only lines left out), while short answers
  that are numbers, labels or text read off the image (e.g. "Sunset Bay") are fine;
- `refusal`: no refusals ("As an AI…", "I'm sorry…") and no answers that talk about the
  caption or description instead of the image (reject);
- `slots`: no unfilled template slots such as `<object>`, `<物体>`, `<image>` or `{label}` (reject);
- `turns`: the conversation is consistent with the sample's fields (reject).

Lengths are counted in words for English and in characters for Chinese; in Chinese text a
Latin word or a number counts as one character (so "Sunset Bay" is 2, "12:11" is 1).
Every rule is a handful of precompiled regular expressions, fast enough to run on every
sample of a run (well over 50,000 typical samples per second).
"""

from __future__ import annotations

import json
import re
from typing import Any

import visinstruct.checks.results as _checks
from visinstruct.records import LETTERS, Sample
from visinstruct.templates import PLACEHOLDER


def structure(s: Sample) -> str | None:
    """Why the sample is malformed, or None when its shape is right for its type."""
    if not s.images:
        return "no image"
    if not s.turns:
        return "no turns"
    for n, t in enumerate(s.turns, 1):
        if not t.question.strip() or not t.answer.strip():
            return f"turn {n} has an empty question or answer"
        for text in (t.question, t.answer):
            m = PLACEHOLDER.search(text)
            if m:
                return f"turn {n} has an unfilled slot {m.group(0)}"
    if s.type == "multiple_choice":
        if len(s.options) != 4:
            return f"{len(s.options)} options instead of 4"
        if len({o.strip().casefold() for o in s.options}) != 4:
            return "options are not distinct"
        if s.answer_letter is None or s.answer_letter not in LETTERS:
            return f"answer letter {s.answer_letter!r} is not one of A-D"
        if s.short_answer is not None and s.options[LETTERS.index(s.answer_letter)] != s.short_answer:
            return "the answer letter does not point at the right option"
    elif s.type == "judgement":
        if s.short_answer not in ("yes", "no"):
            return f"judgement answer {s.short_answer!r} is not yes or no"
    elif s.type == "long_vqa" and len(s.turns) < 2:
        return "long VQA has fewer than 2 turns"
    return None


def structure_check(s: Sample) -> dict[str, dict[str, Any]]:
    """The shape check alone (recipes that turn the content rules off still get it)."""
    reason = structure(s)
    return {"structure": _checks.passed() if reason is None else _checks.failed(reason)}


# -- shared text helpers ------------------------------------------------------------------

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs (extension A, unified, compatibility)
_HAN_RE = re.compile(f"[{_HAN}]")
_FOREIGN_RE = re.compile(f"[{_HAN}\u3040-\u30ff\uac00-\ud7af]")  # Han, kana, hangul: not English
# A length unit: one Han character, or one word/number (with inner ' . : , / - kept: "don't", "12:11").
_UNIT_RE = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+(?:['’.:,/-][^\W_{_HAN}]+)*")
_LATIN_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:['’][A-Za-z]+)*")  # letters only: numbers are neutral
_LATIN_LETTER_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
# An option line of a multiple-choice question: "A. text" (also "A、", "A)", "A．").
_OPTION_LINE_RE = re.compile(r"[ \t]*([A-D])([.．、)）:：][ \t]*)(.*?)[ \t]*")
_TRAILING_PUNCT = ".,;:!?。，；：！？、…'\"“”‘’ \t\n"


def normalise(text: str) -> str:
    """Case-folded, whitespace collapsed, trailing punctuation dropped: for equality tests."""
    return " ".join(text.casefold().split()).rstrip(_TRAILING_PUNCT)


def units(text: str) -> int:
    """Length in words (English) or characters (Chinese; a Latin word or number counts as one)."""
    return len(_UNIT_RE.findall(text))


def option_lines(question: str) -> tuple[int, list[tuple[str, str, str]]] | None:
    """Where the four option lines "A. …" … "D. …" of a question are, and what they hold.

    Returns `(index of the "A." line among question.split("\\n"), [(letter, separator, text)] * 4)`
    for the first run of four consecutive lines lettered A, B, C, D, or None.
    """
    if "\n" not in question:
        return None
    lines = question.split("\n")
    for i in range(len(lines) - 3):
        m = _OPTION_LINE_RE.fullmatch(lines[i])
        if m is None or m.group(1) != "A":
            continue
        found = [(m.group(1), m.group(2), m.group(3))]
        for j, letter in enumerate("BCD", 1):
            m2 = _OPTION_LINE_RE.fullmatch(lines[i + j])
            if m2 is None or m2.group(1) != letter:
                break
            found.append((m2.group(1), m2.group(2), m2.group(3)))
        else:
            return i, found
    return None


def mc_stem(question: str) -> str:
    """The question of a multiple-choice turn without its option lines and instruction suffix."""
    found = option_lines(question)
    if found is None:
        return question
    return "\n".join(question.split("\n")[: found[0]])


# -- options ------------------------------------------------------------------------------


_UNSET: Any = object()


def _options(s: Sample, found: Any = _UNSET) -> str | None:
    if len(s.options) != 4:
        return f"{len(s.options)} options instead of 4"
    normal = [normalise(o) for o in s.options]
    if any(not o for o in normal):
        return "an option is empty"
    if len(set(normal)) != 4:
        dup = next(o for i, o in enumerate(s.options) if normal[i] in normal[:i])
        return f"options are not distinct ({dup!r} appears twice)"
    letter = s.answer_letter
    if letter is None or len(letter) != 1 or letter not in LETTERS:
        return f"answer letter {letter!r} is not one of A-D"
    if s.short_answer is not None and normal[LETTERS.index(letter)] != normalise(s.short_answer):
        return (
            f"answer letter {letter} points at {s.options[LETTERS.index(letter)]!r}, "
            f"not at the answer {s.short_answer!r}"
        )
    if not s.turns:
        return None  # structure reports it
    if found is _UNSET:
        found = option_lines(s.turns[0].question)
    if found is None:
        return "the question does not list the options as lines A. … D."
    for (letter, _, text), option, n in zip(found[1], s.options, normal, strict=True):
        if normalise(text) != n:
            return f"option line {letter} reads {text!r} but option {letter} is {option!r}"
    return None


# -- length -------------------------------------------------------------------------------

#: Default bounds `(min, max)`: answers per type, and questions ("question"), per language.
DEFAULT_LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "en": {
        "judgement": (1, 40),
        "multiple_choice": (1, 20),
        "short_vqa": (1, 8),
        "long_vqa": (8, 400),
        "caption": (8, 400),
        "question": (2, 120),
    },
    "zh": {
        "judgement": (1, 40),
        "multiple_choice": (1, 20),
        "short_vqa": (1, 20),
        "long_vqa": (15, 400),
        "caption": (15, 400),
        "question": (2, 120),
    },
}

#: Long VQA answers are often short steps ("The value of Jun is 343.") before the working, so
#: the lower bound of a conversation type applies to its answers together; each answer on its
#: own still needs this many words (characters in Chinese), so a bare "Yes." or "Red." is caught.
STEP_MIN = 3
_CONVERSATION_TYPES = ("long_vqa", "caption")


def _bounds(kind: str, lang: str, limits: dict[str, tuple[int, int]] | None) -> tuple[int, int] | None:
    if limits and kind in limits:
        lo, hi = limits[kind]
        return int(lo), int(hi)
    return DEFAULT_LIMITS.get(lang, DEFAULT_LIMITS["en"]).get(kind)


def _units_upto(text: str, cap: int) -> int:
    """`min(units(text), cap)`, stopping at the cap: bounds are checked without counting it all."""
    if cap <= 0:
        return 0
    n = 0
    for _ in _UNIT_RE.finditer(text):
        n += 1
        if n >= cap:
            break
    return n


def _over(text: str, hi: int) -> int | None:
    """The length of `text` when it is over `hi`, else None (short texts are not counted)."""
    # A unit is at least one character, and English words need a separator between them.
    if len(text) <= hi or (len(text) < 2 * hi and text.isascii()):
        return None
    k = units(text)
    return k if k > hi else None


def _length(s: Sample, limits: dict[str, tuple[int, int]] | None, stem: str | None = None) -> str | None:
    unit = "characters" if s.language == "zh" else "words"
    answer = _bounds(s.type, s.language, limits)
    question = _bounds("question", s.language, limits)
    several = len(s.turns) > 1
    steps = answer is not None and s.type in _CONVERSATION_TYPES
    total = 0
    for n, t in enumerate(s.turns, 1):
        where = f" in turn {n}" if several else ""
        if answer is not None:
            lo, hi = answer
            if steps:
                k = _units_upto(t.answer, max(lo, STEP_MIN))
                total += k
                lo = min(lo, STEP_MIN)
            else:
                k = _units_upto(t.answer, lo)
            if k < lo:
                return f"{s.type} answer{where} has {k} {unit} (allowed {lo}–{hi})"
            k = _over(t.answer, hi)
            if k is not None:
                return f"{s.type} answer{where} has {k} {unit} (allowed {lo}–{hi})"
        if question is not None:
            lo, hi = question
            text = stem if stem is not None and n == 1 else t.question
            k = _units_upto(text, lo)
            if k < lo:
                return f"question{where} has {k} {unit} (allowed {lo}–{hi})"
            k = _over(text, hi)
            if k is not None:
                return f"question{where} has {k} {unit} (allowed {lo}–{hi})"
    if steps and total < answer[0]:  # exact: a capped count only stops at the bound itself
        return f"{s.type} answers have {total} {unit} in all (at least {answer[0]} needed)"
    return None


# -- language -----------------------------------------------------------------------------

MIN_HAN_SHARE = 0.3  # zh: Han characters among Han characters + Latin words, per question / answer
MAX_FOREIGN_IN_EN = 2  # en: at most this many Han/kana/hangul characters in the whole sample
_QUOTED_RE = re.compile(r"“[^”]*”|「[^」]*」|『[^』]*』|\"[^\"\n]*\"")
_FUNCTION_WORDS = frozenset(
    {"the", "a", "an", "is", "are", "was", "were", "be", "it", "its", "this", "that", "these", "those"}
    | {"there", "i", "you", "he", "she", "we", "they", "of", "to", "in", "on", "at", "and", "but", "so"}
    | {"because", "has", "have", "had", "can", "will", "would", "not"}
)
_LABEL_TYPES = ("judgement", "multiple_choice", "short_vqa")


def _han_share(text: str) -> float | None:
    """Share of Han characters among Han characters and Latin words (None: neither present)."""
    han = len(_HAN_RE.findall(text))
    latin = len(_LATIN_WORD_RE.findall(text))
    return han / (han + latin) if han + latin else None


def _prose_share(text: str) -> float | None:
    """`_han_share(_prose(text))`, with a quick answer for text without Latin letters."""
    if _LATIN_LETTER_RE.search(text) is None:
        return 1.0 if _HAN_RE.search(text) else None
    return _han_share(_prose(text))


def _prose(text: str) -> str:
    """Text without quoted spans and, when other lines are Chinese, without lines that hold no
    Chinese at all (transcribed text, code, numbered labels): what the writer wrote themselves."""
    text = _QUOTED_RE.sub(" ", text)
    if "\n" in text:
        lines = text.split("\n")
        own = [line for line in lines if _HAN_RE.search(line)]
        if own and len(own) < len(lines):
            text = "\n".join(own)
    return text


def _grounded(s: Sample, answer: str) -> bool:
    """Whether an answer's text appears in the question or in what is known about the image
    (e.g. a transcribed line of an English sign is a fine answer in a Chinese sample)."""
    a = normalise(answer)
    if not a:
        return True
    if any(a in normalise(t.question) for t in s.turns):
        return True
    if s.context:
        try:
            known = json.dumps(s.context, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return False
        return a in " ".join(known.casefold().split())
    return False


def _label_like(s: Sample, answer: str) -> bool:
    """A Chinese sample's answer that is a number, a label or a quoted piece of the image's
    text, rather than an English sentence."""
    if _HAN_RE.search(answer):
        return False
    words = _LATIN_WORD_RE.findall(answer)
    if len(words) <= 3:
        return True
    if not any(w.casefold() in _FUNCTION_WORDS for w in words):
        return True  # "TOTAL DUE $13.07", "Website Visitors (2008-2014)"
    return _grounded(s, answer)


def _language(s: Sample, stem: str | None = None) -> str | None:
    if s.language == "en":
        count = 0
        for n, t in enumerate(s.turns, 1):
            for part, text in (("question", t.question), ("answer", t.answer)):
                if text.isascii() or not _FOREIGN_RE.search(text):
                    continue
                found = _FOREIGN_RE.findall(text)
                count += len(found)
                if count > MAX_FOREIGN_IN_EN:
                    return f"English sample has CJK text in the {part} of turn {n}: {''.join(found)[:20]!r}"
        return None
    if s.language != "zh":
        return None
    for n, t in enumerate(s.turns, 1):
        q = stem if stem is not None and n == 1 else t.question
        share = _prose_share(q)
        if share is not None and share < MIN_HAN_SHARE:
            return f"Chinese sample's question in turn {n} is not in Chinese ({share:.0%} Chinese)"
        a = t.answer
        if s.type in _LABEL_TYPES and _label_like(s, a):
            continue
        share = _prose_share(a)
        if share is None:
            if s.type in _LABEL_TYPES:
                continue  # a number or symbols
            share = 0.0
        if share < MIN_HAN_SHARE:
            return f"Chinese sample's answer in turn {n} is not in Chinese ({share:.0%} Chinese): {a[:40]!r}"
    return None


# -- refusals and meta talk ---------------------------------------------------------------

_APOS = "['’]"
_REFUSAL_RE = re.compile(
    "|".join(
        [
            r"\bas an? (?:ai|artificial intelligence)\b",
            r"\blanguage model\b",
            rf"\bi(?:{_APOS}m| am) (?:so |very |really )?sorry\b",
            r"\bi (?:cannot|can not)\b",
            rf"\bi can{_APOS}?t (?:see|view|tell|determine|identify|access|help)\b",
            rf"\bi(?:{_APOS}m| am) (?:not able|unable) to (?:see|view|access)\b",
            r"\bunable to (?:view|see|access) (?:the |this |any )?(?:image|picture|photo|visual)",
            r"\bunable to view\b",
            r"作为(?:一个|一名|一款)?(?:ai|人工智能|语言模型)",
            r"我无法",
            r"抱歉",
            r"语言模型",
            r"我(?:看不到|看不见|不能看到)",
            r"无法(?:查看|看到)(?:图片|图像|这张)",
        ]
    ),
    re.IGNORECASE,
)
_DETERMINER = r"(?:the|a|an|this|that|these|those|it|its|each|every|all|his|her|their|our|my|your)"
_META_RE = re.compile(  # answers only: a question may well ask for "a description of the poster"
    "|".join(
        [
            r"\bthe (?:given |provided |image |above |original )?(?:captions?|descriptions?)\b",
            rf"\bthe text above\b(?!\s+{_DETERMINER}\b)",
            r"\bbased on the (?:text|caption|description)\b",
            r"\bdescribed (?:image|picture|scene|photo)\b",
            r"\b(?:image|picture|photo) (?:caption|description)s?\b",
            r"根据(?:图片|图像)?描述",
            r"(?<!请)描述(?:中|里)(?![间心国部央午年期])",
            r"(?:图片|图像|上述|以上|给定|原始)描述",
            r"说明文字",
        ]
    ),
    re.IGNORECASE,
)


# Literal keywords every pattern above contains, searched in lower-cased text first: one
# plain alternation is ten times faster than the full case-insensitive patterns.
_REFUSAL_HINT_RE = re.compile(
    "as a|artificial|language model|sorry|cannot|can not|can't|can’t|unable|not able|"
    "作为|我无法|抱歉|语言模型|我看不|我不能|无法查看|无法看到"
)
_META_HINT_RE = re.compile("caption|description|text above|described|描述|说明文字")


def _refusal(s: Sample) -> str | None:
    for n, t in enumerate(s.turns, 1):
        for part, text in (("question", t.question), ("answer", t.answer)):
            m = _REFUSAL_RE.search(text) if _REFUSAL_HINT_RE.search(text.lower()) else None
            if m:
                return f"refusal in the {part} of turn {n}: {m.group(0)!r}"
        m = _META_RE.search(t.answer) if _META_HINT_RE.search(t.answer.lower()) else None
        if m:
            return f"answer of turn {n} talks about the text it was made from, not the image: {m.group(0)!r}"
    return None


# -- unfilled slots -----------------------------------------------------------------------

_SLOT_CHARS = f"A-Za-z0-9_{_HAN}"
# <object>, <brand name>, <物体>, <image>: a bracketed name that is not a comparison — no letter
# or digit right outside the brackets ("x<y>z"), no space right inside ("3 < 5 > 2").
_ANGLE_SLOT_RE = re.compile(
    rf"(?<![A-Za-z0-9<])[<＜]([A-Za-z_{_HAN}](?:[{_SLOT_CHARS} -]{{0,40}}[{_SLOT_CHARS}])?)[>＞]"
    r"(?![A-Za-z0-9=>])"
)
# {name}: a template placeholder; not LaTeX groups such as \frac{a}{b}, x_{i}, x^{n}.
_BRACE_SLOT_RE = re.compile(r"(?<![\\\w}^_$])\{\s*[A-Za-z_][A-Za-z0-9_ ]{0,40}\}")


def _slots(s: Sample) -> str | None:
    for n, t in enumerate(s.turns, 1):
        for part, text in (("question", t.question), ("answer", t.answer)):
            m = _ANGLE_SLOT_RE.search(text) if ("<" in text or "＜" in text) else None
            if m is None and "{" in text:
                m = _BRACE_SLOT_RE.search(text)
            if m:
                return f"unfilled slot {m.group(0)} in the {part} of turn {n}"
    return None


# -- turns --------------------------------------------------------------------------------

_YES_NO_RE = re.compile(r"\s*(?:(yes|yeah|yep|correct|true)\b|(no|nope|incorrect|false)\b)", re.IGNORECASE)
_ZH_NO = ("否", "不", "没有", "错")
_ZH_YES = ("是", "对", "正确", "有")
_LEADING_LETTER_RE = re.compile(r"\s*[(（]?([A-D])(?:$|[\s.．、:：)）,，])")


def _says(answer: str) -> str | None:
    """'yes' or 'no', as the judgement answer starts, or None when it says neither."""
    m = _YES_NO_RE.match(answer)
    if m:
        return "yes" if m.group(1) else "no"
    a = answer.lstrip()
    if a.startswith(_ZH_NO):
        return "no"
    if a.startswith(_ZH_YES):
        return "yes"
    return None


def _turns(s: Sample) -> str | None:
    if not s.turns:
        return "no turns"
    seen: set[str] = set()
    several = len(s.turns) > 1
    for n, t in enumerate(s.turns, 1):
        if not t.question.strip():
            return f"turn {n} has an empty question"
        if not t.answer.strip():
            return f"turn {n} has an empty answer"
        if several:
            q = normalise(t.question)
            if q in seen:
                return f"turn {n} repeats an earlier question: {t.question[:60]!r}"
            seen.add(q)
    first = s.turns[0].answer
    if s.type == "judgement" and s.short_answer in ("yes", "no"):
        said = _says(first)
        if said is None:
            return f"judgement answer {first[:40]!r} does not say yes or no"
        if said != s.short_answer:
            return f"judgement answer {first[:40]!r} disagrees with short_answer {s.short_answer!r}"
    elif s.type == "multiple_choice" and s.answer_letter:
        a = first.strip()
        if a != s.answer_letter:
            m = _LEADING_LETTER_RE.match(a)
            if m is None or m.group(1) != s.answer_letter:
                return f"multiple-choice answer {a[:40]!r} is not the answer letter {s.answer_letter}"
    elif s.type == "short_vqa" and s.short_answer is not None:
        if normalise(first) != normalise(s.short_answer):
            return f"short answer {first[:40]!r} differs from short_answer {s.short_answer!r}"
    elif s.type == "long_vqa" and len(s.turns) < 2:
        return f"long VQA has {len(s.turns)} turn(s), at least 2 needed"
    return None


# -- all rules ----------------------------------------------------------------------------

RULES = ("structure", "options", "length", "language", "refusal", "slots", "turns")


def rule_checks(s: Sample, limits: dict[str, tuple[int, int]] | None = None) -> dict[str, dict[str, Any]]:
    """The result of every rule that applies to the sample, keyed by rule name.

    `limits` overrides the answer-length bounds of an instruction type (`{"short_vqa": (1, 5)}`)
    or of questions (`"question"`), in the sample's own unit (words for English, characters for
    Chinese); the rest keep `DEFAULT_LIMITS`. Length failures go to review; the others reject.
    """
    passed, failed = _checks.passed, _checks.failed
    stem = None
    out: dict[str, dict[str, Any]] = {}
    reason = structure(s)
    out["structure"] = passed() if reason is None else failed(reason)
    if s.type == "multiple_choice":
        found = option_lines(s.turns[0].question) if s.turns else None
        if found is not None:
            stem = "\n".join(s.turns[0].question.split("\n")[: found[0]])
        reason = _options(s, found)
        out["options"] = passed() if reason is None else failed(reason)
    reason = _length(s, limits, stem)
    out["length"] = passed() if reason is None else failed(reason, _checks.REVIEW)
    reason = _language(s, stem)
    out["language"] = passed() if reason is None else failed(reason)
    reason = _refusal(s)
    out["refusal"] = passed() if reason is None else failed(reason)
    reason = _slots(s)
    out["slots"] = passed() if reason is None else failed(reason)
    reason = _turns(s)
    out["turns"] = passed() if reason is None else failed(reason)
    return out
