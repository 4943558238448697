"""CLEVR-like 2D object scenes: count, name colours and shapes, relate and locate objects.

The layout and drawing code here is shared with the `differences` domain: a scene is a
list of object dicts (id, shape, colour, size, centre, bounding box) placed without
overlap, and a `Look` (background, outlines, shadows) that draws any such list the same way.

    data.py       vocabulary and descriptions
    draw.py       shapes, backgrounds, the `Look`
    layout.py     placing objects, and where an object is
    questions.py  the facts a scene shows, for the shared question engine
"""

from __future__ import annotations

import random

from visinstruct.synth.ask import ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.realism import Warp
from visinstruct.synth.scenes.draw import Look
from visinstruct.synth.scenes.layout import canvas_dims, moved, pick_sizes, random_scene
from visinstruct.synth.scenes.questions import SceneFacts


class Scenes(SynthDomain):
    name = "scenes"
    description = (
        "CLEVR-like 2D scenes of coloured shapes: counting, attributes, spatial relations, grounding."
    )

    def make(self, rng: random.Random, lang: str) -> Item:
        w, h = canvas_dims(rng)
        look = Look(rng, w, h)
        n = rng.randint(3, 10)
        objs = random_scene(rng, look, n, pick_sizes(rng, w, h, n))
        return self._item([look.render(objs)], objs, w, h, rng, lang)

    def relocate(self, item: Item, warp: Warp, rng: random.Random, lang: str) -> Item:
        """The item after its image was warped: every object's centre and box moved with the
        image, and the questions asked again from where the objects now are."""
        w, h = item.facts["width"], item.facts["height"]
        objs = [moved(o, warp, w, h) for o in item.facts["objects"]]
        return self._item(item.images, objs, w, h, rng, lang)

    def _item(self, images: list, objs: list[dict], w: int, h: int, rng: random.Random, lang: str) -> Item:
        s = SceneFacts(self, rng, lang, objs, w, h)
        asked = ask_all(
            rng,
            s.kinds(),
            pairs=rng.choice((1, 2)),
            mc=rng.choice((1, 2)),
            short=rng.choice((1, 2)),
            long=s.long_kinds(),
            paired=True,
        )
        facts = {"width": w, "height": h, "bbox_norm_scale": 1000, "objects": objs}
        return Item(images, facts, [a.question for a in asked])


__all__ = ["Scenes"]
