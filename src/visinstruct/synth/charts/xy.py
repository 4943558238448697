"""Bar and line charts on value axes, vertical or horizontal, with one or two series."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from visinstruct.synth import style
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME
from visinstruct.synth.charts.draw import (
    MARKERS,
    RGB,
    Unfit,
    boxed_text,
    darker,
    draw_axes,
    draw_legend,
    draw_title,
    fit_font,
    hline,
    legend_size,
    line_h,
    marker,
    pick_fonts,
    text_size,
    vertical_text,
    vline,
)


def draw_xy(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """A bar or line chart, vertical or horizontal bars, one or two series, with value labels or
    values exactly on gridlines; raises Unfit when a layout does not fit."""
    chart, horizontal = f["chart"], f["orientation"] == "horizontal"
    labels, series = f["labels"], f["series"]
    n, ns = len(labels), len(series)
    base = rng.choice((480, 560, 640)) + (80 if attempt >= 20 else 0)
    W, H = style.canvas_size(rng, base, 0.2)
    if horizontal:
        H = max(H, 24 * n * ns + 160)
    W, H = min(W, 800), min(H, 800)
    img, draw = style.canvas(rng, W, H, plain=not f["value_labels"] or rng.random() < 0.5)
    bg = img.getpixel((W - 1, H - 1))
    plot_fill = rng.choice((None, None, (255, 255, 255), (246, 246, 246), (250, 248, 240)))
    box_bg = plot_fill or bg
    fg = style.ink(rng)
    title_name, body = pick_fonts(rng, lang)
    tick_f = style.font(body, rng.randint(11 if f["value_labels"] else 12, 14))
    axis_name = body if rng.random() < 0.7 else rng.choice(style.bold_fonts(lang))
    axis_f = style.font(axis_name, rng.randint(12, 15))
    val_size = rng.randint(11, 14)
    pad = rng.randint(10, 18)
    gap = 6
    tick_len = rng.choice((0, 4, 5))
    grid = (not f["value_labels"]) or rng.random() < 0.5
    f["gridlines"] = grid
    dashed = rng.random() < 0.3
    grid_col = darker(box_bg, rng.randint(30, 60))
    axis_col = rng.choice((fg, (90, 90, 90), (60, 60, 60)))
    axis_style = rng.choice(("both", "both", "base", "box"))
    colors = [COLOR_BY_NAME[s["color"]][2] for s in series] if not f["label_colors"] else []
    label_rgbs = [COLOR_BY_NAME[c][2] for c in f["label_colors"]]
    outline = rng.random() < 0.3

    top = draw_title(rng, draw, f, W, pad, title_name, rng.randint(16, 22), fg) + gap
    markers = rng.sample(MARKERS, ns)
    legend_pos = rng.choice(("top", "right")) if ns == 2 else ""
    leg_f = style.font(body, rng.randint(11, 13))
    sw = rng.randint(10, 14)
    names = [s["name"] for s in series]
    right = W - pad
    if legend_pos == "top":
        lw, lh = legend_size(leg_f, names, sw, "row")
        if lw > W - 2 * pad:
            raise Unfit("legend")
        draw_legend(
            draw,
            (W - lw) // 2,
            top,
            leg_f,
            list(zip(names, colors, markers, strict=True)),
            sw,
            "row",
            fg,
            chart,
        )
        top += lh + gap
    elif legend_pos == "right":
        lw, lh = legend_size(leg_f, names, sw, "col")
        right = W - pad - lw - 12
    val_f = style.font(body, val_size)
    vh = line_h(val_f)
    ticks = list(range(0, f["axis_max"] + 1, f["tick_step"]))
    tick_texts = [fmt_num(t) for t in ticks]
    cat_title_h = line_h(axis_f)
    marker_r = rng.randint(3, 5)

    if not horizontal:
        ytw = max(text_size(tick_f, t)[0] for t in tick_texts)
        x0 = pad + cat_title_h + gap + ytw + tick_len + 4
        headroom = (vh + marker_r + 6) if f["value_labels"] else 8
        y0 = top + headroom
        y1 = H - pad - cat_title_h - gap - line_h(tick_f) - tick_len - 4
        x1 = right - (8 if chart == "line" else 0)
        if x1 - x0 < 200 or y1 - y0 < 140:
            raise Unfit("plot too small")
        slot = (x1 - x0) / n
        cat_f = fit_font(body, tick_f.size, labels, slot - 4)
        if (y1 - y0) / (len(ticks) - 1) < line_h(tick_f) + 2:
            raise Unfit("ticks too dense")
        if (
            text_size(axis_f, f["y_axis_title"])[0] > y1 - y0 + 40
            or text_size(axis_f, f["x_axis_title"])[0] > W - 2 * pad
        ):
            raise Unfit("axis title")

        def vy(v: float) -> float:
            return y1 - v / f["axis_max"] * (y1 - y0)

        # gridlines and value ticks
        for t, tt in zip(ticks, tick_texts, strict=True):
            y = vy(t)
            if grid and t > 0:
                hline(draw, x0, x1, y, grid_col, dashed)
            if tick_len:
                draw.line([(x0 - tick_len, y), (x0, y)], fill=axis_col)
            draw.text((x0 - tick_len - 4, y), tt, font=tick_f, fill=fg, anchor="rm")
        for i, lab in enumerate(labels):
            draw.text((x0 + slot * (i + 0.5), y1 + tick_len + 4), lab, font=cat_f, fill=fg, anchor="ma")
        draw.text(((x0 + x1) // 2, H - pad), f["x_axis_title"], font=axis_f, fill=fg, anchor="md")
        vertical_text(img, f["y_axis_title"], axis_f, fg, pad + cat_title_h // 2, int((y0 + y1) / 2))
        if chart == "bar":
            gw = slot * rng.uniform(0.5, 0.8)
            bw = gw / ns
            lim = (slot - 4) if ns == 1 else (bw - 1)
            vf = fit_font(body, val_size, [fmt_num(v) for s in series for v in s["values"]], lim)
            for i in range(n):
                for k, s in enumerate(series):
                    v = s["values"][i]
                    bx = x0 + slot * i + (slot - gw) / 2 + k * bw
                    rgb = label_rgbs[i] if label_rgbs else colors[k]
                    draw.rectangle(
                        [bx, vy(v), bx + bw - (1 if ns > 1 else 0), y1],
                        fill=rgb,
                        outline=darker(rgb, 60) if outline else None,
                    )
                    if f["value_labels"]:
                        draw.text((bx + bw / 2, vy(v) - 3), fmt_num(v), font=vf, fill=fg, anchor="md")
        else:
            lines_vertical(
                rng,
                draw,
                f,
                x0,
                slot,
                vy,
                y0,
                y1,
                colors,
                markers,
                marker_r,
                val_f,
                fg,
                box_bg,
                body,
                val_size,
            )
        draw_axes(draw, axis_style, x0, y0, x1, y1, axis_col)
    else:
        cat_f = tick_f
        ctw = max(text_size(cat_f, lab)[0] for lab in labels)
        x0 = pad + cat_title_h + gap + ctw + tick_len + 6
        vlab_w = max(text_size(val_f, fmt_num(v))[0] for s in series for v in s["values"]) + 8
        x1 = right - (vlab_w if f["value_labels"] else text_size(tick_f, tick_texts[-1])[0] // 2 + 2)
        y0 = top + 4
        y1 = H - pad - cat_title_h - gap - line_h(tick_f) - tick_len - 4
        if x1 - x0 < 180 or y1 - y0 < 120:
            raise Unfit("plot too small")
        slot = (y1 - y0) / n
        if line_h(cat_f) > slot:
            raise Unfit("categories too dense")
        step_px = (x1 - x0) / (len(ticks) - 1)
        if max(text_size(tick_f, t)[0] for t in tick_texts) > step_px - 4:
            raise Unfit("ticks too dense")

        def vx(v: float) -> float:
            return x0 + v / f["axis_max"] * (x1 - x0)

        for t, tt in zip(ticks, tick_texts, strict=True):
            x = vx(t)
            if grid and t > 0:
                vline(draw, x, y0, y1, grid_col, dashed)
            if tick_len:
                draw.line([(x, y1), (x, y1 + tick_len)], fill=axis_col)
            draw.text((x, y1 + tick_len + 4), tt, font=tick_f, fill=fg, anchor="ma")
        for i, lab in enumerate(labels):
            draw.text((x0 - tick_len - 5, y0 + slot * (i + 0.5)), lab, font=cat_f, fill=fg, anchor="rm")
        draw.text(((x0 + x1) // 2, H - pad), f["x_axis_title"], font=axis_f, fill=fg, anchor="md")
        vertical_text(img, f["y_axis_title"], axis_f, fg, pad + cat_title_h // 2, int((y0 + y1) / 2))
        if (
            text_size(axis_f, f["x_axis_title"])[0] > W - 2 * pad
            or text_size(axis_f, f["y_axis_title"])[0] > y1 - y0 + 40
        ):
            raise Unfit("axis title")
        gh = slot * rng.uniform(0.5, 0.8)
        bh = gh / ns
        if f["value_labels"] and text_size(val_f, "0")[1] > (bh + 2 if ns > 1 else slot - 2):
            raise Unfit("value labels too tall")
        for i in range(n):
            for k, s in enumerate(series):
                v = s["values"][i]
                by = y0 + slot * i + (slot - gh) / 2 + k * bh
                rgb = label_rgbs[i] if label_rgbs else colors[k]
                draw.rectangle(
                    [x0, by, vx(v), by + bh - (1 if ns > 1 else 0)],
                    fill=rgb,
                    outline=darker(rgb, 60) if outline else None,
                )
                if f["value_labels"]:
                    draw.text((vx(v) + 4, by + bh / 2), fmt_num(v), font=val_f, fill=fg, anchor="lm")
        if axis_style == "box":
            draw.rectangle([x0, y0, x1, y1], outline=axis_col)
        else:
            draw.line([(x0, y0), (x0, y1)], fill=axis_col, width=2)
            if axis_style == "both":
                draw.line([(x0, y1), (x1, y1)], fill=axis_col, width=2)
    if legend_pos == "right":
        lw, lh = legend_size(leg_f, names, sw, "col")
        lx, ly = W - pad - lw, top + rng.randint(0, 30)
        if rng.random() < 0.4:
            draw.rectangle([lx - 5, ly - 5, lx + lw + 5, ly + lh + 5], outline=axis_col)
        draw_legend(draw, lx, ly, leg_f, list(zip(names, colors, markers, strict=True)), sw, "col", fg, chart)
    return img


def lines_vertical(
    rng: random.Random,
    draw: ImageDraw.ImageDraw,
    f: dict[str, Any],
    x0: float,
    slot: float,
    vy: Callable[[float], float],
    y0: float,
    y1: float,
    colors: list[RGB],
    markers: list[str],
    r: int,
    val_f: ImageFont.FreeTypeFont,
    fg: RGB,
    box_bg: RGB,
    body: str,
    val_size: int,
) -> None:
    """The lines, their markers and (when printed) value labels kept clear of each other."""
    series = f["series"]
    n = len(f["labels"])
    lw = rng.randint(2, 4)
    hollow = rng.random() < 0.3
    xs = [x0 + slot * (i + 0.5) for i in range(n)]
    for k, s in enumerate(series):
        pts = [(xs[i], vy(v)) for i, v in enumerate(s["values"])]
        draw.line(pts, fill=colors[k], width=lw, joint="curve")
    for k, s in enumerate(series):
        for i, v in enumerate(s["values"]):
            marker(draw, xs[i], vy(v), r, markers[k], (255, 255, 255) if hollow else colors[k], colors[k])
    if not f["value_labels"]:
        return
    vf = fit_font(body, val_size, [fmt_num(v) for s in series for v in s["values"]], slot - 3)
    vh = line_h(vf)
    boxed = rng.random() < 0.6
    for i in range(n):
        vals = [s["values"][i] for s in series]
        places = []
        if len(series) == 1:
            v = vals[0]
            nb = [series[0]["values"][j] for j in (i - 1, i + 1) if 0 <= j < n]
            above = v >= sum(nb) / len(nb) or vy(v) + r + 4 + vh > y1 - 2
            places.append((v, above))
        else:
            a, b = vals
            if abs(vy(a) - vy(b)) < vh + 2 * r + 6:
                raise Unfit("line labels collide")
            hi, lo = max(a, b), min(a, b)
            if vy(lo) + r + 4 + vh > y1 - 2:
                raise Unfit("label under the axis")
            places += [(hi, True), (lo, False)]
        for v, above in places:
            y = vy(v) - r - 3 if above else vy(v) + r + 3
            boxed_text(
                draw, (xs[i], y), fmt_num(v), vf, fg, "md" if above else "ma", box_bg if boxed else None
            )
