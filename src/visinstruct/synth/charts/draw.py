"""Drawing pieces shared by every chart kind: measured text, markers, gridlines, legends, titles."""

from __future__ import annotations

import random
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from visinstruct.synth import style

MARKERS = ("circle", "square", "diamond", "triangle")
RGB = tuple[int, int, int]


class Unfit(Exception):
    """A layout did not fit (text too wide, labels overlapping); the caller draws anew."""


# ---------------------------------------------------------------------------------------------
# small drawing helpers


def text_size(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    """Width and height of `text` (measured once per font and text: layouts measure a lot)."""
    left, top, right, bottom = style.text_bbox(font, text)
    return right - left, bottom - top


def line_h(font: ImageFont.FreeTypeFont) -> int:
    """The height of one line of `font`."""
    ascent, descent = font.getmetrics()
    return ascent + descent


def fit_font(
    name: str, size: int, texts: list[str], max_w: float, min_size: int = 9
) -> ImageFont.FreeTypeFont:
    """The font at `size` or smaller so every text is at most `max_w` wide (Unfit if impossible)."""
    while size >= min_size:
        f = style.font(name, size)
        if max(text_size(f, t)[0] for t in texts) <= max_w:
            return f
        size -= 1
    raise Unfit("text too wide")


def font_name(f: ImageFont.FreeTypeFont) -> str:
    """The bundled file name of a font, to load it again at another size."""
    return f.path.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def vertical_text(
    img: Image.Image, text: str, font: ImageFont.FreeTypeFont, fill: RGB, cx: int, cy: int
) -> None:
    """Text rotated 90 degrees (reading bottom to top), centred at (cx, cy)."""
    left, top, right, bottom = style.text_bbox(font, text)
    tmp = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(tmp).text((2 - left, 2 - top), text, font=font, fill=255)
    rot = tmp.rotate(90, expand=True)
    x, y = cx - rot.width // 2, cy - rot.height // 2
    img.paste(fill, (x, y, x + rot.width, y + rot.height), rot)


def boxed_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: RGB,
    anchor: str,
    box: RGB | None = None,
) -> None:
    """Text at `xy`, on a filled box of colour `box` when given (so it stays legible over lines)."""
    if box is not None:
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
        draw.rectangle([x0 - 2, y0 - 1, x1 + 1, y1 + 1], fill=box)
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def marker(draw: ImageDraw.ImageDraw, x: float, y: float, r: int, kind: str, fill: RGB, outline: RGB) -> None:
    """A point marker of radius about `r`: circle, square, diamond or triangle."""
    if kind == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=outline)
    elif kind == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=fill, outline=outline)
    elif kind == "diamond":
        q = r + 1
        draw.polygon([(x, y - q), (x + q, y), (x, y + q), (x - q, y)], fill=fill, outline=outline)
    else:
        q = r + 1
        draw.polygon([(x, y - q), (x + q, y + r), (x - q, y + r)], fill=fill, outline=outline)


def hline(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, fill: RGB, dashed: bool) -> None:
    """A horizontal gridline, solid or dashed."""
    if not dashed:
        draw.line([(x0, y), (x1, y)], fill=fill)
        return
    x = x0
    while x < x1:
        draw.line([(x, y), (min(x + 5, x1), y)], fill=fill)
        x += 9


def vline(draw: ImageDraw.ImageDraw, x: float, y0: float, y1: float, fill: RGB, dashed: bool) -> None:
    """A vertical gridline, solid or dashed."""
    if not dashed:
        draw.line([(x, y0), (x, y1)], fill=fill)
        return
    y = y0
    while y < y1:
        draw.line([(x, y), (x, min(y + 5, y1))], fill=fill)
        y += 9


def darker(rgb: RGB, d: int) -> RGB:
    """`rgb` with `d` taken off every channel (outlines, gridlines)."""
    return tuple(max(0, c - d) for c in rgb)


def text_on(rgb: RGB) -> RGB:
    """White or near-black, whichever reads on a fill of `rgb`."""
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (255, 255, 255) if lum < 150 else (20, 20, 20)


def pick_fonts(rng: random.Random, lang: str = "en") -> tuple[str, str]:
    """The title's and the body's font file names, for text in `lang`."""
    bold = style.bold_fonts(lang)
    title_name = rng.choice(bold) if rng.random() < 0.6 else style.pick_font_name(rng, lang)
    body = style.pick_font_name(rng, lang)
    return title_name, body


def draw_title(
    rng: random.Random,
    draw: ImageDraw.ImageDraw,
    f: dict[str, Any],
    W: int,
    pad: int,
    title_name: str,
    size: int,
    fg: RGB,
) -> int:
    """Draw the chart's title at the top (centred or left); return the y below it."""
    tf = fit_font(title_name, size, [f["title"]], W - 2 * pad, min_size=12)
    align = rng.choice(("center", "center", "left"))
    x = W // 2 if align == "center" else pad
    draw.text((x, pad), f["title"], font=tf, fill=fg, anchor="ma" if align == "center" else "la")
    return pad + line_h(tf)


def legend_size(font: ImageFont.FreeTypeFont, names: list[str], sw: int, orient: str) -> tuple[int, int]:
    """Width and height of a legend of `names` with swatches `sw` wide, in a row or a column."""
    lh = max(line_h(font), sw)
    widths = [sw + 6 + text_size(font, n)[0] for n in names]
    if orient == "row":
        return sum(widths) + 16 * (len(names) - 1), lh
    return max(widths), lh * len(names) + 6 * (len(names) - 1)


def draw_legend(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    font: ImageFont.FreeTypeFont,
    entries: list[tuple[str, RGB, str]],
    sw: int,
    orient: str,
    fg: RGB,
    kind: str,
    lw: int = 2,
) -> None:
    """A legend of (name, colour, marker) entries at (x, y): line samples or colour swatches."""
    lh = max(line_h(font), sw)
    for name, rgb, shape in entries:
        cy = y + lh // 2
        if kind == "line":
            draw.line([(x, cy), (x + sw, cy)], fill=rgb, width=lw)
            marker(draw, x + sw / 2, cy, 3, shape, rgb, rgb)
        else:
            draw.rectangle([x, cy - sw // 2, x + sw, cy + sw // 2], fill=rgb)
        draw.text((x + sw + 6, cy), name, font=font, fill=fg, anchor="lm")
        w = sw + 6 + text_size(font, name)[0]
        if orient == "row":
            x += w + 16
        else:
            y += lh + 6


def draw_axes(
    draw: ImageDraw.ImageDraw, axis_style: str, x0: float, y0: float, x1: float, y1: float, col: RGB
) -> None:
    """The plot's axes: a box, the base line only, or both axes."""
    if axis_style == "box":
        draw.rectangle([x0, y0, x1, y1], outline=col)
        return
    draw.line([(x0, y1), (x1, y1)], fill=col, width=2)
    if axis_style == "both":
        draw.line([(x0, y0), (x0, y1)], fill=col, width=2)
