"""Programmatic domains: the engine draws each image and knows the exact facts behind it."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from visinstruct.synth.base import Item, Question, SynthDomain

# name -> "module:Class"; imported on first use so a run pays only for the domains it uses
REGISTRY: dict[str, str] = {
    "charts": "visinstruct.synth.charts:Charts",
    "tables": "visinstruct.synth.tables:Tables",
    "geometry": "visinstruct.synth.geometry:Geometry",
    "scenes": "visinstruct.synth.scenes:Scenes",
    "ocr": "visinstruct.synth.ocr:Ocr",
    "clocks": "visinstruct.synth.clocks:Clocks",
    "differences": "visinstruct.synth.differences:Differences",
}


@cache
def get_domain(name: str) -> SynthDomain:
    """The synthetic domain called `name` (KeyError if there is none)."""
    module, cls = REGISTRY[name].split(":")
    return getattr(import_module(module), cls)()


def warm(names: list[str]) -> None:
    """Import the named domains and load their phrasings now: worker processes forked after
    this share them instead of each loading them again."""
    from visinstruct.synth.base import has_phrasings, load_phrasings

    load_phrasings("common")
    for name in names:
        get_domain(name)
        if has_phrasings(name):  # a domain may phrase everything with the common file
            load_phrasings(name)


__all__ = ["REGISTRY", "Item", "Question", "SynthDomain", "get_domain", "warm"]
