"""What a synthetic domain is: it draws images itself and so knows their exact facts.

A domain's `make(rng, lang)` returns an `Item`: the image(s), the facts behind them, and
draft `Question`s. Drafts are correct by construction; the engine turns them into
`Sample`s (ids, answer letters placed for balance, localised yes/no, checks).

Every domain must give, per item, at least one question of each of the four types:
- judgement: an even number of questions, half true and half false (the false ones built
  from a plausible wrong detail), with `truth` set and the answer left to the engine;
- multiple_choice: `correct` plus exactly 3 distinct, plausible `distractors`;
- short_vqa: one turn whose answer is a word or a number (also in `short_answer`);
- long_vqa: two or more turns whose answers explain the working.
Question wording comes from the domain's phrasing file (`phrasings/<name>.yaml`), so
phrasings are data and can be augmented later. `ask.py` turns a domain's facts into drafts
of these four types; each domain is a package of data, drawing and questions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from PIL import Image

from visinstruct.templates import render


@dataclass
class Question:
    """A draft instruction, correct by construction, before the engine finalises it."""

    type: str  # judgement | multiple_choice | short_vqa | long_vqa | caption
    category: str  # the kind of skill asked for, e.g. "counting", "value_lookup"
    turns: list[tuple[str, str]]  # (question, answer); judgement/multiple_choice: answer may be ""
    truth: bool | None = None  # judgement: is the statement true
    correct: str | None = None  # multiple_choice: the right option
    distractors: list[str] = field(default_factory=list)  # multiple_choice: 3 wrong options
    short_answer: str | None = None  # short_vqa: the word or number
    phrasing: str | None = None  # phrasing key used, for provenance
    provenance: dict[str, Any] = field(default_factory=dict)  # more provenance (caption: request, templates)


@dataclass
class Item:
    """One unit of synthetic output: image(s), the exact facts, and draft questions."""

    images: list[Image.Image]
    facts: dict[str, Any]
    questions: list[Question]
    # the images' bytes and format when they were encoded already (a photographed look ends
    # as a JPEG): stored as they are; otherwise the engine encodes PNG
    encoded: list[tuple[bytes, str]] | None = None


# libyaml's parser where PyYAML has it: 7x faster than the pure-Python one, which costs every
# worker process 0.4 s for the built-in phrasings
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _phrasing_file(name: str) -> Traversable:
    return resources.files("visinstruct.synth").joinpath("phrasings").joinpath(f"{name}.yaml")


def has_phrasings(name: str) -> bool:
    """Whether a domain has a phrasing file of its own."""
    return _phrasing_file(name).is_file()


@cache
def load_phrasings(name: str) -> dict[str, dict[str, list[str]]]:
    """Phrasing variants of a domain, `key -> lang -> [templates]`, from its YAML file."""
    text = _phrasing_file(name).read_text("utf-8")
    return yaml.load(text, Loader=_LOADER) or {}


@cache
def load_words(name: str) -> dict[str, Any]:
    """A word list file, `synth/words/<name>.yaml` (e.g. "charts.zh": what Chinese charts are
    about), loaded once per process: Chinese items draw and quote native Chinese labels."""
    path = resources.files("visinstruct.synth").joinpath("words").joinpath(f"{name}.yaml")
    return yaml.load(path.read_text("utf-8"), Loader=_LOADER) or {}


class SynthDomain:
    """Base class of a programmatic domain. Subclasses set `name` and implement `make`."""

    name: str = ""
    description: str = ""
    images_per_item: int = 1
    # realism may move pixels (perspective, skew): no answer depends on where things are drawn.
    # A domain whose answers do either moves its facts with `relocate(item, warp, rng, lang)`
    # or sets this False (photometric changes only); see `realism.py`.
    geometric: bool = True
    # facts holding pixel coordinates, moved with the pixels when realism warps the image:
    # fact key -> "boxes" (a list of [x0, y0, x1, y1]) or "points" (a dict of name -> [x, y])
    coordinates: dict[str, str] = {}

    def make(self, rng: random.Random, lang: str) -> Item:
        """One item: its image(s), the facts behind them and draft questions."""
        raise NotImplementedError

    def say(self, rng: random.Random, key: str, lang: str, **values: object) -> str:
        """A randomly chosen phrasing of `key` in `lang`, with its placeholders filled."""
        variants = load_phrasings(self.name).get(key) or load_phrasings("common").get(key)
        if not variants or lang not in variants:
            raise KeyError(f"phrasing {key!r} for language {lang!r} missing in {self.name}.yaml")
        return render(rng.choice(variants[lang]), values)


def common(rng: random.Random, key: str, lang: str, **values: object) -> str:
    """A phrasing from `common.yaml` (option layout, yes/no words, joiners)."""
    return render(rng.choice(load_phrasings("common")[key][lang]), values)


def fmt_num(v: int | float) -> str:
    """Numbers as a person writes them: integers without '.0', floats to at most 2 places."""
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)
