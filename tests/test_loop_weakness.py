"""Weakness analysis: Wilson intervals, sampling weights, quotas, the bad-case sampler, table and SVG."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from rich.console import Console

from visinstruct.loop.results import EvalRecord
from visinstruct.loop.sampler import BadCaseSampler, schedule
from visinstruct.loop.weakness import (
    CategoryStat,
    accuracy_by_category,
    category_stat,
    quotas,
    weakness_svg,
    weakness_table,
    weights,
    weights_svg,
    wilson,
)

HOSTILE = "<script>alert(1)</script>"


def rec(category: str, correct: bool, i: int = 0, error: str | None = None) -> EvalRecord:
    return EvalRecord(
        id=f"{category}-{i}",
        category=category,
        question=f"question {i}",
        answer="A",
        prediction=None if error else ("A" if correct else "B"),
        correct=correct,
        error=error,
    )


def stat(category: str, accuracy: float, n: int = 100) -> CategoryStat:
    return category_stat(category, n, round(accuracy * n))


# --- accuracy and intervals ---


@pytest.mark.parametrize(
    ("correct", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # textbook Wilson 95% interval for 8/10
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_matches_known_values(correct, n, low, high):
    lo, hi = wilson(correct, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_with_no_answers_is_the_whole_range():
    assert wilson(0, 0) == (0.0, 1.0)
    s = category_stat("empty", 0, 0)
    assert (s.accuracy, s.low, s.high) == (0.0, 0.0, 1.0)


def test_accuracy_by_category_counts_and_orders_weakest_first():
    records = (
        [rec("count", i < 8, i) for i in range(10)]  # 80%
        + [rec("color", i < 1, i) for i in range(4)]  # 25%
        + [rec("ocr", i < 1, i) for i in range(4)]  # 25%, ties with color: name decides
        + [rec("ocr", False, 9, error="no option letter in the prediction")]
    )
    stats = accuracy_by_category(records)
    assert [s.category for s in stats] == ["ocr", "color", "count"]
    ocr, color, count = stats
    assert (ocr.n, ocr.correct, ocr.unscored) == (5, 1, 1)
    assert ocr.accuracy == pytest.approx(0.2)
    assert (color.n, color.correct, color.unscored) == (4, 1, 0)
    assert (count.n, count.correct, count.accuracy) == (10, 8, 0.8)
    assert (count.low, count.high) == pytest.approx((0.4902, 0.9433), abs=1e-4)


def test_accuracy_ties_break_by_name():
    stats = accuracy_by_category([rec("b", True), rec("a", True), rec("c", False)])
    assert [s.category for s in stats] == ["c", "a", "b"]


# --- weights ---


def test_targeted_weights_are_floor_plus_error_share():
    stats = [stat("a", 0.9), stat("b", 0.7), stat("c", 0.4)]  # errors 0.1, 0.3, 0.6
    w = weights(stats, floor=0.05)
    expected = {"a": 0.05 + 0.85 * 0.1, "b": 0.05 + 0.85 * 0.3, "c": 0.05 + 0.85 * 0.6}
    assert w == pytest.approx(expected)
    assert math.fsum(w.values()) == pytest.approx(1.0, abs=1e-12)


def test_zero_error_category_gets_exactly_its_floor():
    stats = [stat("solved", 1.0), stat("b", 0.5), stat("c", 0.2)]
    for floor in (0.0, 0.05, 0.2):
        for temperature in (0.1, 1.0, 10.0):
            w = weights(stats, floor=floor, temperature=temperature)
            assert w["solved"] == floor
            assert min(w.values()) >= floor
            assert math.fsum(w.values()) == pytest.approx(1.0, abs=1e-12)
            assert w["c"] > w["b"] > w["solved"]


def test_all_zero_error_gives_uniform():
    w = weights([stat("a", 1.0), stat("b", 1.0), stat("c", 1.0), stat("d", 1.0)], floor=0.1)
    assert w == {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}


def test_uniform_strategy_ignores_errors():
    w = weights([stat("a", 0.1), stat("b", 0.9)], strategy="uniform")
    assert w == {"a": 0.5, "b": 0.5}


def test_higher_temperature_moves_towards_uniform():
    stats = [stat("a", 0.9), stat("b", 0.7), stat("c", 0.4)]
    spreads = []
    for t in (0.2, 0.5, 1.0, 2.0, 5.0, 50.0):
        w = weights(stats, floor=0.05, temperature=t)
        assert math.fsum(w.values()) == pytest.approx(1.0, abs=1e-12)
        spreads.append(max(w.values()) - min(w.values()))
    assert spreads == sorted(spreads, reverse=True)
    assert len(set(spreads)) == len(spreads)
    assert max(weights(stats, temperature=1e6).values()) == pytest.approx(1 / 3, abs=1e-5)
    sharp = weights(stats, floor=0.05, temperature=0.01)
    assert sharp["c"] == pytest.approx(0.9, abs=1e-6)  # all but the floors on the weakest
    assert sharp["a"] == pytest.approx(0.05, abs=1e-6)


def test_tiny_temperature_does_not_underflow():
    w = weights([stat("a", 0.999, n=1000), stat("b", 0.998, n=1000)], floor=0.0, temperature=1e-4)
    assert w == pytest.approx({"a": 0.0, "b": 1.0})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"floor": 0.3}, "floor=0.3 with 4 categories"),
        ({"floor": -0.01}, "floor must be >= 0, got -0.01"),
        ({"temperature": 0}, "temperature must be > 0, got 0"),
        ({"temperature": -1.5}, "temperature must be > 0, got -1.5"),
        ({"strategy": "greedy"}, "strategy must be one of targeted, uniform, got 'greedy'"),
    ],
)
def test_invalid_weight_parameters_name_the_parameter(kwargs, message):
    stats = [stat(c, 0.5) for c in "abcd"]
    with pytest.raises(ValueError) as err:
        weights(stats, **kwargs)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_weights_need_categories():
    with pytest.raises(ValueError, match="no categories"):
        weights([])
    with pytest.raises(ValueError, match="duplicate"):
        weights([stat("a", 0.5), stat("a", 0.4)])


def test_floor_times_categories_equal_to_one_is_allowed():
    w = weights([stat("a", 0.0), stat("b", 0.9)], floor=0.5)
    assert w == {"a": 0.5, "b": 0.5}


# --- quotas ---


def test_quotas_are_exact_when_shares_are_whole():
    assert quotas({"a": 0.25, "b": 0.75}, 4) == {"a": 1, "b": 3}
    assert quotas({"a": 0.1, "b": 0.2, "c": 0.7}, 10) == {"a": 1, "b": 2, "c": 7}


def test_quotas_largest_remainder_ties_by_name_whatever_the_order():
    assert quotas({"b": 0.5, "a": 0.5}, 3) == {"a": 2, "b": 1}
    assert quotas({"c": 1 / 3, "b": 1 / 3, "a": 1 / 3}, 4) == {"a": 2, "b": 1, "c": 1}
    # 0.55 × 10 = 5.5 and 0.45 × 10 = 4.5: same remainder, the earlier name gets the seat
    assert quotas({"y": 0.45, "x": 0.55}, 10) == {"x": 6, "y": 4}


def test_quotas_sum_to_total_and_stay_near_the_exact_share():
    w = weights([stat(f"cat{i}", i / 12) for i in range(12)], floor=0.02, temperature=0.7)
    for total in (0, 1, 11, 12, 13, 97, 1000, 12345):
        q = quotas(w, total)
        assert sum(q.values()) == total
        if total >= 12:
            assert min(q.values()) >= 1
        if total >= 97:
            assert all(abs(q[c] - w[c] * total) < 1 for c in w)


def test_every_category_gets_one_when_total_covers_them():
    w = weights([stat("a", 1.0), stat("b", 1.0), stat("c", 1.0), stat("weak", 0.0)], floor=0.05)
    assert w["a"] == 0.05 and w["weak"] == pytest.approx(0.85)
    # plain largest remainder would give a, b, c nothing (0.2 seat each)
    assert quotas(w, 4) == {"a": 1, "b": 1, "c": 1, "weak": 1}
    assert quotas(w, 6) == {"a": 1, "b": 1, "c": 1, "weak": 3}
    assert sum(quotas(w, 3).values()) == 3  # too few to cover every category: still exact


def test_quotas_minimum_and_invalid_input():
    assert quotas({"a": 0.9, "b": 0.1}, 10, minimum=3) == {"a": 7, "b": 3}
    assert quotas({"a": 1.0, "b": 0.0}, 5) == {"a": 5, "b": 0}  # a zero weight is not forced to 1
    with pytest.raises(ValueError, match="minimum=3 with 2 categories needs total >= 6, got 5"):
        quotas({"a": 0.5, "b": 0.5}, 5, minimum=3)
    with pytest.raises(ValueError, match="total must be >= 0, got -1"):
        quotas({"a": 1.0}, -1)
    with pytest.raises(ValueError, match="weights must be finite and >= 0: b"):
        quotas({"a": 1.0, "b": -0.1}, 5)
    with pytest.raises(ValueError, match="no categories"):
        quotas({}, 5)


# --- bad-case sampler ---


def records_with_bad_cases(bad: dict[str, int], good: int = 3) -> list[EvalRecord]:
    out = []
    for cat, n in bad.items():
        out += [rec(cat, False, i) for i in range(n)]
        out += [rec(cat, True, 100 + i) for i in range(good)]
    return out


def test_sampler_returns_fewer_when_a_category_has_too_few_bad_cases():
    sampler = BadCaseSampler(records_with_bad_cases({"none": 0, "one": 1, "many": 5}), seed=1)
    assert sampler.count("none") == 0 and sampler.count("one") == 1 and sampler.count("many") == 5
    assert sampler.count("unknown") == 0
    assert sampler.categories() == ["many", "one"]
    for _ in range(3):  # these calls return: no waiting for cases that do not exist
        assert sampler.pick("none", 2) == []
        assert sampler.pick("unknown", 2) == []
        assert [r.id for r in sampler.pick("one", 2)] == ["one-0"]
    assert len(sampler.pick("many", 9)) == 5
    assert sampler.pick("many", 0) == []
    with pytest.raises(ValueError, match="k must be >= 0, got -1"):
        sampler.pick("many", -1)


def test_sampler_only_draws_wrong_answers():
    sampler = BadCaseSampler(records_with_bad_cases({"a": 4}, good=10), seed=0)
    picked = [r for _ in range(6) for r in sampler.pick("a", 3)]
    assert picked and all(not r.correct for r in picked)
    assert {r.id for r in picked} == {f"a-{i}" for i in range(4)}


def test_sampler_cycles_through_all_before_repeating():
    sampler = BadCaseSampler(records_with_bad_cases({"a": 5}), seed=3)
    calls = [[r.id for r in sampler.pick("a", 2)] for _ in range(10)]  # 20 picks = 4 full cycles
    assert all(len(set(c)) == 2 for c in calls)  # distinct within a call, also across a cycle's end
    flat = [i for c in calls for i in c]
    for start in range(0, 20, 5):
        assert sorted(flat[start : start + 5]) == [f"a-{i}" for i in range(5)]
    assert set(calls[0]).isdisjoint(calls[1])  # examples vary from one call to the next
    assert flat[:5] != flat[5:10] or flat[5:10] != flat[10:15]  # reshuffled, not one fixed order


def test_sampler_is_deterministic_by_seed():
    records = records_with_bad_cases({"a": 8, "b": 6})

    def draws(seed: int, order: str = "ab") -> list[str]:
        s = BadCaseSampler(records, seed=seed)
        return [r.id for _ in range(5) for c in order for r in s.pick(c, 3)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    # each category has its own stream: picking b first does not change a's picks
    a_only = [x for x in draws(7) if x.startswith("a")]
    assert [x for x in draws(7, "ba") if x.startswith("a")] == a_only


def test_schedule_interleaves_quota_slots_deterministically():
    q = {"weak": 6, "mid": 3, "strong": 1, "none": 0}
    slots = schedule(q, seed=5)
    assert Counter(slots) == Counter({"weak": 6, "mid": 3, "strong": 1})
    assert slots == schedule(dict(reversed(q.items())), seed=5)
    assert slots != schedule(q, seed=6)
    assert slots != sorted(slots, key=list(q).index)  # shuffled, not grouped by category
    assert schedule({}, seed=1) == []
    with pytest.raises(ValueError, match="quotas must be >= 0: b"):
        schedule({"a": 1, "b": -2})


# --- table and SVG ---


def test_weakness_table_renders_rows_weakest_first():
    records = (
        [rec("count", i < 8, i) for i in range(10)]
        + [rec("color", i < 1, i) for i in range(4)]
        + [rec("ocr", False, 7, error="malformed")]
    )
    stats = accuracy_by_category(records)
    previous = [category_stat("count", 10, 6), category_stat("color", 4, 2)]
    w = weights(stats, floor=0.05)
    q = quotas(w, 40)
    console = Console(record=True, width=120)
    console.print(weakness_table(stats, w, q, previous=previous))
    text = console.export_text()
    lines = text.splitlines()

    def line_of(category: str) -> str:
        return next(ln for ln in lines if ln.strip("│ ").startswith(category + " "))

    count, color, ocr = line_of("count"), line_of("color"), line_of("ocr")
    assert lines.index(ocr) < lines.index(color) < lines.index(count)
    assert "80.0% [49.0–94.3]" in count and "+20.0" in count and "20.0%" in count
    assert "25.0% [4.6–69.9]" in color and "−25.0" in color
    assert "new" in ocr and "0.0% [0.0–79.3]" in ocr
    for cat in ("count", "color", "ocr"):
        assert f"{100 * w[cat]:.1f}%" in line_of(cat)
        assert line_of(cat).rstrip(" │").endswith(str(q[cat]))
    assert "unscored" in text  # shown because one answer could not be scored
    total = line_of("total")
    assert "60.0% [" in total and "+2.9" in total  # 9/15 now, 8/14 in the previous round
    assert total.rstrip(" │").endswith("40") and "100.0%" in total


def test_weakness_table_without_previous_has_no_change_column():
    stats = [stat("[b]a[/b]", 0.5), stat("b", 0.9)]
    console = Console(record=True, width=120)
    console.print(weakness_table(stats, weights(stats), quotas(weights(stats), 10)))
    text = console.export_text()
    assert "change" not in text and "unscored" not in text
    assert "[b]a[/b]" in text  # a category name is shown as written, never read as rich markup
    assert "50.0% [40.4–59.6]" in text


def parse_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert all(el.tag.split("}")[1] != "script" for el in root.iter())
    return root


def svg_texts(root: ET.Element) -> list[str]:
    return [
        "".join(el.itertext()) for el in root.iter() if el.tag.endswith("}title") or el.tag.endswith("}text")
    ]


def test_weakness_svg_is_well_formed_and_escapes_names():
    r0 = [stat(HOSTILE, 0.3, n=20), stat("count & size", 0.6, n=20), stat("gone", 0.5, n=20)]
    r1 = [stat(HOSTILE, 0.55, n=20), stat("count & size", 0.65, n=20)]
    svg = weakness_svg([(1, r1), (0, r0)])
    root = parse_svg(svg)
    assert HOSTILE not in svg and "&lt;script&gt;" in svg
    texts = svg_texts(root)
    assert HOSTILE in texts  # the full name survives as a hover title
    assert "count & size" in texts
    ns = "{http://www.w3.org/2000/svg}"
    bars = [el for el in root.iter(f"{ns}rect") if el.get("class") == "bar"]
    whiskers = [el for el in root.iter(f"{ns}path") if el.get("class") == "ci"]
    assert len(bars) == len(whiskers) == 5  # "gone" has no bar in round 1
    tips = [el.find(f"{ns}title").text for el in bars]
    assert f"{HOSTILE} · round 1: 55.0% [34.2–74.2], 11/20 correct" in tips
    assert any(t.startswith("gone · round 0") for t in tips)
    assert {"round 0", "round 1"} <= set(texts)  # legend
    labels = [t for t in texts if t in (HOSTILE, "count & size", "gone")]
    assert labels.index(HOSTILE) < labels.index("count & size")  # weakest of the latest round first


def test_weakness_svg_needs_a_round():
    with pytest.raises(ValueError, match="history is empty"):
        weakness_svg([])


def test_weights_svg_is_well_formed():
    w0 = weights([stat(HOSTILE, 0.3), stat("b", 0.8)])
    w1 = weights([stat(HOSTILE, 0.6), stat("b", 0.7)])
    svg = weights_svg([(0, w0), (1, w1)])
    root = parse_svg(svg)
    assert HOSTILE not in svg and HOSTILE in svg_texts(root)
    ns = "{http://www.w3.org/2000/svg}"
    assert len([el for el in root.iter(f"{ns}rect") if el.get("class") == "bar"]) == 4


def test_final_round_table_without_weights_shows_no_shares():
    # the last evaluation of a loop shares nothing: no "0.0%" weight, no "0" quota in the total
    stats = [stat("a", 0.5), stat("b", 0.9)]
    console = Console(record=True, width=120)
    console.print(weakness_table(stats, {}, {}))
    total = next(ln for ln in console.export_text().splitlines() if ln.strip("│ ").startswith("total"))
    cells = [c.strip() for c in total.strip("│ ").split("│")]
    assert cells[-2:] == ["—", "—"]
