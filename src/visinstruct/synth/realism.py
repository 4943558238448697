"""Photographic realism for synthetic images, with every answer still exact.

A clean render teaches a model clean renders. With `realism: r` in a recipe, each item is,
with probability r, shown as a photograph or a scan of itself: a perspective view of the
picture lying on a surface or shown on a screen, or a slightly rotated and sheared scan; then
lighting that falls off across the picture, blur, JPEG artefacts and sensor or scan noise.
Strength grows with r. What was done is returned as a plan (kinds and parameters) that goes
into every sample's and image's provenance, so a dataset says which pictures were treated.

Geometry moves pixels, so it is used only where answers survive it: values, text, times and
labelled lengths do; coordinates do not, unless the domain moves them too. A domain either
has no coordinates in its answers (`SynthDomain.geometric = True`, the default; the facts
named in `SynthDomain.coordinates`, text boxes or vertices, are moved with the pixels), moves
its facts itself (`SynthDomain.relocate(item, warp, rng, lang)`, which also asks its questions
again from the moved facts), or takes photometric changes only (`geometric = False`, e.g. two
images that must stay aligned). Several images of one item get the same
treatment, noise included, so they differ only where their content does.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageChops, ImageDraw

if TYPE_CHECKING:
    from visinstruct.synth.base import Item, SynthDomain

SURFACES = ((96, 78, 62), (139, 115, 85), (70, 72, 78), (182, 170, 150), (120, 124, 118), (210, 205, 196))
SCREEN_BEZELS = ((18, 18, 20), (32, 32, 36), (55, 55, 60))
SCAN_BEDS = ((248, 248, 246), (236, 236, 232), (225, 226, 228))


@dataclass(frozen=True)
class Warp:
    """A projective map of the image plane, source pixel → output pixel (a 3×3 homography)."""

    h: tuple[float, ...]  # row-major, h[8] == 1

    def point(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f, g, k, _ = self.h
        w = g * x + k * y + 1.0
        return (a * x + b * y + c) / w, (d * x + e * y + f) / w

    def box(self, points: list[tuple[float, float]]) -> list[int]:
        """The whole-pixel box of `points` moved by the warp (a polygon's edges stay straight,
        so the box of its moved vertices is the box of the moved polygon)."""
        moved = [self.point(x, y) for x, y in points]
        xs, ys = [p[0] for p in moved], [p[1] for p in moved]
        return [int(round(min(xs))), int(round(min(ys))), int(round(max(xs))), int(round(max(ys)))]


def homography(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> tuple[float, ...]:
    """The homography taking four points `src` to four points `dst`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    sol = np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float))
    return (*(float(s) for s in sol), 1.0)


def plan(rng: random.Random, level: float, geometric: bool, w: int, h: int) -> list[dict[str, Any]]:
    """The transforms one item gets (none with probability 1 - level), with their parameters."""
    if level <= 0 or rng.random() >= level:
        return []
    s = 0.5 + 0.5 * level  # strength
    steps: list[dict[str, Any]] = []
    if geometric:
        kind = rng.choice(("photo", "photo", "screen", "scan", "none"))
        if kind in ("photo", "screen"):
            inset = (0.02 + 0.08 * s) if kind == "photo" else (0.03 + 0.04 * s)
            corners = []
            for cx, cy in ((0, 0), (w, 0), (w, h), (0, h)):
                dx = rng.uniform(0.01, inset) * w
                dy = rng.uniform(0.01, inset) * h
                corners.append(
                    [round(cx + dx if cx == 0 else cx - dx, 1), round(cy + dy if cy == 0 else cy - dy, 1)]
                )
            surface = rng.choice(SURFACES if kind == "photo" else SCREEN_BEZELS)
            steps.append({"kind": "perspective", "on": kind, "corners": corners, "surface": list(surface)})
        elif kind == "scan":
            steps.append(
                {
                    "kind": "skew",
                    "angle": round(rng.uniform(-3.5, 3.5) * s, 2),
                    "shear": round(rng.uniform(-0.04, 0.04) * s, 3),
                    "bed": list(rng.choice(SCAN_BEDS)),
                }
            )
    if rng.random() < 0.7 or not steps:  # a treated item always shows some treatment
        steps.append(
            {
                "kind": "lighting",
                "angle": rng.randrange(0, 360, 15),
                "low": round(1 - rng.uniform(0.08, 0.3) * s, 3),
                "vignette": round(rng.uniform(0, 0.25) * s, 3),
            }
        )
    if rng.random() < 0.45:
        steps.append({"kind": "blur", "radius": round(rng.uniform(0.4, 1.0) * s, 2)})
    if rng.random() < 0.5:
        steps.append({"kind": "noise", "sigma": round(rng.uniform(2, 7) * s, 1), "seed": rng.getrandbits(32)})
    steps.append({"kind": "jpeg", "quality": rng.randint(int(92 - 40 * s), 92)})  # photographs are JPEGs
    return steps


def warp_of(steps: list[dict[str, Any]], w: int, h: int) -> Warp | None:
    """The geometric part of a plan as one map of the image plane (None: nothing moves)."""
    for st in steps:
        if st["kind"] == "perspective":
            dst = [tuple(c) for c in st["corners"]]
            return Warp(homography([(0, 0), (w, 0), (w, h), (0, h)], dst))
        if st["kind"] == "skew":
            t = math.radians(st["angle"])
            cx, cy, k = w / 2, h / 2, st["shear"]
            cos, sin = math.cos(t), math.sin(t)
            # shear x by k·(y - cy), then rotate about the centre
            a, b = cos, cos * k - sin
            d, e = sin, sin * k + cos
            c = cx - a * cx - b * cy
            f = cy - d * cx - e * cy
            return Warp((a, b, c, d, e, f, 0.0, 0.0, 1.0))
    return None


def _inverse_coeffs(warp: Warp) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE data: the map from output pixels back to source pixels."""
    m = np.array(warp.h, dtype=float).reshape(3, 3)
    inv = np.linalg.inv(m)
    inv /= inv[2, 2]
    return tuple(float(v) for v in inv.reshape(-1)[:8])


def _surface(w: int, h: int, back: tuple[int, ...], shaded: bool) -> Image.Image:
    """What the picture lies on: one colour, or (a photographed surface) a soft diagonal shade."""
    if not shaded:
        return Image.new("RGB", (w, h), back)
    dark = tuple(max(0, c - 30) for c in back)
    corners = Image.new("RGB", (2, 2), back)
    corners.putpixel((1, 1), dark)
    return corners.resize((w, h), Image.Resampling.BILINEAR)


def _geometry(img: Image.Image, st: dict[str, Any], warp: Warp) -> Image.Image:
    w, h = img.size
    back = tuple(st.get("surface") or st.get("bed"))
    bg = _surface(w, h, back, st["kind"] == "perspective" and st.get("on") == "photo")
    data = _inverse_coeffs(warp)
    # outside the picture the moved image is transparent: its alpha is the paste mask, with
    # anti-aliased edges
    moved = img.convert("RGBA").transform(
        (w, h), Image.Transform.PERSPECTIVE, data, Image.Resampling.BILINEAR
    )
    bg.paste(moved, (0, 0), moved)
    if st["kind"] == "perspective" and st.get("on") == "screen":
        glare = [(w * 0.55, 0), (w * 0.8, 0), (w * 0.35, h), (w * 0.1, h)]
        ImageDraw.Draw(bg, "RGBA").polygon(glare, fill=(255, 255, 255, 18))
    return bg


def _lighting(im: Image.Image, st: dict[str, Any]) -> Image.Image:
    """Light falling off across the picture (and towards its corners): a gain computed on a
    coarse grid, smoothed up to the image's size, multiplied in."""
    w, h = im.size
    t = math.radians(st["angle"])
    ys, xs = np.mgrid[0:17, 0:17].astype(np.float32) / 16
    u = (xs - 0.5) * math.cos(t) + (ys - 0.5) * math.sin(t) + 0.5
    gain = st["low"] + (1 - st["low"]) * np.clip(u, 0, 1)
    if st["vignette"]:
        gain = gain * (1 - st["vignette"] * ((xs - 0.5) ** 2 + (ys - 0.5) ** 2) * 2)
    mask = Image.fromarray(np.clip(gain * 255 + 0.5, 0, 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR
    )
    return Image.composite(im, Image.new("RGB", (w, h), 0), mask)


NOISE_TILE = 256


@lru_cache(maxsize=16)
def _grain(sigma: int) -> Image.Image:
    """A tile of Gaussian grain around 128 (the same on every machine: seeded by `sigma`)."""
    g = np.random.default_rng(sigma).normal(128, sigma, (NOISE_TILE, NOISE_TILE))
    return Image.fromarray(np.clip(g + 0.5, 0, 255).astype(np.uint8))


def _noise(im: Image.Image, st: dict[str, Any]) -> Image.Image:
    """Sensor or scan grain: tiles of seeded grain, shifted by the step's seed, added in."""
    w, h = im.size
    tile = _grain(max(1, int(round(st["sigma"]))))
    ox, oy = st["seed"] % NOISE_TILE, (st["seed"] >> 8) % NOISE_TILE
    grain = Image.new("L", (w, h))
    for y in range(-oy, h, NOISE_TILE):
        for x in range(-ox, w, NOISE_TILE):
            grain.paste(tile, (x, y))
    return ImageChops.add(im, grain.convert("RGB"), 1.0, -128)


def _blur(im: Image.Image, st: dict[str, Any]) -> Image.Image:
    """Out of focus: the picture sampled down and up again (a blur of about `radius` pixels,
    a fraction of a Gaussian filter's cost)."""
    w, h = im.size
    f = 1 / (1 + 0.5 * st["radius"])  # sampled at 1/1.5 for radius 1: small print stays legible
    small = im.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BILINEAR)
    return small.resize((w, h), Image.Resampling.BILINEAR)


def _jpeg(im: Image.Image, st: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes(im, st["quality"])))


def jpeg_bytes(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


PHOTOMETRIC = {"lighting": _lighting, "noise": _noise, "blur": _blur, "jpeg": _jpeg}


def render(images: list[Image.Image], steps: list[dict[str, Any]], warp: Warp | None) -> list[Image.Image]:
    """The images with the plan's transforms applied, in order (each image the same way)."""
    return [im for im, _ in _render(images, steps, warp)]


def _render(
    images: list[Image.Image], steps: list[dict[str, Any]], warp: Warp | None
) -> list[tuple[Image.Image, bytes | None]]:
    """Each image treated, with its JPEG bytes when the plan ends in JPEG (stored as they are:
    a photograph is a JPEG, and grain makes a PNG three times the size)."""
    out = []
    for img in images:
        im, data = img.convert("RGB"), None
        for n, st in enumerate(steps):
            kind = st["kind"]
            if kind in ("perspective", "skew"):
                if warp is not None:
                    im = _geometry(im, st, warp)
            elif kind == "jpeg" and n == len(steps) - 1:
                data = jpeg_bytes(im, st["quality"])
                im = Image.open(io.BytesIO(data))  # decoded when its pixels are read
            else:
                im = PHOTOMETRIC[kind](im, st)
        out.append((im, data))
    return out


def apply(
    domain: SynthDomain, item: Item, rng: random.Random, level: float, lang: str
) -> tuple[Item, list[dict]]:
    """`item` shown as a photograph or scan of itself (see the module docstring), and the plan
    that was applied (empty: the item as it was)."""
    w, h = item.images[0].size
    relocate = getattr(domain, "relocate", None)
    geometric = domain.geometric or relocate is not None
    steps = plan(rng, level, geometric, w, h)
    if not steps:
        return item, []
    warp = warp_of(steps, w, h)
    treated = _render(item.images, steps, warp)
    item.images = [im for im, _ in treated]
    if all(data is not None for _, data in treated):
        item.encoded = [(data, "jpeg") for _, data in treated]
    if warp is not None:
        move_coordinates(domain, item.facts, warp)
        if relocate is not None:
            item = relocate(item, warp, rng, lang)
    return item, steps


def move_coordinates(domain: SynthDomain, facts: dict[str, Any], warp: Warp) -> None:
    """Move the facts the domain names in `coordinates` (text boxes, vertices) with the pixels."""
    for key, kind in domain.coordinates.items():
        if key in facts:
            facts[key] = _moved(facts[key], kind, warp)


def _moved(value: Any, kind: str, warp: Warp) -> Any:
    """Pixel coordinates of the facts where they are after the warp."""
    if kind == "boxes":
        return [warp.box([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]) for x0, y0, x1, y1 in value]
    if kind == "points":
        return {k: [round(c, 1) for c in warp.point(*p)] for k, p in value.items()}
    raise ValueError(f"unknown kind of coordinates {kind!r}")
