"""Drawing a table: fonts, borders, header and zebra styles, alignment, title placement."""

from __future__ import annotations

import random
from typing import Any

from PIL import Image

from visinstruct.synth import style
from visinstruct.synth.tables.data import Table

BOLD = style.BOLD


def tint(rgb: tuple, a: float) -> tuple[int, int, int]:
    """`rgb` faded towards white (a=1 keeps it, 0 is white)."""
    return tuple(int(255 - (255 - c) * a) for c in rgb)


def luma(rgb: tuple) -> float:
    """Perceived brightness of `rgb` (0-255)."""
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def draw(rng: random.Random, t: Table, lang: str = "en") -> tuple[Image.Image, dict[str, Any]]:
    """The table's image, its text in fonts of `lang`, and the look it was drawn with (recorded
    in the facts)."""
    n = len(t.rows)
    header = [t.row_header] + [c.header for c in t.cols]
    body = [[t.rows[i]] + [c.cells[i] for c in t.cols] for i in range(n)]
    ncol = len(header)
    fname = rng.choice(style.font_files(lang))
    hname = BOLD.get(fname, fname) if rng.random() < 0.65 else fname
    tname = BOLD.get(fname, fname) if rng.random() < 0.7 else fname
    size = rng.randint(14, 22)
    tsize = size + rng.randint(1, 6)
    padx, pady = rng.randint(8, 22), rng.randint(4, 12)
    mx, my = rng.randint(14, 50), rng.randint(14, 50)
    title_mode = rng.choice(("above", "above", "above_left", "row"))
    uniform = rng.random() < 0.35
    while True:
        fb, fh, ft = style.font(fname, size), style.font(hname, size), style.font(tname, tsize)
        widths = []
        for j in range(ncol):
            w = max([style.text_length(fh, header[j])] + [style.text_length(fb, r[j]) for r in body])
            widths.append(int(w) + 2 * padx + 2)
        if uniform and ncol > 2:
            widths[1:] = [max(widths[1:])] * (ncol - 1)
        title_w = int(style.text_length(ft, t.title)) + 2 * padx
        tw = sum(widths)
        if tw < title_w:
            extra = title_w - tw
            for j in range(ncol):
                widths[j] += extra // ncol + (1 if j < extra % ncol else 0)
            tw = sum(widths)
        if tw + 2 * mx <= 790 or size <= 11:
            break
        size, tsize, padx = size - 1, tsize - 1, max(6, padx - 2)
        mx = max(10, mx - 6)
    asc, desc = fb.getmetrics()
    rh = asc + desc + 2 * pady
    tasc, tdesc = ft.getmetrics()
    title_gap = rng.randint(6, 16)
    title_h = tasc + tdesc + (title_gap if title_mode != "row" else 2 * pady)
    th = title_h + rh * (n + 1)
    w, h = max(320, tw + 2 * mx), max(288, th + 2 * my)
    filled = rng.random() < 0.7
    img, draw = style.canvas(rng, w, h, plain=not filled or rng.random() < 0.5)
    x0 = (w - tw) // 2 if rng.random() < 0.6 else mx
    y0 = (h - th) // 2 if rng.random() < 0.6 else my
    ink = style.ink(rng)
    accent = rng.choice(style.COLORS)[2]
    head_mode = rng.choice(("plain", "tint", "solid"))
    if head_mode == "solid" and luma(accent) > 150:
        head_mode = "tint"
    zebra = (
        tint(rng.choice((accent, (128, 128, 128))), rng.uniform(0.08, 0.16)) if rng.random() < 0.5 else None
    )
    parity = rng.randrange(2)
    border = rng.choice(("grid", "grid", "rows", "outer", "none", "booktabs"))
    lw = rng.choice((1, 1, 2))
    line = rng.choice(((0, 0, 0), (90, 90, 90), (160, 160, 160), tuple(int(c * 0.6) for c in accent)))
    align_label = rng.choice(("l", "l", "c"))
    align_num = rng.choice(("r", "c", "c", "l"))
    align_head = rng.choice(("same", "c"))

    ty = y0 + title_h  # top of the header row
    x1, y1 = x0 + tw, ty + rh * (n + 1)
    if filled:
        draw.rectangle([x0, ty, x1, y1], fill=(255, 255, 255))
    head_fill = {"plain": None, "tint": tint(accent, rng.uniform(0.2, 0.35)), "solid": accent}[head_mode]
    head_ink = (255, 255, 255) if head_mode == "solid" else ink
    if head_fill:
        draw.rectangle([x0, ty, x1, ty + rh], fill=head_fill)
    if zebra:
        for i in range(n):
            if i % 2 == parity:
                draw.rectangle([x0, ty + rh * (i + 1), x1, ty + rh * (i + 2)], fill=zebra)
    # title
    if title_mode == "row":
        fill = head_fill if head_mode == "solid" else tint(accent, 0.45)
        draw.rectangle([x0, y0, x1, ty], fill=fill)
        draw.text(
            ((x0 + x1) // 2, (y0 + ty) // 2),
            t.title,
            font=ft,
            anchor="mm",
            fill=(255, 255, 255) if head_mode == "solid" else ink,
        )
        if border in ("grid", "outer", "booktabs"):
            draw.rectangle([x0, y0, x1, ty], outline=line, width=lw)
    else:
        tx = (x0 + x1) // 2 if title_mode == "above" else x0 + 2
        draw.text((tx, y0), t.title, font=ft, anchor="ma" if title_mode == "above" else "la", fill=ink)
    # lines
    xs = [x0]
    for wd in widths:
        xs.append(xs[-1] + wd)
    if border == "grid":
        for i in range(n + 2):
            draw.line([(x0, ty + rh * i), (x1, ty + rh * i)], fill=line, width=lw)
        for xv in xs:
            draw.line([(xv, ty), (xv, y1)], fill=line, width=lw)
    elif border == "rows":
        for i in range(n + 2):
            draw.line([(x0, ty + rh * i), (x1, ty + rh * i)], fill=line, width=lw)
    elif border == "outer":
        draw.rectangle([x0, ty, x1, y1], outline=line, width=lw)
        draw.line([(x0, ty + rh), (x1, ty + rh)], fill=line, width=lw)
    elif border == "booktabs":
        draw.line([(x0, ty), (x1, ty)], fill=line, width=lw + 1)
        draw.line([(x0, ty + rh), (x1, ty + rh)], fill=line, width=1)
        draw.line([(x0, y1), (x1, y1)], fill=line, width=lw + 1)
    elif head_mode == "plain":
        draw.line([(x0, ty + rh), (x1, ty + rh)], fill=line, width=lw)
    # text
    for i, cells in enumerate([header] + body):
        yc = ty + rh * i + rh // 2
        f, fill = (fh, head_ink) if i == 0 else (fb, ink)
        for j, text in enumerate(cells):
            a = align_label if j == 0 else align_num
            if i == 0 and align_head == "c":
                a = "c"
            if a == "l":
                draw.text((xs[j] + padx, yc), text, font=f, anchor="lm", fill=fill)
            elif a == "r":
                draw.text((xs[j + 1] - padx, yc), text, font=f, anchor="rm", fill=fill)
            else:
                draw.text(((xs[j] + xs[j + 1]) // 2, yc), text, font=f, anchor="mm", fill=fill)
    look = {
        "font": fname,
        "size": size,
        "border": border,
        "header": head_mode,
        "zebra": zebra is not None,
        "title": title_mode,
        "width": w,
        "height": h,
    }
    return img, look
