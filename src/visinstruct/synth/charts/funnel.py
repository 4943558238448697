"""Funnel charts (stages narrowing in order) and waterfall charts (a start, signed steps, an end),
every value printed."""

from __future__ import annotations

import random
from typing import Any

from PIL import Image

from visinstruct.synth import style
from visinstruct.synth.ask import Fact, Kinds
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME
from visinstruct.synth.charts.draw import Unfit, fit_font, line_h, text_on, text_size
from visinstruct.synth.charts.frame import open_frame, open_page
from visinstruct.synth.charts.long import _fact
from visinstruct.synth.charts.questions import ChartFacts
from visinstruct.synth.charts.series import nice_axis, type_words

FUNNEL_KINDS = ("value", "compare", "diff", "count", "title", "largest_drop", "extreme_value")
WATERFALL_KINDS = (
    "step",
    "step_sign",
    "end_value",
    "step_extreme",
    "count_decreases",
    "running",
    "count",
    "title",
)


def _alt_titles(topics: list[list[Any]], title: str) -> list[str]:
    return [str(t[0]) for t in topics if t[0] != title][:6]


def _base_facts(
    chart: str, title: str, alts: list[str], labels: list[str], series: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "chart": chart,
        "orientation": "",
        "title": title,
        "alt_titles": alts,
        "dimension": "",
        "x_axis_title": "",
        "y_axis_title": "",
        "alt_x_axis_titles": [],
        "alt_y_axis_titles": [],
        "labels": labels,
        "ordered": False,
        "series": series,
        "label_colors": [],
        "unit": "",
        "tick_step": 0,
        "axis_max": 0,
        "value_labels": True,
        "gridlines": False,
        "legend": False,
        "pie_style": "",
    }


# ---------------------------------------------------------------------------------------------
# funnel


def funnel_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """A funnel of 4-6 stages, each value 35-85% of the one before."""
    topics = type_words(lang)["funnel"]
    title, stages, measure, scale = rng.choice(topics)
    n = rng.randint(4, len(stages))
    labels = [str(s) for s in stages[:n]]
    v = rng.randint(scale * 2 // 5, scale)
    vals = [v]
    for _ in range(n - 1):
        v = max(1, int(v * rng.uniform(0.35, 0.85)))
        vals.append(v)
    if len(set(vals)) < n or vals[-1] < 5:
        return None
    d = [a - b for a, b in zip(vals, vals[1:], strict=False)]
    if d.count(max(d)) != 1:
        return None
    col = style.pick_colors(rng, 1, exclude=("yellow",))[0][0]
    f = _base_facts(
        "funnel",
        str(title),
        _alt_titles(topics, title),
        labels,
        [{"name": str(measure), "color": col, "values": vals}],
    )
    return f, rng.choice((1, 1, 10))


def draw_funnel(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Centred stage bars (or trapezoids) narrowing downwards, names on the left, values printed."""
    labels, vals = f["labels"], f["series"][0]["values"]
    n = len(labels)
    img, draw, texts, fg, body, pad, top = open_page(rng, f, attempt, lang, plain=0.5, gap=12)
    W, H = img.size
    lab_f = fit_font(body, rng.randint(12, 15), labels, W * 0.3)
    lw = max(text_size(lab_f, x)[0] for x in labels)
    x0, x1 = pad + lw + 14, W - pad
    row = min(64, (H - pad - top) / n)
    if row < line_h(lab_f) + 6:
        raise Unfit("stages too thin")
    cx, maxw = (x0 + x1) / 2, x1 - x0
    rgb = COLOR_BY_NAME[f["series"][0]["color"]][2]
    trapezoid, gap = rng.random() < 0.5, rng.choice((0, 2, 4))
    val_f = style.font(body, rng.randint(12, 15))
    shade = rng.random() < 0.5
    f["funnel_style"] = "trapezoid" if trapezoid else "bars"
    for i, v in enumerate(vals):
        y0, y1 = top + i * row, top + (i + 1) * row - gap
        w = maxw * v / vals[0]
        fill = tuple(int(c + (255 - c) * 0.5 * i / n) for c in rgb) if shade else rgb
        if trapezoid:
            w2 = maxw * vals[i + 1] / vals[0] if i + 1 < n else w
            draw.polygon(
                [(cx - w / 2, y0), (cx + w / 2, y0), (cx + w2 / 2, y1), (cx - w2 / 2, y1)], fill=fill
            )
            inner = min(w, w2)
        else:
            draw.rectangle([cx - w / 2, y0, cx + w / 2, y1], fill=fill)
            inner = w
        texts.put((x0 - 10, (y0 + y1) / 2), labels[i], lab_f, fg, "rm")
        t = fmt_num(v)
        if text_size(val_f, t)[0] + 8 < inner:
            texts.put((cx, (y0 + y1) / 2), t, val_f, text_on(fill), "mm")
        else:
            texts.put((cx + max(w, inner) / 2 + 6, (y0 + y1) / 2), t, val_f, fg, "lm")
    return img


class FunnelFacts(ChartFacts):
    """A funnel's facts: stage values, comparisons, drops between stages."""

    KINDS = FUNNEL_KINDS

    def k_largest_drop(self) -> Fact | None:
        vs = self.vals(0)
        d = [a - b for a, b in zip(vs, vs[1:], strict=False)]
        k = d.index(max(d))
        spans = [[self.labels[i], self.labels[i + 1]] for i in range(len(d))]
        others = sorted((i for i in range(len(d)) if i != k), key=lambda i: (d[k] - d[i], i))
        return self.fact(
            "largest_drop",
            "trend",
            {},
            "span",
            spans[k],
            [spans[i] for i in others],
            ("largest_drop_q", {}),
            lambda x: ("largest_drop_claim", {"span": self.show("span", x)}),
        )


def long_drop(c: ChartFacts) -> Fact | None:
    """Read two consecutive stages, then say how many were lost between them."""
    vs = c.vals(0)
    i = c.rng.randrange(len(vs) - 1)
    a, b = c.labels[i], c.labels[i + 1]
    say = c.v.say
    turns = [
        (say("value_q", label=a, scope=""), say("value_a", label=a, value=c.show("num", vs[i]))),
        (say("value_q", label=b, scope=""), say("value_a", label=b, value=c.show("num", vs[i + 1]))),
        (
            say("drop_q", a=a, b=b),
            say(
                "drop_a",
                a=a,
                b=b,
                va=fmt_num(vs[i]),
                vb=fmt_num(vs[i + 1]),
                result=fmt_num(vs[i] - vs[i + 1]),
            ),
        ),
    ]
    return _fact("drop", "arithmetic", {"a": a, "b": b}, vs[i] - vs[i + 1], turns)


def funnel_long(c: ChartFacts) -> Kinds:
    return Kinds(c.rng, {"drop": lambda: long_drop(c)})


# ---------------------------------------------------------------------------------------------
# waterfall


def waterfall_data(rng: random.Random, attempt: int, lang: str) -> tuple[dict[str, Any], int] | None:
    """A start value, 3-6 signed steps and the end value; the running total stays above zero."""
    topics = type_words(lang)["waterfall"]
    title, measure, start_name, end_name, steps = rng.choice(topics)
    k = rng.randint(3, min(6, len(steps)) if attempt < 12 else 4)
    picked = sorted(rng.sample(range(len(steps)), k))
    names = [str(steps[i][0]) for i in picked]
    signs = [int(steps[i][1]) for i in picked]
    scale = rng.choice((200, 500, 1000, 2000))
    start = rng.randint(scale // 3, scale * 2 // 3)
    deltas = [s * rng.randint(max(2, scale // 25), scale // 4) for s in signs]
    run, acc = [start], start
    for d in deltas:
        acc += d
        run.append(acc)
    if min(run) <= scale // 20 or len(set(abs(d) for d in deltas)) < k:
        return None
    ups, downs = [d for d in deltas if d > 0], [d for d in deltas if d < 0]
    if not downs:
        return None
    end = run[-1]
    cols = style.pick_colors(rng, 1, exclude=("green", "red", "yellow"))[0][0]
    f = _base_facts(
        "waterfall",
        str(title),
        _alt_titles(topics, title),
        [str(start_name), *names, str(end_name)],
        [{"name": str(measure), "color": cols, "values": [start, *deltas, end]}],
    )
    f["y_axis_title"] = str(measure)
    f["up_color"], f["down_color"] = "green", "red"
    f["tick_step"], f["axis_max"] = nice_axis(rng, max(run))
    f["has_increase"] = bool(ups)
    return f, rng.choice((1, 1, 5))


def draw_waterfall(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Floating bars from one running total to the next, increases green, decreases red, the start
    and end bars from zero; each prints its value (steps signed)."""
    vals = f["series"][0]["values"]
    n = len(vals)
    f["gridlines"] = rng.random() < 0.6
    fr = open_frame(rng, f, attempt, lang, headroom=24, wide=80 * n)
    up, down = COLOR_BY_NAME[f["up_color"]][2], COLOR_BY_NAME[f["down_color"]][2]
    total = COLOR_BY_NAME[f["series"][0]["color"]][2]
    bw = fr.slot * rng.uniform(0.55, 0.75)
    shown = [fmt_num(vals[0])] + [signed(d) for d in vals[1:-1]] + [fmt_num(vals[-1])]
    vf = fr.value_font(shown, fr.slot - 4)
    acc = 0
    prev_top = None
    for i, v in enumerate(vals):
        if i == 0 or i == n - 1:
            a, b, rgb = 0, v, total
            acc = v
        else:
            a, b, rgb = acc, acc + v, up if v > 0 else down
            acc += v
        x = fr.cx(i)
        ya, yb = fr.vy(max(a, b)), fr.vy(min(a, b))
        fr.draw.rectangle([x - bw / 2, ya, x + bw / 2, yb], fill=rgb)
        if prev_top is not None:
            fr.draw.line([(fr.cx(i - 1) + bw / 2, prev_top), (x - bw / 2, prev_top)], fill=fr.axis_col)
        prev_top = fr.vy(acc)
        fr.texts.put_first([((x, ya - 3), "md"), ((x, yb + 3), "ma")], shown[i], vf, fr.fg, box=fr.bg)
    return fr.finish()


def signed(v: int) -> str:
    """A step as printed: '+120' or '-45'."""
    return f"+{v}" if v > 0 else fmt_num(v)


class WaterfallFacts(ChartFacts):
    """A waterfall's facts: the start, each signed step, the end and running totals."""

    KINDS = WATERFALL_KINDS

    def show(self, atype: str, v: Any) -> str:
        if atype == "signed":
            return signed(v)
        return super().show(atype, v)

    def steps(self) -> range:
        return range(1, len(self.labels) - 1)

    def k_step(self) -> Fact | None:
        i = self.rng.choice(self.steps())
        v, label = self.vals(0)[i], self.labels[i]
        wrong = [-v] + [x if v > 0 else -x for x in self.near(abs(v)) if x > 0]
        return self.fact(
            "step_change",
            "value_lookup",
            {"label": label},
            "signed",
            v,
            wrong,
            ("step_q", {"label": label}),
            lambda x: ("step_claim", {"label": label, "value": signed(x)}),
            false_from=2,
        )

    def k_step_sign(self) -> Fact | None:
        i = self.rng.choice(self.steps())
        label = self.labels[i]
        ans = "increase" if self.vals(0)[i] > 0 else "decrease"
        return self.fact(
            "step_sign",
            "trend",
            {"label": label},
            "word",
            ans,
            ["decrease" if ans == "increase" else "increase"],
            ("step_sign_q", {"label": label}),
            lambda x: (f"step_sign_claim_{x}", {"label": label}),
            mc=False,
        )

    def k_end_value(self) -> Fact | None:
        i = self.rng.choice((0, len(self.labels) - 1))
        v, label = self.vals(0)[i], self.labels[i]
        return self.fact(
            "value",
            "value_lookup",
            {"series": 0, "label": label},
            "num",
            v,
            self.near(v, extra=[self.vals(0)[len(self.labels) - 1 - i]]),
            ("value_q", {"label": label, "scope": ""}),
            lambda x: ("value_claim", {"label": label, "scope": "", "value": self.show("num", x)}),
        )

    def k_step_extreme(self) -> Fact | None:
        rel = self.rng.choice(("increase", "decrease") if self.f["has_increase"] else ("decrease",))
        idx = [i for i in self.steps() if (self.vals(0)[i] > 0) == (rel == "increase")]
        vs = self.vals(0)
        best = max(idx, key=lambda i: abs(vs[i]))
        order = sorted(
            (i for i in self.steps() if i != best), key=lambda i: (abs(abs(vs[i]) - abs(vs[best])), i)
        )
        return self.fact(
            "step_extreme",
            "extremum",
            {"rel": rel},
            "label",
            self.labels[best],
            [self.labels[i] for i in order],
            (f"step_largest_{rel}_q", {}),
            lambda x: (f"step_largest_{rel}_claim", {"label": x}),
        )

    def k_count_decreases(self) -> Fact | None:
        n = sum(1 for i in self.steps() if self.vals(0)[i] < 0)
        k = len(self.steps())
        wrong = sorted((x for x in range(k + 1) if x != n), key=lambda x: (abs(x - n), x))
        return self.fact(
            "count_decreases",
            "counting",
            {},
            "count",
            n,
            wrong,
            ("count_decreases_q", {}),
            lambda x: ("count_decreases_claim", {"n": x}),
        )

    def k_running(self) -> Fact | None:
        i = self.rng.choice(self.steps())
        total = sum(self.vals(0)[: i + 1])
        label = self.labels[i]
        return self.fact(
            "running_total",
            "arithmetic",
            {"label": label},
            "num",
            total,
            self.near(total, extra=[total - self.vals(0)[i]]),
            ("running_q", {"label": label}),
            lambda x: ("running_claim", {"label": label, "value": fmt_num(x)}),
        )

    def k_count(self) -> Fact | None:
        k = len(self.steps())
        wrong = [x for x in (k + 1, k - 1, k + 2, k + 3, k - 2) if x > 0]
        return self.fact(
            "count_steps",
            "counting",
            {},
            "count",
            k,
            wrong,
            ("count_steps_q", {}),
            lambda x: ("count_steps_claim", {"n": x}),
        )


def long_running(c: WaterfallFacts) -> Fact | None:
    """Read the start and every step, then add them up to the end value."""
    vs = c.vals(0)
    say = c.v.say
    k = len(vs) - 1
    reads = c.v.listing(
        [
            say("reading", label=c.labels[i], value=(fmt_num(vs[0]) if i == 0 else signed(vs[i])))
            for i in range(k)
        ]
    )
    expr = fmt_num(vs[0]) + "".join(f" {'+' if d > 0 else '-'} {abs(d)}" for d in vs[1:k])
    total = sum(vs[:k])
    turns = [
        (say("steps_q", start=c.labels[0]), say("read_a", readings=reads)),
        (say("end_q", end=c.labels[-1]), say("end_a", expr=expr, result=fmt_num(total), end=c.labels[-1])),
    ]
    return _fact("running", "arithmetic", {}, total, turns)


def waterfall_long(c: ChartFacts) -> Kinds:
    return Kinds(c.rng, {"running": lambda: long_running(c)})  # type: ignore[arg-type]
