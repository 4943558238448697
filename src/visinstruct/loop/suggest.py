"""The closest of our domains to a benchmark category nothing maps: a hint for the user's
mapping, never used to make data on its own.

Candidates are the catalog domains (name, title and description) and every synthetic
domain × question category (the category's name, then the domain's name and description).
A category's words are matched to a candidate's by stem (the first five letters, so
"counting" meets "count" and "recognition" meets "recognise"); words of the candidate's
name count more than words of its description, and the names' spelling similarity
(difflib) breaks ties. A word few candidates use weighs more than a common one
("action" more than "recognition").
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from visinstruct.loop.mapping import SYNTH_CATEGORIES, normalise

_STOP = {"a", "an", "and", "the", "of", "in", "on", "or", "to", "with", "for", "its", "it", "is", "as", "by"}


@dataclass(frozen=True)
class Suggestion:
    """A target to try: `domain` and, for a synthetic domain, its `category`."""

    domain: str
    category: str | None
    score: float

    @property
    def label(self) -> str:
        return f"{self.domain}/{self.category}" if self.category else self.domain


def _stems(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))
    return {w[:5] for w in words if w not in _STOP}


@cache
def _candidates(extra: tuple[str, ...] = ()) -> list[tuple[str, str | None, set[str], set[str]]]:
    """(domain, category, name stems, description stems) of every target we can make."""
    from visinstruct.domains import load_catalog
    from visinstruct.synth import get_domain

    out: list[tuple[str, str | None, set[str], set[str]]] = []
    for name, d in sorted(load_catalog(extra).items()):
        if name in SYNTH_CATEGORIES:  # a catalog domain a synthetic one shadows cannot be named
            continue
        out.append((name, None, _stems(f"{name} {d.title.en}"), _stems(d.description.en)))
    for domain, cats in SYNTH_CATEGORIES.items():
        about = _stems(f"{domain} {get_domain(domain).description}")
        for cat in cats:
            out.append((domain, cat, _stems(cat), about))
    return out


def suggest(category: str, domains_dirs: Iterable[str] = ()) -> Suggestion | None:
    """The closest domain (or synthetic domain/category) to a benchmark category, or None
    when no word of it matches anything."""
    words = _stems(normalise(category))
    if not words:
        return None
    best: Suggestion | None = None
    key = normalise(category)
    candidates = _candidates(tuple(domains_dirs))
    used = {w: sum(w in n or w in a for _, _, n, a in candidates) for w in words}
    rarity = {w: math.log((1 + len(candidates)) / (1 + used[w])) for w in words}
    whole = sum(rarity.values()) or 1.0
    for domain, cat, name, about in candidates:
        hits = sum(rarity[w] * (2 if w in name else 1) for w in words if w in name or w in about)
        if not hits:
            continue
        spelled = difflib.SequenceMatcher(None, key, cat or domain).ratio()
        score = hits / whole + spelled
        if best is None or score > best.score:
            best = Suggestion(domain, cat, score)
    return best
