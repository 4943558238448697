"""Rule checks every sample gets, whatever produced it.

`structure` and `check_samples` are the minimal shape check the engine runs on every
sample it makes. `rule_checks` adds the content rules, each recorded under its own name:

- `structure`: the sample has the shape its type needs (reject);
- `options` (multiple choice only): four distinct options that do not carry letters of their
  own ("D. pale blue"), a valid answer letter that points at `short_answer`, and option lines
  in the question that match `options` (reject);
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
- `turns`: the conversation is consistent with the sample's fields (reject);
- `consistency` (judgement and multiple choice): the answer agrees with what the model said
  about it, the explanation kept in `context["explanation"]` (review); see `consistency`.

Lengths are counted in words for English and in characters for Chinese; in Chinese text a
Latin word or a number counts as one character (so "Sunset Bay" is 2, "12:11" is 1).
Every rule is a handful of precompiled regular expressions, fast enough to run on every
sample of a run (well over 50,000 typical samples per second); `consistency` reads only
samples that carry a model's explanation, some 20,000 per second.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import visinstruct.checks.results as _checks
from visinstruct.answers import leading_yes_no, stated_letter, stated_yes_no
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
    elif s.type == "caption" and len(s.turns) != 1:
        return f"a caption sample has {len(s.turns)} turns instead of 1"
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
# An option that starts with a letter of its own: "A. red", "(B) red", "C、red", "Ｄ．red".
_OWN_LETTER_RE = re.compile(r"\s*[(（\[【]?([A-DＡ-Ｄ])(?:[)）\]】][.．。、:：]?|[.．。、:：])\s*\S")
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
    own = [(m.group(1), o) for o in s.options if (m := _OWN_LETTER_RE.match(o))]
    if len(own) >= 2 and len({c for c, _ in own}) == len(own):
        return "options carry letters of their own: " + ", ".join(repr(o) for _, o in own)
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


def chinese_share(text: str) -> float | None:
    """Share of Chinese in what the writer wrote: Han characters among Han characters and Latin
    words, quoted spans (and Latin-only lines beside Chinese ones) left out; None: neither."""
    return _prose_share(text)


def foreign_share(text: str) -> float | None:
    """Share of CJK (Han, kana, hangul) characters among them and Latin words, quoted spans left
    out: how far an English text is not English; None when it holds neither."""
    text = unquoted(text)
    cjk = len(_FOREIGN_RE.findall(text)) if not text.isascii() else 0
    latin = len(_LATIN_WORD_RE.findall(text))
    return cjk / (cjk + latin) if cjk + latin else None


def unquoted(text: str) -> str:
    """`text` with its quoted spans (“…”, 「…」, "…") blanked: what the writer said, not quoted."""
    return _QUOTED_RE.sub(" ", text)


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


_SAID = ("explanation", "model_letter")  # context keys the model wrote: not knowledge of the image


def _grounded(s: Sample, answer: str) -> bool:
    """Whether an answer's text appears in the question or in what is known about the image
    (e.g. a transcribed line of an English sign is a fine answer in a Chinese sample)."""
    a = normalise(answer)
    if not a:
        return True
    if any(a in normalise(t.question) for t in s.turns):
        return True
    known_context = {k: v for k, v in (s.context or {}).items() if k not in _SAID}
    if known_context:
        try:
            known = json.dumps(known_context, ensure_ascii=False, default=str)
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


def refusal_in(text: str) -> str | None:
    """The refusal or talk as a model in `text` ("As an AI…", "I cannot", "作为一个AI", "我无法"), or None."""
    m = _REFUSAL_RE.search(text) if _REFUSAL_HINT_RE.search(text.lower()) else None
    return m.group(0) if m else None


def _refusal(s: Sample) -> str | None:
    for n, t in enumerate(s.turns, 1):
        for part, text in (("question", t.question), ("answer", t.answer)):
            found = refusal_in(text)
            if found:
                return f"refusal in the {part} of turn {n}: {found!r}"
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


# -- consistency --------------------------------------------------------------------------

_CLAUSE_END_RE = re.compile(r"[.;!?。；！？,，:：\n]|\bbut\b|\bwhereas\b|而是|但是|但|却")
_EN_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|neither|nor|without|except|unlike|cannot|rather than|instead of|other than)\b"
    r"|n't\b"
)
_ZH_NEGATION_RE = re.compile("[不没非无除]")
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_AUX = frozenset(
    {"is", "are", "was", "were", "does", "do", "did", "can", "could", "has", "have", "had", "will"}
    | {"would", "should"}
)
_EN_NEGATIONS = frozenset({"not", "no", "never", "neither", "nor", "without", "cannot", "none"})
_QUESTION_STOP = frozenset(
    {"a", "an", "the", "this", "that", "these", "those", "there", "here", "it", "its", "of", "in", "on"}
    | {"at", "to", "for", "with", "by", "from", "and", "or", "any", "some", "image", "picture", "photo"}
    | {"photograph", "shown", "visible", "seen", "present", "depicted", "appear", "appears", "scene"}
)
_AFTER_NEGATION = frozenset(
    {"a", "an", "the", "any", "single", "very", "quite", "really", "actually", "exactly", "clearly"}
    | {"visibly", "in", "on", "at", "inside", "near", "one", "be", "been", "being"}
)
_ZH_NEGATED = {
    "是": ("不是", "并非", "并不是"),
    "有": ("没有", "没", "无", "并没有"),
    "在": ("不在", "没在", "没有在"),
}


def _fold_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).replace("’", "'").casefold().split())


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _negated_before(text: str, start: int) -> bool:
    """Whether a negation stands just before `start`, in the same clause: within the three
    words before it ("not red", "isn't a red", "rather than red"), or the four characters
    before it in Chinese ("不是红色", "没有猫")."""
    cut = 0
    for m in _CLAUSE_END_RE.finditer(text, 0, start):
        cut = m.end()
    before = text[cut:start]
    if _EN_NEGATION_RE.search(" ".join(before.split()[-3:])):
        return True
    return bool(_ZH_NEGATION_RE.search(before.rstrip()[-4:]))


def _wordish(c: str) -> bool:
    return "0" <= c <= "9" or "a" <= c <= "z" or "\u00c0" <= c <= "\u024f"


def mentions(text: str, key: str) -> list[tuple[int, int]]:
    """Where `key` (lower-case words) stands in `text` as words of its own, its words apart by
    any run of spaces: not inside a longer word or number ("red" in "reddish", "1" in "1.5").
    Found with `str.find`, not a regular expression: compiling one per option text cost more
    than the rest of the rules together."""
    words = key.split()
    if not words:
        return []
    first, n, out = words[0], len(text), []
    left, right = key[0].isalnum(), key[-1].isalnum()
    i = text.find(first)
    while i >= 0:
        j = i + len(first)
        for w in words[1:]:
            k = j
            while k < n and text[k].isspace():
                k += 1
            if k == j or not text.startswith(w, k):
                j = -1
                break
            j = k + len(w)
        ok = j >= 0
        if ok and left and i >= 1:
            ok = not _wordish(text[i - 1]) and not (i >= 2 and text[i - 2].isdigit() and text[i - 1] in ".,")
        if ok and right and j < n:
            ok = not _wordish(text[j]) and not (j + 1 < n and text[j] in ".," and text[j + 1].isdigit())
        if ok:
            out.append((i, j))
        i = text.find(first, j if ok else i + 1)
    return out


def _named_options(text: str, options: list[str]) -> set[int]:
    """The options an explanation names as what is there: mentioned, not right after a
    negation, and not only as part of a longer option ("blue" inside "pale blue")."""
    spans = []
    for i, option in enumerate(options):
        key = normalise(_fold_text(option))
        if not key or (len(key) == 1 and key.isascii() and key.isalpha()):
            continue  # a bare letter "a" is an article in every explanation
        spans += [(a, b, i) for a, b in mentions(text, key)]
    return {
        i
        for a, b, i in spans
        if not any(a2 <= a and b <= b2 and b2 - a2 > b - a for a2, b2, _ in spans)
        and not _negated_before(text, a)
    }


def _choice_consistency(s: Sample, why: str) -> str | None:
    if len(s.options) != 4 or s.answer_letter is None or s.answer_letter not in LETTERS:
        return None  # `options` reports it
    chosen = LETTERS.index(s.answer_letter)
    answer = s.options[chosen]
    model = s.context.get("model_letter")
    stated = stated_letter(why)
    if stated and isinstance(model, str) and model in LETTERS and stated != model:
        # the explanation speaks of the model's letters: its order had the answer at `model`
        theirs = [o for i, o in enumerate(s.options) if i != chosen]
        theirs.insert(LETTERS.index(model), answer)
        return (
            f"the explanation says the answer is {stated} ({theirs[LETTERS.index(stated)]!r}), "
            f"but the model answered {model} ({answer!r}): {_snippet(why)}"
        )
    named = _named_options(_fold_text(why), s.options)
    if named and chosen not in named:
        others = " and ".join(repr(s.options[i]) for i in sorted(named))
        return f"the explanation names {others}, not the answer {answer!r}: {_snippet(why)}"
    return None


def _question_of(text: str) -> str | None:
    """A judgement question as the model wrote it: its last sentence up to the last question
    mark (the engine's "Answer yes or no." comes after it); None without a question mark."""
    end = max(text.rfind("?"), text.rfind("？"))
    if end < 0:
        return None
    return re.split(r"[.!;:。！；：\n]\s*", text[:end])[-1].strip()


def _same_word(a: str, b: str) -> bool:
    return a == b or a + "s" == b or b + "s" == a or a + "es" == b or b + "es" == a


def _denies_en(question: str, why: str) -> str | None:
    """The sentence of `why` that denies the claim of an English yes/no question."""
    words = _WORD_RE.findall(_fold_text(question))
    if len(words) < 2 or words[0] not in _AUX or any(w in _EN_NEGATIONS or w.endswith("n't") for w in words):
        return None
    content = [w for w in words[1:] if w not in _QUESTION_STOP]
    if not content:
        return None
    for sentence in re.split(r"(?<=[.!?;])\s+|\n", why):
        said = _WORD_RE.findall(_fold_text(sentence))
        if not all(any(_same_word(w, x) for x in said) for w in content):
            continue
        for k, x in enumerate(said):
            if x in _EN_NEGATIONS or x.endswith("n't"):
                target = next((y for y in said[k + 1 :] if y not in _AFTER_NEGATION), None)
                if target is not None and any(_same_word(w, target) for w in content):
                    return sentence
    return None


def _denies_zh(question: str, why: str) -> str | None:
    """The negated claim of a Chinese yes/no question found in `why` ("有猫吗" → "没有猫")."""
    core = unicodedata.normalize("NFKC", question).strip().rstrip("吗么呢 ")
    if not core or _ZH_NEGATION_RE.search(core):
        return None
    if "是否" in core:
        rest = core[core.index("是否") + 2 :]
        verb, claim = (rest[0], rest[1:]) if rest[:1] in ("是", "有", "在") else ("是", rest)
    else:
        found = [(core.find(v), v) for v in ("是", "有", "在") if v in core]
        if not found:
            return None
        at, verb = min(found)
        claim = core[at + 1 :]
    claim = claim.strip().rstrip("的了 ")[:4]
    if not _HAN_RE.search(claim):
        return None
    text = unicodedata.normalize("NFKC", why)
    for neg in _ZH_NEGATED[verb]:
        at = text.find(neg + claim)
        if at >= 0:
            return text[max(0, at - 20) : at + len(neg) + len(claim) + 20]
    return None


def _judgement_consistency(s: Sample, why: str) -> str | None:
    answer = s.short_answer
    if answer not in ("yes", "no"):
        return None  # `structure` reports it
    other = "no" if answer == "yes" else "yes"
    if leading_yes_no(why) == other:
        return f"the reason opens with {other!r} but the answer is {answer!r}: {_snippet(why)}"
    if stated_yes_no(why) == other:
        return f"the reason says the answer is {other!r}, but the answer is {answer!r}: {_snippet(why)}"
    if answer == "yes" and s.turns:
        question = _question_of(s.turns[0].question)
        if question:
            denial = (_denies_zh if s.language == "zh" else _denies_en)(question, why)
            if denial:
                return f"the reason denies what the question asks, but the answer is yes: {_snippet(denial)}"
    return None


def consistency(s: Sample) -> str | None:
    """Why the answer disagrees with what the model said about it, or None.

    The model's explanation (a choice's explanation, a judgement's reason) is kept in
    `context["explanation"]`; without one there is nothing to compare and the rule passes.
    Each heuristic is meant to be certain when it fires (a miss is better than a false alarm):

    - multiple choice: the explanation states another letter as the answer ("the answer is C",
      "Option C is correct", "答案是C", "故选C"), compared with the letter the model gave in its
      own option order (`context["model_letter"]`); or it names another option's text as what
      is there and never the answer's. A mention right after a negation ("not red", "rather
      than red", "不是红色") does not count, nor does one inside a longer option ("blue" in
      "pale blue"), nor a one-letter option;
    - judgement: the reason opens with the other word on its own ("No, …", "Yes.", "不是，…";
      not "No people are …"), or states the other answer ("the answer is no", "答案是否"); or,
      when the answer is yes, it denies the question's claim. In English: a question that
      starts with is/are/does/can/has… and holds no negation; one sentence of the reason holds
      every content word of the question and a negation ("not", "no", "n't", "without") whose
      next word (after articles and the like) is one of them: "Is the car red?" → "The car is
      not red." (but not "The car is red, not blue."). In Chinese: the claim after 是/有/在 (or
      after 是否) with its negation in the reason: "汽车是红色的吗？" → "不是红色", "图中有猫吗？"
      → "没有猫". A "no" answer is not checked for an affirmed claim: restating a question's
      words is too common in a correct "no" reason.
    """
    why = s.context.get("explanation") if s.context else None
    if not isinstance(why, str) or not why.strip():
        return None
    if s.type == "multiple_choice":
        return _choice_consistency(s, why)
    if s.type == "judgement":
        return _judgement_consistency(s, why)
    return None


# -- all rules ----------------------------------------------------------------------------

RULES = ("structure", "options", "length", "language", "refusal", "slots", "turns", "consistency")


def rule_checks(s: Sample, limits: dict[str, tuple[int, int]] | None = None) -> dict[str, dict[str, Any]]:
    """The result of every rule that applies to the sample, keyed by rule name.

    `limits` overrides the answer-length bounds of an instruction type (`{"short_vqa": (1, 5)}`)
    or of questions (`"question"`), in the sample's own unit (words for English, characters for
    Chinese); the rest keep `DEFAULT_LIMITS`. Length and consistency failures go to review; the
    others reject.
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
    if s.type in ("judgement", "multiple_choice"):
        reason = consistency(s)
        out["consistency"] = passed() if reason is None else failed(reason, _checks.REVIEW)
    return out
