"""Rendered text: signs, receipts, business cards, notices, labels, paragraphs and word grids.

Every line of text is generated here, measured with the font before drawing and placed so
it never overlaps another line or leaves the image, so the exact strings, their boxes and
the document's fields are known. Questions ask to read lines and fields, count words,
find where a word is, and transcribe everything.

    data.py       vocabulary, palettes and text helpers
    panel.py      rows measured and stacked in a panel
    layouts.py    the seven document layouts
    draw.py       drawing a document
    questions.py  the facts a document shows, for the shared question engine
"""

from __future__ import annotations

import random

from visinstruct.synth.ask import Kinds, ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.ocr.data import LAYOUTS, near_miss, valid_target
from visinstruct.synth.ocr.draw import draw
from visinstruct.synth.ocr.layouts import BUILDERS
from visinstruct.synth.ocr.questions import OcrFacts, record


class Ocr(SynthDomain):
    name = "ocr"
    description = (
        "Rendered text (signs, receipts, business cards, notices, labels, paragraphs, word grids) "
        "with exact line strings, boxes and fields."
    )

    coordinates = {"boxes": "boxes"}  # each line's box, moved when realism warps the image

    def make(self, rng: random.Random, lang: str) -> Item:
        layout = rng.choice(LAYOUTS)
        for _ in range(20):
            doc = BUILDERS[layout](rng, lang)
            out = draw(rng, doc)
            if out is not None and (layout == "word_grid" or len(set(out[1])) == len(out[1])):
                break
        else:  # pragma: no cover - layouts are sized to always fit
            raise RuntimeError("could not fit text")
        img, lines, boxes, angle = out
        facts = {
            "layout": layout,
            "lines": lines,
            "boxes": boxes,
            "fields": dict(doc.fields),
            "items": doc.items,
            "has_title": doc.has_title,
            "rotation": angle,
            "size": [img.width, img.height],
            "unit": "row" if layout == "word_grid" else "line",
        }
        o = OcrFacts(self, rng, lang, facts)
        asked = ask_all(
            rng,
            o.kinds(),
            pairs=rng.choice((1, 1, 2)),
            mc=rng.choice((1, 2)),
            short=rng.choice((1, 2)),
            long=Kinds.fixed(rng, {"transcribe": o.transcribe()}),
        )
        facts["queries"] = [record(a) for a in asked]
        return Item([img], facts, [a.question for a in asked])


__all__ = ["Ocr", "near_miss", "valid_target"]
