"""Every chart type: a 500-chart run draws at least 16 of them, and every answer of every type is
recomputed here from the facts alone and matches the item's."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from tests.test_synth_charts import ATYPE, PHRASES, localize, recompute
from visinstruct.synth import get_domain
from visinstruct.synth.base import fmt_num

RUN = 500

# the new kinds and how their answers are written
NEW_ATYPE = {
    "stack_total": "num", "stack_total_extreme": "label", "mark_series": "series",
    "largest_drop": "span", "step_change": "signed", "step_sign": "word", "step_extreme": "label",
    "count_decreases": "count", "running_total": "num", "count_steps": "count", "cell_extreme": "series",
    "point_x": "num", "point_y": "num", "point_extreme": "label", "count_region": "count",
    "correlation": "sign", "bubble_extreme": "label", "bubble_size": "num", "bin_count": "num",
    "modal_bin": "span", "total_count": "num", "count_from": "num", "count_bins": "count",
    "box_stat": "num", "median_extreme": "label", "range_extreme": "label", "iqr": "num",
}  # fmt: skip


def chart_type(f) -> str:
    """The type a chart is, as a reader names it."""
    c = f["chart"]
    if c == "bar":
        if f.get("stacked"):
            return "stacked bar"
        return "grouped bar" if len(f["series"]) > 1 else f"{f['orientation']} bar"
    if c == "line":
        return "multi-line" if len(f["series"]) > 1 else "line"
    if c == "area":
        return "stacked area" if f.get("stacked") else "area"
    if c == "pie":
        return "donut" if f.get("donut") else "pie"
    return {"combo": "bar+line", "box": "box plot"}.get(c, c)


@pytest.fixture(scope="module")
def run():
    dom = get_domain("charts")
    return [
        (seed, lang, dom.make(random.Random(seed), lang)) for seed in range(RUN // 2) for lang in ("en", "zh")
    ]


@pytest.fixture(scope="module")
def by_type(run):
    out: dict[str, list] = {}
    for seed, lang, it in run:
        out.setdefault(chart_type(it.facts), []).append((seed, lang, it))
    return out


def test_a_run_of_500_charts_has_at_least_16_types(by_type):
    hist = {t: len(v) for t, v in sorted(by_type.items(), key=lambda x: -len(x[1]))}
    assert len(hist) >= 16, hist
    assert sum(hist.values()) == RUN


# ---- the answers, recomputed from the facts


def point(f, label):
    return next(p for p in f["points"] if p["label"] == label)


def pearson(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def group(f, label):
    return next(g for g in f["groups"] if g["label"] == label)


def recompute_any(f, kind, a):
    """The answer of a question of `kind` with arguments `a`, from the facts alone."""
    labels = f["labels"]
    series = [s["values"] for s in f["series"]]
    col = {lab: [s[i] for s in series] for i, lab in enumerate(labels)}
    if kind == "stack_total":
        return sum(col[a["label"]])
    if kind == "stack_total_extreme":
        t = [sum(col[lab]) for lab in labels]
        ext = max(t) if a["rel"] == "max" else min(t)
        assert t.count(ext) == 1
        return labels[t.index(ext)]
    if kind == "mark_series":
        return f["series"][f["marks"].index(a["mark"])]["name"]
    if kind == "largest_drop":
        vs = series[0]
        d = [x - y for x, y in zip(vs, vs[1:], strict=False)]
        assert d.count(max(d)) == 1
        return [labels[d.index(max(d))], labels[d.index(max(d)) + 1]]
    if kind in ("step_change", "step_sign", "running_total"):
        i = labels.index(a["label"])
        assert 0 < i < len(labels) - 1
        v = series[0][i]
        if kind == "step_change":
            return v
        if kind == "step_sign":
            return "increase" if v > 0 else "decrease"
        return sum(series[0][: i + 1])
    if kind == "step_extreme":
        steps = series[0][1:-1]
        pick = [d for d in steps if (d > 0) == (a["rel"] == "increase")]
        best = max(pick, key=abs)
        assert [abs(d) for d in steps].count(abs(best)) == 1
        return labels[1 + steps.index(best)]
    if kind == "count_decreases":
        return sum(1 for d in series[0][1:-1] if d < 0)
    if kind == "count_steps":
        return len(labels) - 2
    if kind == "cell_extreme":
        cells = [(v, k) for k, s in enumerate(series) for v in s]
        ext = max(cells) if a["rel"] == "max" else min(cells)
        assert [v for v, _ in cells].count(ext[0]) == 1
        return f["series"][ext[1]]["name"]
    if kind in ("point_x", "point_y"):
        return point(f, a["label"])[kind[-1]]
    if kind == "point_extreme":
        vs = [p[a["axis"]] for p in f["points"]]
        ext = max(vs) if a["rel"] == "max" else min(vs)
        assert vs.count(ext) == 1
        return f["points"][vs.index(ext)]["label"]
    if kind == "count_region":
        vs = [p[a["axis"]] for p in f["points"]]
        assert a["threshold"] not in vs
        return sum(1 for v in vs if (v > a["threshold"] if a["rel"] == "above" else v < a["threshold"]))
    if kind == "correlation":
        r = pearson([p["x"] for p in f["points"]], [p["y"] for p in f["points"]])
        assert abs(r) >= 0.5, r
        return "positive" if r > 0 else "negative"
    if kind == "bubble_extreme":
        vs = [p["size"] for p in f["points"]]
        ext = max(vs) if a["rel"] == "max" else min(vs)
        assert vs.count(ext) == 1
        return f["points"][vs.index(ext)]["label"]
    if kind == "bubble_size":
        return point(f, a["label"])["size"]
    if kind == "bin_count":
        return f["counts"][a["bin"]]
    if kind == "modal_bin":
        c = f["counts"]
        assert c.count(max(c)) == 1
        i = c.index(max(c))
        return [fmt_num(f["bins"][i]), fmt_num(f["bins"][i + 1])]
    if kind == "total_count":
        return sum(f["counts"])
    if kind == "count_from":
        return sum(f["counts"][a["bin"] :])
    if kind == "count_bins":
        return len(f["bins"]) - 1
    if kind == "box_stat":
        return group(f, a["label"])[a["stat"]]
    if kind in ("median_extreme", "range_extreme"):
        vs = [g["median"] if kind == "median_extreme" else g["max"] - g["min"] for g in f["groups"]]
        ext = max(vs) if a["rel"] == "max" else min(vs)
        assert vs.count(ext) == 1
        return f["groups"][vs.index(ext)]["label"]
    if kind == "iqr":
        g = group(f, a["label"])
        return g["q3"] - g["q1"]
    # long answers of the newer types
    if kind == "long_total":
        return sum(col[a["label"]])
    if kind == "long_drop":
        return col[a["a"]][0] - col[a["b"]][0]
    if kind == "long_running":
        return sum(series[0][:-1])
    if kind == "long_gap":
        return point(f, a["a"])[a["axis"]] - point(f, a["b"])[a["axis"]]
    if kind == "long_sizes":
        return sum(point(f, lab)["size"] for lab in a["labels"])
    if kind == "long_hist":
        return sum(f["counts"][a["bin"] :])
    if kind == "long_box":
        if a["op"] == "iqr":
            g = group(f, a["label"])
            return g["q3"] - g["q1"]
        meds = [g["median"] for g in f["groups"]]
        return f["groups"][meds.index(max(meds))]["label"]
    return recompute(f, kind, a)


def written(f, atype, v, lang):
    """A value as the item writes it."""
    if atype == "signed":
        return f"+{v}" if v > 0 else fmt_num(v)
    if atype == "sign":
        return PHRASES[f"word_{v}"][lang][0]
    return localize(f, atype, v, lang)


def test_every_answer_of_every_type_is_recomputed_from_the_facts(by_type):
    for name, items in by_type.items():
        kinds = Counter()
        for seed, lang, it in items:
            f = it.facts
            for q, spec in zip(it.questions, f["questions"], strict=True):
                kind, args = spec["kind"], spec["args"]
                kinds[kind] += 1
                truth = recompute_any(f, kind, args)
                where = (name, seed, lang, kind)
                if q.type == "long_vqa":
                    assert truth == spec["answer"], where
                    final = fmt_num(abs(truth)) if isinstance(truth, int) else str(truth)
                    assert final in q.turns[-1][1], (where, q.turns[-1])
                    continue
                if kind == "compare_ref":
                    assert spec["answer"] in truth and q.correct == spec["answer"], where
                    assert not any(d in truth for d in q.distractors), where
                    continue
                assert truth == spec["answer"], (where, truth, spec["answer"])
                atype = NEW_ATYPE.get(kind) or ATYPE[kind]
                shown = written(f, atype, truth, lang)
                if q.type == "short_vqa":
                    assert q.short_answer == shown, where
                elif q.type == "multiple_choice":
                    assert q.correct == shown and shown not in q.distractors, where
                    assert len(set(q.distractors)) == 3, where
                    if atype == "label":
                        assert set(q.distractors) <= set(f["labels"]), where
                else:
                    assert q.truth == (spec["shown"] == truth), (where, spec)
                    if atype not in ("word", "sign"):
                        assert written(f, atype, spec["shown"], lang) in q.turns[0][0], (where, q.turns)
        assert len(kinds) >= 4, (name, kinds)  # each type is asked about in several ways


def test_restricted_kinds_stay_away_from_types_they_do_not_fit(by_type):
    never = {
        "funnel": {"trend", "pattern", "axis_title", "count_threshold"},
        "radar": {"trend", "pattern", "axis_title"},
        "heatmap": {"series_color", "color_series"},
        "stacked bar": {"count_threshold"},
    }
    for name, banned in never.items():
        for _, _, it in by_type.get(name, []):
            assert not banned & {q["kind"] for q in it.facts["questions"]}, name


# ---- what every type's facts promise about the picture


def test_values_are_readable_as_the_type_promises(by_type):
    for name, items in by_type.items():
        for seed, _, it in items:
            f = it.facts
            if f["chart"] in ("scatter", "bubble"):  # on gridline crossings of labelled ticks
                for p in f["points"]:
                    assert (p["x"] - f["x_min"]) % f["x_step"] == 0 and f["x_min"] <= p["x"] <= f["x_max"]
                    assert (p["y"] - f["axis_min"]) % f["tick_step"] == 0, (name, seed)
                    assert f["axis_min"] <= p["y"] <= f["axis_max"]
                assert f["gridlines"]
            elif f["chart"] == "box":
                for g in f["groups"]:
                    five = [g[k] for k in ("min", "q1", "median", "q3", "max")]
                    assert five == sorted(set(five)) and all(v % f["tick_step"] == 0 for v in five)
                    assert f["axis_min"] <= five[0] and five[-1] <= f["axis_max"]
            elif f["chart"] == "histogram":
                assert len(f["bins"]) == len(f["counts"]) + 1
                assert len({b - a for a, b in zip(f["bins"], f["bins"][1:], strict=False)}) == 1
                if not f["value_labels"]:
                    assert f["gridlines"] and all(c % f["tick_step"] == 0 for c in f["counts"])
            elif f["chart"] == "radar" and not f["value_labels"]:
                assert all(v % f["tick_step"] == 0 for s in f["series"] for v in s["values"])
            elif f["chart"] in ("area", "combo", "heatmap", "funnel", "waterfall") or f.get("stacked"):
                assert f["value_labels"], name  # stacked and newer types print every value
            if len(f["series"]) > 1 and f["chart"] != "heatmap":
                assert len({s["color"] for s in f["series"]}) == len(f["series"])
                assert len({s["name"] for s in f["series"]}) == len(f["series"])


def test_each_type_draws_a_picture_with_its_text_inside_the_canvas(by_type):
    for name, items in by_type.items():
        for seed, _, it in items[:12]:
            img = it.images[0]
            w, h = img.size
            assert 320 <= w <= 800 and 320 <= h <= 800 and img.mode == "RGB"
            colors = img.getcolors(maxcolors=1 << 16)
            assert colors is None or len(colors) > 8, (name, seed)  # not blank
            bg = max(colors)[0] if colors else 0
            assert bg < 0.99 * w * h, (name, seed)  # something is drawn over the background
            boxes = img.info.get("text_boxes")
            if boxes is not None:
                assert len(boxes) >= len(it.facts["labels"]), (name, seed)
                for b in boxes:
                    assert 0 <= b[0] <= b[2] <= w and 0 <= b[1] <= b[3] <= h, (name, seed, b)


def test_chinese_items_speak_chinese_and_english_ones_do_not(by_type):
    for name, items in by_type.items():
        for _, lang, it in items:
            for q in it.questions:
                text = q.turns[0][0]
                assert "{" not in text, (name, text)
                has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
                assert has_cjk == (lang == "zh"), (name, lang, text)
