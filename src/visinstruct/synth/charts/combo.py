"""Bar + line combination charts: one series as bars, one as a line, on one value axis, every
value printed."""

from __future__ import annotations

import random
from typing import Any

from PIL import Image

from visinstruct.synth.ask import Fact
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME
from visinstruct.synth.charts.draw import MARKERS, Unfit, marker, text_on, text_size
from visinstruct.synth.charts.frame import open_frame
from visinstruct.synth.charts.questions import ChartFacts
from visinstruct.synth.charts.series import labelled

COMBO_KINDS = (
    "value",
    "extreme",
    "extreme_value",
    "compare",
    "compare_ref",
    "series_higher",
    "trend",
    "pattern",
    "largest_change",
    "sum",
    "diff",
    "avg",
    "count",
    "series_color",
    "title",
    "axis",
    "mark_series",
)


def combo_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """Two series over labels: the first drawn as bars, the second as a line."""
    n = rng.randint(3, 6) if attempt >= 12 else rng.randint(4, 9)
    data = labelled(rng, attempt, lang, "combo", 2, n=n, lo_frac=(3, 5, 10))
    if data is None:
        return None
    f, unit = data
    f["marks"] = ["bar", "line"]
    return f, unit


def draw_combo(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Bars for the first series with values inside their tops, a line for the second with boxed
    values beside its points."""
    bars, line = f["series"]
    cb, cl = COLOR_BY_NAME[bars["color"]][2], COLOR_BY_NAME[line["color"]][2]
    f["gridlines"] = rng.random() < 0.5
    legend = [(bars["name"], cb, ""), (line["name"], cl, "")]
    fr = open_frame(rng, f, attempt, lang, legend=legend, headroom=26)
    bw = fr.slot * rng.uniform(0.45, 0.7)
    vf = fr.value_font([fmt_num(v) for s in f["series"] for v in s["values"]], min(bw, fr.slot - 6) - 2)
    th = text_size(vf, "0")[1]
    for i, v in enumerate(bars["values"]):
        fr.draw.rectangle([fr.cx(i) - bw / 2, fr.vy(v), fr.cx(i) + bw / 2, fr.vy(0)], fill=cb)
    lw, r, shape = rng.randint(2, 3), rng.randint(3, 4), rng.choice(MARKERS)
    pts = [(fr.cx(i), fr.vy(v)) for i, v in enumerate(line["values"])]
    fr.draw.line(pts, fill=cl, width=lw, joint="curve")
    for x, y in pts:
        marker(fr.draw, x, y, r, shape, cl, cl)
    # the line's points are marks too: no bar label may cover one
    for x, y in pts:
        fr.texts.boxes.append((x - r - 1, y - r - 1, x + r + 1, y + r + 1))
    for i, v in enumerate(bars["values"]):
        x, top = fr.cx(i), fr.vy(v)
        if fr.vy(0) - top >= th + 8:
            places = [((x, top + 4), "ma"), ((x, top - 3), "md")]
        else:
            places = [((x, top - 3), "md")]
        col = text_on(cb)
        for xy, anchor in places:
            b = fr.draw.textbbox(xy, fmt_num(v), font=vf, anchor=anchor)
            if fr.texts.fits(b):
                fr.texts.put(xy, fmt_num(v), vf, col if anchor == "ma" else fr.fg, anchor)
                break
        else:
            raise Unfit("no room for a bar's label")
    for (x, y), v in zip(pts, line["values"], strict=True):
        fr.texts.put_first([((x, y - r - 3), "md"), ((x, y + r + 3), "ma")], fmt_num(v), vf, fr.fg, box=fr.bg)
    return fr.finish()


class ComboFacts(ChartFacts):
    """A bar + line chart's facts: a two-series chart's, and which series is which mark."""

    KINDS = COMBO_KINDS

    def k_mark_series(self) -> Fact | None:
        k = self.pick_s()
        mark = self.f["marks"][k]
        name, other = self.series[k]["name"], self.series[1 - k]["name"]
        return self.fact(
            "mark_series",
            "legend",
            {"mark": mark},
            "series",
            name,
            [other],
            (f"mark_{mark}_q", {}),
            lambda x: (f"mark_{mark}_claim", {"series": x}),
            mc=False,
        )
