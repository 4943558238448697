"""Spot the difference: two images of one scene, the second with 1-3 changes.

Scenes are laid out and drawn by the `scenes` package. A change removes, adds, recolours,
reshapes or moves one object; every changed object has a description (size, colour,
shape) that no other object in either image shares, and added or moved objects land on
space that is empty in both images, so each change is seen as exactly what it is.

    changes.py    making the second scene
    questions.py  the facts of the pair, for the shared question engine
"""

from __future__ import annotations

import random

from visinstruct.synth.ask import Kinds, ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.differences.changes import make_changes
from visinstruct.synth.differences.questions import DiffFacts
from visinstruct.synth.scenes.draw import Look
from visinstruct.synth.scenes.layout import canvas_dims, pick_sizes, random_scene


class Differences(SynthDomain):
    name = "differences"
    description = "Spot the difference between two images of a scene of coloured shapes."
    images_per_item = 2
    geometric = False  # the two images must stay aligned, object for object

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
        d = DiffFacts(self, rng, lang, objs1, objs2, changes, w, h)
        asked = ask_all(
            rng,
            d.kinds(),
            pairs=rng.choice((1, 2)),
            mc=rng.choice((1, 2)),
            short=rng.choice((1, 2)),
            long=Kinds.fixed(rng, {"changes": d.listed()}),
            paired=True,
        )
        facts = {
            "width": w,
            "height": h,
            "bbox_norm_scale": 1000,
            "objects_1": objs1,
            "objects_2": objs2,
            "changes": changes,
        }
        return Item(images, facts, [a.question for a in asked])


__all__ = ["Differences"]
