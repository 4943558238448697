"""Drawing a figure roughly to scale: rotated, mirrored and scaled into the canvas, its labels
placed clear of the lines."""

from __future__ import annotations

import math
import random
from typing import Any

from PIL import Image, ImageDraw

from visinstruct.synth import style
from visinstruct.synth.geometry.model import Fig


def _unit(x: float, y: float) -> tuple[float, float]:
    n = math.hypot(x, y) or 1.0
    return x / n, y / n


def _dashed(draw: ImageDraw.ImageDraw, p, q, fill, width: int, dash: float, gap: float) -> None:
    length = math.dist(p, q)
    ux, uy = (q[0] - p[0]) / length, (q[1] - p[1]) / length
    t = 0.0
    while t < length:
        e = min(t + dash, length)
        draw.line([(p[0] + ux * t, p[1] + uy * t), (p[0] + ux * e, p[1] + uy * e)], fill=fill, width=width)
        t += dash + gap


def _text_size(font, text: str) -> tuple[float, float]:
    left, top, right, bottom = style.text_bbox(font, text, "mm")
    return right - left, bottom - top


def render(rng: random.Random, fig: Fig, lang: str = "en") -> tuple[Image.Image, dict[str, Any]]:
    """The figure's image and its layout (canvas, rotation, mirroring, where each point landed);
    labels in a font of the item's language."""
    W, H = style.canvas_size(rng, base=rng.choice((400, 448, 512, 576, 640)), spread=0.2)
    img, draw = style.canvas(rng, W, H, plain=rng.random() < 0.5)
    bg = img.getpixel((W - 1, H - 1))
    fs = max(13, min(28, int(min(W, H) * rng.uniform(0.038, 0.05))))
    font_v = style.pick_font(rng, fs, lang=lang)
    font_n = style.pick_font(rng, max(12, int(fs * rng.uniform(0.82, 1.0))), lang=lang)
    palette = [c for c in style.COLORS if c[0] not in ("yellow", "cyan", "gray", "pink")]
    stroke = style.ink(rng) if rng.random() < 0.4 else rng.choice(palette)[2]
    aux = stroke if rng.random() < 0.5 else rng.choice(palette)[2]
    text_v = style.ink(rng)
    text_n = text_v if rng.random() < 0.6 else rng.choice(palette)[2]
    lw = rng.choice((2, 2, 3, 3, 4))
    fill = None
    if rng.random() < 0.5:
        tint = rng.choice(style.COLORS)[2]
        alpha = rng.uniform(0.12, 0.28)
        fill = tuple(int(bg[i] * (1 - alpha) + tint[i] * alpha) for i in range(3))

    # orientation
    if fig.rot == "free":
        theta = rng.uniform(-180, 180)
    elif fig.rot == "quad":
        theta = rng.choice((0.0, 0.0, 90.0, rng.uniform(-25, 25)))
    else:
        theta = 0.0 if rng.random() < 0.5 else rng.uniform(-30, 30)
    mirror = rng.random() < 0.5
    ct, st = math.cos(math.radians(theta)), math.sin(math.radians(theta))

    def rot(x: float, y: float) -> tuple[float, float]:
        if mirror:
            x = -x
        return x * ct - y * st, x * st + y * ct

    model = {n: rot(*p) for n, p in fig.pts.items()}
    xs = [p[0] for p in model.values()]
    ys = [p[1] for p in model.values()]
    for c, r in fig.circles:
        cx, cy = model[c]
        xs += [cx - r, cx + r]
        ys += [cy - r, cy + r]
    margin = 2.6 * fs + 12
    bw, bh = max(xs) - min(xs), max(ys) - min(ys)
    scale = min((W - 2 * margin) / max(bw, 1e-6), (H - 2 * margin) / max(bh, 1e-6))
    ox = W / 2 - scale * (min(xs) + max(xs)) / 2
    oy = H / 2 + scale * (min(ys) + max(ys)) / 2
    P = {n: (ox + scale * x, oy - scale * y) for n, (x, y) in model.items()}

    def sdir(d: tuple[float, float]) -> tuple[float, float]:
        x, y = rot(*d)
        return _unit(x, -y)

    poly_pts = [P[n] for poly in fig.polys for n in poly] or list(P.values())
    cen = (sum(p[0] for p in poly_pts) / len(poly_pts), sum(p[1] for p in poly_pts) / len(poly_pts))
    for c, _ in fig.circles:
        cen = P[c]

    # shapes
    for poly in fig.polys:
        pts = [P[n] for n in poly]
        if fill:
            draw.polygon(pts, fill=fill)
    for c, r in fig.circles:
        cx, cy = P[c]
        rr = r * scale
        draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=fill, outline=stroke, width=lw)
    for poly in fig.polys:
        pts = [P[n] for n in poly]
        draw.line(pts + [pts[0]], fill=stroke, width=lw, joint="curve")
    for p, q, dashed in fig.segs:
        if dashed:
            _dashed(draw, P[p], P[q], aux, max(1, lw - 1), 4 + 2 * lw, 3 + lw)
        else:
            draw.line(
                [P[p], P[q]],
                fill=stroke if not fig.polys else aux,
                width=max(2, lw - (1 if fig.polys else 0)),
            )

    def side_len(v: str, p: str) -> float:
        return math.dist(P[v], P[p])

    for v, p1, p2 in fig.rights:
        size = max(8.0, min(16.0, 0.07 * min(side_len(v, p1), side_len(v, p2))))
        u1 = _unit(P[p1][0] - P[v][0], P[p1][1] - P[v][1])
        u2 = _unit(P[p2][0] - P[v][0], P[p2][1] - P[v][1])
        vx, vy = P[v]
        a = (vx + u1[0] * size, vy + u1[1] * size)
        b = (vx + (u1[0] + u2[0]) * size, vy + (u1[1] + u2[1]) * size)
        c = (vx + u2[0] * size, vy + u2[1] * size)
        draw.line([a, b, c], fill=stroke, width=max(1, lw - 1))

    for p, q, n in fig.ticks:
        u = _unit(P[q][0] - P[p][0], P[q][1] - P[p][1])
        nx, ny = -u[1], u[0]
        mx, my = (P[p][0] + P[q][0]) / 2, (P[p][1] + P[q][1]) / 2
        for i in range(n):
            o = (i - (n - 1) / 2) * 6
            cx, cy = mx + u[0] * o, my + u[1] * o
            draw.line(
                [(cx - nx * 7, cy - ny * 7), (cx + nx * 7, cy + ny * 7)], fill=stroke, width=max(2, lw - 1)
            )

    labels: list[tuple[tuple[float, float], str, object, tuple]] = []
    for v, p1, p2, text, rf in fig.arcs:
        vx, vy = P[v]
        base_r = max(fs * 1.2, min(fs * 3.5, fig.arc_frac * min(side_len(v, p1), side_len(v, p2))))
        a1 = math.atan2(P[p1][1] - vy, P[p1][0] - vx)
        a2 = math.atan2(P[p2][1] - vy, P[p2][0] - vx)
        sweep = (a2 - a1 + math.pi) % (2 * math.pi) - math.pi
        r = base_r * rf
        n = max(8, int(abs(sweep) * r / 3))
        arc = [
            (vx + r * math.cos(a1 + sweep * i / n), vy + r * math.sin(a1 + sweep * i / n))
            for i in range(n + 1)
        ]
        draw.line(arc, fill=aux, width=max(1, lw - 1), joint="curve")
        if text:
            tw, th = _text_size(font_n, text)
            e = math.hypot(tw, th) / 2
            half = abs(sweep) / 2
            dist = max(r + e + 3, (e + 2) / max(math.sin(half), 0.2))
            mid = a1 + sweep / 2
            labels.append(((vx + dist * math.cos(mid), vy + dist * math.sin(mid)), text, font_n, text_n))

    for n in fig.dots:
        x, y = P[n]
        rr = max(2.5, lw * 1.2)
        draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=stroke)
    if rng.random() < 0.3:
        for poly in fig.polys:
            for n in poly:
                x, y = P[n]
                rr = max(2.0, lw)
                draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=stroke)

    ticked = {frozenset((p, q)) for p, q, _ in fig.ticks}
    for p, q, text, t, away in fig.slabels:
        x1, y1 = P[p]
        x2, y2 = P[q]
        u = _unit(x2 - x1, y2 - y1)
        nx, ny = -u[1], u[0]
        mx, my = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
        ref = P[away] if away else cen
        if (mx - ref[0]) * nx + (my - ref[1]) * ny < 0:
            nx, ny = -nx, -ny
        tw, th = _text_size(font_n, text)
        d = 5 + lw + abs(nx) * tw / 2 + abs(ny) * th / 2 + (8 if frozenset((p, q)) in ticked else 0)
        labels.append(((mx + nx * d, my + ny * d), text, font_n, text_n))

    for name, d, *free in fig.vlabels:
        x, y = P[name]
        u = _unit(x - cen[0], y - cen[1]) if d is None else sdir(d)
        tw, th = _text_size(font_v, name)
        dd = 5 + lw + abs(u[0]) * tw / 2 + abs(u[1]) * th / 2 + 2
        if free:  # the label sits inside an angle of this half-size: keep clear of both arms
            dd = max(dd, (math.hypot(tw, th) / 2 + 3) / math.sin(math.radians(free[0])))
        labels.append(((x + u[0] * dd, y + u[1] * dd), name, font_v, text_v))

    for (x, y), text, font, colour in labels:
        tw, th = _text_size(font, text)
        x = min(max(x, tw / 2 + 3), W - tw / 2 - 3)
        y = min(max(y, th / 2 + 3), H - th / 2 - 3)
        draw.text((x, y), text, font=font, fill=colour, anchor="mm")

    layout = {
        "canvas": [W, H],
        "rotation": round(theta, 2),
        "mirrored": mirror,
        "points": {n: [round(x, 1), round(y, 1)] for n, (x, y) in sorted(P.items()) if not n.startswith("_")},
    }
    return img, layout
