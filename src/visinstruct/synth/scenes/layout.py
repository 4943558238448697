"""Laying out a scene: objects of two sizes placed without overlap, with their boxes, and where
an object is (one of five regions when clearly inside it, a 3x3 grid for explanations)."""

from __future__ import annotations

import math
import random
from typing import Any

from visinstruct.synth import style
from visinstruct.synth.scenes.data import AREA_EN, AREA_ZH, SHAPES, SIZES
from visinstruct.synth.scenes.draw import Look, extent, shape_points


def norm1000(v: float, total: int) -> int:
    """A pixel coordinate on the 0-1000 scale of `total` pixels."""
    return int(v * 1000 / total + 0.5)


def make_object(oid: int, shape: str, color: str, size: str, x: int, y: int, r: int, w: int, h: int) -> dict:
    """An object dict with its pixel and 0-1000 normalised bounding box."""
    if shape == "circle":
        box = [x - r, y - r, x + r, y + r]
    else:
        pts = shape_points(shape, x, y, r)
        box = [min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts)]
    return {
        "id": oid,
        "shape": shape,
        "color": color,
        "size": size,
        "x": x,
        "y": y,
        "radius": r,
        "bbox": box,
        "bbox_norm": [norm1000(box[0], w), norm1000(box[1], h), norm1000(box[2], w), norm1000(box[3], h)],
    }


def outline(o: dict) -> list[tuple[float, float]]:
    """Points on an object's outline whose box is its box: a polygon's vertices, or 64 points
    around a circle."""
    x, y, r = o["x"], o["y"], o["radius"]
    if o["shape"] == "circle":
        return [
            (x + r * math.cos(2 * math.pi * k / 64), y + r * math.sin(2 * math.pi * k / 64))
            for k in range(64)
        ]
    return [(float(px), float(py)) for px, py in shape_points(o["shape"], x, y, r)]


def moved(o: dict, warp: Any, w: int, h: int) -> dict:
    """Object `o` as it appears after its image is warped (`realism.Warp`): its centre and its
    pixel and 0-1000 boxes moved with the pixels; shape, colour and size are what they were."""
    cx, cy = warp.point(o["x"], o["y"])
    box = warp.box(outline(o))
    out = dict(o)
    out["x"], out["y"] = int(round(cx)), int(round(cy))
    out["bbox"] = box
    out["bbox_norm"] = [norm1000(box[0], w), norm1000(box[1], h), norm1000(box[2], w), norm1000(box[3], h)]
    return out


def center_norm(o: dict, w: int, h: int) -> tuple[int, int]:
    """An object's centre on the 0-1000 scale."""
    return norm1000(o["x"], w), norm1000(o["y"], h)


def region5(o: dict, w: int, h: int) -> str | None:
    """The region an object is clearly in, or None when it is near a border between regions."""
    nx, ny = o["x"] / w - 0.5, o["y"] / h - 0.5
    if abs(nx) < 0.1 and abs(ny) < 0.1:
        return "center"
    if abs(nx) >= 0.17 and abs(ny) >= 0.17:
        return ("top-" if ny < 0 else "bottom-") + ("left" if nx < 0 else "right")
    return None


def area9(o: dict, w: int, h: int) -> tuple[int, int]:
    """(row, column) of the object's centre in a 3x3 grid over the image."""
    col = min(2, int(3 * o["x"] / w))
    row = min(2, int(3 * o["y"] / h))
    return row, col


def where(o: dict, w: int, h: int, lang: str) -> str:
    """Roughly where an object is ('in the upper left', '左上方'), from the 3x3 grid."""
    row, col = area9(o, w, h)
    return (AREA_ZH if lang == "zh" else AREA_EN)[row][col]


# ---------------------------------------------------------------- layout


def pick_sizes(rng: random.Random, w: int, h: int, n: int) -> dict[str, int]:
    """Nominal radii of large and small objects for a canvas holding about `n` objects."""
    unit = min(w, h)
    large = unit * (rng.uniform(0.08, 0.105) if n <= 6 else rng.uniform(0.065, 0.085))
    small = max(13, int(large * rng.uniform(0.47, 0.56)))
    return {"large": max(int(large), small * 2 - 4), "small": small}


def free_spot(
    rng: random.Random,
    w: int,
    h: int,
    ext: int,
    taken: list[tuple[int, int, int, int]],
    gap: int,
    margin: int,
    tries: int = 60,
) -> tuple[int, int] | None:
    """A centre whose box (±ext) keeps `gap` pixels from every box in `taken`."""
    lo_x, hi_x, lo_y, hi_y = margin + ext, w - margin - ext, margin + ext, h - margin - ext
    if lo_x > hi_x or lo_y > hi_y:
        return None
    for _ in range(tries):
        x, y = rng.randint(lo_x, hi_x), rng.randint(lo_y, hi_y)
        a0, b0, a1, b1 = x - ext - gap, y - ext - gap, x + ext + gap, y + ext + gap
        if all(a1 <= t[0] or t[2] <= a0 or b1 <= t[1] or t[3] <= b0 for t in taken):
            return x, y
    return None


def collision_box(o: dict) -> tuple[int, int, int, int]:
    """The square every shape of the object's radius fits in: objects keep these apart."""
    e = extent(o["radius"])
    return o["x"] - e, o["y"] - e, o["x"] + e, o["y"] + e


def canvas_dims(rng: random.Random) -> tuple[int, int]:
    """A scene's canvas size."""
    return style.canvas_size(rng, base=rng.choice((448, 512, 576, 640)), spread=0.2)


def random_scene(rng: random.Random, look: Look, n: int, radii: dict[str, int]) -> list[dict]:
    """Up to `n` objects from a small palette of colours and shapes, placed without overlap."""
    w, h = look.w, look.h
    colors = [c[0] for c in style.pick_colors(rng, rng.randint(3, 6))]
    shapes = rng.sample(SHAPES, rng.randint(3, 5))
    objs: list[dict] = []
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(n):
        size = rng.choice(SIZES)
        r = radii[size]
        spot = free_spot(rng, w, h, extent(r), taken, look.gap, look.margin)
        if spot is None and size == "large":
            size, r = "small", radii["small"]
            spot = free_spot(rng, w, h, extent(r), taken, look.gap, look.margin)
        if spot is None:
            continue
        o = make_object(len(objs), rng.choice(shapes), rng.choice(colors), size, spot[0], spot[1], r, w, h)
        objs.append(o)
        taken.append(collision_box(o))
    return objs
