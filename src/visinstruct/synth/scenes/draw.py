"""Drawing a scene: shapes of a nominal radius, the background, and a `Look` (outlines, shadows,
anti-aliasing) that draws any list of objects the same way, so two images of a scene differ
only where their objects do."""

from __future__ import annotations

import math
import random
from functools import cache

from PIL import Image, ImageDraw

from visinstruct.synth import style
from visinstruct.synth.scenes.data import COLOR_RGB, FLOORS


@cache
def unit_polygon(shape: str) -> tuple[tuple[float, float], ...]:
    """Vertices of a shape of nominal radius 1, its bounding box centred on the origin."""
    if shape == "square":
        pts = [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]
    elif shape == "triangle":
        pts = [(0.0, -0.87), (1.0, 0.87), (-1.0, 0.87)]
    elif shape == "diamond":
        pts = [(0.0, -1.05), (0.75, 0.0), (0.0, 1.05), (-0.75, 0.0)]
    elif shape == "hexagon":
        pts = [(math.cos(math.radians(60 * k)), math.sin(math.radians(60 * k))) for k in range(6)]
    elif shape == "star":
        pts = []
        for k in range(10):
            r = 1.05 if k % 2 == 0 else 1.05 * 0.45
            a = math.radians(-90 + 36 * k)
            pts.append((r * math.cos(a), r * math.sin(a)))
    else:
        raise ValueError(shape)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    mx, my = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return tuple((x - mx, y - my) for x, y in pts)


def shape_points(shape: str, x: int, y: int, r: int) -> list[tuple[int, int]]:
    """The vertices of `shape` centred at (x, y) with nominal radius `r`, in whole pixels."""
    return [(int(round(x + ux * r)), int(round(y + uy * r))) for ux, uy in unit_polygon(shape)]


def extent(r: int) -> int:
    """Half-size of the square every shape of nominal radius `r` fits in."""
    return int(math.ceil(r * 1.05))


class Look:
    """How a scene is drawn: the background and the outline/shadow treatment of objects."""

    def __init__(self, rng: random.Random, w: int, h: int):
        self.w, self.h = w, h
        self.bg = background(rng, w, h)
        self.outline = rng.choice(("none", "none", "darker", "ink", "light"))
        self.width = rng.choice((1, 2, 2, 3))
        self.ink = style.ink(rng)
        self.shadow: tuple[int, int] | None = None
        if rng.random() < 0.3:
            self.shadow = (rng.randint(2, 5), rng.randint(2, 5))
        base = self.bg.getpixel((w // 2, h - 15))
        self.shadow_rgb = tuple(max(0, c - rng.randint(40, 60)) for c in base)
        self.gap = max(8, min(w, h) // 50) + (max(self.shadow) if self.shadow else 0) + self.width
        self.margin = 10
        self.smooth = rng.random() < 0.6  # anti-aliased edges (drawn at twice the size, then reduced)

    def render(self, objects: list[dict]) -> Image.Image:
        """Draw `objects` on this look's background (at twice the size when anti-aliased)."""
        k = 2 if self.smooth else 1
        img = self.bg.resize((self.w * k, self.h * k), Image.Resampling.NEAREST) if k > 1 else self.bg.copy()
        draw = ImageDraw.Draw(img)
        for o in objects:
            rgb = COLOR_RGB[o["color"]]
            if self.shadow is not None:
                dx, dy = self.shadow
                self._shape(draw, o, k, dx, dy, self.shadow_rgb, None)
            if self.outline == "darker":
                line = tuple(int(c * 0.55) for c in rgb)
            elif self.outline == "ink":
                line = self.ink
            elif self.outline == "light":
                line = tuple(c + (255 - c) // 2 for c in rgb)
            else:
                line = None
            self._shape(draw, o, k, 0, 0, rgb, line)
        return img.reduce(k) if k > 1 else img

    def _shape(self, draw: ImageDraw.ImageDraw, o: dict, k: int, dx: int, dy: int, fill, line) -> None:
        x, y, r = (o["x"] + dx) * k, (o["y"] + dy) * k, o["radius"] * k
        width = self.width * k if line is not None else 0
        if o["shape"] == "circle":
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=line, width=width)
        else:
            draw.polygon(shape_points(o["shape"], x, y, r), fill=fill, outline=line, width=width)


def background(rng: random.Random, w: int, h: int) -> Image.Image:
    """A light background: style canvas, a floor below a horizon, or a soft vertical gradient."""
    kind = rng.random()
    if kind < 0.45:
        img, draw = style.canvas(rng, w, h, plain=rng.random() < 0.4)
    elif kind < 0.75:
        bg = rng.choice(style.BACKGROUNDS)
        img = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(img)
        horizon = int(h * rng.uniform(0.22, 0.45))
        draw.rectangle([0, horizon, w, h], fill=rng.choice(FLOORS))
        if rng.random() < 0.5:
            draw.line([(0, horizon), (w, horizon)], fill=(200, 200, 200), width=1)
    else:
        top = rng.choice(style.BACKGROUNDS)
        bottom = rng.choice(FLOORS)
        img = Image.new("RGB", (w, h), top)
        draw = ImageDraw.Draw(img)
        band = 4
        for y in range(0, h, band):
            t = y / h
            c = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
            draw.rectangle([0, y, w, y + band - 1], fill=c)
    if rng.random() < 0.3:
        inset = rng.randint(0, 5)
        draw.rectangle(
            [inset, inset, w - 1 - inset, h - 1 - inset], outline=(150, 150, 150), width=rng.randint(1, 3)
        )
    return img
