"""Laying out a scene: objects of two sizes placed apart, with their boxes, and where an object
is (one of five regions when clearly inside it, a 3x3 grid for explanations).

A scene may also have objects that partly hide others (`add_overlaps`): one in front covers
an edge of the one behind but never its centre nor the points where its box touches it, so
the object behind still shows its colour and shape, and its box (of the whole object) is
still where its pixels end."""

from __future__ import annotations

import math
import random
from functools import cache
from typing import Any

from visinstruct.synth import style
from visinstruct.synth.scenes.data import AREA_EN, AREA_ZH, COLOR_RGB, SHAPES, SIZES
from visinstruct.synth.scenes.draw import Look, extent, inside, shape_points, unit_polygon


def norm1000(v: float, total: int) -> int:
    """A pixel coordinate on the 0-1000 scale of `total` pixels."""
    return int(v * 1000 / total + 0.5)


def make_object(oid: int, shape: str, color: str, size: str, x: int, y: int, r: int, w: int, h: int) -> dict:
    """An object dict with its pixel and 0-1000 normalised bounding box."""
    if shape in ("circle", "sphere"):
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
    if o["shape"] in ("circle", "sphere"):
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


def random_scene(
    rng: random.Random,
    look: Look,
    n: int,
    radii: dict[str, int],
    kinds: tuple[str, ...] = SHAPES,
    looks: tuple[str, ...] = (),
) -> list[dict]:
    """Up to `n` objects from a small palette of colours and of shapes from `kinds`, placed
    without overlap; `looks`: how each object is drawn, one picked per object (the key `look`)."""
    w, h = look.w, look.h
    colors = [c[0] for c in style.pick_colors(rng, rng.randint(3, 6))]
    shapes = rng.sample(kinds, rng.randint(min(3, len(kinds)), min(5, len(kinds))))
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
        if looks:
            o["look"] = rng.choice(looks)
            o["occluded_by"] = []
        objs.append(o)
        taken.append(collision_box(o))
    return objs


def reach(shape: str, r: int) -> float:
    """The radius of the circle about an object's centre that holds all of it."""
    return r * _unit_reach(shape)


@cache
def _unit_reach(shape: str) -> float:
    if shape in ("circle", "sphere"):
        return 1.0
    return max(math.hypot(px, py) for px, py in unit_polygon(shape))


def extremes(o: dict) -> list[tuple[float, float]]:
    """The points of an object's outline on its box's edges (its leftmost, topmost... points),
    and its centre: an object in front never covers these."""
    pts = outline(o)
    out = [(float(o["x"]), float(o["y"]))]
    for i, pick in ((0, min), (1, min), (0, max), (1, max)):
        edge = pick(p[i] for p in pts)
        out += [p for p in pts if abs(p[i] - edge) < 0.5]
    return out


def add_overlaps(
    rng: random.Random, look: Look, objs: list[dict], radii: dict[str, int], k: int, looks: tuple[str, ...]
) -> None:
    """Up to `k` more objects, each partly in front of one object of the scene (recorded in the
    hidden one's `occluded_by`), of a clearly different colour, clear of every other object."""
    w, h = look.w, look.h
    shapes = sorted({o["shape"] for o in objs})
    colors = sorted({o["color"] for o in objs})
    busy: set[int] = set()
    edges: dict[int, list[tuple[float, float]]] = {}
    for _ in range(k):
        targets = [o for o in objs if o["id"] not in busy]
        if not targets:
            return
        for _attempt in range(14):
            t = rng.choice(targets)
            size = rng.choice(("small", "small", "large"))
            r, shape = radii[size], rng.choice(shapes)
            others = [c for c in colors if _apart(c, t["color"])] or [
                c for c in COLOR_RGB if _apart(c, t["color"])
            ]
            color = rng.choice(others)
            a = math.radians(rng.choice((45, 135, 225, 315)) + rng.uniform(-15, 15))
            pad = look.width + 3
            d = (reach(shape, r) + reach(t["shape"], t["radius"])) * rng.uniform(0.55, 0.85)
            x, y = int(round(t["x"] + d * math.cos(a))), int(round(t["y"] + d * math.sin(a)))
            e = extent(r)
            if not (
                look.margin + e <= x <= w - look.margin - e and look.margin + e <= y <= h - look.margin - e
            ):
                continue
            box = (x - e - look.gap, y - e - look.gap, x + e + look.gap, y + e + look.gap)
            clear = all(
                box[2] <= c[0] or c[2] <= box[0] or box[3] <= c[1] or c[3] <= box[1]
                for c in (collision_box(other) for other in objs if other is not t)
            )
            if not clear:
                continue
            o = {"shape": shape, "x": x, "y": y, "radius": r}
            grown = [(x + (px - x) * (1 + pad / r), y + (py - y) * (1 + pad / r)) for px, py in outline(o)]
            if t["id"] not in edges:
                edges[t["id"]] = extremes(t)
            if any(inside(px, py, grown) for px, py in edges[t["id"]]) or not covers(o, t):
                continue
            o = make_object(len(objs), shape, color, size, x, y, r, w, h)
            o["look"] = rng.choice(looks)
            o["occluded_by"] = []
            t["occluded_by"].append(o["id"])
            busy |= {t["id"], o["id"]}
            objs.append(o)
            break


def covers(front: dict, back: dict, share: float = 0.12) -> bool:
    """Does `front` really overlap `back`: at least `share` of its outline inside `back`'s?"""
    pts = outline(front)
    if len(pts) < 16:  # a polygon: points along its edges too
        pts = [
            (a[0] + (b[0] - a[0]) * t / 4, a[1] + (b[1] - a[1]) * t / 4)
            for a, b in zip(pts, pts[1:] + pts[:1], strict=True)
            for t in range(4)
        ]
    if back["shape"] in ("circle", "sphere"):
        bx, by, r2 = back["x"], back["y"], back["radius"] ** 2
        hits = sum((px - bx) ** 2 + (py - by) ** 2 < r2 for px, py in pts)
    else:
        poly = outline(back)
        hits = sum(inside(px, py, poly) for px, py in pts)
    return hits >= share * len(pts)


def _apart(a: str, b: str) -> bool:
    """Are two named colours far apart (no pixel of one could be taken for the other)?"""
    return sum(abs(x - y) for x, y in zip(COLOR_RGB[a], COLOR_RGB[b], strict=True)) > 120
