#!/usr/bin/env python3
"""Code-guided synthesis: how long validating and drawing one spec takes, per kind.

Validation reads the reply with data parsers and checks the allow-list; drawing is the
sandbox (Chromium for SVG and HTML, vl-convert for Vega-Lite, Pillow for tables) plus the
measurement of what is visible. The first drawing of a kind pays for starting its renderer
(reported apart); the figure is the mean of the rest. English and Chinese specs are timed
apart: a Chinese one is drawn with the bundled CJK font (a page of its own in Chromium, the
font registered with vl-convert). It also times the refusal of a 100,000-element SVG, which
must be refused before any parsing.

    python bench/coded.py [--repeat 10] [--lang en zh]
"""

from __future__ import annotations

import argparse
import json
import time

from visinstruct.coded.questions import drafts, measured
from visinstruct.coded.render import render
from visinstruct.coded.validate import SpecError, validate

BAR = {
    "title": "Visitors",
    "width": 360,
    "height": 240,
    "data": {"values": [{"g": g, "n": n} for g, n in [("A", 4), ("B", 9), ("C", 6), ("D", 2)]]},
    "mark": "bar",
    "encoding": {"x": {"field": "g", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
}
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320">'
    + "".join(f'<circle cx="{40 + 60 * i}" cy="80" r="25" fill="red"/>' for i in range(7))
    + '<text x="30" y="220" font-size="32">Harbour Festival</text></svg>'
)
HTML = (
    '<meta name="viewport" content="width=640, height=400"><h1>Bakery</h1><table>'
    "<tr><th>Item</th><th>Price</th></tr><tr><td>Bun</td><td>2</td></tr><tr><td>Pie</td><td>5</td></tr></table>"
)
TABLE = {"title": "Trails", "columns": ["Trail", "km"], "rows": [["Ridge", 12], ["Lake", 5], ["Pine", 8]]}
SPECS = {"vega-lite": json.dumps(BAR), "svg": SVG, "html": HTML, "table": json.dumps(TABLE)}
ZH = {"Visitors": "参观人数", "Harbour Festival": "港口节日", "Bakery": "面包店", "Item": "品名",
      "Price": "价格", "Bun": "小圆面包", "Pie": "馅饼", "Trails": "步道", "Trail": "路线",
      "Ridge": "山脊", "Lake": "湖边", "Pine": "松林", '"A"': '"甲"', '"B"': '"乙"', '"C"': '"丙"',
      '"D"': '"丁"'}  # fmt: skip


def chinese(reply: str) -> str:
    for en, zh in ZH.items():
        reply = reply.replace(en, zh)
    return reply


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--lang", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    args = ap.parse_args()
    import random

    for lang in args.lang:
        for kind, reply in SPECS.items():
            if lang == "zh":
                reply = chinese(reply)
            t0 = time.perf_counter()
            spec = validate(kind, reply, lang)
            t1 = time.perf_counter()
            render(spec)
            first = time.perf_counter() - t1
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                spec = validate(kind, reply, lang)
                drawn = render(spec)
                drafts(kind, measured(kind, spec.facts, drawn.seen), random.Random(1), lang)
                times.append(time.perf_counter() - t)
            mean = sum(times) / len(times)
            print(
                f"{lang} {kind:10s} validate {1000 * (t1 - t0):6.1f} ms  first draw {first:5.2f} s  "
                f"validate+draw+questions {1000 * mean:6.1f} ms/spec ({1 / mean:5.1f} specs/s)"
            )
    huge = "<svg width='100' height='100'>" + "<rect/>" * 100_000 + "</svg>"
    t = time.perf_counter()
    try:
        validate("svg", huge)
    except SpecError as e:
        print(f"100,000-element SVG refused in {1000 * (time.perf_counter() - t):.1f} ms: {e.reason}")


if __name__ == "__main__":
    main()
