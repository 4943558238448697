"""Drawing an analog clock face: rim, ticks, numerals (Arabic or Roman, all or quarters) and hands."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from visinstruct.synth import style

NUMERALS = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")


def draw_clock(rng: random.Random, h: int, m: int, lang: str = "en") -> Image.Image:
    """A clock showing h:m, its hour hand placed between the hours as on a real clock (numerals
    in a font of the item's language)."""
    size = rng.choice((320, 384, 448, 512))
    img, draw = style.canvas(rng, size, size, plain=rng.random() < 0.5)
    cx = cy = size // 2
    r = int(size * rng.uniform(0.36, 0.44))
    face = rng.choice(((255, 255, 255), (250, 245, 230), (235, 240, 250), (30, 30, 40)))
    dark = sum(face) < 300
    fg = (240, 240, 240) if dark else style.ink(rng)
    rim = rng.choice(style.COLORS)[2]
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=face, outline=rim, width=max(3, r // 18))
    f = style.pick_font(rng, max(12, r // 6), lang=lang)
    roman = rng.random() < 0.2
    for i in range(12):
        a = math.radians(i * 30 - 90)
        # ticks for every hour; numbers on all or only quarters
        x1, y1 = cx + r * 0.9 * math.cos(a), cy + r * 0.9 * math.sin(a)
        x2, y2 = cx + r * 0.98 * math.cos(a), cy + r * 0.98 * math.sin(a)
        draw.line([(x1, y1), (x2, y2)], fill=fg, width=max(2, r // 40))
        if rng.random() < 0.85 or i % 3 == 0:
            label = NUMERALS[i] if roman else str(i or 12)
            tx, ty = cx + r * 0.74 * math.cos(a), cy + r * 0.74 * math.sin(a)
            draw.text((tx, ty), label, font=f, fill=fg, anchor="mm")
    minute_angle = math.radians(m * 6 - 90)
    hour_angle = math.radians((h % 12) * 30 + m * 0.5 - 90)
    hand = rng.choice(style.COLORS)[2] if rng.random() < 0.3 else fg
    _hand(draw, cx, cy, hour_angle, r * 0.5, max(4, r // 14), hand)
    _hand(draw, cx, cy, minute_angle, r * 0.8, max(2, r // 28), hand)
    draw.ellipse([cx - r // 25, cy - r // 25, cx + r // 25, cy + r // 25], fill=hand)
    return img


def _hand(draw: ImageDraw.ImageDraw, cx: float, cy: float, a: float, length: float, width: int, fill) -> None:
    draw.line([(cx, cy), (cx + length * math.cos(a), cy + length * math.sin(a))], fill=fill, width=width)
