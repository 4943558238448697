"""A scene's description from its exact facts: every object with its size, colour, shape and
place, counts by colour, shape and size, and relations that clearly hold. Templates:
phrasings/scenes_describe.yaml. The object phrases and the facts of an object are shared with
`differences`."""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer
from visinstruct.synth.scenes.data import COLOR_ZH, SHAPE_ZH, SIZE_ZH, article, desc
from visinstruct.synth.scenes.layout import area9, where

# where an object is, as a description may say it (3x3 grid, row-major): for coverage
PLACE_NEEDLES_EN = (
    ("upper left", "top left", "top-left"),
    ("top", "upper"),
    ("upper right", "top right", "top-right"),
    ("left",),
    ("center", "centre", "middle"),
    ("right",),
    ("lower left", "bottom left", "bottom-left"),
    ("bottom", "lower"),
    ("lower right", "bottom right", "bottom-right"),
)
PLACE_NEEDLES_ZH = (
    ("左上",),
    ("上方", "顶部", "上面", "上部"),
    ("右上",),
    ("左侧", "左边", "左部"),
    ("中间", "中央", "中心", "正中"),
    ("右侧", "右边", "右部"),
    ("左下",),
    ("下方", "底部", "下面", "下部"),
    ("右下",),
)
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars"}
PLURAL |= {"diamond": "diamonds", "hexagon": "hexagons"}
PLURAL |= {"sphere": "spheres", "cube": "cubes", "cylinder": "cylinders"}


def obj_text(o: dict, lang: str, definite: bool = False) -> str:
    """'a large yellow square' ('the ...' when `definite`) / '黄色大正方形'."""
    text = desc((o["size"], o["color"], o["shape"]), lang)
    if lang == "zh":
        return text
    return f"the {text}" if definite else article(text, lang)


def reading_order(objs: list[dict], w: int, h: int) -> list[dict]:
    """Objects row by row of the 3x3 grid, left to right within a row."""
    return sorted(objs, key=lambda o: (area9(o, w, h)[0], o["x"]))


def object_fact(o: dict, w: int, h: int, key: str) -> Fact:
    """An object is mentioned when one sentence says its colour, its size and shape, and where it is."""
    row, col = area9(o, w, h)
    size, color, shape = o["size"], o["color"], o["shape"]
    big = ("large", "big") if size == "large" else ("small", "little")
    en = ((color,), tuple(f"{b} {color} {shape}" for b in big) + tuple(f"{b} {shape}" for b in big))
    zh = ((COLOR_ZH[color],), (SIZE_ZH[size] + SHAPE_ZH[shape],))
    return Fact(
        key, {"en": en + (PLACE_NEEDLES_EN[row * 3 + col],), "zh": zh + (PLACE_NEEDLES_ZH[row * 3 + col],)}
    )


def object_sentences(
    w: Writer, objs: list[dict], width: int, height: int, lead: float = 0.0
) -> list[tuple[str, bool]]:
    """One sentence per object, in reading order or shuffled; with chance `lead` a lead-in first."""
    ordered = w.maybe(0.6)
    order = reading_order(objs, width, height) if ordered else w.rng.sample(objs, len(objs))
    out = [
        (w.say("object", obj=obj_text(o, w.lang), where=where(o, width, height, w.lang)), False)
        for o in order
    ]
    if w.maybe(lead):
        out.insert(0, (w.say("objects_lead_ordered" if ordered else "objects_lead"), True))
    return out


def counts(w: Writer, objs: list[dict]) -> list[tuple[str, bool]]:
    """Counts by colour, by shape and by size, each sometimes."""
    out: list[tuple[str, bool]] = []
    colors = list(dict.fromkeys(o["color"] for o in objs))
    shapes = list(dict.fromkeys(o["shape"] for o in objs))
    if w.maybe(0.5):
        items = [
            w.say("color_count", count=sum(o["color"] == c for o in objs), color=_color(c, w.lang))
            for c in colors
        ]
        out.append((w.say("colors", list=w.listing(items)), True))
    if w.maybe(0.5):
        items = []
        for s in shapes:
            n = sum(o["shape"] == s for o in objs)
            name = SHAPE_ZH[s] if w.lang == "zh" else (s if n == 1 else PLURAL[s])
            items.append(w.say("shape_count", count=n, shape=name))
        out.append((w.say("shapes", list=w.listing(items)), True))
    if w.maybe(0.4):
        large = sum(o["size"] == "large" for o in objs)
        if large in (0, len(objs)):
            out.append((w.say("sizes_all", size=w.say(f"size_{objs[0]['size']}")), True))
        else:
            out.append((w.say("sizes", large=large, small=len(objs) - large), True))
    return out


def relations(w: Writer, objs: list[dict], width: int, height: int, most: int = 2) -> list[tuple[str, bool]]:
    """Up to `most` relations between objects that are unique by their description and clearly apart."""
    triples = [(o["size"], o["color"], o["shape"]) for o in objs]
    unique = [o for o, t in zip(objs, triples, strict=True) if triples.count(t) == 1]
    pairs = []
    for a in unique:
        for b in unique:
            if a["bbox"][2] < b["bbox"][0] and b["x"] - a["x"] >= 0.12 * width:
                pairs.append(("left_of", a, b))
            if a["bbox"][3] < b["bbox"][1] and b["y"] - a["y"] >= 0.12 * height:
                pairs.append(("above", a, b))
    w.rng.shuffle(pairs)
    return [
        (w.say(key, a=obj_text(a, w.lang, True), b=obj_text(b, w.lang, True)), True)
        for key, a, b in pairs[:most]
    ]


def _color(c: str, lang: str) -> str:
    return COLOR_ZH[c] if lang == "zh" else c


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A dense description of the scene: every object, where it is, and how they compare."""
    w = Writer("scenes", rng, lang)
    objs, width, height = facts["objects"], facts["width"], facts["height"]
    parts: list[tuple[str, bool]] = [(w.say("intro", n=len(objs)), False)]
    summary = counts(w, objs)
    if summary and w.maybe(0.5):
        parts += summary
        summary = []
    parts += object_sentences(w, objs, width, height, lead=0.4)
    tail = summary + relations(w, objs, width, height, rng.choice((0, 1, 2)))
    rng.shuffle(tail)
    return w.finish(parts + tail)


def known_objects(k: Known, objs: list[dict]) -> None:
    k.colors |= {o["color"] for o in objs}
    k.shapes = (k.shapes or set()) | {o["shape"] for o in objs}


def known(facts: dict[str, Any]) -> Known:
    """A scene's colours and shapes, and counts up to the number of objects; coverage: every
    object with its colour, size, shape and place."""
    k = Known(shapes=set())
    objs = facts["objects"]
    known_objects(k, objs)
    k.add_numbers(*range(len(objs) + 1))
    k.facts = [object_fact(o, facts["width"], facts["height"], f"object:{o['id']}") for o in objs]
    return k
