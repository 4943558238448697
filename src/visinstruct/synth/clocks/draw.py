"""Drawing an analog clock in one of several face styles, with hands of several styles.

Faces: Arabic or Roman numerals, Chinese numerals (Chinese items), ticks only, a minimalist face
with four numerals, a wall clock in a frame and a station clock with a red seconds hand. Every
hand stops short of the numerals (the numerals' boxes are measured before the hands are sized),
so a hand never hides the numeral it points at.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from visinstruct.synth import style
from visinstruct.synth.base import load_words

NUMERALS = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
HANZI = ("十二", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一")
FACES = ("arabic", "roman", "ticks", "minimal", "wall", "station")
ZH_FACES = FACES + ("hanzi",)
# how often a face has a seconds hand
SECONDS = {
    "arabic": 0.3,
    "roman": 0.2,
    "ticks": 0.4,
    "minimal": 0.0,
    "wall": 0.5,
    "station": 1.0,
    "hanzi": 0.3,
}
HANDS = ("line", "taper", "baton", "arrow")
# faces that show only whole five minutes (too few marks to read a single minute)
FIVE_MINUTE_FACES = ("minimal",)
RED = (205, 30, 35)


@dataclass
class Dial:
    """A drawn clock: its picture, face and hand styles, and where its numerals are."""

    image: Image.Image
    face: str
    hands: str
    numerals: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)


def pick_face(rng: random.Random, lang: str = "en") -> str:
    """A face style for an item in `lang` (Chinese numerals only on Chinese items)."""
    return rng.choice(ZH_FACES if lang == "zh" else FACES)


def draw_clock(rng: random.Random, h: int, m: int, lang: str = "en") -> Image.Image:
    """A clock showing h:m on a face picked at random (no seconds hand)."""
    return render_clock(rng, h, m, lang, pick_face(rng, lang)).image


def render_clock(
    rng: random.Random,
    h: int,
    m: int,
    lang: str,
    face: str,
    second: int | None = None,
    hands: bool = True,
) -> Dial:
    """A clock showing h:m (and `second` on a seconds hand), its hour hand placed between the
    hours and its minute hand between the minutes as on a real clock. `hands=False` draws the
    same picture without hands (the same random draws are made)."""
    size = rng.choice((320, 384, 448, 512))
    img, draw = style.canvas(rng, size, size, plain=rng.random() < 0.5)
    cx = cy = size // 2
    r = int(size * rng.uniform(0.36, 0.42))
    dark = face in ("arabic", "ticks", "minimal") and rng.random() < 0.2
    face_rgb = (30, 30, 40) if dark else rng.choice(((255, 255, 255), (250, 245, 230), (235, 240, 250)))
    fg = (240, 240, 240) if dark else style.ink(rng)
    if face == "station":
        face_rgb, fg = (255, 255, 255), (15, 15, 15)
        _station_mount(draw, cx, cy, r, size)
    if face == "wall":
        frame = rng.choice(((120, 72, 40), (60, 40, 30), (40, 40, 45), (170, 170, 175), (190, 150, 60)))
        fw = int(r * rng.uniform(0.1, 0.16))
        draw.ellipse([cx - r - fw, cy - r - fw, cx + r + fw, cy + r + fw], fill=frame)
        lighter = tuple(min(255, c + 45) for c in frame)
        draw.ellipse([cx - r - fw, cy - r - fw, cx + r + fw, cy + r + fw], outline=lighter, width=2)
        draw.ellipse(
            [cx - r, cy - r, cx + r, cy + r], fill=face_rgb, outline=tuple(c // 2 for c in frame), width=2
        )
    else:
        rim = (25, 25, 25) if face == "station" else rng.choice(style.COLORS)[2]
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=face_rgb, outline=rim, width=max(3, r // 18))
    style_of_hands = "baton" if face == "station" else rng.choice(HANDS)
    dial = Dial(img, face, style_of_hands)
    outer = face == "wall" and rng.random() < 0.5  # numerals by the rim, the minute track inside them
    reach = _marks(draw, rng, face, cx, cy, r, fg, outer)
    if face in ("arabic", "roman", "minimal", "wall", "hanzi"):
        labels = {
            "roman": NUMERALS,
            "hanzi": HANZI,
        }.get(face, tuple(str(i or 12) for i in range(12)))
        fsize = max(12, int(r / (7.5 if face == "hanzi" else 6)))
        f = style.pick_font(rng, fsize, lang=lang)
        ring = r * (0.8 if outer else (0.68 if face == "minimal" else 0.74))
        for i in range(12):
            if face == "minimal" and i % 3:
                continue
            a = math.radians(i * 30 - 90)
            tx, ty = cx + ring * math.cos(a), cy + ring * math.sin(a)
            box = draw.textbbox((tx, ty), labels[i], font=f, anchor="mm")
            draw.text((tx, ty), labels[i], font=f, fill=fg, anchor="mm")
            box = (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3]))
            dial.numerals.append((labels[i], box))
        near = min(_distance_to_box(cx, cy, b) for _, b in dial.numerals)
        reach = min(reach, near - max(4, r // 30))
    if face in ("wall", "station"):
        words = load_words("clocks")["zh" if lang == "zh" else "en"]["labels"]
        label = rng.choice(words)
        lf = style.pick_font(rng, max(10, r // 11), lang=lang)
        draw.text((cx, cy - r * 0.32), label, font=lf, fill=fg, anchor="mm")
    if not hands:
        return dial
    minute_angle = math.radians((m + (second or 0) / 60) * 6 - 90)
    hour_angle = math.radians((h % 12) * 30 + m * 0.5 - 90)
    colour = rng.choice(style.COLORS)[2] if rng.random() < 0.3 and face != "station" else fg
    minute_len = reach
    hour_len = reach * rng.uniform(0.55, 0.65)
    _hand(draw, style_of_hands, cx, cy, hour_angle, hour_len, max(4, r // 13), colour)
    _hand(draw, style_of_hands, cx, cy, minute_angle, minute_len, max(3, r // 24), colour)
    if second is not None:
        a = math.radians(second * 6 - 90)
        sec = RED if face == "station" or rng.random() < 0.7 else colour
        tail = r * 0.18
        disc = max(3, r // 14) if face == "station" else 0
        end = reach - disc
        draw.line(
            [
                (cx - tail * math.cos(a), cy - tail * math.sin(a)),
                (cx + end * math.cos(a), cy + end * math.sin(a)),
            ],
            fill=sec,
            width=max(1, r // 70),
        )
        if disc:
            ex, ey = cx + (end - disc) * math.cos(a), cy + (end - disc) * math.sin(a)
            draw.ellipse([ex - disc, ey - disc, ex + disc, ey + disc], fill=sec)
        draw.ellipse([cx - r // 30, cy - r // 30, cx + r // 30, cy + r // 30], fill=sec)
    else:
        draw.ellipse([cx - r // 25, cy - r // 25, cx + r // 25, cy + r // 25], fill=colour)
    return dial


def _marks(
    draw: ImageDraw.ImageDraw, rng: random.Random, face: str, cx: int, cy: int, r: int, fg, outer: bool
) -> float:
    """The hour and minute marks of `face`; returns how far a hand may reach."""
    minutes = face != "minimal"
    if outer:  # a minute track inside the numerals
        lo, hi = 0.6, 0.68
    elif face == "station":
        lo, hi = 0.72, 0.95
    else:
        lo, hi = 0.88, 0.97
    for k in range(60):
        hour = k % 5 == 0
        if not hour and not minutes:
            continue
        a = math.radians(k * 6 - 90)
        if face == "station":
            inner, width = (lo if hour else 0.86), (max(4, r // 16) if hour else max(2, r // 60))
        elif hour:
            inner, width = (lo - 0.04 if face == "ticks" and k % 15 == 0 else lo), max(2, r // 40)
            if face == "ticks":
                width = max(3, r // 26) if k % 15 == 0 else max(2, r // 36)
        else:
            inner, width = hi - (hi - lo) * 0.45, 1
        x1, y1 = cx + r * inner * math.cos(a), cy + r * inner * math.sin(a)
        x2, y2 = cx + r * hi * math.cos(a), cy + r * hi * math.sin(a)
        draw.line([(x1, y1), (x2, y2)], fill=fg, width=width)
    return r * hi if outer or face in ("ticks", "station") else r * 0.9


def _distance_to_box(cx: float, cy: float, box: tuple[int, int, int, int]) -> float:
    """How far the nearest point of `box` is from (cx, cy)."""
    dx = max(box[0] - cx, 0, cx - box[2])
    dy = max(box[1] - cy, 0, cy - box[3])
    return math.hypot(dx, dy)


def _station_mount(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, size: int) -> None:
    """The arm a station clock hangs from."""
    grey = (70, 72, 78)
    w = max(6, r // 8)
    draw.rectangle([cx - w // 2, 0, cx + w // 2, cy - r], fill=grey)
    draw.rectangle([cx - 2 * w, 0, cx + 2 * w, max(4, w // 2)], fill=grey)


def _hand(
    draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, a: float, length: float, width: int, fill
) -> None:
    """One hand of `kind` from the centre along angle `a`, no longer than `length`."""
    ux, uy = math.cos(a), math.sin(a)
    px, py = -uy, ux  # across the hand

    def at(t: float, s: float) -> tuple[float, float]:
        return cx + ux * t + px * s, cy + uy * t + py * s

    if kind == "line":
        draw.line([(cx, cy), at(length, 0)], fill=fill, width=width)
    elif kind == "taper":
        draw.polygon(
            [at(-length * 0.12, -width * 0.6), at(length, 0), at(-length * 0.12, width * 0.6)], fill=fill
        )
        draw.polygon(
            [
                at(0, -width * 0.9),
                at(length * 0.55, -width * 0.5),
                at(length, 0),
                at(length * 0.55, width * 0.5),
                at(0, width * 0.9),
            ],
            fill=fill,
        )
    elif kind == "baton":
        tail = length * 0.18
        draw.polygon(
            [at(-tail, -width / 2), at(length, -width / 2.6), at(length, width / 2.6), at(-tail, width / 2)],
            fill=fill,
        )
    else:  # arrow: a thin shaft and a diamond tip
        tip = min(length * 0.25, width * 4 + 6)
        draw.line([(cx, cy), at(length - tip, 0)], fill=fill, width=max(2, width // 2))
        draw.polygon(
            [
                at(length - tip * 1.6, 0),
                at(length - tip * 0.8, -width),
                at(length, 0),
                at(length - tip * 0.8, width),
            ],
            fill=fill,
        )
