"""Scatter plots and bubble charts of named points.

Every point sits exactly on a gridline crossing of labelled ticks, so its x and y read
exactly; a bubble prints its size next to its name. Facts: `points` [{label, x, y (, size)}],
`x_min`/`x_max`/`x_step` and `axis_min`/`axis_max`/`tick_step`.
"""

from __future__ import annotations

import math
import random
from typing import Any

from PIL import Image

from visinstruct.synth import style
from visinstruct.synth.ask import Fact, Kinds
from visinstruct.synth.base import fmt_num
from visinstruct.synth.charts.data import COLOR_BY_NAME
from visinstruct.synth.charts.draw import MARKERS, darker, marker
from visinstruct.synth.charts.frame import open_frame
from visinstruct.synth.charts.long import _fact
from visinstruct.synth.charts.questions import ChartFacts
from visinstruct.synth.charts.series import type_words

SCATTER_KINDS = (
    "point_x",
    "point_y",
    "extreme_xy",
    "count_region",
    "correlation",
    "count_points",
    "title",
    "axis",
)
BUBBLE_KINDS = SCATTER_KINDS + ("bubble_extreme", "bubble_size")


def pearson(xs: list[int], ys: list[int]) -> float:
    """The correlation coefficient of two equally long lists."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def scatter_data(
    rng: random.Random, attempt: int, lang: str, bubble: bool = False
) -> tuple[dict[str, Any], int] | None:
    """5-10 named points on grid crossings, related (rising or falling) clearly enough that the
    sign of their correlation is plain to see."""
    topics = type_words(lang)["bubble" if bubble else "scatter"]
    topic = rng.choice(topics)
    title, xt, yt, (xlo, xhi, xs), (ylo, yhi, ys), sign, names = topic[:7]
    nx, ny = (xhi - xlo) // xs, (yhi - ylo) // ys
    n = rng.randint(5, min(len(names), nx, ny, 7 if attempt >= 12 or bubble else 10))
    gx = sorted(rng.sample(range(1, nx + 1), n))
    # a noisy line through the points, then distinct grid rows handed out in its order
    noise = rng.uniform(0.05, 0.25)
    score = [(k / nx if sign > 0 else 1 - k / nx) + rng.uniform(-noise, noise) for k in gx]
    levels = sorted(rng.sample(range(1, ny + 1), n))
    gy = [0] * n
    for rank, i in enumerate(sorted(range(n), key=lambda i: score[i])):
        gy[i] = levels[rank]
    xv = [xlo + k * xs for k in gx]
    yv = [ylo + k * ys for k in gy]
    r = pearson(xv, yv)
    if r * sign < 0.6:
        return None
    labels = [str(x) for x in rng.sample(names, n)]
    order = list(range(n))
    rng.shuffle(order)
    points = [{"label": labels[i], "x": xv[order[i]], "y": yv[order[i]]} for i in range(n)]
    if bubble:
        smax = rng.choice((50, 100, 200, 500))
        ss = sorted(rng.sample(range(max(2, smax // 10), smax + 1), n))
        if ss[-1] < ss[-2] * 1.25:  # the largest and smallest bubbles stand out
            ss[-1] = -(-ss[-2] * 5 // 4) + rng.randint(0, 3)
        if ss[1] < ss[0] * 1.25:
            ss[0] = ss[1] * 4 // 5 - rng.randint(0, 2)
        if ss[0] < 1 or len(set(ss)) < n:
            return None
        sizes = ss[:]
        rng.shuffle(sizes)
        for p, s in zip(points, sizes, strict=True):
            p["size"] = s
    others = [t for t in topics if t[0] != title]
    col = style.pick_colors(rng, 1, exclude=("yellow",))[0][0]
    f = {
        "chart": "bubble" if bubble else "scatter",
        "orientation": "",
        "title": str(title),
        "alt_titles": [str(t[0]) for t in others][:6],
        "dimension": "",
        "x_axis_title": str(xt),
        "y_axis_title": str(yt),
        "alt_x_axis_titles": [str(t[1]) for t in others] + [str(t[2]) for t in others],
        "alt_y_axis_titles": [str(t[2]) for t in others] + [str(t[1]) for t in others],
        "labels": labels,
        "ordered": False,
        "series": [],
        "points": points,
        "point_color": col,
        "size_title": str(topic[7]) if bubble else "",
        "x_min": xlo,
        "x_max": xhi,
        "x_step": xs,
        "axis_min": ylo,
        "axis_max": yhi,
        "tick_step": ys,
        "label_colors": [],
        "unit": "",
        "value_labels": False,
        "gridlines": True,
        "legend": False,
        "pie_style": "",
    }
    if len(f["alt_x_axis_titles"]) < 3:
        return None
    return f, 1


def draw_scatter(rng: random.Random, f: dict[str, Any], attempt: int, lang: str = "en") -> Image.Image:
    """Points (or bubbles sized by area) on gridline crossings, each named beside it."""
    bubble = f["chart"] == "bubble"
    ticks = list(range(f["x_min"], f["x_max"] + 1, f["x_step"]))
    fr = open_frame(rng, f, attempt, lang, x_ticks=ticks, xgrid=True, headroom=16)
    rgb = COLOR_BY_NAME[f["point_color"]][2]
    pts = f["points"]
    font = style.font(fr.body, rng.randint(10, 12))
    shape, r = rng.choice(MARKERS), rng.randint(3, 5)
    radii = [r] * len(pts)
    if bubble:
        smax = max(p["size"] for p in pts)
        rmax = min(34, (fr.x1 - fr.x0) / 14)
        radii = [max(4, rmax * math.sqrt(p["size"] / smax)) for p in pts]
        light = tuple(int(255 - (255 - c) * 0.55) for c in rgb)
        for i in sorted(range(len(pts)), key=lambda i: -radii[i]):
            x, y, rr = fr.vx(pts[i]["x"]), fr.vy(pts[i]["y"]), radii[i]
            fr.draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=light, outline=darker(rgb, 30))
            fr.draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=darker(rgb, 40))
    else:
        for p in pts:
            marker(fr.draw, fr.vx(p["x"]), fr.vy(p["y"]), r, shape, rgb, darker(rgb, 40))
    for p, rr in zip(pts, radii, strict=True):  # no name may cover a point's centre
        x, y = fr.vx(p["x"]), fr.vy(p["y"])
        q = min(rr, 5)
        fr.texts.boxes.append((x - q, y - q, x + q, y + q))
    for p, rr in zip(pts, radii, strict=True):
        x, y = fr.vx(p["x"]), fr.vy(p["y"])
        text = f"{p['label']} ({fmt_num(p['size'])})" if bubble else p["label"]
        d = (rr if bubble else r) + 3
        places = [((x + d, y), "lm"), ((x - d, y), "rm"), ((x, y - d), "md"), ((x, y + d), "ma")]
        if bubble:
            places = [((x, y - d), "md"), ((x, y + d), "ma")] + places[:2]
        fr.texts.put_first(places, text, font, fr.fg, box=fr.bg)
    return fr.finish()


class ScatterFacts(ChartFacts):
    """A scatter plot's facts: each point's x and y, extremes, regions and the correlation."""

    KINDS = SCATTER_KINDS

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.points: list[dict[str, Any]] = self.f["points"]

    def show(self, atype: str, v: Any) -> str:
        if atype == "sign":
            return self.v.say(f"word_{v}")
        return super().show(atype, v)

    def k_point_x(self) -> Fact | None:
        return self._coord("x")

    def k_point_y(self) -> Fact | None:
        return self._coord("y")

    def _coord(self, ax: str) -> Fact:
        p = self.rng.choice(self.points)
        step = self.f["x_step"] if ax == "x" else self.f["tick_step"]
        v, label = p[ax], p["label"]
        title = self.f[f"{ax}_axis_title"]
        return self.fact(
            f"point_{ax}",
            "value_lookup",
            {"label": label},
            "num",
            v,
            self.near(v, step=step),
            (f"point_{ax}_q", {"label": label, "axis": title}),
            lambda x: (f"point_{ax}_claim", {"label": label, "axis": title, "value": fmt_num(x)}),
        )

    def k_extreme_xy(self) -> Fact | None:
        ax, rel = self.rng.choice(("x", "y")), self.rng.choice(("max", "min"))
        best = max if rel == "max" else min
        p = best(self.points, key=lambda q: q[ax])
        order = sorted((q for q in self.points if q is not p), key=lambda q: (abs(q[ax] - p[ax]), q["label"]))
        return self.fact(
            "point_extreme",
            "extremum",
            {"axis": ax, "rel": rel},
            "label",
            p["label"],
            [q["label"] for q in order],
            (f"point_{rel}_{ax}_q", {"axis": self.f[f"{ax}_axis_title"]}),
            lambda x: (f"point_{rel}_{ax}_claim", {"label": x, "axis": self.f[f"{ax}_axis_title"]}),
        )

    def k_count_region(self) -> Fact | None:
        ax = self.rng.choice(("x", "y"))
        lo, hi, step = (
            (self.f["x_min"], self.f["x_max"], self.f["x_step"])
            if ax == "x"
            else (self.f["axis_min"], self.f["axis_max"], self.f["tick_step"])
        )
        vs = [p[ax] for p in self.points]
        cands = [t for t in range(lo + step, hi, step) if t not in vs and min(vs) < t < max(vs)]
        if not cands:
            return None
        thr, rel = self.rng.choice(cands), self.rng.choice(("above", "below"))
        n = sum(1 for v in vs if (v > thr if rel == "above" else v < thr))
        wrong = sorted((x for x in range(len(vs) + 1) if x != n), key=lambda x: (abs(x - n), x))
        title = self.f[f"{ax}_axis_title"]
        return self.fact(
            "count_region",
            "counting",
            {"axis": ax, "threshold": thr, "rel": rel},
            "count",
            n,
            wrong,
            (f"region_{rel}_{ax}_q", {"threshold": fmt_num(thr), "axis": title}),
            lambda x: (f"region_{rel}_{ax}_claim", {"threshold": fmt_num(thr), "axis": title, "n": x}),
        )

    def k_correlation(self) -> Fact | None:
        r = pearson([p["x"] for p in self.points], [p["y"] for p in self.points])
        ans = "positive" if r > 0 else "negative"
        other = "negative" if ans == "positive" else "positive"
        v = {"x": self.f["x_axis_title"], "y": self.f["y_axis_title"]}
        return self.fact(
            "correlation",
            "trend",
            {},
            "sign",
            ans,
            [other],
            ("correlation_q", v),
            lambda x: (f"correlation_claim_{x}", v),
            mc=False,
        )

    def k_count_points(self) -> Fact | None:
        n = len(self.points)
        wrong = [x for x in (n + 1, n - 1, n + 2, n - 2, n + 3) if x > 0]
        key = "count_q" if self.chart == "scatter" else "count_q"
        return self.fact(
            "count", "counting", {}, "count", n, wrong, (key, {}), lambda x: ("count_claim", {"n": x})
        )

    def k_bubble_extreme(self) -> Fact | None:
        rel = self.rng.choice(("max", "min"))
        best = max if rel == "max" else min
        p = best(self.points, key=lambda q: q["size"])
        order = sorted(
            (q for q in self.points if q is not p), key=lambda q: (abs(q["size"] - p["size"]), q["label"])
        )
        return self.fact(
            "bubble_extreme",
            "extremum",
            {"rel": rel},
            "label",
            p["label"],
            [q["label"] for q in order],
            (f"bubble_{rel}_q", {}),
            lambda x: (f"bubble_{rel}_claim", {"label": x}),
        )

    def k_bubble_size(self) -> Fact | None:
        p = self.rng.choice(self.points)
        v, label = p["size"], p["label"]
        return self.fact(
            "bubble_size",
            "value_lookup",
            {"label": label},
            "num",
            v,
            self.near(v),
            ("bubble_size_q", {"label": label, "measure": self.f["size_title"]}),
            lambda x: (
                "bubble_size_claim",
                {"label": label, "measure": self.f["size_title"], "value": fmt_num(x)},
            ),
        )


class BubbleFacts(ScatterFacts):
    """A bubble chart's facts: a scatter plot's, and the bubbles' sizes."""

    KINDS = BUBBLE_KINDS


def long_gap(c: ScatterFacts) -> Fact | None:
    """Read two points' coordinates, then say how far apart they are on one axis."""
    a, b = c.rng.sample(c.points, 2)
    ax = c.rng.choice(("x", "y"))
    if a[ax] == b[ax]:
        return None
    if a[ax] < b[ax]:
        a, b = b, a
    say = c.v.say
    turns = [
        (
            say("coords_q", a=a["label"], b=b["label"]),
            say(
                "coords_a",
                a=a["label"],
                b=b["label"],
                ax=fmt_num(a["x"]),
                ay=fmt_num(a["y"]),
                bx=fmt_num(b["x"]),
                by=fmt_num(b["y"]),
            ),
        ),
        (
            say(f"gap_{ax}_q", a=a["label"], b=b["label"], axis=c.f[f"{ax}_axis_title"]),
            say("gap_a", big=fmt_num(a[ax]), small=fmt_num(b[ax]), result=fmt_num(a[ax] - b[ax])),
        ),
    ]
    return _fact("gap", "arithmetic", {"a": a["label"], "b": b["label"], "axis": ax}, a[ax] - b[ax], turns)


def long_sizes(c: ScatterFacts) -> Fact | None:
    """Read two or three bubbles' sizes, then add them."""
    ps = c.rng.sample(c.points, c.rng.choice((2, 3)))
    say = c.v.say
    names = [p["label"] for p in ps]
    reads = c.v.listing([say("reading", label=p["label"], value=fmt_num(p["size"])) for p in ps])
    total = sum(p["size"] for p in ps)
    turns = [
        (say("sizes_q", items=c.v.listing(names), measure=c.f["size_title"]), say("read_a", readings=reads)),
        (
            say("sizes_sum_q", items=c.v.listing(names)),
            say("sum_explain", expr=" + ".join(fmt_num(p["size"]) for p in ps), result=fmt_num(total)),
        ),
    ]
    return _fact("sizes", "arithmetic", {"labels": names}, total, turns)


def scatter_long(c: ChartFacts) -> Kinds:
    builders = {"gap": lambda: long_gap(c)}  # type: ignore[arg-type]
    if c.chart == "bubble":
        builders["sizes"] = lambda: long_sizes(c)  # type: ignore[arg-type]
    return Kinds(c.rng, builders)
