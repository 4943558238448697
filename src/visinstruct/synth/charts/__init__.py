"""Charts: bar, line and pie charts whose every value can be read exactly from the image.

Values are integers. Either each bar/point carries a printed value label, or the values
sit exactly on labelled ticks with gridlines; pie slices always print their percentages
(on the slice, next to it, or in the legend) and the percentages sum to 100.

    data.py       topics, labels and values
    draw.py       drawing pieces every chart kind uses
    xy.py, pie.py bar/line charts and pie charts
    questions.py  the facts a chart shows, for the shared question engine
    long.py       worked long answers
"""

from __future__ import annotations

import random
from typing import Any

from PIL import Image

from visinstruct.synth.ask import ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.charts.data import chart_data
from visinstruct.synth.charts.draw import Unfit
from visinstruct.synth.charts.long import long_kinds
from visinstruct.synth.charts.pie import draw_pie
from visinstruct.synth.charts.questions import ChartFacts, ChartVoice
from visinstruct.synth.charts.xy import draw_xy


def draw(rng: random.Random, facts: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """The chart's image, its text in fonts of `lang` (Unfit when this layout does not fit; the
    caller tries anew)."""
    if facts["chart"] == "pie":
        return draw_pie(rng, facts, attempt, lang)
    return draw_xy(rng, facts, attempt, lang)


class Charts(SynthDomain):
    name = "charts"
    description = "Bar, line and pie charts with exactly readable values, legends, titles and axis labels."

    def make(self, rng: random.Random, lang: str) -> Item:
        for attempt in range(40):
            data = chart_data(rng, attempt, lang)
            if data is None:
                continue
            facts, unit = data
            try:
                img = draw(rng, facts, attempt, lang)
            except Unfit:
                continue
            break
        else:  # pragma: no cover - the conservative late attempts always fit
            raise RuntimeError("no chart layout fitted")
        c = ChartFacts(ChartVoice(self, rng, lang, facts["chart"]), facts, unit)
        asked = ask_all(
            rng,
            c.kinds(),
            pairs=rng.choice((1, 1, 2)),
            mc=rng.choice((1, 1, 2)),
            short=rng.choice((1, 2)),
            long=long_kinds(c),
        )
        facts["questions"] = [a.record() for a in asked]
        return Item([img], facts, [a.question for a in asked])


__all__ = ["Charts"]
