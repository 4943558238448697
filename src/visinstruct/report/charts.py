"""Small inline SVG charts drawn in Python: bars, grouped bars, stacked bars, histograms.

Every chart is an `<svg class="chart">` whose marks are `<rect class="bar">`, with axis
titles, tick values and a value on (or beside) each bar. Every piece of text is escaped.
`width` is the chart's drawing width: pick it near the width it is shown at, so text keeps
its size when the page scales the chart to its card.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#ec4899", "#64748b")
CHAR_W = 6.6  # rough width of one 12px character, for laying out labels

Fmt = Callable[[float], str]


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def nice_max(v: float, ticks: int = 5, integer: bool = False) -> tuple[float, float]:
    """An axis top at or above `v` and a round tick step (1, 2, 2.5, 5 × 10^k); whole steps
    only when `integer` (counts)."""
    if v <= 0:
        return (1.0, 1.0) if integer else (1.0, 0.25)
    raw = v / ticks
    mag = 10 ** math.floor(math.log10(raw))
    steps = [m * mag for m in (1, 2, 2.5, 5, 10)]
    if integer:
        steps = [x for x in steps if x >= 1 and float(x).is_integer()] or [1.0]
    step = next((x for x in steps if x >= raw), steps[-1])
    return step * math.ceil(v / step - 1e-9), step


def fmt_num(v: float) -> str:
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"


def fmt_pct(v: float) -> str:
    return f"{v:.0f}%"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}" '
        'preserveAspectRatio="xMidYMid meet">'
        f"<title>{esc(label)}</title>" + "".join(body) + "</svg>"
    )


def _whole(values: object) -> bool:
    return all(float(v).is_integer() for v in values)  # type: ignore[attr-defined]


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


def _legend(names: Sequence[str], colors: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for name, color in zip(names, colors, strict=False):
        out.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" rx="2" fill="{color}"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}" class="lg">{esc(name)}</text>'
        )
        x += 26 + CHAR_W * len(str(name))
    return out


def _ref_legend(label: str, x1: float, y: float) -> list[str]:
    """The reference line's key, at the right end of the legend row."""
    tx = x1 - CHAR_W * len(label)
    return [
        f'<line class="ref" x1="{tx - 30:.1f}" x2="{tx - 6:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}"/>',
        f'<text class="reflbl" x="{x1:.1f}" y="{y:.1f}" text-anchor="end">{esc(label)}</text>',
    ]


def _y_grid(top: float, step: float, x0: float, x1: float, y0: float, y1: float, fmt: Fmt) -> list[str]:
    """Horizontal grid lines and tick labels for a vertical value axis (y0 bottom, y1 top)."""
    out = []
    for i in range(round(top / step) + 1):
        y = y0 - (y0 - y1) * step * i / top
        out.append(f'<line class="grid" x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{x0 - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{fmt(step * i)}</text>'
        )
    return out


def _x_grid(top: float, step: float, x0: float, x1: float, y0: float, y1: float, fmt: Fmt) -> list[str]:
    """Vertical grid lines and tick labels for a horizontal value axis (x0 left, y0 bottom)."""
    out = []
    for i in range(round(top / step) + 1):
        x = x0 + (x1 - x0) * step * i / top
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{y1:.1f}" y2="{y0:.1f}"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{y0 + 15:.1f}" text-anchor="middle">{fmt(step * i)}</text>'
        )
    return out


def _x_title(label: str, x0: float, x1: float, height: int) -> str:
    cx = (x0 + x1) / 2
    return f'<text class="ax" x="{cx:.1f}" y="{height - 6}" text-anchor="middle">{esc(label)}</text>'


def _y_title(label: str, y0: float, y1: float) -> str:
    cy = (y0 + y1) / 2
    return (
        f'<text class="ax" x="14" y="{cy:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {cy:.1f})">{esc(label)}</text>'
    )


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[str],
    values: Mapping[tuple[str, str], float],
    *,
    x_label: str,
    y_label: str,
    title: str,
    ref: float | None = None,
    ref_label: str = "",
    percent: bool = False,
    notes: Mapping[tuple[str, str], str] | None = None,
    colors: Sequence[str] = PALETTE,
    width: int = 560,
    height: int = 280,
) -> str:
    """Vertical bars, one cluster per group and one bar per series (one series: plain bars).

    `values[(group, series)]`; with `percent` values are 0–100 and labelled with %. `ref`
    draws a dashed reference line (e.g. the balanced share). `notes` adds hover text per bar.
    """
    legend = len(series) > 1
    fmt = fmt_pct if percent else fmt_num
    x0, x1 = 60.0, width - 12.0
    y1, y0 = (36.0 if legend or ref is not None else 20.0), height - 48.0
    peak = max([values.get((g, s), 0) for g in groups for s in series] + [ref or 0])
    integer = not percent and _whole(values.values())
    top, step = nice_max(min(100.0, peak * 1.1) if percent and peak <= 100 else peak * 1.1, integer=integer)
    body = _y_grid(top, step, x0, x1, y0, y1, fmt)
    slot = (x1 - x0) / max(1, len(groups))
    bar_w = min(56.0, slot * 0.8 / max(1, len(series)))
    label_chars = max(3, int(slot / CHAR_W) - 1)
    every = 1 if slot >= 24 else math.ceil(24 / slot)  # thin out crowded group labels
    for gi, g in enumerate(groups):
        cx = x0 + slot * (gi + 0.5)
        start = cx - bar_w * len(series) / 2
        for si, s in enumerate(series):
            v = values.get((g, s), 0)
            h = (y0 - y1) * v / top
            x = start + si * bar_w
            tip = f"{g} · {s}: {fmt(v)}" if legend else f"{g}: {fmt(v)}"
            if notes and (g, s) in notes:
                tip += f" ({notes[g, s]})"
            body.append(
                f'<rect class="bar" x="{x + 1:.1f}" y="{y0 - h:.1f}" width="{bar_w - 2:.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{colors[si % len(colors)]}">'
                f"<title>{esc(tip)}</title></rect>"
            )
            if bar_w >= 16:
                body.append(
                    f'<text class="val" x="{x + bar_w / 2:.1f}" y="{y0 - h - 4:.1f}" '
                    f'text-anchor="middle">{esc(fmt(v))}</text>'
                )
        if gi % every == 0:
            body.append(
                f'<text class="tick" x="{cx:.1f}" y="{y0 + 16:.1f}" text-anchor="middle">'
                f"<title>{esc(g)}</title>{esc(_short(str(g), label_chars * every))}</text>"
            )
    if ref is not None:
        y = y0 - (y0 - y1) * ref / top
        body.append(f'<line class="ref" x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body += _ref_legend(ref_label or fmt(ref), x1, 16)
    if legend:
        body += _legend(series, colors, x0, 16)
    body.append(f'<line class="axis" x1="{x0:.1f}" x2="{x1:.1f}" y1="{y0:.1f}" y2="{y0:.1f}"/>')
    body.append(_x_title(x_label, x0, x1, height))
    body.append(_y_title(y_label, y0, y1))
    return _svg(width, height, title, body)


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x_label: str,
    y_label: str,
    title: str,
    color: str = PALETTE[0],
    width: int = 560,
    height: int = 260,
) -> str:
    """Plain vertical bars."""
    vals = {(lbl, ""): v for lbl, v in zip(labels, values, strict=True)}
    return grouped_bars(
        labels,
        [""],
        vals,
        x_label=x_label,
        y_label=y_label,
        title=title,
        colors=[color],
        width=width,
        height=height,
    )


def histogram(
    counts: Mapping[int, int],
    *,
    x_label: str,
    y_label: str,
    title: str,
    color: str = PALETTE[0],
    max_bins: int = 12,
    width: int = 420,
) -> str:
    """Counts of integer values: one bar per value when few, else equal-width bins."""
    lo, hi = min(counts), max(counts)
    step = max(1, math.ceil((hi - lo + 1) / max_bins))
    if step > 1:  # round bin edges: 1, 2, 5, 10, 20, 25, 50, ...
        step = next(
            int(m * 10**k)
            for k in range(12)
            for m in (1, 2, 2.5, 5)
            if m * 10**k >= step and m * 10**k % 1 == 0
        )
    start = lo - lo % step
    edges = list(range(start, hi + 1, step))
    ranges = [str(b) if step == 1 else f"{b}–{b + step - 1}" for b in edges]
    fits = CHAR_W * max(len(r) for r in ranges) <= (width - 72) / len(edges) - 2
    labels = ranges if fits else [str(b) for b in edges]  # crowded: each bin by its start
    values = {
        (lb, ""): sum(counts.get(v, 0) for v in range(b, b + step))
        for lb, b in zip(labels, edges, strict=True)
    }
    notes = {(lb, ""): f"{r}: {values[lb, '']} samples" for lb, r in zip(labels, ranges, strict=True)}
    if not fits:
        x_label += f"; bins of {step} from the value shown"
    return grouped_bars(
        labels,
        [""],
        values,
        notes=notes,
        x_label=x_label,
        y_label=y_label,
        title=title,
        colors=[color],
        width=width,
    )


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x_label: str,
    title: str,
    colors: Sequence[str] = (PALETTE[0],),
    fmt: Fmt = fmt_num,
    label_chars: int = 40,
    width: int = 560,
) -> str:
    """Horizontal bars with the label on the left: for long category names (reasons)."""
    row = 24
    longest = max([len(_short(str(lb), label_chars)) for lb in labels] + [6])
    x0, x1 = min(width * 0.55, 16 + CHAR_W * longest), width - 60.0
    y1 = 8.0
    y0 = y1 + row * len(labels)
    height = int(y0 + 42)
    peak = max(list(values) + [0])
    top, step = nice_max(peak if peak > 0 else 1, integer=_whole(values))
    body = _x_grid(top, step, x0, x1, y0, y1, fmt)
    for i, (lb, v) in enumerate(zip(labels, values, strict=True)):
        y = y1 + row * i
        w = (x1 - x0) * v / top
        body.append(
            f'<rect class="bar" x="{x0:.1f}" y="{y + 4:.1f}" width="{max(w, 0.5):.1f}" height="{row - 8}" '
            f'fill="{colors[i % len(colors)]}"><title>{esc(lb)}: {esc(fmt(v))}</title></rect>'
        )
        body.append(f'<text class="val" x="{x0 + w + 5:.1f}" y="{y + row / 2 + 4:.1f}">{esc(fmt(v))}</text>')
        body.append(
            f'<text class="tick" x="{x0 - 8:.1f}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{esc(lb)}</title>{esc(_short(str(lb), label_chars))}</text>"
        )
    body.append(f'<line class="axis" x1="{x0:.1f}" x2="{x0:.1f}" y1="{y1:.1f}" y2="{y0:.1f}"/>')
    body.append(_x_title(x_label, x0, x1, height))
    return _svg(width, height, title, body)


def stacked_hbars(
    rows: Sequence[str],
    segments: Sequence[str],
    values: Mapping[tuple[str, str], float],
    colors: Mapping[str, str],
    *,
    x_label: str,
    title: str,
    fmt: Fmt = fmt_num,
    width: int = 560,
) -> str:
    """One horizontal bar per row split into segments (e.g. statuses per domain), total at the end."""
    row = 30
    x0 = min(width * 0.4, 16 + CHAR_W * max([len(str(r)) for r in rows] + [4]))
    x1 = width - 56.0
    y1 = 30.0
    y0 = y1 + row * len(rows)
    height = int(y0 + 42)
    totals = {r: sum(values.get((r, s), 0) for s in segments) for r in rows}
    peak = max(list(totals.values()) + [0])
    top, step = nice_max(peak if peak > 0 else 1, integer=_whole(values.values()))
    body = _legend(segments, [colors[s] for s in segments], x0, 16)
    body += _x_grid(top, step, x0, x1, y0, y1, fmt)
    for i, r in enumerate(rows):
        y = y1 + row * i
        x = x0
        for s in segments:
            v = values.get((r, s), 0)
            if not v:
                continue
            w = (x1 - x0) * v / top
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 5:.1f}" width="{w:.1f}" height="{row - 10}" '
                f'fill="{colors[s]}"><title>{esc(r)} · {esc(s)}: {esc(fmt(v))}</title></rect>'
            )
            if w > 8 + CHAR_W * len(fmt(v)):
                body.append(
                    f'<text class="inbar" x="{x + w / 2:.1f}" y="{y + row / 2 + 4:.1f}" '
                    f'text-anchor="middle">{esc(fmt(v))}</text>'
                )
            x += w
        body.append(
            f'<text class="val" x="{x + 5:.1f}" y="{y + row / 2 + 4:.1f}">{esc(fmt(totals[r]))}</text>'
        )
        body.append(
            f'<text class="tick" x="{x0 - 8:.1f}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{esc(r)}</title>{esc(_short(str(r), int((x0 - 12) / CHAR_W)))}</text>"
        )
    body.append(f'<line class="axis" x1="{x0:.1f}" x2="{x0:.1f}" y1="{y1:.1f}" y2="{y0:.1f}"/>')
    body.append(_x_title(x_label, x0, x1, height))
    return _svg(width, height, title, body)
