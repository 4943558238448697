"""Pie and donut charts whose slices print their percentages (on, beside or in the legend)."""

from __future__ import annotations

import math
import random
from typing import Any

from PIL import Image

from visinstruct.synth import style
from visinstruct.synth.charts.data import COLOR_BY_NAME
from visinstruct.synth.charts.draw import (
    Unfit,
    draw_title,
    line_h,
    pick_fonts,
    text_on,
    text_size,
)


def draw_pie(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """A pie (or donut) whose percentages are printed outside, in the legend or inside the slices."""
    labels = f["labels"]
    vals = f["series"][0]["values"]
    n = len(labels)
    W, H = style.canvas_size(rng, rng.choice((480, 560, 640)) + (80 if attempt >= 20 else 0), 0.2)
    img, draw = style.canvas(rng, W, H, plain=rng.random() < 0.5)
    bg = img.getpixel((W - 1, H - 1))
    fg = style.ink(rng)
    title_name, body = pick_fonts(rng, lang)
    pad = rng.randint(10, 18)
    top = draw_title(rng, draw, f, W, pad, title_name, rng.randint(16, 22), fg) + 10
    rgbs = [COLOR_BY_NAME[c][2] for c in f["label_colors"]]
    font_ = style.font(body, rng.randint(12, 15))
    lh = line_h(font_)
    mode = "outside" if attempt >= 25 else rng.choice(("outside", "legend_pct", "legend_inside"))
    f["pie_style"] = mode
    donut = rng.random() < 0.45
    f["donut"] = donut
    start = rng.choice((-90.0, 0.0, rng.uniform(-180, 180)))
    sep = rng.choice(("paren", "colon"))
    pct = [f"{v}%" for v in vals]
    sw = rng.randint(10, 14)
    if mode == "outside":
        form = rng.choice(("{l} {p}", "{l}: {p}", "{l} ({p})"))
        texts = [form.format(l=lab, p=p) for lab, p in zip(labels, pct, strict=True)]
        tw = max(text_size(font_, t)[0] for t in texts)
        area_w, area_h = W - 2 * pad, H - top - pad
        r = int(min(area_w / 2 - tw - 18, area_h / 2 - lh - 10))
        cx, cy = W // 2, top + area_h // 2
    else:
        if mode == "legend_pct":
            entries = [
                f"{lab} ({p})" if sep == "paren" else f"{lab}: {p}"
                for lab, p in zip(labels, pct, strict=True)
            ]
        else:
            entries = list(labels)
        leg_pos = rng.choice(("right", "bottom"))
        ew = max(text_size(font_, e)[0] for e in entries) + sw + 6
        row = max(lh, sw) + 6
        if leg_pos == "right":
            area_w, area_h = W - 2 * pad - ew - 20, H - top - pad
            cx, cy = pad + area_w // 2, top + area_h // 2
            lx, ly = W - pad - ew, cy - (row * n) // 2
        else:
            per_row = max(1, int((W - 2 * pad) // (ew + 16)))
            rows = -(-n // per_row)
            area_w, area_h = W - 2 * pad, H - top - pad - rows * row - 10
            cx, cy = W // 2, top + area_h // 2
            lx, ly = pad + (W - 2 * pad - per_row * (ew + 16) + 16) // 2, H - pad - rows * row
        r = int(min(area_w, area_h) / 2) - 6
        if leg_pos == "right" and (ly < top or ly + row * n > H - pad or lx < pad):
            raise Unfit("legend too tall")
    if r < 70:
        raise Unfit("pie too small")
    r = min(r, 220)
    edge = rng.choice((None, (255, 255, 255), bg))
    # slices, clockwise from `start`
    angles = []
    a = start
    for v in vals:
        angles.append((a, a + 360 * v / 100))
        a += 360 * v / 100
    for (a0, a1), rgb in zip(angles, rgbs, strict=True):
        draw.pieslice(
            [cx - r, cy - r, cx + r, cy + r], a0, a1, fill=rgb, outline=edge, width=2 if edge else 1
        )
    if donut:
        ri = int(r * rng.uniform(0.4, 0.55))
        draw.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=bg)
    if mode == "outside":
        boxes = []
        for (a0, a1), t in zip(angles, texts, strict=True):
            mid = math.radians((a0 + a1) / 2)
            c, s = math.cos(mid), math.sin(mid)
            tx, ty = cx + (r + 14) * c, cy + (r + 10) * s
            anchor = "lm" if c >= 0 else "rm"
            if abs(c) < 0.25:
                anchor = "md" if s < 0 else "ma"
            box = draw.textbbox((tx, ty), t, font=font_, anchor=anchor)
            if box[0] < 2 or box[2] > W - 2 or box[1] < top - 6 or box[3] > H - 2:
                raise Unfit("label off canvas")
            if any(
                not (box[2] + 3 < b[0] or b[2] + 3 < box[0] or box[3] + 2 < b[1] or b[3] + 2 < box[1])
                for b in boxes
            ):
                raise Unfit("labels overlap")
            nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
            if math.hypot(nx - cx, ny - cy) < r + 2:
                raise Unfit("label over the pie")
            boxes.append(box)
            draw.line([(cx + (r - 4) * c, cy + (r - 4) * s), (cx + (r + 8) * c, cy + (r + 6) * s)], fill=fg)
            draw.text((tx, ty), t, font=font_, fill=fg, anchor=anchor)
    else:
        if mode == "legend_inside":
            rr = r * (0.75 if donut else 0.62)
            pf = style.font(rng.choice((body, body, style.bold_fonts(lang)[0])), max(12, font_.size))
            for (a0, a1), p, rgb in zip(angles, pct, rgbs, strict=True):
                w, h = text_size(pf, p)
                if math.radians(a1 - a0) * rr < w + 4 or (donut and r * 0.45 < h + 4):
                    raise Unfit("percent does not fit the slice")
                mid = math.radians((a0 + a1) / 2)
                draw.text(
                    (cx + rr * math.cos(mid), cy + rr * math.sin(mid)),
                    p,
                    font=pf,
                    fill=text_on(rgb),
                    anchor="mm",
                )
        x, y = lx, ly
        if leg_pos == "right":
            for e, rgb in zip(entries, rgbs, strict=True):
                draw.rectangle([x, y + (row - 6 - sw) // 2, x + sw, y + (row - 6 - sw) // 2 + sw], fill=rgb)
                draw.text((x + sw + 6, y + (row - 6) // 2), e, font=font_, fill=fg, anchor="lm")
                y += row
        else:
            for i, (e, rgb) in enumerate(zip(entries, rgbs, strict=True)):
                ex = x + (i % per_row) * (ew + 16)
                ey = y + (i // per_row) * row
                draw.rectangle(
                    [ex, ey + (row - 6 - sw) // 2, ex + sw, ey + (row - 6 - sw) // 2 + sw], fill=rgb
                )
                draw.text((ex + sw + 6, ey + (row - 6) // 2), e, font=font_, fill=fg, anchor="lm")
    return img
