"""A spot-the-difference pair's description from its exact facts: the first scene object by
object, then every change (removed, added, recoloured, reshaped, moved) with where it is.
Templates: phrasings/differences_describe.yaml."""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer
from visinstruct.synth.differences.changes import place
from visinstruct.synth.scenes.data import COLOR_ZH, SHAPE_ZH, SIZE_ZH, article, desc
from visinstruct.synth.scenes.describe import known_objects, obj_text, object_fact, object_sentences
from visinstruct.synth.scenes.layout import where

# words that say what kind of change happened, for coverage
CHANGE_WORDS = {
    "removed": {
        "en": ("removed", "missing", "gone", "disappear", "no longer"),
        "zh": ("消失", "移除", "不见", "去掉"),
    },
    "added": {"en": ("added", "appears", "new", "gains"), "zh": ("新增", "多了", "出现", "增加")},
    "recolored": {"en": ("colour", "color", "turns"), "zh": ("颜色",)},
    "reshaped": {"en": ("becomes", "replaced", "shape", "now"), "zh": ("变成", "换成", "形状", "变为")},
    "moved": {"en": ("moved", "shifted", "has moved"), "zh": ("移动", "移到", "挪到")},
}


def _change(w: Writer, c: dict, width: int, height: int) -> str:
    lang = w.lang
    kind, before, after = c["type"], c["before"], c["after"]
    if kind == "removed":
        return w.say("removed", obj=obj_text(before, lang, True), where=where(before, width, height, lang))
    if kind == "added":
        return w.say("added", obj=obj_text(after, lang), where=where(after, width, height, lang))
    if kind == "recolored":
        shape = (before["size"], None, before["shape"])
        obj = desc(shape, lang) if lang == "zh" else f"the {desc(shape, lang)}"
        col = (lambda x: COLOR_ZH[x]) if lang == "zh" else (lambda x: x)
        return w.say(
            "recolored",
            obj=obj,
            where=where(before, width, height, lang),
            before=col(before["color"]),
            after=col(after["color"]),
        )
    if kind == "reshaped":
        new = desc((after["size"], after["color"], after["shape"]), lang)
        return w.say(
            "reshaped",
            obj=obj_text(before, lang, True),
            where=where(before, width, height, lang),
            after=new if lang == "zh" else article(new, lang),
        )
    return w.say(
        "moved",
        obj=obj_text(before, lang, True),
        before=place(before, width, height, lang),
        after=place(after, width, height, lang),
    )


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A dense description of the pair: the first scene, then each difference."""
    w = Writer("differences", rng, lang, also=("scenes",))
    width, height = facts["width"], facts["height"]
    objs1, objs2, changes = facts["objects_1"], facts["objects_2"], facts["changes"]
    k = len(changes)
    parts: list[tuple[str, bool]] = [(w.say("intro_one") if k == 1 else w.say("intro", k=k), False)]
    parts.append((w.say("first", n=len(objs1)), False))
    parts += object_sentences(w, objs1, width, height)
    diff: list[tuple[str, bool]] = []
    if w.maybe(0.5):
        diff.append((w.say("changes_lead"), True))
    order = list(changes) if w.maybe(0.7) else rng.sample(changes, k)
    diff += [(_change(w, c, width, height), False) for c in order]
    if w.maybe(0.5):
        diff.append((w.say("second_count", n=len(objs2)), True))
    if w.maybe(0.4):
        diff.append((w.say("unchanged"), True))
    return w.finish(parts + diff)


def known(facts: dict[str, Any]) -> Known:
    """The pair's colours and shapes (both images), counts; coverage: every change (what kind,
    of which object) and every object of the first image."""
    k = Known(shapes=set())
    objs1, objs2, changes = facts["objects_1"], facts["objects_2"], facts["changes"]
    known_objects(k, objs1)
    known_objects(k, objs2)
    k.add_numbers(*range(max(len(objs1), len(objs2), len(changes), 2) + 1))
    width, height = facts["width"], facts["height"]
    for i, c in enumerate(changes):
        o = c["before"] or c["after"]
        words = CHANGE_WORDS[c["type"]]
        en = ((o["shape"], *(c["after"] or {}).get("shape", "").split()), words["en"])
        zh_shapes = tuple(SHAPE_ZH[x["shape"]] for x in (c["before"], c["after"]) if x)
        zh = (zh_shapes, words["zh"])
        if c["type"] == "recolored":
            en += ((c["after"]["color"],),)
            zh += ((COLOR_ZH[c["after"]["color"]],),)
        else:
            en += ((o["color"],),)
            zh += ((COLOR_ZH[o["color"]] + SIZE_ZH[o["size"]],),)
        k.facts.append(Fact(f"change:{i}:{c['type']}", {"en": en, "zh": zh}))
    k.facts += [object_fact(o, width, height, f"object_1:{o['id']}") for o in objs1]
    return k
