"""Changing a scene: remove, add, recolour, reshape or move objects so that each change is seen as
exactly what it is (unique descriptions, added or moved objects on space empty in both images)."""

from __future__ import annotations

import math
import random

from visinstruct.synth.scenes.data import COLOR_NAMES, SHAPES, SIZES
from visinstruct.synth.scenes.draw import Look, extent
from visinstruct.synth.scenes.layout import area9, collision_box, free_spot, make_object

KINDS = ("removed", "added", "recolored", "reshaped", "moved")
# places in a 3x3 grid, without a preposition, for "moved from the ... to the ..."
PLACE_EN = (
    ("upper left", "top", "upper right"),
    ("left side", "center", "right side"),
    ("lower left", "bottom", "lower right"),
)
PLACE_ZH = (("左上方", "上方", "右上方"), ("左侧", "中间", "右侧"), ("左下方", "下方", "右下方"))


def triple(o: dict) -> tuple[str, str, str]:
    """An object's description: (size, colour, shape)."""
    return o["size"], o["color"], o["shape"]


def place(o: dict, w: int, h: int, lang: str) -> str:
    """Where an object is, without a preposition, for "moved from the ... to the ..."."""
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
