"""Checks of a caption: pure functions of its text and language, so every caption sample gets
the same ones — a VLM's caption of a source image, its translation, a description drawn from a
synthetic image's facts. A failure sends the sample to review (severity `review`): a caption
too short or in the wrong language is still a caption a person may keep or mend.

- `caption_length`: words in English, characters in Chinese (a Latin word or a number counts as
  one character, as `rules.units` counts), within per-language bounds: by default a detailed
  caption has at least 200 words or 200 characters (what the caption prompt, like MMInstruct's, asks for);
- `caption_talk`: no refusal and no talk as a model ("As an AI…", "I cannot", "作为一个AI",
  "我无法") and no caption that speaks of itself ("the description", "这段描述"); quoted text
  (a sign that reads "Sorry, we are closed") does not count;
- `caption_language`: a Chinese caption is mostly Chinese (`MIN_HAN_SHARE` of its Han characters
  and Latin words, quoted text left out), an English one holds next to no CJK text;
- near-duplicates across images: `caption_duplicates` over many captions (MinHash over shingles
  of 2 and 3 words, `checks/dedup.py`'s `dedup_texts` on the captions' token strings); the
  `caption_dedup` stage runs it over a run.

`opening_refusal` is also what the caption stage refuses a reply for before anything is built on
it (`generate/caption.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from visinstruct.checks.results import REVIEW, failed, passed
from visinstruct.checks.rules import chinese_share, foreign_share, refusal_in, rule_checks, units, unquoted
from visinstruct.models import replies
from visinstruct.records import Sample

CHECKS = ("caption_length", "caption_talk", "caption_language")

#: Default bounds (min, max) per kind and language: words (en), characters (zh).
DEFAULT_LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "detailed": {"en": (200, 1000), "zh": (200, 2000)},  # the caption prompt asks for 200 of each
    "brief": {"en": (5, 100), "zh": (8, 200)},
}
KINDS = tuple(DEFAULT_LIMITS)
#: Bounds of a description of a synthetic image (drawn from its facts, or an LLM's rewrite of
#: one): it is as long as what the image holds, so a square's takes a dozen words where a
#: photograph's caption takes 200 (the facts check measures what it leaves out); the recipe's
#: `checks.captions` bounds are for captions a VLM writes.
DESCRIPTION_LIMITS: dict[str, tuple[int, int]] = {"en": (8, 1000), "zh": (15, 2000)}
MIN_HAN_SHARE = 0.6  # zh: "mostly Chinese"
MAX_FOREIGN_SHARE = 0.05  # en: CJK characters among them and Latin words

# a Chinese reply that opens by saying it cannot (besides the refusals any reply may open with)
_REFUSAL_ZH = re.compile(r"^\W*无法(?:描述|提供|识别|查看)")
_SELF_EN = re.compile(
    r"\b(?:the|this|my|above|following|present)\s+(?:image\s+|picture\s+)?description\b"
    r"|\bthis\s+caption\b|\b(?:description|caption)\s+(?:above|below)\b"
    r"|\bas\s+(?:described|mentioned)\s+(?:above|earlier|before)\b",
    re.IGNORECASE,
)
_SELF_ZH = re.compile(r"(?:这段|本段|这个|该|此|本|上述|以上|上面的?|前面的?)(?:文字)?描述|这段文字|以上内容")


def opening_refusal(text: str) -> str | None:
    """The refusal a caption reply opens with ("I'm sorry, I can't…", "无法描述…"), or None."""
    t = text.strip()
    found = replies.refusal(t)
    if found:
        return found
    m = _REFUSAL_ZH.match(t)
    return t[:80] if m else None


def caption_units(text: str) -> int:
    """A caption's length: words (English) or characters (Chinese; a Latin word counts as one)."""
    return units(text)


def bounds(lang: str, kind: str = "detailed", limits: dict[str, Any] | None = None) -> tuple[int, int]:
    """(min, max) of a caption in `lang`: `limits[lang]` (a (min, max) pair, either may be None
    for the default) over the kind's defaults."""
    lo, hi = DEFAULT_LIMITS.get(kind, DEFAULT_LIMITS["detailed"]).get(lang, DEFAULT_LIMITS[kind]["en"])
    given = (limits or {}).get(lang)
    if given:
        glo, ghi = given
        lo = lo if glo is None else int(glo)
        hi = hi if ghi is None else int(ghi)
    return lo, hi


def caption_length(
    text: str, lang: str, kind: str = "detailed", limits: dict[str, Any] | None = None
) -> str | None:
    """Why the caption is too short or too long, or None."""
    lo, hi = bounds(lang, kind, limits)
    n = caption_units(text)
    unit = "characters" if lang == "zh" else "words"
    if n < lo:
        return f"the caption has {n} {unit}, at least {lo} wanted"
    if n > hi:
        return f"the caption has {n} {unit}, at most {hi} wanted"
    return None


def caption_talk(text: str) -> str | None:
    """Why the caption reads as a model talking (a refusal, "as an AI") or speaks of itself
    ("the description", "这段描述") rather than describing the image, or None."""
    found = opening_refusal(text)
    if found:
        return f"the caption is a refusal: {found!r}"
    said = unquoted(text)
    found = refusal_in(said)
    if found:
        return f"the caption talks as a model: {found!r}"
    m = _SELF_EN.search(said) or _SELF_ZH.search(said)
    if m:
        return f"the caption speaks of itself, not of the image: {m.group(0)!r}"
    return None


def caption_language(text: str, lang: str) -> str | None:
    """Why the caption is not written in `lang`, or None (languages other than en/zh pass)."""
    if lang == "zh":
        share = chinese_share(text)
        if share is None or share < MIN_HAN_SHARE:
            pct = "no" if share is None else f"{share:.0%}"
            return f"a Chinese caption with {pct} Chinese (at least {MIN_HAN_SHARE:.0%} wanted)"
        return None
    if lang == "en":
        share = foreign_share(text)
        if share is not None and share > MAX_FOREIGN_SHARE:
            return f"an English caption with {share:.0%} CJK text"
    return None


def caption_checks(
    text: str, lang: str, kind: str = "detailed", limits: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every caption check's result, keyed by name (`CHECKS`); failures have severity review."""
    out = {}
    for name, reason in (
        ("caption_length", caption_length(text, lang, kind, limits)),
        ("caption_talk", caption_talk(text)),
        ("caption_language", caption_language(text, lang)),
    ):
        out[name] = passed() if reason is None else failed(reason, REVIEW)
    return out


#: The rules a caption sample gets in place of the general ones (which bound an answer's length
#: per instruction type and reject a refusal or talk of "the description").
REPLACED = ("length", "language", "refusal")


def caption_kind(s: Sample) -> str:
    """A caption sample's kind (its category: `detailed` or `brief`; detailed when it names neither)."""
    return s.category if s.category in KINDS else "detailed"


def sample_checks(
    s: Sample,
    limits: dict[str, tuple[int, int]] | None = None,
    caption_limits: dict[str, Any] | None = None,
    described: bool = False,
) -> dict[str, dict[str, Any]]:
    """The rules of a caption sample: the general ones (`rules.rule_checks`: shape, slots, turns)
    with the caption checks of its answer in place of `REPLACED`. A caption sample is one turn.
    `described`: the caption describes a synthetic image from its facts (`DESCRIPTION_LIMITS`)."""
    out = {k: v for k, v in rule_checks(s, limits).items() if k not in REPLACED}
    text = s.turns[0].answer if s.turns else ""
    bounds_of = dict(DESCRIPTION_LIMITS) if described else caption_limits
    out.update(caption_checks(text, s.language, caption_kind(s), bounds_of))
    return out


#: Shingles of a caption: runs of 2 and 3 tokens (a token: a word, a number, a Chinese character).
SHINGLE = 4  # `dedup_texts`' size for CJK runs is one less than this and two less


def tokens(text: str) -> str:
    """A caption as a string of tokens, one character each: every word or number of its
    normalised text (`dedup.normalise`) becomes one character of a CJK extension plane (a stable
    hash of it), Chinese characters stay. Character shingles of the token string are then word
    shingles: a long caption's character n-grams would be nearly all of a language's common ones,
    so that two unrelated captions looked alike."""
    import zlib

    from visinstruct.checks.dedup import normalise

    out = []
    for chunk in normalise(text).split():
        word = []
        for ch in chunk:
            if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
                if word:
                    out.append(_token("".join(word), zlib.crc32))
                    word = []
                out.append(ch)
            else:
                word.append(ch)
        if word:
            out.append(_token("".join(word), zlib.crc32))
    return "".join(out)


def _token(word: str, crc: Any) -> str:
    return chr(0x20000 + (crc(word.encode()) & 0xFFFF))


def caption_duplicates(texts: Iterable[str], threshold: float = 0.8) -> list[int | None]:
    """For each caption, the index of an earlier near-duplicate (Jaccard of their word shingles,
    see `tokens`, at or above `threshold`, estimated by MinHash), or None. Numbers need not match:
    in a long caption they are a detail, and two captions that differ in one count are still one
    caption twice."""
    from visinstruct.checks.dedup import dedup_texts

    return dedup_texts((tokens(t) for t in texts), threshold, shingle=SHINGLE, numbers_must_match=False)


def similarity(a: str, b: str) -> float:
    """The Jaccard of two captions' word shingles (what `caption_duplicates` estimates)."""
    from visinstruct.checks.dedup import shingles

    x = shingles(tokens(a), SHINGLE, numbers_must_match=False)
    y = shingles(tokens(b), SHINGLE, numbers_must_match=False)
    return len(x & y) / max(1, len(x | y))


def duplicate_result(of: str | None, sim: float | None = None) -> dict[str, dict[str, Any]]:
    """The `caption_duplicate` result of a caption sample: passed, or a near-copy of sample `of`."""
    if of is None:
        return {"caption_duplicate": passed()}
    extra = {} if sim is None else {"similarity": round(sim, 3)}
    how = "" if sim is None else f" (similarity {sim:.2f})"
    return {
        "caption_duplicate": failed(
            f"the caption near-copies the caption of sample {of}, of another image{how}",
            REVIEW,
            of=of,
            **extra,
        )
    }
