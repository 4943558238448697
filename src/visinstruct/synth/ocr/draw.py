"""Drawing a document: its panel on a canvas or a table, the text, and a slight rotation."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from visinstruct.synth import style
from visinstruct.synth.ocr.data import TABLE_COLORS
from visinstruct.synth.ocr.panel import MAX_SIDE, Doc, draw_panel, measure


def draw(rng: random.Random, doc: Doc) -> tuple[Image.Image, list[str], list[list[int]], float] | None:
    """The document's image, its lines, their boxes and the rotation (None if it does not fit)."""
    panel = doc.panel
    ex = panel.extra
    margin = ex.get("margin", 0)
    panel.max_w = min(panel.max_w, MAX_SIDE - 2 * margin)
    panel.max_h = min(panel.max_h, MAX_SIDE - 2 * margin)
    geo = measure(panel)
    if geo is None:
        return None
    need_w, need_h = geo[4], geo[5]
    pw = min(panel.max_w, max(panel.width, need_w))
    ph = min(panel.max_h, max(panel.min_h, need_h))
    w, h = max(320, pw + 2 * margin), max(320, ph + 2 * margin)
    w, h = w + (-w) % 8, h + (-h) % 8
    table = ex.get("table")
    if table is not None:
        img = Image.new("RGB", (w, h), table)
        draw = ImageDraw.Draw(img)
    else:
        img, draw = style.canvas(rng, w, h, plain=ex.get("fill") is not None or rng.random() < 0.5)
    ox, oy = (w - pw) // 2, (h - ph) // 2
    if ex.get("fill") is not None:
        if table is not None:  # a soft shadow under paper lying on a table
            sh = tuple(max(0, c - 30) for c in table)
            draw.rectangle([ox + 4, oy + 5, ox + pw + 3, oy + ph + 4], fill=sh)
        border = ex.get("border", 0)
        kw = {
            "fill": ex["fill"],
            "outline": ex.get("outline") if border else None,
            "width": max(1, border),
        }
        if ex.get("radius"):
            draw.rounded_rectangle([ox, oy, ox + pw - 1, oy + ph - 1], radius=ex["radius"], **kw)
        else:
            draw.rectangle([ox, oy, ox + pw - 1, oy + ph - 1], **kw)
        if ex.get("bar") is not None:
            bx = ox + pw - 10 if panel.rows[0].align == "left" else ox
            draw.rectangle([bx, oy, bx + 9, oy + ph - 1], fill=ex["bar"])
            if panel.rows[0].align != "left":
                ox += 6  # keep text clear of the bar
                pw -= 6
    lines, boxes = draw_panel(draw, panel, ox, oy, geo, pw, ph)
    angle = 0.0
    if rng.random() < 0.4:
        angle = round(rng.choice((-1, 1)) * rng.uniform(1.0, 5.0), 1)
        outer = rng.choice(TABLE_COLORS) if table is None else table
        img, boxes = rotate(img, boxes, angle, outer)
    return img, lines, boxes, angle


def rotate(
    img: Image.Image, boxes: list[list[int]], angle: float, fill: tuple
) -> tuple[Image.Image, list[list[int]]]:
    """Rotate counter-clockwise by `angle` degrees with expand; return the new axis-aligned boxes."""
    w, h = img.size
    out = img.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=fill)
    nw, nh = out.size
    t = math.radians(angle)
    ca, sa = math.cos(t), math.sin(t)
    new = []
    for x0, y0, x1, y1 in boxes:
        xs, ys = [], []
        for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
            dx, dy = x - w / 2, y - h / 2
            xs.append(nw / 2 + dx * ca + dy * sa)
            ys.append(nh / 2 - dx * sa + dy * ca)
        new.append(
            [
                int(math.floor(min(xs))),
                int(math.floor(min(ys))),
                int(math.ceil(max(xs))),
                int(math.ceil(max(ys))),
            ]
        )
    return out, new
