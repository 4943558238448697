"""Differences' questions: how many changes, which object went, came, moved or changed, its new
colour, shape or place, as `Fact`s for the shared engine, and the list of all changes.

Wrong objects are unchanged ones first, then kinds of object in neither image.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from visinstruct.synth.ask import Fact, Kinds, Said, Voice, nearby, preferred_first
from visinstruct.synth.base import SynthDomain
from visinstruct.synth.differences.changes import KINDS, place, triple
from visinstruct.synth.scenes.data import (
    COLOR_NAMES,
    REGIONS,
    SHAPES,
    SIZES,
    color_word,
    desc,
    region_word,
    shape_word,
)
from visinstruct.synth.scenes.layout import region5, where

Judge = Callable[[bool], tuple[Said, dict[str, Any]]]


class DiffFacts:
    """The facts of one pair of images, worded in one language with the item's random stream."""

    def __init__(
        self,
        domain: SynthDomain,
        rng: random.Random,
        lang: str,
        objs1: list[dict],
        objs2: list[dict],
        changes: list[dict],
        w: int,
        h: int,
    ):
        self.v = Voice(domain, rng, lang)
        self.say, self.said = self.v.say, self.v.said
        self.rng, self.lang, self.w, self.h = rng, lang, w, h
        self.objs1, self.objs2, self.changes = objs1, objs2, changes
        self.by_kind = {k: [c for c in changes if c["type"] == k] for k in KINDS}
        changed = [c["id"] for c in changes]
        t1, t2 = [triple(o) for o in objs1], [triple(o) for o in objs2]
        # unchanged objects that no other object in either image shares a description with
        self.steady = [
            o
            for o in objs1
            if o["id"] not in changed and t1.count(triple(o)) == 1 and t2.count(triple(o)) == 1
        ]
        self.colors = sorted({o["color"] for o in objs1 + objs2}, key=COLOR_NAMES.index)
        self.shapes = sorted({o["shape"] for o in objs1 + objs2}, key=SHAPES.index)

    def kinds(self) -> Kinds:
        """Every kind of fact the pair of images can have."""
        names = (
            "count",
            "count_objects",
            "both",
            "color_now",
            "new_color",
            "new_shape",
            "recolored",
            "missing",
            "added",
            "moved",
            "moved_where",
        )
        return Kinds(self.rng, {k: getattr(self, f"k_{k}") for k in names})

    def text(self, o: dict | tuple) -> str:
        return desc(triple(o) if isinstance(o, dict) else o, self.lang)

    def pick(self, kind: str) -> dict | None:
        cs = self.by_kind[kind]
        return self.rng.choice(cs) if cs else None

    def wrong_objects(self) -> list[str]:
        """Objects that are not the answer: unchanged ones first, then kinds in neither image."""
        pool = [self.text(o) for o in self.steady]
        self.rng.shuffle(pool)
        everywhere = [triple(o) for o in self.objs1 + self.objs2]
        absent = [
            (s, c, sh)
            for c in self.colors
            for sh in self.shapes
            for s in SIZES
            if (s, c, sh) not in everywhere
        ]
        self.rng.shuffle(absent)
        return pool + [self.text(t) for t in absent]

    def which(self, kind: str, key: str, category: str, side: str, judge: Judge | None = None) -> Fact | None:
        """Which object was removed / added / recoloured / moved: a short answer only if one was."""
        c = self.pick(kind)
        if c is None:
            return None
        return Fact(
            f"which_{kind}",
            category,
            self.text(c[side]),
            self.wrong_objects(),
            ask=lambda: self.said(key),
            judge=judge,
            short=len(self.by_kind[kind]) == 1,
        )

    def judge(self, key: str, yes: dict, no: dict) -> Judge:
        """A judge stating '<key>' of an object: true of `yes`, false of `no`."""

        def judge(truth: bool) -> tuple[Said, dict[str, Any]]:
            obj = self.text(yes if truth else no)
            return self.said(key, obj=obj), {"obj": obj}

        return judge

    # -- facts
    def k_count(self) -> Fact:
        k = len(self.changes)
        return Fact(
            "count",
            "counting",
            k,
            nearby(k, self.rng, lo=1),
            ask=lambda: self.said("count_diff"),
            claim=lambda n: self.said("jd_count", n=n),
        )

    def k_count_objects(self) -> Fact:
        which = self.rng.choice((1, 2))
        n = len(self.objs1 if which == 1 else self.objs2)
        return Fact(
            "count_objects",
            "counting",
            n,
            nearby(n, self.rng, lo=1),
            ask=lambda: self.said(f"count_objects_{which}"),
        )

    def k_both(self) -> Fact | None:
        """Is an object in both images? True of an unchanged one, false of one that changed."""
        gone = [c["before"] for c in self.changes if c["type"] in ("removed", "recolored", "reshaped")]
        gone += [c["after"] for c in self.changes if c["type"] in ("added", "recolored", "reshaped")]
        if not gone or not self.steady:
            return None
        judge = self.judge("jd_both", self.rng.choice(self.steady), self.rng.choice(gone))
        return Fact("both", "existence", judge=judge)

    def k_color_now(self) -> Fact | None:
        c = self.pick("recolored")
        if c is None:
            return None
        old, new = c["before"]["color"], c["after"]["color"]
        pool = [x for x in preferred_first(self.rng, self.colors, COLOR_NAMES) if x not in (old, new)]
        obj = self.text(c["before"])
        return Fact(
            "color_now",
            "color",
            new,
            pool,
            show=lambda x: color_word(x, self.lang),
            claim=lambda x: self.said("jd_color_now", obj=obj, color=color_word(x, self.lang)),
            false_from=1,
        )

    def k_new_color(self) -> Fact | None:
        c = self.pick("recolored")
        if c is None:
            return None
        obj = self.text(c["before"])
        return Fact(
            "new_color",
            "color",
            c["after"]["color"],
            [c["before"]["color"]] + preferred_first(self.rng, self.colors, COLOR_NAMES),
            show=lambda x: color_word(x, self.lang),
            ask=lambda: self.said("new_color", obj=obj),
        )

    def k_new_shape(self) -> Fact | None:
        c = self.pick("reshaped")
        if c is None:
            return None
        obj = self.text(c["before"])
        return Fact(
            "new_shape",
            "shape",
            c["after"]["shape"],
            [c["before"]["shape"]] + preferred_first(self.rng, self.shapes, SHAPES),
            show=lambda x: shape_word(x, self.lang),
            ask=lambda: self.said("new_shape", obj=obj),
        )

    def k_recolored(self) -> Fact | None:
        return self.which("recolored", "which_recolored", "color", "before")

    def k_missing(self) -> Fact | None:
        c, judge = self.pick("removed"), None
        if c is not None and self.steady:
            judge = self.judge("jd_missing", c["before"], self.rng.choice(self.steady))
        return self.which("removed", "which_missing", "existence", "before", judge)

    def k_added(self) -> Fact | None:
        c, judge = self.pick("added"), None
        if c is not None and self.steady:
            judge = self.judge("jd_new", c["after"], self.rng.choice(self.steady))
        return self.which("added", "which_added", "existence", "after", judge)

    def k_moved(self) -> Fact | None:
        """Which object moved; and is an object in the same place in both? (false of the moved one)"""
        c, judge = self.pick("moved"), None
        if c is not None and self.steady:
            judge = self.judge("jd_same_place", self.rng.choice(self.steady), c["before"])
        return self.which("moved", "which_moved", "localization", "before", judge)

    def k_moved_where(self) -> Fact | None:
        cs = [c for c in self.by_kind["moved"] if region5(c["after"], self.w, self.h) is not None]
        if not cs:
            return None
        c = self.rng.choice(cs)
        reg = region5(c["after"], self.w, self.h)
        obj = self.text(c["before"])
        return Fact(
            "moved_where",
            "localization",
            reg,
            [r for r in REGIONS if r != reg],
            show=lambda r: region_word(r, self.lang),
            ask=lambda: self.said("moved_where", obj=obj),
            choose_from=len(REGIONS),
        )

    # -- long answer
    def describe(self, c: dict) -> str:
        """One change as a sentence: what changed, where, from what to what."""
        b, a, lang, w, h = c["before"], c["after"], self.lang, self.w, self.h
        if c["type"] == "removed":
            return self.say("ch_removed", obj=self.text(b), where=where(b, w, h, lang))
        if c["type"] == "added":
            return self.say("ch_added", obj=self.text(a), where=where(a, w, h, lang))
        if c["type"] == "recolored":
            return self.say(
                "ch_recolored",
                obj=self.text(b),
                where=where(b, w, h, lang),
                old=color_word(b["color"], lang),
                new=color_word(a["color"], lang),
            )
        if c["type"] == "reshaped":
            return self.say(
                "ch_reshaped",
                obj=self.text(b),
                where=where(b, w, h, lang),
                old=shape_word(b["shape"], lang),
                new=shape_word(a["shape"], lang),
            )
        return self.say("ch_moved", obj=self.text(b), src=place(b, w, h, lang), dst=place(a, w, h, lang))

    def listed(self) -> Fact:
        """Every change, one per line, then how many there are (and how the object counts differ)."""
        k = len(self.changes)
        lines = "\n".join(
            self.say("item_line", i=i, text=self.describe(c)) for i, c in enumerate(self.changes, 1)
        )
        turns = [
            (self.say("l_list_q"), self.say("l_list_a_one" if k == 1 else "l_list_a_many", items=lines, k=k))
        ]
        turns.append((self.say("l_total_q"), self.say("l_total_a", k=k)))
        if self.rng.random() < 0.6:
            n1, n2 = len(self.objs1), len(self.objs2)
            r, a = len(self.by_kind["removed"]), len(self.by_kind["added"])
            key = "l_objects_a" if r or a else "l_objects_same"
            turns.append((self.say("l_objects_q"), self.say(key, n1=n1, n2=n2, r=r, a=a)))
        return Fact("changes", "change_detection", explain=lambda: turns, key="l_list_q")
