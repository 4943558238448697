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
        """Draw `objects` on this look's background.

        Anti-aliased looks draw each object at twice the size on a patch of the background
        around it and reduce the patch: the same pixels as drawing the whole image at twice the
        size, since objects never come within a few pixels of each other, at a fraction of the
        cost of scaling the whole image up and down.
        """
        img = self.bg.copy()
        if not self.smooth:
            draw = ImageDraw.Draw(img)
            for o in objects:
                self._object(draw, o, 1, 0, 0)
            return img
        for o in objects:
            x0, y0, x1, y1 = self._reach(o)
            patch = img.crop((x0, y0, x1, y1)).resize(
                (2 * (x1 - x0), 2 * (y1 - y0)), Image.Resampling.NEAREST
            )
            self._object(ImageDraw.Draw(patch), o, 2, 2 * x0, 2 * y0)
            img.paste(patch.reduce(2), (x0, y0))
        return img

    def _reach(self, o: dict) -> tuple[int, int, int, int]:
        """A box holding every pixel drawn for `o` (shape, outline, shadow, and a margin), from the
        left edge: Pillow fills polygons along rows, so moving a shape up or down draws the same
        pixels, while moving it sideways may change a pixel at a sharp tip."""
        e = extent(o["radius"]) + (max(self.shadow) if self.shadow else 0) + self.width + 3
        x, y = o["x"], o["y"]
        return 0, max(0, y - e), min(self.w, x + e + 1), min(self.h, y + e + 1)

    def _object(self, draw: ImageDraw.ImageDraw, o: dict, k: int, ox: int, oy: int) -> None:
        """Draw `o` (shadow first) at scale `k`, the drawing's origin at (ox, oy) of that scale."""
        rgb = COLOR_RGB[o["color"]]
        if self.shadow is not None:
            dx, dy = self.shadow
            self._shape(draw, o, k, dx * k - ox, dy * k - oy, self.shadow_rgb, None)
        if self.outline == "darker":
            line = tuple(int(c * 0.55) for c in rgb)
        elif self.outline == "ink":
            line = self.ink
        elif self.outline == "light":
            line = tuple(c + (255 - c) // 2 for c in rgb)
        else:
            line = None
        self._shape(draw, o, k, -ox, -oy, rgb, line)

    def _shape(self, draw: ImageDraw.ImageDraw, o: dict, k: int, sx: int, sy: int, fill, line) -> None:
        """The shape of `o` at scale `k`, shifted by (sx, sy) pixels of that scale."""
        x, y, r = o["x"] * k + sx, o["y"] * k + sy, o["radius"] * k
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
