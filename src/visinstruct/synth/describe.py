"""Dense descriptions of synthetic images, written from their exact facts.

A synthetic domain knows everything it drew, so it can describe its image exactly: what is
drawn, where, with which values, colours and text. Each domain has a `describe.py` with two
functions:

- `describe(facts, lang, rng) -> Description`: a description built from phrase templates kept
  as data (`phrasings/<domain>_describe.yaml`, `key -> lang -> [templates]`), with sentences
  in varied order, alternative phrasings and optional details, so no two images read alike;
- `known(facts) -> Known`: what is true of the image in the terms a text can say it —
  numbers, texts shown, colours, shapes and words — and the facts a description should
  mention (coverage). `checks/facts.py` compares any description, template-made or
  model-written, with it.

A description's `templates` list the template ids it used (`<file>.<key>#<n>`): provenance.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from typing import Any

from visinstruct.synth.base import Question, fmt_num, load_phrasings
from visinstruct.templates import render

#: The description file of a domain is `phrasings/<domain><SUFFIX>.yaml`.
SUFFIX = "_describe"
#: A description of at most this many length units (words; Chinese characters) passes the
#: caption length rule (400) with room to spare; optional sentences are dropped to fit.
BUDGET = {"en": 330, "zh": 360}

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT_RE = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+(?:['’.:,/-][^\W_{_HAN}]+)*")


@dataclass(frozen=True)
class Description:
    """A description and the ids of the templates it was written from."""

    text: str
    templates: tuple[str, ...]


@dataclass(frozen=True)
class Fact:
    """One fact a description should mention: it is mentioned when one sentence holds, for
    every group of `needles`, one of the group's alternatives (a number matches a number of
    the text, anything else a piece of text, case-insensitively)."""

    key: str
    needles: dict[str, tuple[tuple[str, ...], ...]]  # lang -> groups of alternatives


@dataclass
class Known:
    """What is true of an image, in the terms a text can say it."""

    numbers: set[str] = field(default_factory=set)  # canonical numbers (see `canon`)
    texts: set[str] = field(default_factory=set)  # text drawn in the image, and names it shows
    colors: set[str] = field(default_factory=set)  # English colour names of what is drawn
    shapes: set[str] | None = None  # English shape names, for domains of shapes (None: not checked)
    words: set[str] = field(default_factory=set)  # other words a text may use (vertex names, units)
    facts: list[Fact] = field(default_factory=list)  # coverage: what a description should mention

    def add_numbers(self, *values: Any) -> None:
        for v in values:
            for n in numbers_in(str(v)) if isinstance(v, str) else [canon(v)]:
                self.numbers.add(n)

    def add_texts(self, *texts: str) -> None:
        for t in texts:
            if t and str(t).strip():
                self.texts.add(str(t).strip())
                self.add_numbers(str(t))


def canon(v: Any) -> str:
    """A number as one canonical string: 7, 7.0 and '07' are '7'; '17.60' is '17.6'."""
    s = str(v).replace(",", "")
    try:
        f = float(s)
    except ValueError:
        return s
    if f.is_integer():
        return str(int(f))
    return f"{f:.6f}".rstrip("0").rstrip(".")


_NUMBER_RE = re.compile(r"(?<![\d.])\d+(?:,\d{3})*(?:\.\d+)?")


def numbers_in(text: str) -> list[str]:
    """The numbers written with digits in `text`, canonical ('12:30' holds 12 and 30)."""
    return [canon(m.group(0)) for m in _NUMBER_RE.finditer(text)]


def units(text: str) -> int:
    """Length as the caption rules count it: words in English, characters in Chinese."""
    return sum(1 for _ in _UNIT_RE.finditer(text))


class Writer:
    """Renders a domain's description templates, recording which it used, and puts the
    sentences together the way the language does."""

    def __init__(self, domain: str, rng: random.Random, lang: str, also: tuple[str, ...] = ()) -> None:
        """Templates of `domain`, then of the domains `also` names, then the common ones."""
        self.file = f"{domain}{SUFFIX}"
        self.phrases = load_phrasings(self.file)
        self.files = [
            (f, load_phrasings(f)) for f in (self.file, *(f"{d}{SUFFIX}" for d in also), f"common{SUFFIX}")
        ]
        self.rng, self.lang = rng, lang
        self.used: list[str] = []

    def say(self, key: str, **values: object) -> str:
        """A random variant of template `key`, filled; its id is recorded."""
        file, table = next(((f, t) for f, t in self.files if key in t), self.files[0])
        variants = (table.get(key) or {}).get(self.lang)
        if not variants:
            raise KeyError(f"description template {key!r} for language {self.lang!r} missing in {file}.yaml")
        i = self.rng.randrange(len(variants))
        self.used.append(f"{file}.{key}#{i}")
        return render(
            variants[i], {k: fmt_num(v) if isinstance(v, int | float) else v for k, v in values.items()}
        )

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    def listing(self, items: list[str]) -> str:
        """'a, b and c' / 'a、b和c', with the joiner words varied."""
        items = [i for i in items if i]
        if len(items) <= 1:
            return "".join(items)
        if self.lang == "zh":
            sep = "、" if self.rng.random() < 0.8 else "，"
            last = self.rng.choice(("和", "以及", "、") if sep == "、" else ("和", "以及"))
            return sep.join(items[:-1]) + last + items[-1]
        last = self.rng.choice((" and ", ", and ")) if len(items) > 2 else " and "
        return ", ".join(items[:-1]) + last + items[-1]

    def quote(self, text: str) -> str:
        return f"“{text}”" if self.lang == "zh" else f'"{text}"'

    def finish(self, parts: list[tuple[str, bool]]) -> Description:
        """The text of sentences `(sentence, optional)`: optional ones are dropped from the end
        while the text is over the length budget."""
        keep = list(parts)
        while units(self._join([s for s, _ in keep])) > BUDGET[self.lang]:
            drop = next((i for i in range(len(keep) - 1, -1, -1) if keep[i][1]), None)
            if drop is None:
                break
            keep.pop(drop)
        return Description(self._join([s for s, _ in keep]), tuple(dict.fromkeys(self.used)))

    def _join(self, sentences: list[str]) -> str:
        out = [capitalise(s.strip()) if self.lang == "en" else s.strip() for s in sentences if s.strip()]
        out = [_ABBREV_END_RE.sub(".", s) for s in out]  # "... 10:05 A.M.." ends with one full stop
        return ("" if self.lang == "zh" else " ").join(out)


_ABBREV_END_RE = re.compile(r"\.\.$")


def capitalise(s: str) -> str:
    """A sentence starting with a capital (quotes and the text inside them left alone)."""
    return s[0].upper() + s[1:] if s and s[0].islower() else s


def module(domain: str):
    """The `describe` module of a synthetic domain."""
    return import_module(f"visinstruct.synth.{domain}.describe")


@cache
def has_description(domain: str) -> bool:
    try:
        module(domain)
    except ModuleNotFoundError:
        return False
    return True


def describe(domain: str, facts: dict[str, Any], lang: str, seed: str, treated: bool = False) -> Description:
    """The description of an item of `domain`: the same facts, language and seed always
    give the same text (a resumed run, or a stage that rewrites it, makes it again).
    `treated`: realism photographed or scanned the image; its moved facts (scene objects, text
    boxes) are described where they now are, and what it changes otherwise (a document's tilt)
    is left unsaid."""
    return module(domain).describe(facts, lang, random.Random(f"{seed}:describe"), treated)


def known(domain: str, facts: dict[str, Any]) -> Known:
    """What is true of an item of `domain` (see `Known`)."""
    return module(domain).known(facts)


def visible(domain: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The facts of what is drawn: what a model rewriting a description is shown (the
    questions asked, their wrong options and other bookkeeping left out)."""
    drop = getattr(module(domain), "HIDDEN", ())
    return {k: v for k, v in facts.items() if k not in drop}


def caption_question(
    domain: str, facts: dict[str, Any], lang: str, seed: str, key: str, treated: bool = False
) -> Question:
    """The caption draft of an item: a detailed caption request from the bundled pool (drawn
    by the item's key) answered by the item's description; provenance names both."""
    from visinstruct.captions.requests import bundled_pool

    request = bundled_pool().draw(key, lang, kind="detailed")
    d = describe(domain, facts, lang, seed, treated)
    return Question(
        type="caption",
        category=request.kind,
        turns=[(request.text, d.text)],
        phrasing=request.id,
        provenance={"caption_request": request.id, "templates": list(d.templates)},
    )
