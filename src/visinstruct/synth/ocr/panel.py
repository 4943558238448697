"""Text layout: rows of text measured with their fonts and stacked inside a panel, so every
line's exact string and box are known before anything is drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PIL import ImageDraw, ImageFont

from visinstruct.synth import style

# ----------------------------------------------------------------------------------------
# Layout: a stack of rows measured and placed inside a panel


@dataclass
class Row:
    """One line of a document."""

    cells: list[str]  # 1 cell: aligned text; 2 cells: left/right pair; more: grid columns
    font: str
    size: int
    fill: tuple
    align: str = "left"
    gap: float = 0.0  # extra space above the row, as a fraction of its size
    underline: bool = False
    sep_above: bool = False
    grid: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.cells)


@dataclass
class Panel:
    """Rows stacked in a box of a preferred size, with padding, spacing and alignment."""

    rows: list[Row]
    width: int  # preferred panel width
    min_h: int = 0
    max_w: int = 720
    max_h: int = 720
    pad_x: int = 24
    pad_y: int = 20
    spacing: float = 1.25
    valign: float = 0.0
    col_gap: int = 28
    cell_boxes: bool = False
    extra: dict = field(default_factory=dict)


Box = tuple[float, float, float, float]
MIN_SIZE = 13
MAX_SIDE = 760  # before a slight rotation


# what `measure` finds: fonts, grid column widths, row widths and heights, panel width and height
Geometry = tuple[list[ImageFont.FreeTypeFont], list[float], list[float], list[int], int, int]


def measure(panel: Panel) -> Geometry | None:
    """Fit the rows (shrinking fonts if needed); return sizes and per-row geometry, or None."""
    rows = panel.rows
    for _ in range(8):
        fonts = [style.font(r.font, r.size) for r in rows]
        ncols = max((len(r.cells) for r in rows if r.grid), default=0)
        col_w = [0.0] * ncols
        for r, f in zip(rows, fonts, strict=True):
            if r.grid:
                for j, c in enumerate(r.cells):
                    col_w[j] = max(col_w[j], style.text_length(f, c))
        grid_w = sum(col_w) + panel.col_gap * max(0, ncols - 1)
        widths, heights = [], []
        for r, f in zip(rows, fonts, strict=True):
            if r.grid:
                w = grid_w
            elif len(r.cells) == 2:
                w = (
                    style.text_length(f, r.cells[0])
                    + style.text_length(f, r.cells[1])
                    + max(24, r.size * 1.5)
                )
            else:
                w = style.text_length(f, r.cells[0])
            widths.append(w)
            asc, desc = f.getmetrics()
            heights.append(int((asc + desc) * panel.spacing + r.gap * r.size))
        need_w = max(widths) + 2 * panel.pad_x
        need_h = sum(heights) + 2 * panel.pad_y
        if need_w <= panel.max_w and need_h <= panel.max_h:
            return fonts, col_w, widths, heights, int(math.ceil(need_w)), need_h
        factor = min(panel.max_w / need_w, panel.max_h / need_h) * 0.97
        if all(r.size <= MIN_SIZE for r in rows):
            return None
        for r in rows:
            r.size = max(MIN_SIZE, min(r.size - 1, int(r.size * factor)))
    return None


def draw_panel(
    draw: ImageDraw.ImageDraw, panel: Panel, ox: int, oy: int, geo: Geometry, pw: int, ph: int
) -> tuple[list[str], list[list[int]]]:
    """Draw the rows of a measured panel at (ox, oy); return line texts and their boxes."""
    fonts, col_w, widths, heights, _, need_h = geo
    y = oy + panel.pad_y + int((ph - need_h) * panel.valign)
    lines, boxes = [], []
    ncols = len(col_w)
    grid_w = sum(col_w) + panel.col_gap * max(0, ncols - 1)
    for r, f, w, h in zip(panel.rows, fonts, widths, heights, strict=True):
        y += int(r.gap * r.size)
        if r.sep_above:
            sy = y - int(r.gap * r.size) // 2
            for x in range(ox + panel.pad_x, ox + pw - panel.pad_x, 10):
                draw.line([(x, sy), (min(x + 5, ox + pw - panel.pad_x), sy)], fill=r.fill, width=1)
        asc, desc = f.getmetrics()
        box = None
        if r.grid:
            if r.align == "center":
                x0 = ox + (pw - grid_w) / 2
            elif r.align == "right":
                x0 = ox + pw - panel.pad_x - grid_w
            else:
                x0 = ox + panel.pad_x
            for j, c in enumerate(r.cells):
                x = int(x0 + sum(col_w[:j]) + panel.col_gap * j)
                b = draw.textbbox((x, y), c, font=f, anchor="la")
                if panel.cell_boxes:
                    m = max(4, panel.col_gap // 4)
                    mv = max(2, min(m, int((h - asc - desc) / 2) - 2))
                    draw.rectangle(
                        [x - m, y - mv, x + col_w[j] + m, y + asc + desc + mv],
                        outline=panel.extra.get("box_color", r.fill),
                        width=1,
                    )
                draw.text((x, y), c, font=f, fill=r.fill, anchor="la")
                box = b if box is None else union(box, b)
        elif len(r.cells) == 2:
            left, right = r.cells
            xl = ox + panel.pad_x
            xr = ox + pw - panel.pad_x - int(math.ceil(style.text_length(f, right)))
            draw.text((xl, y), left, font=f, fill=r.fill, anchor="la")
            draw.text((xr, y), right, font=f, fill=r.fill, anchor="la")
            box = union(
                draw.textbbox((xl, y), left, font=f, anchor="la"),
                draw.textbbox((xr, y), right, font=f, anchor="la"),
            )
        else:
            if r.align == "center":
                x = ox + int((pw - w) / 2)
            elif r.align == "right":
                x = ox + pw - panel.pad_x - int(math.ceil(w))
            else:
                x = ox + panel.pad_x
            draw.text((x, y), r.cells[0], font=f, fill=r.fill, anchor="la")
            box = draw.textbbox((x, y), r.cells[0], font=f, anchor="la")
            if r.underline:
                uy = y + asc + max(2, r.size // 9)
                draw.line([(x, uy), (x + int(w), uy)], fill=r.fill, width=max(1, r.size // 14))
        lines.append(r.text)
        boxes.append([int(v) for v in box])
        y += h - int(r.gap * r.size)
    return lines, boxes


def union(a: Box, b: Box) -> Box:
    """The box around two boxes."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


# ----------------------------------------------------------------------------------------


@dataclass
class Doc:
    """A document to draw: its layout, its panel of rows, and the fields questions ask about."""

    layout: str
    panel: Panel
    fields: dict[str, str]
    items: list[dict] = field(default_factory=list)
    has_title: bool = False
    style: dict = field(default_factory=dict)
