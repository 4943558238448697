"""Scenes' questions: counts, colours, shapes, regions, relations, comparisons and existence, each a
`Fact` asked as every type it can be, and worked long answers.

Objects are named by descriptions that fit them alone; a relation is asked only when it
clearly holds (boxes apart, centres well separated), a region only for objects clearly in it.
"""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.ask import Fact, Kinds, Said, Voice, nearby, preferred_first
from visinstruct.synth.base import SynthDomain
from visinstruct.synth.scenes.data import (
    ALL_SHAPES,
    COLOR_NAMES,
    OPPOSITE,
    REGIONS,
    REL_EN,
    REL_ZH,
    SHAPES,
    SOLIDS,
    Filt,
    article,
    choose_filter,
    color_word,
    count,
    desc,
    filt_of,
    matches,
    region_word,
    shape_word,
    unique_filters,
)
from visinstruct.synth.scenes.layout import center_norm, norm1000, region5, where

# a region's neighbours: the plausible wrong answer to "is it in the ... ?"
NEAR_REGIONS = {
    "top-left": ("top-right", "bottom-left", "center"),
    "top-right": ("top-left", "bottom-right"),
    "bottom-left": ("top-left", "bottom-right"),
    "bottom-right": ("top-right", "bottom-left"),
    "center": ("top-left", "top-right", "bottom-left", "bottom-right"),
}
# which attributes a counted group names: (size, colour, shape)
COUNT_MASKS = (
    (0, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (0, 1, 1),
    (1, 0, 0),
    (1, 1, 1),
    (1, 1, 0),
    (1, 0, 1),
    (0, 1, 0),
    (0, 0, 1),
)


class SceneFacts:
    """The facts of one scene, worded in one language with the item's random stream."""

    def __init__(self, domain: SynthDomain, rng: random.Random, lang: str, objs: list[dict], w: int, h: int):
        self.v = Voice(domain, rng, lang)
        self.say, self.said = self.v.say, self.v.said
        self.rng, self.lang, self.objs, self.w, self.h = rng, lang, objs, w, h
        self.present_colors = sorted({o["color"] for o in objs}, key=COLOR_NAMES.index)
        self.present_shapes = sorted({o["shape"] for o in objs}, key=ALL_SHAPES.index)
        # wrong shapes: of the scene's kind (flat shapes or solids) first
        self.shape_pool = SOLIDS + SHAPES if any(s in SOLIDS for s in self.present_shapes) else SHAPES
        self._unique: dict[tuple, list[Filt]] = {}

    def kinds(self) -> Kinds:
        """Short facts: for judgements, multiple choice and short answers."""
        names = ("count", "color", "shape", "region", "relation", "more", "exist", "extreme", "common")
        return Kinds(self.rng, {k: getattr(self, f"k_{k}") for k in names})

    def long_kinds(self) -> Kinds:
        """Worked long answers: a count, a box, a comparison of counts, a relation."""
        names = ("count", "ground", "compare", "spatial")
        return Kinds(self.rng, {k: getattr(self, f"l_{k}") for k in names})

    # -- helpers
    def unique_filter(self, o: dict, allowed: tuple[int, int, int] = (1, 1, 1)) -> Filt | None:
        """A description that fits `o` alone (the candidates are worked out once per object)."""
        key = (o["id"], allowed)
        if key not in self._unique:
            self._unique[key] = unique_filters(o, self.objs, allowed)
        return choose_filter(self.rng, self._unique[key])

    def text(self, f: Filt, plural: bool = False) -> str:
        return desc(f, self.lang, plural)

    def some_filter(self) -> Filt:
        """A filter matching at least one object (all objects when it mentions nothing)."""
        return filt_of(self.rng.choice(self.objs), self.rng.choice(COUNT_MASKS))

    def uniq(
        self, allowed: tuple[int, int, int] = (1, 1, 1), pool: list[dict] | None = None
    ) -> tuple[dict, Filt] | None:
        """An object and a description using only `allowed` attributes that fits it alone."""
        cands = list(pool if pool is not None else self.objs)
        self.rng.shuffle(cands)
        for o in cands:
            f = self.unique_filter(o, allowed)
            if f is not None:
                return o, f
        return None

    def pairs(self, axis: str) -> list[tuple[dict, dict]]:
        """Ordered pairs (a, b) with a clearly left of / above b on `axis` ('x' or 'y')."""
        i0, i1, size = (0, 2, self.w) if axis == "x" else (1, 3, self.h)
        out = []
        for a in self.objs:
            for b in self.objs:
                if a["bbox"][i1] < b["bbox"][i0] and b[axis] - a[axis] >= 0.12 * size:
                    out.append((a, b))
        return out

    def relation(self) -> tuple[dict, Filt, dict, Filt, str] | None:
        """Two uniquely described objects and a relation that clearly holds between them."""
        rng = self.rng
        axes = ["x", "y"]
        rng.shuffle(axes)
        for axis in axes:
            ps = self.pairs(axis)
            rng.shuffle(ps)
            for a, b in ps[:6]:
                fa = self.unique_filter(a)
                fb = self.unique_filter(b)
                if fa is None or fb is None:
                    continue
                if rng.random() < 0.5:
                    return a, fa, b, fb, "left" if axis == "x" else "above"
                return b, fb, a, fa, "right" if axis == "x" else "below"
        return None

    def located(self) -> tuple[dict, Filt, str] | None:
        """An object clearly inside one of the five regions, its description and the region."""
        pool = [o for o in self.objs if region5(o, self.w, self.h) is not None]
        got = self.uniq(pool=pool)
        if got is None:
            return None
        o, f = got
        return o, f, region5(o, self.w, self.h)

    def compared(self, attr: str) -> tuple[str, int, str, int] | None:
        """Two values of `attr` ('color' or 'shape') whose counts differ, larger first."""
        values = self.present_colors if attr == "color" else self.present_shapes
        cnt = {v: count(self.objs, self.group(attr, v)) for v in values}
        ps = [(a, b) for a in values for b in values if cnt[a] > cnt[b]]
        if not ps:
            return None
        a, b = self.rng.choice(ps)
        return a, cnt[a], b, cnt[b]

    def group(self, attr: str, v: str) -> Filt:
        return (None, v, None) if attr == "color" else (None, None, v)

    def absent_combos(self) -> list[Filt]:
        """Colour-shape kinds not in the scene (colours of the scene first): false 'is there'."""
        out = []
        for c in preferred_first(self.rng, self.present_colors, COLOR_NAMES)[:7]:
            for s in self.present_shapes:
                if count(self.objs, (None, c, s)) == 0:
                    out.append((None, c, s))
        self.rng.shuffle(out)
        return out

    def present_combos(self) -> list[Filt]:
        """Colour-shape kinds in the scene."""
        seen: list[Filt] = []
        for o in self.objs:
            f = (None, o["color"], o["shape"])
            if f not in seen:
                seen.append(f)
        self.rng.shuffle(seen)
        return seen

    def listing(self, f: Filt) -> str:
        """The objects fitting `f`, top to bottom, each with roughly where it is."""
        items = [
            self.say(
                "list_item",
                obj=desc((o["size"], o["color"], o["shape"]), self.lang),
                where=where(o, self.w, self.h, self.lang),
            )
            for o in sorted(self.objs, key=lambda o: (o["y"], o["x"]))
            if matches(o, f)
        ]
        if len(items) == 1:
            return items[0]
        return self.say("join_last", head=self.say("sep").join(items[:-1]), last=items[-1])

    def count_answer(self, f: Filt) -> str:
        """A count worked out by listing what is counted."""
        n = count(self.objs, f)
        things = self.text(f, plural=True)
        if n == 0:
            return self.say("l_count_none", things=things)
        return self.say("l_count_a", things=things, items=self.listing(f), n=n)

    # -- facts: each returns None when the scene has nothing of its kind
    def k_count(self) -> Fact:
        f = self.some_filter()
        things = self.text(f, plural=True)
        n = count(self.objs, f)
        return Fact(
            "count",
            "counting",
            n,
            nearby(n, self.rng, lo=1),
            ask=lambda: self.said("count", things=things),
            claim=lambda v: self.said("j_count", n=v, things=things),
        )

    def k_color(self) -> Fact | None:
        got = self.uniq((1, 0, 1))
        if got is None:
            return None
        o, f = got
        obj = self.text(f)
        return Fact(
            "color",
            "color",
            o["color"],
            preferred_first(self.rng, self.present_colors, COLOR_NAMES),
            show=lambda c: color_word(c, self.lang),
            ask=lambda: self.said("color_of", obj=obj),
            claim=lambda c: self.said("j_color", obj=obj, color=color_word(c, self.lang)),
        )

    def k_shape(self) -> Fact | None:
        got = self.uniq((1, 1, 0))
        if got is None:
            return None
        o, f = got
        obj = self.text(f)
        return Fact(
            "shape",
            "shape",
            o["shape"],
            preferred_first(self.rng, self.present_shapes, self.shape_pool),
            show=lambda s: shape_word(s, self.lang),
            ask=lambda: self.said("shape_of", obj=obj),
            claim=lambda s: self.said("j_shape", obj=obj, shape=shape_word(s, self.lang)),
        )

    def k_region(self) -> Fact | None:
        got = self.located()
        if got is None:
            return None
        _, f, reg = got
        obj = self.text(f)
        near = list(NEAR_REGIONS[reg])
        self.rng.shuffle(near)
        return Fact(
            "region",
            "localization",
            reg,
            near + [r for r in REGIONS if r not in near],
            show=lambda r: region_word(r, self.lang),
            ask=lambda: self.said("region_of", obj=obj),
            claim=lambda r: self.said("j_region", obj=obj, region=region_word(r, self.lang)),
            false_from=len(near),
            choose_from=len(REGIONS),
        )

    def k_relation(self) -> Fact | None:
        got = self.relation()
        if got is None:
            return None
        _, fa, _, fb, rel = got
        a, b = self.text(fa), self.text(fb)
        key = "left_or_right" if rel in ("left", "right") else "above_or_below"
        rels = REL_ZH if self.lang == "zh" else REL_EN
        return Fact(
            "relation",
            "spatial_relation",
            rel,
            [OPPOSITE[rel]],
            show=lambda r: REL_ZH[r] if self.lang == "zh" else r,
            ask=lambda: self.said(key, a=a, b=b),
            claim=lambda r: self.said("j_spatial", a=a, b=b, rel=rels[r]),
        )

    def k_more(self) -> Fact | None:
        attr = self.rng.choice(("color", "shape"))
        got = self.compared(attr)
        if got is None:
            attr = "shape" if attr == "color" else "color"
            got = self.compared(attr)
        if got is None:
            return None
        a, _, b, _ = got
        x, y = (a, b) if self.rng.random() < 0.5 else (b, a)

        def claim(g: str) -> Said:
            other = b if g == a else a
            ta, tb = self.text(self.group(attr, g), True), self.text(self.group(attr, other), True)
            return self.said("j_more", a=ta, b=tb)

        return Fact(
            "more",
            "comparison",
            a,
            [b],
            show=lambda v: (color_word if attr == "color" else shape_word)(v, self.lang),
            ask=lambda: self.said("more_color", a=color_word(x, self.lang), b=color_word(y, self.lang)),
            claim=claim,
            short=attr == "color",
        )

    def k_exist(self) -> Fact | None:
        """Is there a ...? True of a kind of object in the scene, false of one that is not."""
        absent, present = self.absent_combos(), self.present_combos()
        if not absent:
            return None
        o = self.rng.choice(self.objs)
        yes = (o["size"] if self.rng.random() < 0.3 else None, o["color"], o["shape"])

        def judge(truth: bool) -> tuple[Said, dict[str, Any]]:
            f = yes if truth else absent[0]
            return self.said("j_exist", thing=article(self.text(f), self.lang)), {"thing": list(f)}

        if self.rng.random() < 0.5 and len(absent) >= 3 and present:
            correct, wrong, key = present[0], absent[:3], "which_present"
        elif len(present) >= 3:
            correct, wrong, key = absent[0], present[:3], "which_absent"
        else:
            return Fact("exist", "existence", judge=judge)
        return Fact(
            "exist",
            "existence",
            self.text(correct),
            [self.text(f) for f in wrong],
            ask=lambda: self.said(key),
            judge=judge,
            short=False,
        )

    def k_extreme(self) -> Fact | None:
        """Which of four objects is furthest to one side (clearly, and its edge too)."""
        rng = self.rng
        direction = rng.choice(("left", "right", "top", "bottom"))
        axis, size = ("x", self.w) if direction in ("left", "right") else ("y", self.h)
        sign = 1 if direction in ("left", "top") else -1
        cands = []
        for o in self.objs:
            f = self.unique_filter(o)
            if f is not None:
                cands.append((o, f))
        if len(cands) < 4:
            return None
        rng.shuffle(cands)
        four = cands[:4]
        four.sort(key=lambda c: sign * c[0][axis])
        best, second = four[0][0], four[1][0]
        i0, i1 = (0, 2) if axis == "x" else (1, 3)
        others = [c[0] for c in four[1:]]
        if sign == 1:  # its edge is also the nearest to that side of the image
            edge_ok = all(best["bbox"][i0] < o["bbox"][i0] for o in others)
        else:
            edge_ok = all(best["bbox"][i1] > o["bbox"][i1] for o in others)
        if sign * (second[axis] - best[axis]) < 0.1 * size or not edge_ok:
            return None
        opts = [self.text(f) for _, f in four]
        side = self.say(f"side_{direction}")
        return Fact(
            "extreme",
            "spatial_relation",
            opts[0],
            opts[1:],
            ask=lambda: self.said("extreme", side=side),
            short=False,
        )

    def k_common(self) -> Fact | None:
        """The most common colour or shape (only when no other is as common)."""
        attr = self.rng.choice(("color", "shape"))
        values = self.present_colors if attr == "color" else self.present_shapes
        cnt = sorted(((count(self.objs, self.group(attr, v)), v) for v in values), reverse=True)
        if len(cnt) > 1 and cnt[0][0] == cnt[1][0]:
            return None
        if attr == "color":
            wrong, word = preferred_first(self.rng, self.present_colors, COLOR_NAMES), color_word
        else:
            wrong, word = preferred_first(self.rng, self.present_shapes, self.shape_pool), shape_word
        key = f"common_{attr}"
        return Fact(
            "common",
            "comparison",
            cnt[0][1],
            wrong,
            show=lambda v: word(v, self.lang),
            ask=lambda: self.said(key),
            short=False,
        )

    # -- long answers
    def long(self, kind: str, category: str, key: str, turns: list[tuple[str, str]]) -> Fact:
        """A long-answer fact of these turns."""
        return Fact(kind, category, explain=lambda: turns, key=key)

    def l_count(self) -> Fact:
        for _ in range(4):  # prefer a group of two or more to go through
            f = self.some_filter()
            if f == (None, None, None):
                f = (None, self.rng.choice(self.objs)["color"], None)
            if count(self.objs, f) >= 2:
                break
        n, total = count(self.objs, f), len(self.objs)
        things = self.text(f, plural=True)
        turns = [
            (self.say("l_count_q", things=things), self.count_answer(f)),
            (
                self.say("l_total_q", things=things),
                self.say("l_total_a", total=total, n=n, rest=total - n, things=things),
            ),
        ]
        return self.long("l_count", "counting", "l_total_q", turns)

    def l_ground(self) -> Fact | None:
        got = self.uniq()
        if got is None:
            return None
        o, f = got
        obj = self.text(f)
        cx, cy = center_norm(o, self.w, self.h)
        b, nb = o["bbox"], o["bbox_norm"]
        turns = [
            (
                self.say("l_where_q", obj=obj),
                self.say("l_where_a", obj=obj, where=where(o, self.w, self.h, self.lang), cx=cx, cy=cy),
            ),
            (
                self.say("l_bbox_q", obj=obj),
                self.say(
                    "l_bbox_a",
                    obj=obj,
                    w=self.w,
                    h=self.h,
                    px0=b[0],
                    py0=b[1],
                    px1=b[2],
                    py1=b[3],
                    box=f"[{nb[0]}, {nb[1]}, {nb[2]}, {nb[3]}]",
                ),
            ),
        ]
        if self.rng.random() < 0.5:
            turns.reverse()
        return self.long("l_ground", "localization", "l_bbox_q", turns)

    def l_compare(self) -> Fact | None:
        attr = self.rng.choice(("color", "shape"))
        got = self.compared(attr)
        if got is None:
            return None
        a, na, b, nb = got
        fa, fb = self.group(attr, a), self.group(attr, b)
        if self.rng.random() < 0.5:
            fa, fb, na, nb = fb, fa, nb, na
        ta, tb = self.text(fa, plural=True), self.text(fb, plural=True)
        key = "l_more_yes" if na > nb else "l_more_no"
        turns = [
            (self.say("l_count_q", things=ta), self.count_answer(fa)),
            (self.say("l_count_q", things=tb), self.count_answer(fb)),
            (self.say("j_more", a=ta, b=tb), self.say(key, a=ta, b=tb, na=na, nb=nb)),
        ]
        return self.long("l_compare", "comparison", key, turns)

    def l_spatial(self) -> Fact | None:
        got = self.relation()
        if got is None:
            return None
        a, fa, b, fb, rel = got
        truth = self.rng.random() < 0.5
        shown = rel if truth else OPPOSITE[rel]
        ta, tb = self.text(fa), self.text(fb)
        axis = "x" if rel in ("left", "right") else "y"
        va = norm1000(a[axis], self.w if axis == "x" else self.h)
        vb = norm1000(b[axis], self.w if axis == "x" else self.h)
        rels = REL_ZH if self.lang == "zh" else REL_EN
        verdict = self.say("verdict_yes" if truth else "verdict_no")
        turns = []
        for o, t in ((a, ta), (b, tb)):
            cx, cy = center_norm(o, self.w, self.h)
            turns.append(
                (
                    self.say("l_where_q", obj=t),
                    self.say("l_where_a", obj=t, where=where(o, self.w, self.h, self.lang), cx=cx, cy=cy),
                )
            )
        turns.append(
            (
                self.say("j_spatial", a=ta, b=tb, rel=rels[shown]),
                self.say(
                    f"l_rel_{axis}",
                    verdict=verdict,
                    a=ta,
                    b=tb,
                    va=va,
                    vb=vb,
                    cmp="<" if va < vb else ">",
                    rel=rels[rel],
                ),
            )
        )
        return self.long("l_spatial", "spatial_relation", f"l_rel_{axis}", turns)
