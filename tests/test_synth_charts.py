"""The charts domain: question contract, answers recomputed from facts, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from importlib import resources

import pytest
import yaml

from visinstruct.synth import get_domain, style
from visinstruct.synth.base import fmt_num

SEEDS = range(300)
PLAIN = ("bar", "line", "pie")  # the plain chart types; tests/test_synth_chart_types.py covers the rest
LANGS = ("en", "zh")
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")

PHRASES = yaml.safe_load(
    resources.files("visinstruct.synth").joinpath("phrasings").joinpath("charts.yaml").read_text("utf-8")
)
ZH_COLOR = {c[0]: c[1] for c in style.COLORS}

ATYPE = {
    "value": "num", "extreme_value": "num", "sum": "num", "diff": "num", "avg": "num",
    "count": "count", "count_threshold": "count",
    "extreme_label": "label", "compare": "label", "compare_ref": "label", "color_label": "label",
    "series_compare": "series", "color_series": "series",
    "series_color": "color", "label_color": "color",
    "trend": "word", "pattern": "word", "largest_change": "span",
    "title": "text", "axis_title": "text",
}  # fmt: skip


@pytest.fixture(scope="module")
def dom():
    return get_domain("charts")


def plain(facts) -> bool:
    return facts["chart"] in PLAIN and not facts.get("stacked")


@pytest.fixture(scope="module")
def items(dom):
    made = [(seed, lang, dom.make(random.Random(seed), lang)) for seed in SEEDS for lang in LANGS]
    return [x for x in made if plain(x[2].facts)]


# ---- independent recomputation from facts


def values(facts, s):
    return facts["series"][s]["values"]


def value_at(facts, s, label):
    return values(facts, s)[facts["labels"].index(label)]


def recompute(facts, kind, a):
    labels = facts["labels"]
    if kind == "value":
        return value_at(facts, a["series"], a["label"])
    if kind in ("extreme_label", "extreme_value"):
        vs = values(facts, a["series"])
        ext = max(vs) if a["rel"] == "max" else min(vs)
        assert vs.count(ext) == 1, "extremum must not be tied"
        return labels[vs.index(ext)] if kind == "extreme_label" else ext
    if kind == "compare":
        va, vb = value_at(facts, a["series"], a["a"]), value_at(facts, a["series"], a["b"])
        assert va != vb
        return a["a"] if (va > vb) == (a["rel"] == "larger") else a["b"]
    if kind == "compare_ref":
        vs, ref = values(facts, a["series"]), value_at(facts, a["series"], a["ref"])
        return [
            lab for lab, v in zip(labels, vs, strict=True) if (v > ref if a["rel"] == "larger" else v < ref)
        ]
    if kind == "series_compare":
        p, q = a.get("pair", [0, 1])
        v0, v1 = value_at(facts, p, a["label"]), value_at(facts, q, a["label"])
        assert v0 != v1
        hi, lo = (p, q) if v0 > v1 else (q, p)
        return facts["series"][hi if a["rel"] == "higher" else lo]["name"]
    if kind == "trend":
        va, vb = value_at(facts, a["series"], a["a"]), value_at(facts, a["series"], a["b"])
        assert va != vb and labels.index(a["a"]) < labels.index(a["b"])
        return "increase" if vb > va else "decrease"
    if kind == "pattern":
        vs = values(facts, a["series"])
        d = [y - x for x, y in zip(vs, vs[1:], strict=False)]
        if all(x > 0 for x in d):
            return "rising"
        if all(x < 0 for x in d):
            return "falling"
        if all(x == 0 for x in d):
            return "unchanged"
        return "fluctuating"
    if kind == "largest_change":
        vs = values(facts, a["series"])
        d = [y - x for x, y in zip(vs, vs[1:], strict=False)]
        if a["rel"] == "decrease":
            d = [-x for x in d]
        assert max(d) > 0 and d.count(max(d)) == 1
        k = d.index(max(d))
        return [labels[k], labels[k + 1]]
    if kind == "sum":
        return sum(value_at(facts, a["series"], lab) for lab in a["labels"])
    if kind == "diff":
        return value_at(facts, a["series"], a["a"]) - value_at(facts, a["series"], a["b"])
    if kind == "avg":
        total = sum(value_at(facts, a["series"], lab) for lab in a["labels"])
        assert total % len(a["labels"]) == 0, "averages must be whole numbers"
        return total // len(a["labels"])
    if kind == "count":
        return len(labels)
    if kind == "count_threshold":
        vs = values(facts, a["series"])
        assert a["threshold"] not in vs
        return sum(1 for v in vs if (v > a["threshold"] if a["rel"] == "above" else v < a["threshold"]))
    if kind == "series_color":
        return next(s["color"] for s in facts["series"] if s["name"] == a["series"])
    if kind == "color_series":
        return next(s["name"] for s in facts["series"] if s["color"] == a["color"])
    if kind == "label_color":
        return facts["label_colors"][labels.index(a["label"])]
    if kind == "color_label":
        return labels[facts["label_colors"].index(a["color"])]
    if kind == "title":
        return facts["title"]
    if kind == "axis_title":
        return facts[f"{a['axis']}_axis_title"]
    if kind == "long_arith":
        vs = [value_at(facts, a["series"], lab) for lab in a["labels"]]
        if a["op"] == "sum":
            return sum(vs)
        if a["op"] == "diff":
            return vs[0] - vs[1]
        assert sum(vs) % len(vs) == 0
        return sum(vs) // len(vs)
    if kind == "long_extreme":
        vs = values(facts, a["series"])
        if a["range"]:
            return max(vs) - min(vs)
        return labels[vs.index(max(vs) if a["rel"] == "max" else min(vs))]
    if kind == "long_trend":
        return value_at(facts, a["series"], a["b"]) - value_at(facts, a["series"], a["a"])
    if kind == "long_legend":
        v = value_at(facts, a["series"], a["label"])
        if a["gap"]:
            o = a.get("other", 1 - a["series"])
            other = value_at(facts, o, a["label"])
            return facts["series"][a["series"] if v > other else o]["name"]
        return v
    raise AssertionError(f"unknown kind {kind}")


def localize(facts, atype, v, lang):
    if atype == "num":
        return fmt_num(v) + ("%" if facts["chart"] == "pie" else "")
    if atype == "color":
        return ZH_COLOR[v] if lang == "zh" else v
    if atype == "word":
        return PHRASES[f"word_{v}"][lang][0]
    if atype == "span":
        return PHRASES["span"][lang][0].replace("{a}", v[0]).replace("{b}", v[1])
    return str(v)


# ---- contract


def test_four_types_and_balanced_judgements(items):
    for seed, _lang, it in items:
        types = [q.type for q in it.questions]
        assert {"judgement", "multiple_choice", "short_vqa", "long_vqa"} <= set(types), (seed, types)
        judg = [q for q in it.questions if q.type == "judgement"]
        assert len(judg) % 2 == 0
        assert sum(q.truth for q in judg) == len(judg) // 2
        assert len(it.questions) == len(it.facts["questions"])
        for q in it.questions:
            assert q.category in {
                "value_lookup",
                "comparison",
                "extremum",
                "trend",
                "arithmetic",
                "legend",
                "counting",
                "text_reading",
            }


def test_question_shapes(items):
    for _, _, it in items:
        for q in it.questions:
            if q.type == "judgement":
                assert len(q.turns) == 1 and q.turns[0][1] == "" and isinstance(q.truth, bool)
            elif q.type == "multiple_choice":
                assert len(q.turns) == 1
                opts = [q.correct, *q.distractors]
                assert len(q.distractors) == 3 and len(set(opts)) == 4
                assert all(isinstance(o, str) and o for o in opts)
            elif q.type == "short_vqa":
                assert len(q.turns) == 1 and q.turns[0][1] == q.short_answer and q.short_answer
            else:
                assert 2 <= len(q.turns) <= 4
                assert all(a and len(a) > len(q.short_answer or "") for _, a in q.turns)


def test_answers_recomputed_from_facts(items):
    for seed, lang, it in items:
        f = it.facts
        for q, spec in zip(it.questions, f["questions"], strict=True):
            kind, args = spec["kind"], spec["args"]
            truth = recompute(f, kind, args)
            if f["chart"] == "pie" and "labels" in args:  # a sum over every slice is trivially 100%
                assert len(args["labels"]) < len(f["labels"])
            if kind == "diff":
                assert all(int(d.rstrip("%")) > 0 for d in q.distractors)
            if q.type == "long_vqa":
                assert truth == spec["answer"], (seed, kind)
                final = fmt_num(abs(truth)) if isinstance(truth, int) else str(truth)
                assert final in q.turns[-1][1], (seed, kind, q.turns[-1])
                continue
            atype = ATYPE[kind]
            if kind == "compare_ref":
                assert q.type == "multiple_choice"
                assert spec["answer"] in truth and q.correct == spec["answer"]
                assert not any(d in truth for d in q.distractors), (seed, q.distractors, truth)
                continue
            assert truth == spec["answer"], (seed, kind, truth, spec["answer"])
            shown = localize(f, atype, truth, lang)
            if q.type == "short_vqa":
                assert q.short_answer == shown, (seed, kind)
            elif q.type == "multiple_choice":
                assert q.correct == shown, (seed, kind)
                assert shown not in q.distractors
                if atype == "num":
                    assert all(re.fullmatch(r"\d+%?", d) for d in q.distractors)
                if atype == "label":
                    assert set(q.distractors) <= set(f["labels"])
            else:
                assert q.truth == (spec["shown"] == truth), (seed, kind, spec)
                if atype not in ("word",):
                    assert localize(f, atype, spec["shown"], lang) in q.turns[0][0], (seed, kind, q.turns)


def test_values_are_exactly_readable(items):
    for seed, _, it in items:
        f = it.facts
        for s in f["series"]:
            assert all(isinstance(v, int) and v > 0 for v in s["values"])
            assert len(s["values"]) == len(f["labels"])
            vs = s["values"]
            assert vs.count(max(vs)) == 1 and vs.count(min(vs)) == 1
            if f["ordered"]:
                assert all(a != b for a, b in zip(vs, vs[1:], strict=False))
        if f["chart"] == "pie":
            assert sum(f["series"][0]["values"]) == 100 and f["value_labels"]
            assert len(f["label_colors"]) == len(f["labels"]) == len(set(f["label_colors"]))
        else:
            assert all(v <= f["axis_max"] for s in f["series"] for v in s["values"])
            assert f["axis_max"] % f["tick_step"] == 0
            if not f["value_labels"]:  # no printed values: every value sits on a labelled gridline
                assert f["gridlines"]
                assert all(v % f["tick_step"] == 0 for s in f["series"] for v in s["values"]), seed
        if len(f["series"]) == 2:
            assert f["legend"] and f["series"][0]["color"] != f["series"][1]["color"]
            assert f["series"][0]["name"] != f["series"][1]["name"]
        assert len(set(f["labels"])) == len(f["labels"])


def test_facts_are_plain_json(items):
    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return isinstance(x, (str, int, float, bool))

    for _, _, it in items:
        assert plain(it.facts)
        json.dumps(it.facts)


def test_variety(items):
    charts = {(it.facts["chart"], it.facts["orientation"], len(it.facts["series"])) for _, _, it in items}
    assert {
        ("pie", "", 1),
        ("line", "", 1),
        ("line", "", 2),
        ("bar", "vertical", 1),
        ("bar", "vertical", 2),
        ("bar", "horizontal", 1),
        ("bar", "horizontal", 2),
    } <= charts
    kinds = {spec["kind"] for _, _, it in items for spec in it.facts["questions"]}
    assert set(ATYPE) | {"long_arith", "long_extreme", "long_trend", "long_legend"} <= kinds
    sizes = {it.images[0].size for _, _, it in items}
    assert len(sizes) > 20
    for _, _, it in items:
        w, h = it.images[0].size
        assert 320 <= w <= 800 and 320 <= h <= 800 and it.images[0].mode == "RGB"


def test_language(items):
    for _, lang, it in items:
        for q in it.questions:
            texts = [t for turn in q.turns for t in turn] + [q.correct or "", *q.distractors]
            for t in texts:
                assert not PLACEHOLDER.search(t), t
            if lang == "zh":
                assert all(CJK.search(qq) for qq, _ in q.turns)
                if q.type == "long_vqa":
                    assert all(CJK.search(a) for _, a in q.turns)
            else:
                assert not any(CJK.search(t) for t in texts)


def test_phrasings_have_both_languages():
    for key, variants in PHRASES.items():
        assert set(variants) == {"en", "zh"}, key
        assert variants["en"] and variants["zh"], key


def test_deterministic(dom):
    for seed in (0, 7, 42, 99):
        a, b = dom.make(random.Random(seed), "en"), dom.make(random.Random(seed), "en")
        assert a.images[0].tobytes() == b.images[0].tobytes()
        assert a.questions == b.questions and a.facts == b.facts


def test_different_seeds_differ(dom):
    imgs = {dom.make(random.Random(seed), "en").images[0].tobytes() for seed in range(30)}
    assert len(imgs) == 30


def _digest(seeds) -> str:
    h = hashlib.sha256()
    dom = get_domain("charts")
    for seed in seeds:
        it = dom.make(random.Random(seed), "zh")
        h.update(it.images[0].tobytes())
        h.update(json.dumps(it.facts, sort_keys=True, ensure_ascii=False).encode())
        h.update(repr(it.questions).encode())
    return h.hexdigest()


def test_same_output_in_another_process():
    seeds = list(range(12))
    code = f"from tests.test_synth_charts import _digest; print(_digest({seeds!r}))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _digest(seeds)
