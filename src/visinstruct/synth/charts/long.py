"""Charts' long answers: read the values off the chart first, then reason with them.

Each builder returns a `Fact` whose explanation is the turns (read, then compute) and whose
value is the final answer, or None when the chart does not suit it.
"""

from __future__ import annotations

from typing import Any

from visinstruct.synth.ask import Fact, Kinds, Turn
from visinstruct.synth.charts.questions import ChartFacts


def long_kinds(c: ChartFacts) -> Kinds:
    """The long answers a chart can have: arithmetic and extremes always, trends on ordered axes,
    legend look-ups with two series or coloured labels."""
    builders = {"arith": long_arith, "extreme": long_extreme}
    weights = {"arith": 2, "extreme": 1}
    if c.f["ordered"]:
        builders["trend"], weights["trend"] = long_trend, 2
    if len(c.series) > 1 or c.f["label_colors"]:
        builders["legend"] = long_legend
    return Kinds(c.rng, {k: (lambda fn=fn: fn(c)) for k, fn in builders.items()}, weights)


def _fact(kind: str, category: str, args: dict[str, Any], answer: Any, turns: list[Turn]) -> Fact:
    return Fact(f"long_{kind}", category, answer, explain=lambda: turns, args=args)


def readings(c: ChartFacts, s: int, idx: list[int]) -> str:
    """'A is 12, B is 30 and C is 7' for the labels `idx` of series `s`."""
    vs = c.vals(s)
    return c.v.listing([c.v.say("reading", label=c.labels[i], value=c.show("num", vs[i])) for i in idx])


def long_arith(c: ChartFacts) -> Fact | None:
    """Read some values, then add them, subtract two or average them."""
    s = c.pick_s()
    vs = c.vals(s)
    sc = c.scope(s)
    op = c.rng.choice(("sum", "diff", "avg"))
    if op == "avg":
        idx = c.avg_pick(s)
        if idx is None:
            return None
    elif op == "diff":
        idx = c.pick_labels(2)
        if vs[idx[0]] == vs[idx[1]]:
            return None
        idx.sort(key=lambda i: -vs[i])
    else:
        idx = c.pick_labels(min(len(vs), c.rng.choice((2, 3, 3, 4))))
    names = [c.labels[i] for i in idx]
    nums = [c.show("num", vs[i]) for i in idx]
    say = c.v.say
    turns = [(say("read_q", items=c.v.listing(names), scope=sc), say("read_a", readings=readings(c, s, idx)))]
    if op == "sum":
        res = sum(vs[i] for i in idx)
        turns.append(
            (
                say("sum_q", items=c.v.listing(names), scope=sc),
                say("sum_explain", expr=" + ".join(nums), result=c.show("num", res)),
            )
        )
    elif op == "diff":
        res = vs[idx[0]] - vs[idx[1]]
        turns.append(
            (
                say("diff_q", a=names[0], b=names[1], scope=sc),
                say(
                    "diff_explain",
                    a=names[0],
                    b=names[1],
                    big=nums[0],
                    small=nums[1],
                    result=c.show("num", res),
                ),
            )
        )
    else:
        total = sum(vs[i] for i in idx)
        res = total // len(idx)
        turns.append(
            (
                say("avg_q", items=c.v.listing(names), scope=sc),
                say(
                    "avg_explain",
                    expr=" + ".join(nums),
                    total=c.show("num", total),
                    k=len(idx),
                    result=c.show("num", res),
                ),
            )
        )
    return _fact("arith", "arithmetic", {"series": s, "op": op, "labels": names}, res, turns)


def long_extreme(c: ChartFacts) -> Fact | None:
    """Read every value, find the largest or smallest, and often the range."""
    s = c.pick_s()
    vs = c.vals(s)
    sc = c.scope(s)
    say = c.v.say
    rel = c.rng.choice(("max", "min"))
    i = vs.index(max(vs) if rel == "max" else min(vs))
    turns = [
        (say("list_q", scope=sc), say("list_a", readings=readings(c, s, list(range(len(vs)))))),
        (
            say(f"{rel}_q", scope=sc, dim=c.dim()),
            say(f"{rel}_explain", label=c.labels[i], value=c.show("num", vs[i])),
        ),
    ]
    answer: Any = c.labels[i]
    if c.rng.random() < 0.6:
        hi, lo = vs.index(max(vs)), vs.index(min(vs))
        answer = vs[hi] - vs[lo]
        turns.append(
            (
                say("range_q", scope=sc),
                say(
                    "range_a",
                    high_label=c.labels[hi],
                    high=c.show("num", vs[hi]),
                    low_label=c.labels[lo],
                    low=c.show("num", vs[lo]),
                    result=c.show("num", answer),
                ),
            )
        )
    return _fact("extreme", "extremum", {"series": s, "rel": rel, "range": len(turns) == 3}, answer, turns)


def long_trend(c: ChartFacts) -> Fact | None:
    """Read two values along an ordered axis, then say how much it rose or fell."""
    s = c.pick_s()
    vs = c.vals(s)
    i, j = sorted(c.rng.sample(range(len(vs)), 2))
    if vs[i] == vs[j]:
        return None
    sc = c.scope(s)
    say = c.v.say
    a, b = c.labels[i], c.labels[j]
    direction = "increase" if vs[j] > vs[i] else "decrease"
    d = abs(vs[j] - vs[i])
    turns = [
        (say("value_q", label=a, scope=sc), say("value_a", label=a, value=c.show("num", vs[i]))),
        (say("value_q", label=b, scope=sc), say("value_a", label=b, value=c.show("num", vs[j]))),
        (
            say("trend_change_q", a=a, b=b, scope=sc),
            say(
                f"trend_change_a_{direction}",
                a=a,
                b=b,
                va=c.show("num", vs[i]),
                vb=c.show("num", vs[j]),
                result=c.show("num", d),
            ),
        ),
    ]
    return _fact("trend", "trend", {"series": s, "a": a, "b": b}, d if direction == "increase" else -d, turns)


def long_legend(c: ChartFacts) -> Fact | None:
    """Find a series or a label by its colour, read its value, and compare two series."""
    say = c.v.say
    i = c.rng.randrange(len(c.labels))
    label = c.labels[i]
    if len(c.series) > 1:
        s = c.pick_s()
        name, col = c.series[s]["name"], c.show("color", c.series[s]["color"])
        v = c.vals(s)[i]
        turns = [
            (say("series_color_q", series=name), say("legend_color_a", series=name, color=col)),
            (
                say("value_q", label=label, scope=c.scope(s)),
                say("value_by_color_a", color=col, label=label, value=c.show("num", v)),
            ),
        ]
        answer: Any = v
        o = c.other_s(s) if len(c.series) > 2 else 1 - s
        vo = c.vals(o)[i]
        if vo != v and c.rng.random() < 0.7:
            answer = c.series[s if v > vo else o]["name"]
            turns.append(
                (
                    say("series_gap_q", label=label, other=c.series[o]["name"]),
                    say(
                        "series_gap_a",
                        label=label,
                        s1=name,
                        v1=c.show("num", v),
                        s2=c.series[o]["name"],
                        v2=c.show("num", vo),
                        winner=answer,
                        result=c.show("num", abs(v - vo)),
                    ),
                )
            )
        args = {"series": s, "label": label, "gap": len(turns) == 3}
        if len(c.series) > 2:
            args["other"] = o
        return _fact("legend", "legend", args, answer, turns)
    col = c.show("color", c.f["label_colors"][i])
    v = c.vals(0)[i]
    turns = [
        (say("color_label_q", color=col), say("color_label_a", color=col, label=label)),
        (say("value_q", label=label, scope=""), say("value_a", label=label, value=c.show("num", v))),
    ]
    return _fact("legend", "legend", {"series": 0, "label": label, "gap": False}, v, turns)
