"""Realism: items shown as photographs or scans, and every answer still exact.

Scenes are warped (perspective, skew) and their objects found again on the rendered image by
colour: the boxes the facts give are where the pixels are, and the spatial answers hold for
the boxes found. Other domains' answers do not depend on where things are drawn, so their
questions are the untreated item's; two images of a pair get the same treatment; a run
records what was done and makes the same bytes twice."""

from __future__ import annotations

import copy
import json
import random

import numpy as np
import pytest
from test_synth_scenes import check_choice, check_long, holds, parse, truth_of

from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore
from visinstruct.synth import get_domain, realism
from visinstruct.synth.scenes.data import COLOR_RGB

GEOMETRIC = ("perspective", "skew")


def geometric_plan(seed: int, w: int, h: int) -> list[dict]:
    """A plan with a perspective or a skew and nothing that changes colours."""
    rng = random.Random(seed)
    while True:
        steps = realism.plan(rng, 1.0, True, w, h)
        moves = [s for s in steps if s["kind"] in GEOMETRIC]
        if moves:
            return moves


def found(img, o) -> list[int] | None:
    """The box of the pixels of `o`'s colour connected to its centre, or None if the centre
    is not of that colour."""
    arr = np.asarray(img.convert("RGB"), dtype=np.int16)
    want = np.array(COLOR_RGB[o["color"]], dtype=np.int16)
    mask = np.abs(arr - want).sum(axis=2) < 45
    x, y = o["x"], o["y"]
    near = mask[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
    if not near.any():
        return None
    grown = np.zeros_like(mask)
    grown[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] = near
    while True:  # the connected part of the mask, by repeated dilation
        d = grown.copy()
        d[1:] |= grown[:-1]
        d[:-1] |= grown[1:]
        d[:, 1:] |= grown[:, :-1]
        d[:, :-1] |= grown[:, 1:]
        d &= mask
        if (d == grown).all():
            break
        grown = d
    ys, xs = np.nonzero(grown)
    return [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]


def warped_scene(seed: int):
    d = get_domain("scenes")
    item = d.make(random.Random(seed), "en")
    w, h = item.images[0].size
    steps = geometric_plan(seed, w, h)
    warp = realism.warp_of(steps, w, h)
    item.images = realism.render(item.images, steps, warp)
    return d.relocate(item, warp, random.Random(seed + 1), "en"), steps


@pytest.mark.parametrize("seed", range(12))
def test_boxes_are_where_the_pixels_are(seed):
    item, steps = warped_scene(seed)
    assert {s["kind"] for s in steps} & set(GEOMETRIC)
    img = item.images[0]
    errors = []
    for o in item.facts["objects"]:
        box = found(img, o)
        assert box is not None, f"seed {seed}: no {o['color']} pixels at the moved centre of object {o['id']}"
        # On an untreated scene the fill found stops up to 4 px inside a box's edge (the outline,
        # a sharp tip's anti-aliasing); resampling a warped image blurs a tip by a pixel or two.
        # The facts' box holds the fill found (give or take a resampled pixel) and is tight on it.
        inward = [box[0] - o["bbox"][0], box[1] - o["bbox"][1], o["bbox"][2] - box[2], o["bbox"][3] - box[3]]
        assert all(-2 <= e <= 6 for e in inward), f"seed {seed}: object {o['id']} at {box}, facts {o['bbox']}"
        errors += inward
    assert len(errors) == 4 * len(item.facts["objects"]) >= 12


@pytest.mark.parametrize("seed", range(40))
def test_answers_hold_after_the_warp(seed):
    """Every answer recomputed from the moved facts; every spatial judgement also from the
    boxes found on the image."""
    item, _ = warped_scene(seed)
    facts = item.facts
    seen = copy.deepcopy(facts)
    for o in seen["objects"]:
        box = found(item.images[0], o)
        o["bbox"] = box
        o["x"], o["y"] = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    for q in item.questions:
        text = q.turns[0][0]
        if q.type == "judgement":
            v = parse(q.phrasing, text)
            assert truth_of(q.phrasing, v, facts) == q.truth, text
            if q.phrasing == "j_spatial":
                from test_synth_scenes import REL, one

                a, b = one(seen["objects"], v["a"]), one(seen["objects"], v["b"])
                rel = REL[v["rel"]]
                assert holds(a, b, rel, facts["width"], facts["height"]) == q.truth, text
        elif q.type == "multiple_choice":
            check_choice(q, text, facts)
        elif q.type == "long_vqa":
            check_long(q, facts)


@pytest.mark.parametrize("name", ["charts", "tables", "clocks", "geometry", "ocr"])
def test_other_domains_keep_their_questions(name):
    d = get_domain(name)
    treated = 0
    for seed in range(6):
        plain = d.make(random.Random(seed), "en")
        item, steps = realism.apply(d, d.make(random.Random(seed), "en"), random.Random(seed), 1.0, "en")
        moved = set(d.coordinates)  # text boxes and vertices move with the pixels; nothing else does
        assert steps and {k: v for k, v in item.facts.items() if k not in moved} == {
            k: v for k, v in plain.facts.items() if k not in moved
        }
        assert [q.turns for q in item.questions] == [q.turns for q in plain.questions]
        assert item.images[0].size == plain.images[0].size and item.images[0].mode == "RGB"
        diff = np.abs(
            np.asarray(item.images[0], np.int16) - np.asarray(plain.images[0].convert("RGB"), np.int16)
        )
        treated += diff.mean() > 1
    assert treated >= 5  # the pictures did change


def test_pairs_get_one_treatment_and_stay_aligned():
    d = get_domain("differences")
    for seed in range(8):
        item, steps = realism.apply(d, d.make(random.Random(seed), "en"), random.Random(seed), 1.0, "en")
        assert steps and not {s["kind"] for s in steps} & set(GEOMETRIC)
        plain = d.make(random.Random(seed), "en")
        a, b = (np.asarray(im, np.int16) for im in item.images)
        pa, pb = (np.asarray(im.convert("RGB"), np.int16) for im in plain.images)
        # where the untreated pair is the same, the treated pair is the same up to JPEG's blocks
        same = (pa == pb).all(axis=2)
        assert np.abs(a - b).sum(axis=2)[same].mean() < 3


def test_no_realism_changes_nothing():
    d = get_domain("scenes")
    item = d.make(random.Random(3), "en")
    got, steps = realism.apply(d, item, random.Random(3), 0.0, "en")
    assert steps == [] and got is item


def recipe(level: float):
    return parse_recipe(
        {
            "name": "realism",
            "seed": 5,
            "languages": ["en"],
            "realism": level,
            "synthetic": {"scenes": 12, "charts": {"count": 8, "realism": 0}},
            "export": [{"format": "jsonl", "out": "all.jsonl"}],
        }
    )


def test_a_run_records_the_treatment_and_repeats_it(tmp_path):
    rec = recipe(0.6)
    run_recipe(rec, tmp_path / "a", workers=1)
    run_recipe(rec, tmp_path / "b", workers=1)
    a = (tmp_path / "a" / "exports" / "all.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "exports" / "all.jsonl").read_bytes()
    rows = [json.loads(line) for line in a.splitlines()]
    units = {r["provenance"]["unit"]: r["provenance"].get("realism") for r in rows}
    scenes = [u for u in units if u.startswith("scenes/")]
    treated = [u for u in scenes if units[u]]
    assert 2 <= len(treated) < len(scenes)  # about 60% of the scenes
    assert all(units[u] is None for u in units if u.startswith("charts/"))  # the domain said 0
    store = RunStore(tmp_path / "a")
    img = store.image(next(r for r in rows if r["provenance"].get("realism"))["image_ids"][0])
    kinds = [st["kind"] for st in img.provenance["realism"]]
    assert kinds and set(kinds) <= {"perspective", "skew", "lighting", "blur", "noise", "jpeg"}
    store.close()


def warped(name: str, seed: int):
    d = get_domain(name)
    item = d.make(random.Random(seed), "en")
    w, h = item.images[0].size
    steps = geometric_plan(seed, w, h)
    warp = realism.warp_of(steps, w, h)
    item.images = realism.render(item.images, steps, warp)
    realism.move_coordinates(d, item.facts, warp)
    return item


@pytest.mark.parametrize("seed", range(8))
def test_text_boxes_and_vertices_move_with_the_pixels(seed):
    """OCR: ink inside every moved line box, and little outside them on the page; geometry:
    a drawn line within 3 px of every moved vertex."""
    item = warped("ocr", seed)
    lum = np.asarray(item.images[0].convert("L"), np.int16)
    boxes = item.facts["boxes"]
    for x0, y0, x1, y1 in boxes:
        patch = lum[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1]
        assert patch.size and patch.std() > 12, f"seed {seed}: no text in the moved box {[x0, y0, x1, y1]}"
    item = warped("geometry", seed)
    lum = np.asarray(item.images[0].convert("L"), np.int16)
    for name, (x, y) in item.facts["points"].items():
        x, y = int(round(x)), int(round(y))
        near = lum[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4]
        assert near.size and near.min() < np.median(lum) - 60, f"seed {seed}: no line at vertex {name}"
