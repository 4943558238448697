"""Spot the difference: two images of one scene, the second with 1-3 changes.

Scenes are laid out and drawn by the `scenes` module. A change removes, adds, recolours,
reshapes or moves one object; every changed object has a description (size, colour,
shape) that no other object in either image shares, and added or moved objects land on
space that is empty in both images, so each change is seen as exactly what it is.
"""

from __future__ import annotations

import math
import random

from visinstruct.synth.base import Item, Question, SynthDomain, distinct_distractors, numeric_distractors
from visinstruct.synth.scenes import (
    COLOR_NAMES,
    SHAPES,
    SIZES,
    FirstFit,
    Look,
    area9,
    canvas_dims,
    collision_box,
    color_word,
    desc,
    extent,
    free_spot,
    make_object,
    ordered_pool,
    pick_sizes,
    random_scene,
    region5,
    region_word,
    shape_word,
    where,
)

KINDS = ("removed", "added", "recolored", "reshaped", "moved")
# places in a 3x3 grid, without a preposition, for "moved from the ... to the ..."
PLACE_EN = (
    ("upper left", "top", "upper right"),
    ("left side", "center", "right side"),
    ("lower left", "bottom", "lower right"),
)
PLACE_ZH = (("左上方", "上方", "右上方"), ("左侧", "中间", "右侧"), ("左下方", "下方", "右下方"))


def triple(o: dict) -> tuple[str, str, str]:
    return o["size"], o["color"], o["shape"]


def place(o: dict, w: int, h: int, lang: str) -> str:
    row, col = area9(o, w, h)
    return (PLACE_ZH if lang == "zh" else PLACE_EN)[row][col]


def make_changes(
    rng: random.Random, look: Look, objs1: list[dict], radii: dict[str, int], k: int
) -> tuple[list[dict], list[dict]]:
    """The second scene and the list of changes ({type, id, before, after}) leading to it."""
    w, h = look.w, look.h
    objs2 = [dict(o) for o in objs1]
    t1 = [triple(o) for o in objs1]
    unique1 = [o for o in objs1 if t1.count(triple(o)) == 1]
    present = sorted({o["color"] for o in objs1}, key=COLOR_NAMES.index)
    touched: list[int] = []
    changes: list[dict] = []
    next_id = len(objs1)
    for _ in range(60):
        if len(changes) == k:
            break
        kind = rng.choice(KINDS)
        t2 = [triple(o) for o in objs2]
        cands = [o for o in unique1 if o["id"] not in touched]
        color = rng.choice(present) if rng.random() < 0.7 else rng.choice(COLOR_NAMES)
        new: dict | None = None
        old: dict | None = None
        if kind == "removed":
            if not cands or len(objs2) <= 2:
                continue
            old = rng.choice(cands)
        elif kind == "added":
            size, shape = rng.choice(SIZES), rng.choice(SHAPES)
            pairs = [(o["color"], o["shape"]) for o in objs1 + objs2]
            if len(objs2) >= 10 or (color, shape) in pairs:  # a new kind of object, not a resized one
                continue
            taken = [collision_box(o) for o in objs1 + objs2]
            spot = free_spot(rng, w, h, extent(radii[size]), taken, look.gap, look.margin)
            if spot is None:
                continue
            new = make_object(next_id, shape, color, size, spot[0], spot[1], radii[size], w, h)
            next_id += 1
        elif kind in ("recolored", "reshaped"):
            if not cands:
                continue
            old = rng.choice(cands)
            if kind == "recolored":
                shape = old["shape"]
            else:
                color, shape = old["color"], rng.choice([s for s in SHAPES if s != old["shape"]])
            t = (old["size"], color, shape)
            if t == triple(old) or t in t1 or t in t2:
                continue
            new = make_object(old["id"], shape, color, old["size"], old["x"], old["y"], old["radius"], w, h)
        else:  # moved: to empty space in both images, in another part of the image, well away
            if not cands:
                continue
            old = rng.choice(cands)
            taken = [collision_box(o) for o in objs1] + [
                collision_box(o) for o in objs2 if o["id"] != old["id"]
            ]
            for _ in range(4):
                spot = free_spot(rng, w, h, extent(old["radius"]), taken, look.gap, look.margin, tries=30)
                if spot is None:
                    break
                moved = make_object(
                    old["id"], old["shape"], old["color"], old["size"], spot[0], spot[1], old["radius"], w, h
                )
                far = math.hypot(spot[0] - old["x"], spot[1] - old["y"]) >= 0.3 * min(w, h)
                if far and area9(moved, w, h) != area9(old, w, h):
                    new = moved
                    break
            if new is None:
                continue
        if old is not None:
            touched.append(old["id"])
            objs2 = [o for o in objs2 if o["id"] != old["id"]]
        if new is not None:
            touched.append(new["id"])
            objs2.append(new)
        changes.append({"type": kind, "id": (old or new)["id"], "before": old, "after": new})
    objs2.sort(key=lambda o: o["id"])
    changes.sort(key=lambda c: (c["before"] or c["after"])["y"] + (c["before"] or c["after"])["x"] * 1e-4)
    return objs2, changes


class Differences(SynthDomain):
    name = "differences"
    description = "Spot the difference between two images of a scene of coloured shapes."
    images_per_item = 2

    def make(self, rng: random.Random, lang: str) -> Item:
        while True:
            w, h = canvas_dims(rng)
            look = Look(rng, w, h)
            n = rng.randint(3, 8)
            radii = pick_sizes(rng, w, h, n + 1)
            objs1 = random_scene(rng, look, n, radii)
            objs2, changes = make_changes(rng, look, objs1, radii, rng.choice((1, 1, 2, 2, 3)))
            if changes:
                break
        images = [look.render(objs1), look.render(objs2)]
        qs = DiffQuestions(self, rng, lang, objs1, objs2, changes, w, h).all()
        facts = {
            "width": w,
            "height": h,
            "bbox_norm_scale": 1000,
            "objects_1": objs1,
            "objects_2": objs2,
            "changes": changes,
        }
        return Item(images, facts, qs)


class DiffQuestions(FirstFit):
    """The questions about one pair of images; builders return None when their kind does not fit."""

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
        self.d, self.rng, self.lang, self.w, self.h = domain, rng, lang, w, h
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

    def say(self, key: str, **kw: object) -> str:
        return self.d.say(self.rng, key, self.lang, **kw)

    def text(self, o: dict | tuple) -> str:
        return desc(triple(o) if isinstance(o, dict) else o, self.lang)

    def all(self) -> list[Question]:
        rng = self.rng
        qs: list[Question] = []
        self.used: set[str] = set()
        for _ in range(rng.choice((1, 2))):
            qs.extend(self.first(rng.sample(JUDGE, len(JUDGE)), "jd_count"))
        for kind in rng.sample(MC, rng.choice((1, 2))):
            qs.append(self.first([kind, *rng.sample(MC, len(MC))], "mc_count"))
        for kind in rng.sample(SHORT, rng.choice((1, 2))):
            qs.append(self.first([kind, *rng.sample(SHORT, len(SHORT))], "s_count"))
        qs.append(self.l_list())
        return qs

    def pick(self, kind: str) -> dict | None:
        cs = self.by_kind[kind]
        return self.rng.choice(cs) if cs else None

    def wrong_objects(self, correct: str) -> list[str] | None:
        """Three options that are not the answer: unchanged objects first, then absent ones."""
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
        pool += [self.text(t) for t in absent]
        try:
            return distinct_distractors(correct, pool, self.rng, shuffle=False)
        except ValueError:
            return None

    def color_options(self, correct: str, old: str) -> list[str]:
        pool = [old] + ordered_pool(self.rng, self.colors, list(COLOR_NAMES))
        return distinct_distractors(
            color_word(correct, self.lang), [color_word(c, self.lang) for c in pool], self.rng, shuffle=False
        )

    def shape_options(self, correct: str, old: str) -> list[str]:
        pool = [old] + ordered_pool(self.rng, self.shapes, list(SHAPES))
        return distinct_distractors(
            shape_word(correct, self.lang), [shape_word(s, self.lang) for s in pool], self.rng, shuffle=False
        )

    def judge(self, category: str, key: str, pairs: list[tuple[bool, dict]]) -> list[Question]:
        return [
            Question("judgement", category, [(self.say(key, **kw), "")], truth=t, phrasing=key)
            for t, kw in pairs
        ]

    def mc(self, category: str, key: str, correct: str, wrong: list[str] | None, **kw: object):
        if wrong is None:
            return None
        return Question(
            "multiple_choice",
            category,
            [(self.say(key, **kw), "")],
            correct=correct,
            distractors=wrong,
            phrasing=key,
        )

    def short(self, category: str, key: str, answer: str, **kw: object) -> Question:
        return Question(
            "short_vqa", category, [(self.say(key, **kw), answer)], short_answer=answer, phrasing=key
        )

    # -- judgement pairs

    def jd_count(self):
        k = len(self.changes)
        wrong = self.rng.choice([v for v in (k - 1, k + 1, k + 2) if v >= 1])
        return self.judge("counting", "jd_count", [(True, {"n": k}), (False, {"n": wrong})])

    def jd_both(self):
        gone = [c["before"] for c in self.changes if c["type"] in ("removed", "recolored", "reshaped")]
        gone += [c["after"] for c in self.changes if c["type"] in ("added", "recolored", "reshaped")]
        if not gone or not self.steady:
            return None
        yes, no = self.rng.choice(self.steady), self.rng.choice(gone)
        return self.judge(
            "existence", "jd_both", [(True, {"obj": self.text(yes)}), (False, {"obj": self.text(no)})]
        )

    def jd_color_now(self):
        c = self.pick("recolored")
        if c is None:
            return None
        pool = [
            x
            for x in ordered_pool(self.rng, self.colors, list(COLOR_NAMES))
            if x not in (c["before"]["color"], c["after"]["color"])
        ]
        obj = self.text(c["before"])
        return self.judge(
            "color",
            "jd_color_now",
            [
                (True, {"obj": obj, "color": color_word(c["after"]["color"], self.lang)}),
                (False, {"obj": obj, "color": color_word(pool[0], self.lang)}),
            ],
        )

    def jd_missing(self):
        c = self.pick("removed")
        if c is None or not self.steady:
            return None
        return self.judge(
            "existence",
            "jd_missing",
            [
                (True, {"obj": self.text(c["before"])}),
                (False, {"obj": self.text(self.rng.choice(self.steady))}),
            ],
        )

    def jd_new(self):
        c = self.pick("added")
        if c is None or not self.steady:
            return None
        return self.judge(
            "existence",
            "jd_new",
            [
                (True, {"obj": self.text(c["after"])}),
                (False, {"obj": self.text(self.rng.choice(self.steady))}),
            ],
        )

    def jd_same_place(self):
        c = self.pick("moved")
        if c is None or not self.steady:
            return None
        return self.judge(
            "localization",
            "jd_same_place",
            [
                (True, {"obj": self.text(self.rng.choice(self.steady))}),
                (False, {"obj": self.text(c["before"])}),
            ],
        )

    # -- multiple choice

    def mc_count(self):
        k = len(self.changes)
        return self.mc("counting", "count_diff", str(k), numeric_distractors(k, self.rng))

    def mc_recolored(self):
        c = self.pick("recolored")
        if c is None:
            return None
        correct = self.text(c["before"])
        return self.mc("color", "which_recolored", correct, self.wrong_objects(correct))

    def mc_new_color(self):
        c = self.pick("recolored")
        if c is None:
            return None
        return self.mc(
            "color",
            "new_color",
            color_word(c["after"]["color"], self.lang),
            self.color_options(c["after"]["color"], c["before"]["color"]),
            obj=self.text(c["before"]),
        )

    def mc_new_shape(self):
        c = self.pick("reshaped")
        if c is None:
            return None
        return self.mc(
            "shape",
            "new_shape",
            shape_word(c["after"]["shape"], self.lang),
            self.shape_options(c["after"]["shape"], c["before"]["shape"]),
            obj=self.text(c["before"]),
        )

    def mc_missing(self):
        c = self.pick("removed")
        if c is None:
            return None
        correct = self.text(c["before"])
        return self.mc("existence", "which_missing", correct, self.wrong_objects(correct))

    def mc_added(self):
        c = self.pick("added")
        if c is None:
            return None
        correct = self.text(c["after"])
        return self.mc("existence", "which_added", correct, self.wrong_objects(correct))

    def mc_moved(self):
        c = self.pick("moved")
        if c is None:
            return None
        correct = self.text(c["before"])
        return self.mc("localization", "which_moved", correct, self.wrong_objects(correct))

    # -- short answer

    def s_count(self):
        return self.short("counting", "count_diff", str(len(self.changes)))

    def s_count_objects(self):
        which = self.rng.choice((1, 2))
        objs = self.objs1 if which == 1 else self.objs2
        return self.short("counting", f"count_objects_{which}", str(len(objs)))

    def s_new_color(self):
        c = self.pick("recolored")
        if c is None:
            return None
        return self.short(
            "color", "new_color", color_word(c["after"]["color"], self.lang), obj=self.text(c["before"])
        )

    def s_new_shape(self):
        c = self.pick("reshaped")
        if c is None:
            return None
        return self.short(
            "shape", "new_shape", shape_word(c["after"]["shape"], self.lang), obj=self.text(c["before"])
        )

    def s_missing(self):
        if len(self.by_kind["removed"]) != 1:
            return None
        return self.short("existence", "which_missing", self.text(self.by_kind["removed"][0]["before"]))

    def s_added(self):
        if len(self.by_kind["added"]) != 1:
            return None
        return self.short("existence", "which_added", self.text(self.by_kind["added"][0]["after"]))

    def s_moved_where(self):
        cs = [c for c in self.by_kind["moved"] if region5(c["after"], self.w, self.h) is not None]
        if not cs:
            return None
        c = self.rng.choice(cs)
        return self.short(
            "localization",
            "moved_where",
            region_word(region5(c["after"], self.w, self.h), self.lang),
            obj=self.text(c["before"]),
        )

    # -- long answer

    def describe(self, c: dict) -> str:
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

    def l_list(self) -> Question:
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
        return Question("long_vqa", "change_detection", turns, phrasing="l_list_q")


JUDGE = ["jd_count", "jd_both", "jd_color_now", "jd_missing", "jd_new", "jd_same_place"]
MC = ["mc_count", "mc_recolored", "mc_new_color", "mc_new_shape", "mc_missing", "mc_added", "mc_moved"]
SHORT = ["s_count", "s_count_objects", "s_new_color", "s_new_shape", "s_missing", "s_added", "s_moved_where"]
