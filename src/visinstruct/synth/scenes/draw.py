"""Drawing a scene: shapes of a nominal radius, the background, and a `Look` (outlines, shadows,
anti-aliasing) that draws any list of objects the same way, so two images of a scene differ
only where their objects do.

A lit look (`Look(..., lit=True)`, the scenes domain's) also draws shaded solids (spheres,
cubes, cylinders lit from one side), dotted fills, soft ground shadows and a background lit
from the same side. Shading only darkens, within a narrow band of the object's named colour
(a sum of channel differences under 40), but for a small highlight: every object reads as its
colour from edge to edge, and is that very colour where it faces the light and at its centre."""

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
    elif shape == "cube":  # the silhouette: a front face and the top and right faces behind it
        a, d = 5 / 6, 1 / 3
        pts = [(-1.0, -1 + d), (-1 + d, -1.0), (1.0, -1.0), (1.0, 1 - d), (-1 + 2 * a, 1.0), (-1.0, 1.0)]
    elif shape == "cylinder":  # the silhouette: the top ellipse's upper half, the bottom's lower half
        rx, ry = 0.8, 0.24
        top = [(rx * math.cos(t), -1 + ry - ry * math.sin(t)) for t in (math.pi * k / 16 for k in range(17))]
        bottom = [
            (rx * math.cos(t), 1 - ry + ry * math.sin(t)) for t in (math.pi * k / 16 for k in range(17))
        ]
        pts = top + bottom
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


def tint(rgb: tuple[int, int, int], s: float) -> tuple[int, int, int]:
    """`rgb` lit by `s` in [-1, 1] (darker below 0, lighter above), within a sum of channel
    differences of 40 of `rgb` so the colour still reads as its name."""
    if s < 0:
        k = min(0.3, 40 / max(1, sum(rgb))) * -s
        return tuple(int(c * (1 - k)) for c in rgb)
    k = min(0.4, 40 / max(1, sum(255 - c for c in rgb))) * s
    return tuple(int(c + (255 - c) * k) for c in rgb)


def extent(r: int) -> int:
    """Half-size of the square every shape of nominal radius `r` fits in."""
    return int(math.ceil(r * 1.05))


class Look:
    """How a scene is drawn: the background and the outline/shadow treatment of objects."""

    def __init__(self, rng: random.Random, w: int, h: int, lit: bool = False):
        self.w, self.h = w, h
        self.lit = lit
        self.light = (-1.0, -1.0)  # where the light comes from (x, y), for shading and shadows
        if lit:
            self.light = (rng.choice((-1.0, -0.6, 0.6, 1.0)), -1.0)
            self.bg = lit_background(rng, w, h, self.light) if rng.random() < 0.5 else background(rng, w, h)
            self.soft = rng.random() < 0.7  # soft ground shadows under objects
        else:
            self.bg = background(rng, w, h)
            self.soft = False
        self.outline = rng.choice(("none", "none", "darker", "ink", "light"))
        self.width = rng.choice((1, 2, 2, 3))
        self.ink = style.ink(rng)
        self.shadow: tuple[int, int] | None = None
        if rng.random() < 0.3:
            self.shadow = (rng.randint(2, 5), rng.randint(2, 5))
        base = self.bg.getpixel((w // 2, h - 15))
        self.shadow_rgb = tuple(max(0, c - rng.randint(40, 60)) for c in base)
        if lit:  # soft ground shadows instead of drop shadows; thin outlines keep a tip its colour
            self.shadow = None
            self.width = 1
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
        if self.soft:
            self._ground_shadows(ImageDraw.Draw(img), objects)
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

    def _ground_shadows(self, draw: ImageDraw.ImageDraw, objects: list[dict]) -> None:
        """Soft shadows on the ground, away from the light, drawn before any object: three
        ellipses, each smaller and darker."""
        lx, _ = self.light
        for o in objects:
            x, y, r = o["x"], o["y"], o["radius"]
            sx, sy = x - lx * r * 0.35, y + r * 0.78
            for i, k in enumerate((1.0, 0.85, 0.7)):
                rx, ry = r * 1.05 * k, r * 0.32 * k
                base = self.bg.getpixel((min(self.w - 1, max(0, int(sx))), min(self.h - 1, max(0, int(sy)))))
                c = tuple(max(0, v - 14 * (i + 1)) for v in base)
                draw.ellipse([sx - rx, sy - ry, sx + rx, sy + ry], fill=c)

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
            self._shape(draw, o, k, dx * k - ox, dy * k - oy, self.shadow_rgb, None, shadow=True)
        if self.outline == "darker":
            line = tuple(int(c * 0.55) for c in rgb)
        elif self.outline == "ink":
            line = self.ink
        elif self.outline == "light":
            line = tuple(c + (255 - c) // 2 for c in rgb)
        else:
            line = None
        self._shape(draw, o, k, -ox, -oy, rgb, line)

    def _shape(
        self, draw: ImageDraw.ImageDraw, o: dict, k: int, sx: int, sy: int, fill, line, shadow: bool = False
    ) -> None:
        """The shape of `o` at scale `k`, shifted by (sx, sy) pixels of that scale (`shadow`: its
        silhouette alone, in `fill`)."""
        x, y, r = o["x"] * k + sx, o["y"] * k + sy, o["radius"] * k
        width = self.width * k if line is not None else 0
        shape = o["shape"]
        if shadow:
            self._flat(draw, shape, x, y, r, fill, None, 0)
        elif o.get("look") == "shaded":
            self._solid(draw, shape, x, y, r, fill)
        else:
            self._flat(draw, shape, x, y, r, fill, line, width)
            if o.get("look") == "dotted":
                self._dots(draw, shape, x, y, r, k, fill)

    def _flat(
        self, draw: ImageDraw.ImageDraw, shape: str, x: float, y: float, r: float, fill, line, width
    ) -> None:
        """A flat shape (or a solid's silhouette) in one colour."""
        if shape in ("circle", "sphere"):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=line, width=width)
        else:
            draw.polygon(shape_points(shape, x, y, r), fill=fill, outline=line, width=width)

    def _dots(
        self, draw: ImageDraw.ImageDraw, shape: str, x: float, y: float, r: float, k: int, fill
    ) -> None:
        """A fill of darker dots, kept well inside the shape and off its centre."""
        dark = tuple(int(c * 0.55) for c in fill)
        step = max(6 * k, r / 2.6)
        dot = max(k, r / 13)
        core = [(x + ux * r * 0.62, y + uy * r * 0.62) for ux, uy in _unit_outline(shape)]
        n = int(r / step) + 1
        for i in range(-n, n):
            for j in range(-n, n):
                px, py = x + (i + 0.5) * step, y + (j + 0.5) * step
                if inside(px, py, core):
                    draw.ellipse([px - dot, py - dot, px + dot, py + dot], fill=dark)

    def _solid(self, draw: ImageDraw.ImageDraw, shape: str, x: float, y: float, r: float, rgb) -> None:
        """A solid lit from `self.light`: faces or bands of one colour, lighter towards the light."""
        lx, ly = self.light
        if shape == "sphere":
            # rings darkening away from the light; the object's colour itself where it faces the
            # light (its centre included); a small highlight off the centre
            for i in range(5):
                t = i / 4
                rr = r * (1 - 0.3 * t)
                off = r * 0.3 * t * 0.7
                cx, cy = x + lx * off, y + ly * off
                draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=tint(rgb, t - 1))
            hr, off = r * 0.13, r * 0.33
            hx, hy = x + lx * off, y + ly * off
            high = tuple(int(c + (255 - c) * 0.6) for c in rgb)
            draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=high)
        elif shape == "cube":
            a, d = 5 / 6, 1 / 3

            def p(ux: float, uy: float) -> tuple[float, float]:
                return x + ux * r, y + uy * r

            front = [p(-1, -1 + d), p(-1 + 2 * a, -1 + d), p(-1 + 2 * a, 1), p(-1, 1)]
            top = [p(-1, -1 + d), p(-1 + d, -1), p(1, -1), p(-1 + 2 * a, -1 + d)]
            side = [p(-1 + 2 * a, -1 + d), p(1, -1), p(1, 1 - d), p(-1 + 2 * a, 1)]
            draw.polygon(top, fill=tint(rgb, 0))
            draw.polygon(side, fill=tint(rgb, -1 if lx < 0 else -0.15))
            draw.polygon(front, fill=tint(rgb, -0.15 if lx < 0 else -0.55))
            edge = tint(rgb, -1)
            draw.line([front[0], front[1], front[2]], fill=edge, width=max(1, int(r / 30)))
        else:  # cylinder: vertical bands darkening away from the light, the top in full light
            rx, ry = 0.8 * r, 0.24 * r
            top_y, bottom_y = y - r + ry, y + r - ry
            bands = 10
            draw.ellipse([x - rx, bottom_y - ry, x + rx, bottom_y + ry], fill=tint(rgb, -0.5))
            for b in range(bands):
                x0 = x - rx + 2 * rx * b / bands
                x1 = x - rx + 2 * rx * (b + 1) / bands
                t = (b + 0.5) / bands  # 0 left .. 1 right
                lit_side = 1 - t if lx < 0 else t
                draw.rectangle([x0, top_y, x1, bottom_y], fill=tint(rgb, -((1 - lit_side) ** 1.5)))
            draw.ellipse([x - rx, top_y - ry, x + rx, top_y + ry], fill=tint(rgb, 0))
            draw.arc(
                [x - rx, top_y - ry, x + rx, top_y + ry],
                0,
                180,
                fill=tint(rgb, -1),
                width=max(1, int(r / 30)),
            )


def _unit_outline(shape: str) -> tuple[tuple[float, float], ...]:
    """A shape's outline at radius 1 (a circle's as 24 points)."""
    if shape in ("circle", "sphere"):
        return tuple((math.cos(math.pi * k / 12), math.sin(math.pi * k / 12)) for k in range(24))
    return unit_polygon(shape)


def inside(px: float, py: float, poly: list[tuple[float, float]]) -> bool:
    """Is (px, py) inside the polygon `poly` (ray casting)?"""
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > py) != (yj > py) and px < (xj - xi) * (py - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def lit_background(rng: random.Random, w: int, h: int, light: tuple[float, float]) -> Image.Image:
    """A background lit from one side: a floor, brightest where the light falls, darker away."""
    base = rng.choice(FLOORS)
    img = Image.new("RGB", (w, h), tuple(max(0, c - 24) for c in base))
    draw = ImageDraw.Draw(img)
    lx, ly = w * (0.5 + 0.35 * light[0]), h * 0.15
    steps = 7
    for i in range(steps):
        t = i / steps
        rr = max(w, h) * 1.3 * (1 - t)
        c = tuple(min(255, int(v - 24 + 30 * t)) for v in base)
        draw.ellipse([lx - rr, ly - rr * 0.8, lx + rr, ly + rr * 0.8], fill=c)
    return img


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
