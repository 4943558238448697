"""An x–y plot frame the newer chart types share: title, legend, value axis, x axis, gridlines.

`open_frame` lays a chart out and draws everything but the data; the chart draws its marks
with `Frame.vy` / `Frame.vx` and writes text through `Frame.texts`, which refuses text that
leaves the canvas or lands on other text (the layout is Unfit and drawn anew), and then
`Frame.finish` draws the axes and the legend. Every text box drawn is kept in the image's
`info["text_boxes"]` so tests can check that nothing was drawn outside the canvas.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from PIL import Image, ImageDraw, ImageFont

from visinstruct.synth import style
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.draw import (
    RGB,
    Unfit,
    darker,
    draw_legend,
    draw_title,
    fit_font,
    hline,
    legend_size,
    line_h,
    pick_fonts,
    text_size,
    vertical_text,
    vline,
)

Box = tuple[float, float, float, float]
LegendEntry = tuple[str, RGB, str]


def overlaps(a: Box, b: Box, gap: float = 1) -> bool:
    """Whether two boxes come within `gap` pixels of each other."""
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])


class Texts:
    """The text of one image: each piece inside the canvas and (when checked) clear of the rest."""

    def __init__(self, img: Image.Image, draw: ImageDraw.ImageDraw):
        self.img, self.draw = img, draw
        self.boxes: list[Box] = []
        img.info["text_boxes"] = self.boxes

    def fits(self, b: Box, check: bool = True, gap: float = 1) -> bool:
        """Whether a box is inside the canvas and (with `check`) clear of the text drawn so far."""
        W, H = self.img.size
        if b[0] < 0 or b[1] < 0 or b[2] > W or b[3] > H:
            return False
        return not (check and any(overlaps(b, o, gap) for o in self.boxes))

    def put(
        self,
        xy: tuple[float, float],
        text: str,
        font: ImageFont.FreeTypeFont,
        fill: RGB,
        anchor: str = "la",
        box: RGB | None = None,
        check: bool = True,
    ) -> Box:
        """Draw `text` (on a filled box of colour `box` when given); Unfit if it does not fit."""
        b = self.draw.textbbox(xy, text, font=font, anchor=anchor)
        if box is not None:
            b = (b[0] - 2, b[1] - 1, b[2] + 1, b[3] + 1)
        if not self.fits(b, check):
            raise Unfit("text off the canvas or on other text")
        if box is not None:
            self.draw.rectangle(b, fill=box)
        self.draw.text(xy, text, font=font, fill=fill, anchor=anchor)
        self.boxes.append(b)
        return b

    def put_first(
        self,
        places: Sequence[tuple[tuple[float, float], str]],
        text: str,
        font: ImageFont.FreeTypeFont,
        fill: RGB,
        box: RGB | None = None,
    ) -> Box:
        """Draw `text` at the first of `places` ((xy, anchor) pairs) where it fits; Unfit if none."""
        for xy, anchor in places:
            b = self.draw.textbbox(xy, text, font=font, anchor=anchor)
            if box is not None:
                b = (b[0] - 2, b[1] - 1, b[2] + 1, b[3] + 1)
            if self.fits(b):
                return self.put(xy, text, font, fill, anchor, box)
        raise Unfit("no room for a label")

    def keep(self, b: Box) -> None:
        """Record text drawn some other way (rotated), after checking it is on the canvas."""
        if not self.fits(b, check=False):
            raise Unfit("text off the canvas")
        self.boxes.append(b)


@dataclass
class Frame:
    """A laid-out plot: where the data goes and how values map to pixels."""

    img: Image.Image
    draw: ImageDraw.ImageDraw
    texts: Texts
    rng: random.Random
    W: int
    H: int
    fg: RGB
    bg: RGB  # the plot's background, for boxed labels
    body: str  # the body font file
    x0: float
    y0: float  # top of the data (below an inside legend)
    x1: float
    y1: float
    lo: float
    hi: float
    val_size: int
    axis_col: RGB
    box_top: float = 0.0  # top of the plot box
    xlo: float = 0.0
    xhi: float = 1.0
    n: int = 0  # categories along x (0: a numeric x axis)
    legend: list[LegendEntry] = field(default_factory=list)
    legend_kind: str = "box"
    legend_at: tuple[float, float, str] | None = None  # x, y, orientation
    legend_font: ImageFont.FreeTypeFont | None = None
    legend_sw: int = 12
    axis_style: str = "both"

    def vy(self, v: float) -> float:
        """The pixel row of value `v` on the value axis."""
        return self.y1 - (v - self.lo) / (self.hi - self.lo) * (self.y1 - self.y0)

    def vx(self, v: float) -> float:
        """The pixel column of `v` on a numeric x axis."""
        return self.x0 + (v - self.xlo) / (self.xhi - self.xlo) * (self.x1 - self.x0)

    @property
    def slot(self) -> float:
        """The width of one category along x."""
        return (self.x1 - self.x0) / self.n

    def cx(self, i: int) -> float:
        """The centre of category `i` along x."""
        return self.x0 + self.slot * (i + 0.5)

    def value_font(self, texts: Sequence[str], max_w: float) -> ImageFont.FreeTypeFont:
        """The value labels' font, smaller if needed so each is at most `max_w` wide."""
        return fit_font(self.body, self.val_size, list(texts), max_w, min_size=9)

    def finish(self) -> Image.Image:
        """Draw the axes and the legend over the data; the image is done."""
        d, col = self.draw, self.axis_col
        if self.axis_style == "box":
            d.rectangle([self.x0, self.box_top, self.x1, self.y1], outline=col)
        else:
            d.line([(self.x0, self.y1), (self.x1, self.y1)], fill=col, width=2)
            if self.axis_style == "both":
                d.line([(self.x0, self.box_top), (self.x0, self.y1)], fill=col, width=2)
        if self.legend_at is not None and self.legend_font is not None:
            x, y, orient = self.legend_at
            names = [e[0] for e in self.legend]
            lw, lh = legend_size(self.legend_font, names, self.legend_sw, orient)
            b = (x - 4, y - 3, x + lw + 4, y + lh + 3)
            if not self.texts.fits(b):
                raise Unfit("legend on other text")
            if self.rng.random() < 0.4:
                d.rectangle(b, fill=self.bg, outline=col)
            draw_legend(
                d, x, y, self.legend_font, self.legend, self.legend_sw, orient, self.fg, self.legend_kind
            )
            self.texts.boxes.append(b)
        return self.img


def canvas_for(rng: random.Random, attempt: int, wide: int = 0) -> tuple[int, int]:
    """A chart's canvas size: about 480-640 pixels, later attempts larger, `wide` more across."""
    base = rng.choice((480, 560, 640)) + (80 if attempt >= 20 else 0)
    W, H = style.canvas_size(rng, base, 0.2)
    return min(800, max(W, wide)), min(800, H)


class Page(NamedTuple):
    """A chart's canvas with its title drawn: what a chart without an x-y frame draws on."""

    img: Image.Image
    draw: ImageDraw.ImageDraw
    texts: Texts
    fg: tuple[int, int, int]
    body: str  # the body font's name
    pad: int
    top: int  # the first row below the title


def open_page(
    rng: random.Random, f: dict[str, Any], attempt: int, lang: str, *, plain: float, gap: int
) -> Page:
    """Canvas (plain with probability `plain`), ink, fonts, padding and title, `gap` pixels
    below it; the title's band is kept free of other text."""
    W, H = canvas_for(rng, attempt)
    img, draw = style.canvas(rng, W, H, plain=rng.random() < plain)
    texts = Texts(img, draw)
    fg = style.ink(rng)
    title_name, body = pick_fonts(rng, lang)
    pad = rng.randint(10, 18)
    top = draw_title(rng, draw, f, W, pad, title_name, rng.randint(16, 22), fg) + gap
    texts.boxes.append((0, 0, W, top - gap))
    return Page(img, draw, texts, fg, body, pad, top)


def open_frame(
    rng: random.Random,
    f: dict[str, Any],
    attempt: int,
    lang: str,
    *,
    legend: list[LegendEntry] | None = None,
    legend_kind: str = "box",
    x_ticks: Sequence[float] | None = None,
    headroom: int = 0,
    xgrid: bool = False,
    wide: int = 0,
) -> Frame:
    """Lay out a chart with a value axis from `axis_min` (0 if absent) to `axis_max` in steps of
    `tick_step`: categories `labels` along x, or numeric `x_ticks` (from `x_min` to `x_max`).

    `headroom` keeps pixels free above the highest tick (for labels over the tallest mark);
    `f["gridlines"]` says whether value gridlines are drawn (`xgrid`: at the x ticks too).
    Records where the legend went in `f["legend_pos"]`.
    """
    W, H = canvas_for(rng, attempt, wide)
    img, draw = style.canvas(rng, W, H, plain=rng.random() < 0.5)
    texts = Texts(img, draw)
    bg = img.getpixel((W - 1, H - 1))
    plot_fill = rng.choice((None, None, (255, 255, 255), (246, 246, 246), (250, 248, 240)))
    box_bg = plot_fill or bg
    fg = style.ink(rng)
    title_name, body = pick_fonts(rng, lang)
    tick_f = style.font(body, rng.randint(11, 14))
    axis_f = style.font(
        body if rng.random() < 0.7 else rng.choice(style.bold_fonts(lang)), rng.randint(12, 15)
    )
    pad, gap = rng.randint(10, 18), 6
    tick_len = rng.choice((0, 4, 5))
    axis_col = rng.choice((fg, (90, 90, 90), (60, 60, 60)))
    grid_col = darker(box_bg, rng.randint(30, 60))
    dashed = rng.random() < 0.3
    top = draw_title(rng, draw, f, W, pad, title_name, rng.randint(16, 22), fg) + gap
    texts.boxes.append((0, 0, W, top - gap))

    legend = legend or []
    leg_f = style.font(body, rng.randint(11, 13))
    sw = rng.randint(10, 14)
    names = [e[0] for e in legend]
    pos = rng.choice(("top", "right", "bottom", "inside")) if legend else ""
    f["legend_pos"] = pos
    right, bottom_leg = W - pad, 0
    lw = lh = 0
    if pos:
        lw, lh = legend_size(leg_f, names, sw, "col" if pos == "right" else "row")
        if pos == "right":
            right = W - pad - lw - 14
        elif lw > W - 2 * pad - 8:
            raise Unfit("legend too wide")
        if pos == "top":
            top += lh + gap
        elif pos == "bottom":
            bottom_leg = lh + gap + 2

    lo, hi, step = f.get("axis_min", 0), f["axis_max"], f["tick_step"]
    ticks = list(range(lo, hi + 1, step))
    tick_texts = [fmt_num(t) for t in ticks]
    title_h = line_h(axis_f)
    ytw = max(text_size(tick_f, t)[0] for t in tick_texts)
    x0 = pad + title_h + gap + ytw + tick_len + 4
    x1 = right - 6
    if x_ticks is not None:
        x1 -= text_size(tick_f, fmt_num(x_ticks[-1]))[0] // 2
    if x1 - x0 < 200:
        raise Unfit("plot too narrow")
    n = 0 if x_ticks is not None else len(f["labels"])
    rotated = False
    label_h = line_h(tick_f)
    cat_f = tick_f
    if n:
        slot = (x1 - x0) / n
        try:
            cat_f = fit_font(body, tick_f.size, f["labels"], slot - 4, min_size=10)
        except Unfit:
            rotated = True
            cat_f = style.font(body, min(tick_f.size, 12))
            if line_h(cat_f) > slot - 2:
                raise Unfit("categories too dense") from None
            label_h = max(text_size(cat_f, lab)[0] for lab in f["labels"]) + 4
            if label_h > 110:
                raise Unfit("category labels too long") from None
    y1 = H - pad - bottom_leg - title_h - gap - label_h - tick_len - 4
    box_top = top + 4
    inside_h = lh + 10 if pos == "inside" else 0
    y0 = box_top + inside_h + headroom
    if y1 - y0 < 140:
        raise Unfit("plot too short")
    if (y1 - y0) / max(1, len(ticks) - 1) < line_h(tick_f) + 2:
        raise Unfit("ticks too dense")
    if text_size(axis_f, f["y_axis_title"])[0] > y1 - box_top + 30 or (
        text_size(axis_f, f["x_axis_title"])[0] > W - 2 * pad
    ):
        raise Unfit("axis title too long")
    fr = Frame(
        img, draw, texts, rng, W, H, fg, box_bg, body, x0, y0, x1, y1, lo, hi, rng.randint(11, 14), axis_col
    )
    fr.box_top, fr.n = box_top, n
    fr.axis_style = rng.choice(("both", "both", "base", "box"))
    if plot_fill:
        draw.rectangle([x0, box_top, x1, y1], fill=plot_fill)
    # value axis: gridlines, ticks and their labels
    for t, tt in zip(ticks, tick_texts, strict=True):
        y = fr.vy(t)
        if f["gridlines"] and t > lo:
            hline(draw, x0, x1, y, grid_col, dashed)
        if tick_len:
            draw.line([(x0 - tick_len, y), (x0, y)], fill=axis_col)
        texts.put((x0 - tick_len - 4, y), tt, tick_f, fg, "rm", check=False)
    if lo < 0 <= hi:
        draw.line([(x0, fr.vy(0)), (x1, fr.vy(0))], fill=darker(grid_col, 40))
    # x axis
    ly = y1 + tick_len + 4
    if x_ticks is not None:
        fr.xlo, fr.xhi = f["x_min"], f["x_max"]
        xt = [fmt_num(t) for t in x_ticks]
        if (
            len(x_ticks) > 1
            and fr.vx(x_ticks[1]) - fr.vx(x_ticks[0]) < max(text_size(tick_f, t)[0] for t in xt) + 6
        ):
            raise Unfit("x ticks too dense")
        for t, tt in zip(x_ticks, xt, strict=True):
            x = fr.vx(t)
            if xgrid and t > fr.xlo:
                vline(draw, x, box_top, y1, grid_col, dashed)
            if tick_len:
                draw.line([(x, y1), (x, y1 + tick_len)], fill=axis_col)
            texts.put((x, ly), tt, tick_f, fg, "ma")
    else:
        for i, lab in enumerate(f["labels"]):
            if rotated:
                w, h = text_size(cat_f, lab)
                cx, cy = int(fr.cx(i)), int(ly + w / 2 + 2)
                vertical_text(img, lab, cat_f, fg, cx, cy)
                texts.keep((cx - h / 2 - 2, cy - w / 2 - 2, cx + h / 2 + 2, cy + w / 2 + 2))
            else:
                texts.put((fr.cx(i), ly), lab, cat_f, fg, "ma")
    f["rotated_labels"] = rotated
    tb = texts.put(((x0 + x1) / 2, H - pad - bottom_leg), f["x_axis_title"], axis_f, fg, "md")
    yt = f["y_axis_title"]
    tw, th = text_size(axis_f, yt)
    cy = int((box_top + y1) / 2)
    vertical_text(img, yt, axis_f, fg, pad + title_h // 2, cy)
    texts.keep(
        (pad + title_h / 2 - th / 2 - 2, cy - tw / 2 - 2, pad + title_h / 2 + th / 2 + 2, cy + tw / 2 + 2)
    )
    # where the legend goes (drawn last, over the plot when inside)
    fr.legend, fr.legend_kind, fr.legend_font, fr.legend_sw = legend, legend_kind, leg_f, sw
    if pos == "top":
        fr.legend_at = ((W - lw) / 2, top - lh - gap, "row")
    elif pos == "bottom":
        fr.legend_at = ((W - lw) / 2, tb[3] + gap, "row")
        if tb[3] + gap + lh > H - 2:
            raise Unfit("legend below the canvas")
    elif pos == "right":
        fr.legend_at = (W - pad - lw, box_top + rng.randint(0, 30), "col")
    elif pos == "inside":
        if lw > x1 - x0 - 16:
            raise Unfit("legend wider than the plot")
        lx = x0 + 8 if rng.random() < 0.5 else x1 - lw - 8
        fr.legend_at = (lx, box_top + 5, "row")
    return fr
