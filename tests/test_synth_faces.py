"""Clock faces and scene objects: every face's answers recomputed from the facts, the numerals
never hidden by the hands, and scene objects (shaded solids, textures, overlaps) found on the
picture where the facts put them."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import pytest

from visinstruct.synth import get_domain
from visinstruct.synth.base import load_phrasings
from visinstruct.synth.clocks.draw import FACES, ZH_FACES, render_clock

NUMERAL_FACES = {"arabic": 12, "roman": 12, "minimal": 4, "wall": 12, "hanzi": 12}


def clocks_by_face(lang: str, per_face: int = 4) -> dict[str, list]:
    """A few items of every face in `lang`, with the seeds that made them."""
    d = get_domain("clocks")
    faces = ZH_FACES if lang == "zh" else FACES
    got: dict[str, list] = {f: [] for f in faces}
    seed = 0
    while any(len(v) < per_face for v in got.values()):
        item = d.make(random.Random(seed), lang)
        if len(got[item.facts["face"]]) < per_face:
            got[item.facts["face"]].append((seed, item))
        seed += 1
        assert seed < 2000, f"faces never drawn: {[f for f, v in got.items() if len(v) < per_face]}"
    return got


def slot(text: str, key: str, name: str, lang: str = "en") -> str | None:
    """The value of placeholder `name` in `text` made from phrasing `key`, or None."""
    for template in load_phrasings("clocks")[key][lang]:
        parts = re.split(r"\{(\w+)\}", template)
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        m = re.fullmatch(rx, text)
        if m:
            return m.group(name)
    return None


def exact(f: dict) -> str:
    return f"{f['hour']}:{f['minute']:02d}:{f['second']:02d}"


def answer(key: str, f: dict) -> str:
    return {"read_time": f["time"], "read_exact": exact(f) if "second" in f else None}.get(
        key, str(f.get("second"))
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_face_answers_from_its_facts(lang):
    for face, items in clocks_by_face(lang).items():
        for _, item in items:
            f = item.facts
            assert f["face"] == face and f["time"] == f"{f['hour']}:{f['minute']:02d}"
            assert 1 <= f["hour"] <= 12 and 0 <= f["minute"] < 60 and 0 <= f.get("second", 0) < 60
            if face == "minimal":
                assert f["minute"] % 5 == 0 and "second" not in f
            if face == "station":
                assert "second" in f
            for q in item.questions:
                text = q.turns[0][0]
                if q.type == "judgement":
                    key = q.phrasing
                    claimed = slot(text, key, "second" if key == "is_second" else "time", lang)
                    truth = {"is_time": f["time"], "is_exact": exact(f) if "second" in f else None}.get(
                        key, str(f.get("second"))
                    )
                    assert claimed is not None and (claimed == truth) == q.truth, text
                elif q.type == "short_vqa":
                    assert q.short_answer == answer(q.phrasing, f), text
                elif q.type == "multiple_choice":
                    assert q.correct == answer(q.phrasing, f) and q.correct not in q.distractors
                else:
                    said = "".join(a for _, a in q.turns)
                    if q.phrasing == "second_hand":
                        assert exact(f) in q.turns[-1][1] and "second" in f
                    else:
                        assert q.phrasing == "hour_hand" and f["later"]["result"] in q.turns[-1][1]
                    assert f["time"] in said


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_hands_never_cover_a_numeral(lang):
    """The pixels the hands change (the clock drawn with and without them) lie outside every
    numeral's box, and every numeral's box holds ink."""
    for face, items in clocks_by_face(lang, per_face=3).items():
        for seed, item in items:
            f = item.facts
            for h, m, s in (
                (f["hour"], f["minute"], f.get("second")),
                *((k, 5 * k % 60, 5 * k) for k in range(1, 13, 2)),
            ):
                args = (h, m, lang, face, s if "second" in f else None)
                full = render_clock(random.Random(seed), *args)
                bare = render_clock(random.Random(seed), *args, hands=False)
                assert len(full.numerals) == NUMERAL_FACES.get(face, 0), face
                a, b = np.asarray(full.image, np.int16), np.asarray(bare.image, np.int16)
                changed = np.abs(a - b).sum(axis=2) > 0
                assert changed.sum() > 50, f"{face}: no hands drawn"
                for label, (x0, y0, x1, y1) in full.numerals:
                    box = changed[y0 : y1 + 1, x0 : x1 + 1]
                    assert not box.any(), f"{face} {h}:{m:02d}: a hand covers the numeral {label}"
                    ink = np.asarray(bare.image.convert("L"), np.int16)[y0 : y1 + 1, x0 : x1 + 1]
                    assert ink.std() > 20, f"{face}: numeral {label} not drawn"


def test_a_run_of_clocks_draws_many_faces_and_hands():
    d = get_domain("clocks")
    faces, hands, seconds = Counter(), Counter(), 0
    for i in range(300):
        f = d.make(random.Random(f"run:{i}"), ("en", "zh")[i % 2]).facts
        faces[f["face"]] += 1
        hands[f["hands"]] += 1
        seconds += "second" in f
    assert len(faces) >= 5 and min(faces.values()) >= 10, faces
    assert len(hands) >= 3, hands
    assert 60 <= seconds <= 240


# ------------------------------------------------------------------------------------ scenes


def scenes(n: int = 40, lang: str = "en") -> list:
    d = get_domain("scenes")
    return [d.make(random.Random(f"faces:{i}"), lang) for i in range(n)]


def test_scenes_draw_solids_textures_overlaps_and_light():
    kinds, looks, hidden, soft = Counter(), Counter(), 0, 0
    for item in scenes(60):
        f = item.facts
        kinds[f["kind"]] += 1
        soft += f["lighting"]["soft_shadows"]
        for o in f["objects"]:
            looks[o["look"]] += 1
            assert (o["look"] == "shaded") == (o["shape"] in ("sphere", "cube", "cylinder"))
            assert (o["look"] == "shaded") == (f["kind"] == "solids")
            hidden += bool(o["occluded_by"])
    assert kinds["solids"] >= 10 and kinds["flat"] >= 10, kinds
    assert looks["dotted"] >= 10 and hidden >= 10 and soft >= 10, (looks, hidden, soft)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_scene_answers_recomputed_from_facts(lang):
    from test_synth_scenes import SHAPE_ZH, answer_of, check_choice, check_long, parse, truth_of

    for item in scenes(40, lang):
        facts = item.facts
        for q in item.questions:
            if lang == "zh":  # Chinese: shapes named in Chinese, solids too
                if q.phrasing == "shape_of" and q.type == "short_vqa":
                    assert q.short_answer in SHAPE_ZH, q.short_answer
                continue
            text = q.turns[0][0]
            if q.type == "judgement":
                assert truth_of(q.phrasing, parse(q.phrasing, text), facts) == q.truth, text
            elif q.type == "short_vqa":
                assert answer_of(q.phrasing, parse(q.phrasing, text), facts) == q.short_answer, text
            elif q.type == "multiple_choice":
                check_choice(q, text, facts)
            else:
                check_long(q, facts)


def test_objects_found_where_the_facts_say():
    """Every object's colour at its centre, filling its box (of the whole object) to within a few
    pixels, even when another object hides part of it; the one in front really overlaps it."""
    from test_synth_realism import found

    for item in scenes(40):
        objs = item.facts["objects"]
        for o in objs:
            box = found(item.images[0], o)
            assert box is not None, f"no {o['color']} at the centre of object {o['id']}"
            inward = [
                box[0] - o["bbox"][0],
                box[1] - o["bbox"][1],
                o["bbox"][2] - box[2],
                o["bbox"][3] - box[3],
            ]
            assert all(-1 <= e <= 5 for e in inward), (o, box)
            for front in o["occluded_by"]:
                fb = objs[front]["bbox"]
                ob = o["bbox"]
                assert fb[0] < ob[2] and ob[0] < fb[2] and fb[1] < ob[3] and ob[1] < fb[3]
                assert objs[front]["id"] > o["id"]  # drawn after it
