"""Scenes' vocabulary and descriptions: shapes, colours, sizes, regions and relations in English and
Chinese, and descriptions ("large red circle", "red objects") that pick out objects.

An object is a dict (id, shape, colour, size, centre, radius, pixel and 0-1000 boxes of the
whole object, hidden parts included; in a scene also how it is drawn, `look`, and the ids of
the objects in front of it, `occluded_by`); a
description filter is (size, colour, shape) with None where an attribute is not said.
"""

from __future__ import annotations

import random

from visinstruct.synth import style

SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon")
# shaded solids, as CLEVR draws them: a scene is of flat shapes or of solids, never both
SOLIDS = ("sphere", "cube", "cylinder")
ALL_SHAPES = SHAPES + SOLIDS
SHAPE_ZH = {
    "sphere": "球体",
    "cube": "立方体",
    "cylinder": "圆柱体",
    "circle": "圆形",
    "square": "正方形",
    "triangle": "三角形",
    "star": "五角星",
    "diamond": "菱形",
    "hexagon": "六边形",
}
SIZES = ("small", "large")
SIZE_ZH = {"small": "小", "large": "大"}
COLOR_NAMES = tuple(c[0] for c in style.COLORS)
COLOR_ZH = {c[0]: c[1] for c in style.COLORS}
COLOR_RGB = {c[0]: c[2] for c in style.COLORS}

# five regions asked about directly (only for objects clearly inside one of them)
REGIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")
REGION_ZH = {
    "top-left": "左上角",
    "top-right": "右上角",
    "bottom-left": "左下角",
    "bottom-right": "右下角",
    "center": "中央",
}
# a 3x3 grid of places, used to say roughly where an object is in explanations
AREA_EN = (
    ("in the upper left", "at the top", "in the upper right"),
    ("on the left", "in the center", "on the right"),
    ("in the lower left", "at the bottom", "in the lower right"),
)
AREA_ZH = (("左上方", "上方", "右上方"), ("左侧", "中间", "右侧"), ("左下方", "下方", "右下方"))
REL_EN = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
REL_ZH = {"left": "左边", "right": "右边", "above": "上方", "below": "下方"}
OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}

# a description filter: (size, colour, shape), None where the attribute is not mentioned
Filt = tuple
# which attributes a description uses: (size, colour, shape)
MASKS = ((0, 0, 1), (0, 1, 0), (1, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1))

FLOORS = (
    (232, 226, 214),
    (222, 232, 222),
    (226, 230, 238),
    (236, 236, 236),
    (240, 232, 222),
    (228, 224, 236),
)


def matches(o: dict, f: Filt) -> bool:
    """Does object `o` fit the description `f`?"""
    size, color, shape = f
    return (
        (size is None or o["size"] == size)
        and (color is None or o["color"] == color)
        and (shape is None or o["shape"] == shape)
    )


def count(objs: list[dict], f: Filt) -> int:
    """How many objects fit the description `f`."""
    return sum(1 for o in objs if matches(o, f))


def filt_of(o: dict, mask: tuple[int, int, int]) -> Filt:
    """The description of `o` that says the attributes `mask` selects."""
    return (o["size"] if mask[0] else None, o["color"] if mask[1] else None, o["shape"] if mask[2] else None)


def desc(f: Filt, lang: str, plural: bool = False) -> str:
    """'large red circle' / '红色大圆形'; 'red objects' when the shape is not mentioned."""
    size, color, shape = f
    if lang == "zh":
        return (
            (COLOR_ZH[color] if color else "")
            + (SIZE_ZH[size] if size else "")
            + (SHAPE_ZH[shape] if shape else "物体")
        )
    words = [w for w in (size, color) if w] + [(shape or "object") + ("s" if plural else "")]
    return " ".join(words)


def article(text: str, lang: str) -> str:
    """'a red circle' / 'an orange star' in English; Chinese needs no article."""
    if lang == "zh":
        return text
    return ("an " if text[0] in "aeiou" else "a ") + text


def unique_filters(o: dict, objs: list[dict], allowed: tuple[int, int, int]) -> list[Filt]:
    """Every description using only `allowed` attributes that matches `o` and nothing else."""
    ok = []
    for m in MASKS:
        if any(m[i] and not allowed[i] for i in range(3)):
            continue
        f = filt_of(o, m)
        if count(objs, f) == 1:
            ok.append(f)
    return ok


def choose_filter(rng: random.Random, ok: list[Filt]) -> Filt | None:
    """One of the descriptions `ok`, usually one of the shortest (as a person would say it)."""
    if not ok:
        return None
    if rng.random() < 0.65:
        least = min(sum(x is not None for x in f) for f in ok)
        ok = [f for f in ok if sum(x is not None for x in f) == least]
    return rng.choice(ok)


def unique_filter(
    rng: random.Random, o: dict, objs: list[dict], allowed: tuple[int, int, int]
) -> Filt | None:
    """A description using only `allowed` attributes that matches `o` and nothing else."""
    return choose_filter(rng, unique_filters(o, objs, allowed))


def color_word(c: str, lang: str) -> str:
    """A colour's name in `lang`."""
    return COLOR_ZH[c] if lang == "zh" else c


def shape_word(s: str, lang: str) -> str:
    """A shape's name in `lang`."""
    return SHAPE_ZH[s] if lang == "zh" else s


def region_word(r: str, lang: str) -> str:
    """A region's name in `lang`."""
    return REGION_ZH[r] if lang == "zh" else r
