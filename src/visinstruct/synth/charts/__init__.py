"""Charts of 19 kinds whose every value can be read exactly from the image.

Bars (vertical, horizontal, grouped, stacked), lines (one or several), areas (plain or
stacked), bar + line combinations, pies and donuts, scatter and bubble plots, histograms,
box plots, heatmaps, radar charts, funnels and waterfalls. Values are integers. Either each
mark carries a printed value label, or the values sit exactly on labelled ticks with
gridlines (stacked segments are always labelled); pie slices always print their percentages
(on the slice, next to it, or in the legend) and the percentages sum to 100.

    data.py       topics, labels and values of plain bar, line and pie charts
    series.py     values of the newer labels x series types (several series, stacks)
    draw.py       drawing pieces every chart kind uses
    frame.py      the x-y frame the newer types share, keeping text in the canvas
    xy.py, pie.py bar/line charts and pie charts
    stacked.py, combo.py, funnel.py, heatmap.py (+ radar), scatter.py, stats.py (histogram,
                  box plot): the newer types' data, drawing and questions
    questions.py  the facts a chart shows, for the shared question engine
    long.py       worked long answers

`TYPES` says, per type, how a chart is made, drawn and asked about, and how often it is drawn.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from visinstruct.synth.ask import Kinds, ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.charts.combo import ComboFacts, combo_data, draw_combo
from visinstruct.synth.charts.data import chart_data
from visinstruct.synth.charts.draw import Unfit
from visinstruct.synth.charts.funnel import (
    FunnelFacts,
    WaterfallFacts,
    draw_funnel,
    draw_waterfall,
    funnel_data,
    funnel_long,
    waterfall_data,
    waterfall_long,
)
from visinstruct.synth.charts.heatmap import (
    HeatmapFacts,
    RadarFacts,
    draw_heatmap,
    draw_radar,
    heatmap_data,
    heatmap_long,
    radar_data,
)
from visinstruct.synth.charts.long import long_kinds
from visinstruct.synth.charts.pie import draw_pie
from visinstruct.synth.charts.questions import ChartFacts, ChartVoice
from visinstruct.synth.charts.scatter import (
    BubbleFacts,
    ScatterFacts,
    draw_scatter,
    scatter_data,
    scatter_long,
)
from visinstruct.synth.charts.stacked import (
    AreaFacts,
    StackedFacts,
    area_data,
    draw_area,
    draw_stacked_bar,
    stacked_data,
    stacked_long,
)
from visinstruct.synth.charts.stats import (
    BoxFacts,
    HistogramFacts,
    box_data,
    box_long,
    draw_box,
    draw_histogram,
    hist_long,
    histogram_data,
)
from visinstruct.synth.charts.xy import draw_xy

Maker = Callable[[random.Random, int, str], "tuple[dict[str, Any], int] | None"]
Drawer = Callable[[random.Random, dict[str, Any], int, str], Image.Image]


def draw(rng: random.Random, facts: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """The chart's image, its text in fonts of `lang` (Unfit when this layout does not fit; the
    caller tries anew)."""
    if facts["chart"] == "pie":
        return draw_pie(rng, facts, attempt, lang)
    return draw_xy(rng, facts, attempt, lang)


def _plain(chart: str) -> Maker:
    return lambda rng, attempt, lang: chart_data(rng, attempt, lang, chart=chart)


@dataclass(frozen=True)
class ChartType:
    """How one kind of chart is made, drawn and asked about."""

    data: Maker
    draw: Drawer = draw
    facts: type[ChartFacts] = ChartFacts
    long: Callable[[ChartFacts], Kinds] = long_kinds
    voice: tuple[str, ...] = ()  # phrasing suffixes, most specific first (default: the chart)
    weight: float = 1.0


TYPES: dict[str, ChartType] = {
    "bar": ChartType(_plain("bar"), weight=4),  # vertical, horizontal and grouped bars
    "line": ChartType(_plain("line"), weight=2),  # one line or several
    "pie": ChartType(_plain("pie"), weight=2),  # pies and donuts
    "stacked_bar": ChartType(
        lambda rng, a, lang: stacked_data(rng, a, lang, "bar"),
        draw_stacked_bar,
        StackedFacts,
        stacked_long,
        ("stacked", "bar"),
    ),
    "area": ChartType(area_data, draw_area, AreaFacts, voice=("area", "line")),
    "stacked_area": ChartType(
        lambda rng, a, lang: stacked_data(rng, a, lang, "area"),
        draw_area,
        StackedFacts,
        stacked_long,
        ("stacked", "area", "line"),
    ),
    "combo": ChartType(combo_data, draw_combo, ComboFacts, voice=("combo", "bar")),
    "scatter": ChartType(scatter_data, draw_scatter, ScatterFacts, scatter_long),
    "bubble": ChartType(
        lambda rng, a, lang: scatter_data(rng, a, lang, bubble=True), draw_scatter, BubbleFacts, scatter_long
    ),
    "histogram": ChartType(histogram_data, draw_histogram, HistogramFacts, hist_long),
    "box": ChartType(box_data, draw_box, BoxFacts, box_long),
    "heatmap": ChartType(heatmap_data, draw_heatmap, HeatmapFacts, heatmap_long),
    "radar": ChartType(radar_data, draw_radar, RadarFacts),
    "funnel": ChartType(funnel_data, draw_funnel, FunnelFacts, funnel_long),
    "waterfall": ChartType(waterfall_data, draw_waterfall, WaterfallFacts, waterfall_long),
}


class Charts(SynthDomain):
    name = "charts"
    description = (
        "Bar (vertical, horizontal, grouped, stacked), line, area, pie and donut, scatter and bubble,"
        " histogram, box plot, heatmap, radar, funnel, waterfall and bar+line charts with exactly"
        " readable values, legends, titles and axis labels."
    )

    def make(self, rng: random.Random, lang: str) -> Item:
        names = list(TYPES)
        kind = rng.choices(names, weights=[TYPES[k].weight for k in names])[0]
        return self.make_type(kind, rng, lang)

    def make_type(self, kind: str, rng: random.Random, lang: str) -> Item:
        """A chart of type `kind` (a key of `TYPES`): what `make` draws once it has picked one."""
        t = TYPES[kind]
        for attempt in range(40):
            data = t.data(rng, attempt, lang)
            if data is None:
                continue
            facts, unit = data
            try:
                img = t.draw(rng, facts, attempt, lang)
            except Unfit:
                continue
            break
        else:  # pragma: no cover - the conservative late attempts always fit
            raise RuntimeError(f"no {kind} chart layout fitted")
        c = t.facts(ChartVoice(self, rng, lang, t.voice or facts["chart"]), facts, unit)
        asked = ask_all(
            rng,
            c.kinds(),
            pairs=rng.choice((1, 1, 2)),
            mc=rng.choice((1, 1, 2)),
            short=rng.choice((1, 2)),
            long=t.long(c),
        )
        facts["questions"] = [a.record() for a in asked]
        return Item([img], facts, [a.question for a in asked])


__all__ = ["Charts"]
