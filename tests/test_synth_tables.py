"""The tables domain: every answer is recomputed here from the facts, independently of the domain code."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from fractions import Fraction

import pytest

from visinstruct.synth import get_domain
from visinstruct.synth.tables import Tables

SEEDS = range(120)
LANGS = ("en", "zh")
CATEGORIES = {"value_lookup", "comparison", "extremum", "arithmetic", "statistics", "counting"}
CJK = re.compile(r"[\u4e00-\u9fff]")
KINDS = {
    "lookup", "reverse", "compare", "count", "extremum_max", "extremum_min", "diff", "sum", "total", "mean",
    "median", "range", "row_total", "cost", "afford", "duration", "longest",
}  # fmt: skip
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def make(seed: int, lang: str):
    return Tables().make(random.Random(seed), lang)


@pytest.fixture(scope="module")
def items():
    return {(s, lang): make(s, lang) for s in SEEDS for lang in LANGS}


# ---------------------------------------------------------------- independent recomputation


def dollars(cents: int, symbol: str = "$") -> str:
    return symbol + f"{cents // 100:,}" + "." + str(cents % 100).zfill(2)


def hm(minutes: int, fmt: str) -> str:
    h, m = minutes // 60, minutes % 60
    if fmt == "24h":
        return str(h).zfill(2) + ":" + str(m).zfill(2)
    if fmt == "zh":  # 上午 before noon, 中午 12-1, 下午 to 6, 晚上 after
        part = "上午" if h < 12 else "中午" if h == 12 else "下午" if h < 18 else "晚上"
        return f"{part}{12 if h % 12 == 0 else h % 12}:{str(m).zfill(2)}"
    am, pm = ("A.M.", "P.M.") if fmt == "A.M." else ("am", "pm")
    h12 = 12 if h % 12 == 0 else h % 12
    return f"{h12}:{str(m).zfill(2)} " + (pm if h >= 12 else am)


def number(v: Fraction | int) -> str:
    v = Fraction(v)
    if v.denominator == 1:
        return str(v.numerator)
    assert (v * 100).denominator == 1, f"{v} has more than two decimals"
    return f"{float(v):.2f}".rstrip("0").rstrip(".")


def show(facts: dict, col: int, v: int) -> str:
    c = facts["columns"][col]
    if c["type"] == "money":
        return dollars(v, facts["currency"])
    if c["type"] == "time":
        return hm(v, facts["time_format"])
    return str(v)


def values(facts: dict, col: int) -> list[int]:
    return facts["columns"][col]["values"]


def unique_arg(vals: list[int], best: int) -> int:
    assert vals.count(best) == 1, "extreme value must be unique"
    return vals.index(best)


def median(vals: list[int]) -> Fraction:
    s = sorted(vals)
    n = len(s)
    return Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)


def recompute(facts: dict, rec: dict) -> str:
    """The answer of one question, from the table in `facts` and the question's parameters."""
    kind, p, rows = rec["kind"], rec["params"], facts["rows"]
    if kind == "lookup":
        return show(facts, p["col"], values(facts, p["col"])[p["row"]])
    if kind == "reverse":
        vals = values(facts, p["col"])
        v = vals[p["value_row"]]
        return rows[unique_arg(vals, v)]
    if kind in ("extremum_max", "extremum_min"):
        vals = values(facts, p["col"])
        return rows[unique_arg(vals, max(vals) if kind == "extremum_max" else min(vals))]
    if kind == "compare":
        vals = values(facts, p["col"])
        a, b = p["rows"]
        assert a != b and vals[a] != vals[b]
        bigger = p["mode"] in ("more", "later")
        return rows[a] if (vals[a] > vals[b]) == bigger else rows[b]
    if kind in ("diff", "sum", "duration"):
        (ra, ca), (rb, cb) = p["cells"]
        va, vb = values(facts, ca)[ra], values(facts, cb)[rb]
        if kind == "duration":
            assert vb > va
            return str(vb - va)
        assert va >= vb
        return show(facts, ca, va - vb if kind == "diff" else va + vb)
    if kind == "total":
        return show(facts, p["col"], sum(values(facts, p["col"])))
    if kind == "mean":
        vals = values(facts, p["col"])
        return number(Fraction(sum(vals), len(vals)))
    if kind == "median":
        return number(median(values(facts, p["col"])))
    if kind == "range":
        vals = values(facts, p["col"])
        return show(facts, p["col"], max(vals) - min(vals))
    if kind == "count":
        vals, th = values(facts, p["col"]), p["threshold"]
        above = p["mode"] in ("more", "after")
        return str(sum(1 for v in vals if (v > th if above else v < th)))
    if kind == "row_total":
        return str(sum(c["values"][p["row"]] for c in facts["columns"]))
    if kind in ("cost", "afford"):
        prices = values(facts, 0)
        (x, y), (a, b) = p["rows"], p["qty"]
        return dollars(a * prices[x] + b * prices[y], facts["currency"])
    if kind == "longest":
        d = [e - s for s, e in zip(values(facts, 0), values(facts, 1), strict=True)]
        return rows[unique_arg(d, max(d))]
    raise AssertionError(f"unknown kind {kind}")


def judgement_truth(facts: dict, rec: dict) -> bool:
    p = rec["params"]
    if rec["kind"] == "compare":
        vals = values(facts, p["col"])
        a, b = p["rows"]
        return vals[a] > vals[b] if p["relation"] in ("gt", "later") else vals[a] < vals[b]
    if rec["kind"] == "afford":
        cost = recompute(facts, rec).replace(facts["currency"], "").replace(",", "").replace(".", "")
        return p["money"] >= int(cost)
    return p["claim"] == recompute(facts, rec)


# ---------------------------------------------------------------- tests


def test_registered_domain():
    assert isinstance(get_domain("tables"), Tables)
    assert get_domain("tables").name == "tables"


def test_four_types_and_shapes(items):
    for (seed, lang), item in items.items():
        types = [q.type for q in item.questions]
        for t in ("judgement", "multiple_choice", "short_vqa", "long_vqa"):
            assert t in types, (seed, lang, t)
        judged = [q for q in item.questions if q.type == "judgement"]
        assert len(judged) % 2 == 0
        assert sum(q.truth for q in judged) * 2 == len(judged), (seed, lang)
        for q in item.questions:
            assert q.category in CATEGORIES
            if q.type == "multiple_choice":
                assert len(q.turns) == 1 and q.turns[0][1] == ""
                opts = [q.correct, *q.distractors]
                assert len(q.distractors) == 3 and len(set(opts)) == 4
                assert all(isinstance(o, str) and o for o in opts)
            elif q.type == "short_vqa":
                assert len(q.turns) == 1 and q.turns[0][1] == q.short_answer and q.short_answer
            elif q.type == "long_vqa":
                assert 2 <= len(q.turns) <= 4
                assert all(a and qu for qu, a in q.turns)
            else:
                assert q.turns[0][1] == "" and isinstance(q.truth, bool)
        assert len(item.facts["questions"]) == len(item.questions)


def test_answers_recomputed_from_facts(items):
    kinds = set()
    for (seed, lang), item in items.items():
        facts = item.facts
        for q, rec in zip(item.questions, facts["questions"], strict=True):
            assert q.type == rec["type"]
            kinds.add(rec["kind"])
            expected = recompute(facts, rec)
            assert rec["answer"] == expected, (seed, lang, rec)
            if q.type == "judgement":
                assert q.truth == judgement_truth(facts, rec), (seed, lang, q.turns, rec)
            elif q.type == "multiple_choice":
                assert q.correct == expected, (seed, lang, q.turns, rec)
                assert expected not in q.distractors
            elif q.type == "short_vqa":
                assert q.short_answer == expected, (seed, lang, q.turns, rec)
            else:
                assert expected in q.turns[-1][1], (seed, lang, q.turns, expected)
    # the question kinds all occur over enough seeds
    assert kinds >= KINDS


def test_false_judgements_are_near_misses(items):
    for item in items.values():
        for q, rec in zip(item.questions, item.facts["questions"], strict=True):
            if q.type != "judgement" or q.truth or "claim" not in rec["params"]:
                continue
            claim, answer = rec["params"]["claim"], rec["answer"]
            assert claim != answer
            if rec["kind"] in ("reverse", "extremum_max", "extremum_min", "longest"):
                assert claim in item.facts["rows"]  # a wrong row
            elif rec["kind"] == "lookup":
                col = item.facts["columns"][rec["params"]["col"]]
                if claim not in col["cells"]:  # a near value of the same kind
                    cur = item.facts["currency"]
                    assert claim.startswith(cur) == answer.startswith(cur)


def test_table_facts_consistent(items):
    for item in items.values():
        f = item.facts
        n = len(f["rows"])
        assert 3 <= n <= 7 and len(set(f["rows"])) == n
        assert 1 <= len(f["columns"]) <= 3  # 2-4 columns with the label column
        for j, c in enumerate(f["columns"]):
            assert len(c["values"]) == n and len(set(c["values"])) == n  # no ties
            assert c["cells"] == [show(f, j, v) for v in c["values"]]
            if c["type"] == "int":
                assert (Fraction(sum(c["values"]), n) * 100).denominator == 1  # a clean mean
            if c["type"] == "time":
                assert c["values"] == sorted(c["values"])
        if f["kind"] == "schedule" and len(f["columns"]) == 2:
            a, b = values(f, 0), values(f, 1)
            assert all(x < y for x, y in zip(a, b, strict=True))
            d = [y - x for x, y in zip(a, b, strict=True)]
            assert len(set(d)) == n
        if f["kind"] == "price" and f["unit"] == "each":
            assert len(f["plurals"]) == len(f["singulars"]) == n
        json.dumps(f)
        img = item.images[0]
        assert img.mode == "RGB"
        assert 320 <= img.width <= 800 and 280 <= img.height <= 800


def test_row_labels_quoted_in_lookup_questions(items):
    for item in items.values():
        for q, rec in zip(item.questions, item.facts["questions"], strict=True):
            if rec["kind"] == "lookup":
                assert item.facts["rows"][rec["params"]["row"]] in q.turns[0][0]


def test_language(items):
    for (_seed, lang), item in items.items():
        for q in item.questions:
            texts = [t for turn in q.turns for t in turn] + [q.correct or "", *q.distractors]
            for t in texts:
                assert not PLACEHOLDER.search(t), t
            if lang == "zh":
                assert CJK.search(q.turns[0][0]), q.turns[0][0]
                if q.type == "long_vqa":
                    assert all(CJK.search(a) for _, a in q.turns)
            else:
                assert not CJK.search(" ".join(texts))


def test_deterministic():
    for seed in (0, 7, 31):
        a, b = make(seed, "en"), make(seed, "en")
        assert a.images[0].tobytes() == b.images[0].tobytes()
        assert [q.turns for q in a.questions] == [q.turns for q in b.questions]
        assert [(q.correct, q.distractors, q.truth) for q in a.questions] == [
            (q.correct, q.distractors, q.truth) for q in b.questions
        ]
        assert a.facts == b.facts


def test_different_seeds_differ():
    digests = {hashlib.md5(make(s, "en").images[0].tobytes()).hexdigest() for s in range(20)}
    assert len(digests) == 20


def test_same_across_processes():
    code = (
        "import hashlib, random\n"
        "from visinstruct.synth.tables import Tables\n"
        "for s in range(4):\n"
        "    it = Tables().make(random.Random(s), 'zh')\n"
        "    print(hashlib.md5(it.images[0].tobytes()).hexdigest(), [q.turns for q in it.questions])\n"
    )
    outs = []
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        cmd = [sys.executable, "-c", code]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        outs.append(run.stdout)
    assert outs[0] == outs[1] and outs[0]
