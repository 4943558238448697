"""Reading what a model answered: option texts without their own letters, answer letters in
the forms models write them, and yes/no in English and Chinese.

Each reader returns the one value a text means, or raises `ValueError` saying why it means
none or more than one: a reply that cannot be read for certain is repaired or failed, never
guessed. The `stated_*` and `leading_yes_no` helpers read an explanation for what it says the
answer is (the consistency rule compares that with the answer).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

LETTERS = "ABCD"

# -- option texts ---------------------------------------------------------------------------

# "A. red", "(A) red", "A) red", "A、red", "Ａ．red", "A: red", "[A] red", "a. red": an optional
# opening bracket, one letter, then a closing bracket and/or a separator. A letter followed by
# anything else ("A4 paper", "B-52", "A cat") is not a prefix.
_PREFIX_RE = re.compile(
    r"\s*([(（\[【]?)([A-Da-dＡ-Ｄａ-ｄ])((?:[)）\]】][.．。、:：]?)|[.．。、:：])\s*(.*)", re.DOTALL
)


def _fold(text: str) -> str:
    """Full-width letters and punctuation as ASCII (NFKC), for reading only."""
    return unicodedata.normalize("NFKC", text)


def letter_prefixes(options: list[Any]) -> list[tuple[str, str]] | None:
    """`[(letter, text after the prefix)]` when every option starts with a letter prefix of
    one shape ("A. …", "B. …" or "(a) …", "(b) …"), else None. Letters are upper case."""
    if len(options) < 2 or not all(isinstance(o, str) for o in options):
        return None
    out, shapes = [], set()
    for o in options:
        m = _PREFIX_RE.fullmatch(o)
        if m is None:
            return None
        opener, letter, closer, rest = m.groups()
        if opener and _fold(closer)[0] not in ")]】":
            return None  # "(A. red": not one shape of prefix
        letter = _fold(letter)
        shapes.add((_fold(opener), _fold(closer), letter.isupper()))
        out.append((letter.upper(), rest.strip()))
    return out if len(shapes) == 1 else None


def unlettered_options(options: Any) -> Any:
    """Options without the letters a model put in front of them ("A. red" → "red"), only when
    all of them carry one shape of prefix lettered A, B, C, D in order; numbers become text.
    Anything that is not a list is returned as it is, for the schema to report."""
    if not isinstance(options, list):
        return options
    options = [_number_text(o) for o in options]
    found = letter_prefixes(options)
    if found is None or len(found) > len(LETTERS) or [c for c, _ in found] != list(LETTERS[: len(found)]):
        return options
    for letter, text in found:
        if not text:
            raise ValueError(f"option {letter} holds only its letter")
    return [text for _, text in found]


def _number_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- answer letters -------------------------------------------------------------------------

_TRAILING = " \t\n.。!！,，;；"
_WRAPPERS = " \t\n*_\"'`“”‘’「」"
_LEAD = (
    r"(?:(?:the\s+)?(?:correct\s+|right\s+|final\s+)?(?:answer|option|choice)"
    r"(?:\s+(?:is|would\s+be|should\s+be|must\s+be))?\s*:?\s*(?:option\s+)?"
    r"|(?:正确|最终)?(?:答案|选项)(?:是|为|应为|应该是|应选|选)?\s*:?\s*(?:选项)?\s*"
    r"|(?:应|应该|应当)?选(?:择)?(?:项)?\s*)?"
)
# a letter alone or in brackets, after an optional lead-in, then optionally the option's text
_LETTER_FORM_RE = re.compile(
    _LEAD + r"([(\[【]?)([A-Da-d])([)\]】]?)(?=$|[\s.。:、,，)\]】])[\s.。:、,，]*(.*)",
    re.IGNORECASE | re.DOTALL,
)


def _clean(text: str) -> str:
    return _fold(text).strip(_WRAPPERS).rstrip(_TRAILING).strip(_WRAPPERS)


def _same_text(a: str, b: str) -> bool:
    """Equal up to case, spacing, full-width forms and trailing punctuation."""
    return " ".join(_clean(a).casefold().split()) == " ".join(_clean(b).casefold().split())


def answer_letter(value: Any, options: list[str] | None) -> str:
    """The one letter an answer means: "B", "b", "(B)", "B.", "B)", "Option B", "选B", "答案是B",
    "Ｂ", "B. <option B's text>", or exactly one option's text. Raises ValueError otherwise:
    "A or B", a text matching no option or several, a letter that is also another option's text.
    """
    if not isinstance(value, str):
        raise ValueError(f"answer {value!r} is not a letter A-D")
    options = [o for o in options or [] if isinstance(o, str)]
    text = _clean(value)
    by_text = [i for i, o in enumerate(options) if _same_text(o, text)]
    m = _LETTER_FORM_RE.fullmatch(text)
    if m is not None and m.group(1) and not m.group(3):
        m = None  # "(B …" opens a bracket it never closes; "B)" and "(B)" are letters
    letter = m.group(2).upper() if m else None
    rest = _clean(m.group(4)) if m else ""
    if letter is not None and not rest:
        i = LETTERS.index(letter)
        if by_text and by_text != [i]:
            other = LETTERS[by_text[0]]
            raise ValueError(f"answer {value!r} is letter {letter} but also the text of option {other}")
        return letter
    if len(by_text) == 1:
        return LETTERS[by_text[0]]
    if len(by_text) > 1:
        raise ValueError(f"answer {value!r} matches several options")
    if letter is not None:
        i = LETTERS.index(letter)
        if i < len(options) and _same_text(options[i], rest):
            return letter
        raise ValueError(f"answer {value!r}: {rest!r} is not the text of option {letter}")
    raise ValueError(f"answer {value!r} is not a letter A-D or the text of one option")


# -- yes / no -------------------------------------------------------------------------------

_EN_WORD_RE = re.compile(r"(yes|no)\b(.*)", re.IGNORECASE | re.DOTALL)
_EN_ONLY = {"true": "yes", "correct": "yes", "false": "no", "incorrect": "no"}
# a yes that goes on to deny, or a no that goes on to say yes, says both
_EN_DENIES_RE = re.compile(r"\b(?:no|not|never|false|incorrect|neither|nor)\b|n['’]t\b", re.IGNORECASE)
_EN_AFFIRMS_RE = re.compile(r"\byes\b", re.IGNORECASE)
ZH_YES = frozenset({"是", "是的", "对", "对的", "正确", "没错", "有", "有的", "确实", "是啊", "对啊"})
ZH_NO = frozenset({"不是", "不对", "错", "错误", "错的", "否", "没有", "不", "不正确", "没", "无", "并不是"})
_ZH_SPLIT_RE = re.compile(r"[，,。.！!；;：:\s、]+")
_ZH_JOINERS = ("但是", "但", "也", "却", "又", "而", "可", "还")


def _zh_head(text: str) -> tuple[str | None, list[str]]:
    """'yes'/'no' when the first clause is exactly a yes/no word, and the other clauses."""
    clauses = [c for c in _ZH_SPLIT_RE.split(text) if c]
    if not clauses:
        return None, []
    head, *rest = clauses
    word = "yes" if head in ZH_YES else "no" if head in ZH_NO else None
    return word, rest


def yes_no(value: Any) -> str:
    """'yes' or 'no' for "Yes.", "yes, it is", "No, there is not", "YES", "true", "是的", "对",
    "正确", "不是", "不对", "错", "否", "没有" …; ValueError for anything else ("maybe",
    "Yes and no", "不确定", "没有错"): never the wrong one, never a guess."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, str):
        raise ValueError(f"answer {value!r} is not yes or no")
    text = _clean(value)
    if not text:
        raise ValueError("the answer is empty, not yes or no")
    word = _EN_ONLY.get(text.casefold())
    if word:
        return word
    m = _EN_WORD_RE.match(text)
    if m:
        word, rest = m.group(1).lower(), m.group(2)
        if (_EN_DENIES_RE if word == "yes" else _EN_AFFIRMS_RE).search(rest):
            raise ValueError(f"answer {value!r} says both yes and no")
        return word
    word, rest = _zh_head(text)
    if word is None:
        raise ValueError(f"answer {value!r} is not yes or no")
    opposite = ZH_NO if word == "yes" else ZH_YES
    for clause in rest:
        for j in _ZH_JOINERS:
            if clause.startswith(j) and clause[len(j) :] in opposite:
                clause = clause[len(j) :]
                break
        if clause in opposite:
            raise ValueError(f"answer {value!r} says both yes and no")
    return word


# -- what an explanation says ---------------------------------------------------------------

_EN_LEADING_RE = re.compile(r"\s*[*_\"'“]*(yes|no)[*_\"'”]*\s*(?:[,.!;:—–]|$)", re.IGNORECASE)


def leading_yes_no(text: str) -> str | None:
    """'yes'/'no' when a reason opens with the word on its own ("No, …", "Yes.", "不是，…",
    "是的。…"); None when it opens otherwise ("No people are …", "没有人…")."""
    text = _fold(text or "")
    m = _EN_LEADING_RE.match(text)
    if m:
        return m.group(1).lower()
    stripped = text.strip(_WRAPPERS)
    return _zh_head(stripped)[0] if stripped else None


_STATED_YES_NO_RE = re.compile(
    r"(?i:\b(?:the\s+)?(?:correct\s+|final\s+|right\s+)?answer\s*(?:is|would\s+be|should\s+be|:)\s*)"
    r"[\"'“*]*(?i:(yes|no))\b"
    r"|答案(?:是|为|应为|应该是)?\s*[:：]?\s*[\"“「]?(不是|肯定|否定|正确|错误|是(?!否)|对|错|否(?![\u4e00-\u9fff]))"
)
_ZH_STATED = {"不是": "no", "肯定": "yes", "否定": "no", "正确": "yes", "错误": "no", "是": "yes"}
_ZH_STATED |= {"对": "yes", "错": "no", "否": "no"}


def stated_yes_no(text: str) -> str | None:
    """The yes/no an explanation last states as the answer ("the answer is no", "答案是否")."""
    found = list(_STATED_YES_NO_RE.finditer(_fold(text or "")))
    if not found:
        return None
    m = found[-1]
    return m.group(1).lower() if m.group(1) else _ZH_STATED[m.group(2)]


_STATED_LETTER_RE = re.compile(
    r"(?i:\b(?:the\s+)?(?:correct\s+|right\s+|final\s+)?(?:answer|option|choice)\s*"
    r"(?:is|would\s+be|should\s+be|must\s+be|:)\s*:?\s*(?:option\s+)?)[(\[]?([A-D])(?![A-Za-z0-9])"
    r"|(?i:\b(?:option|choice)\s+)[(\[]?([A-D])[)\]]?(?i:\s+is\s+(?:the\s+)?(?:correct|right)\b)"
    r"|答案(?:是|为|应为|应该是|应是|选)?\s*[:：]?\s*(?:选项)?\s*[(（]?([A-D])(?![A-Za-z0-9])"
    r"|(?:故|所以|因此|因而|应|应该|应当)\s*选(?:择)?(?:项)?\s*[(（]?([A-D])(?![A-Za-z0-9])"
)


def stated_letter(text: str) -> str | None:
    """The letter an explanation last states as the answer ("the answer is C", "Option C is
    correct", "答案是C", "故选C"); None when it states none."""
    found = list(_STATED_LETTER_RE.finditer(_fold(text or "")))
    if not found:
        return None
    return next(g for g in found[-1].groups() if g)
