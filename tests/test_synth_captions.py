"""Dense descriptions of synthetic images from their exact facts: every domain, English and
Chinese, says only what its facts hold, reads differently from image to image, covers its
facts; an LLM rewrite that adds a hallucinated sentence goes to review."""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from visinstruct.checks.facts import check_facts
from visinstruct.recipe import parse_recipe
from visinstruct.report.html import write_report
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore
from visinstruct.synth import REGISTRY, get_domain
from visinstruct.synth.describe import describe
from visinstruct.synth.style import COLORS

DOMAINS = sorted(REGISTRY)
PER_LANGUAGE = 20
# what a description never reads from: the questions asked and their wrong values
NOT_DRAWN = {"questions", "queries", "asked", "later", "alt_titles", "alt_x_axis_titles", "alt_y_axis_titles"}
COLOR_EN = {c[0] for c in COLORS}
COLOR_ZH = {c[1]: c[0] for c in COLORS}
QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”")


def items(domain: str, lang: str, n: int = PER_LANGUAGE) -> list[dict[str, Any]]:
    return [get_domain(domain).make(random.Random(f"{domain}{i}"), lang).facts for i in range(n)]


def leaves(x: Any) -> list[Any]:
    if isinstance(x, dict):
        return [v for k, val in x.items() if k not in NOT_DRAWN for v in leaves(val)]
    if isinstance(x, list | tuple):
        return [v for val in x for v in leaves(val)]
    return [x]


def number(s: str) -> float:
    return float(s.replace(",", ""))


def parse_back(text: str, lang: str) -> tuple[list[str], list[str], list[float]]:
    """This test's own reading of a description: quoted labels, colour words and numbers."""
    quoted = [a or b for a, b in QUOTED.findall(text)]
    rest = QUOTED.sub(" ", text)
    if lang == "zh":
        colors = [COLOR_ZH[m] for m in re.findall("|".join(COLOR_ZH), rest)]
    else:
        colors = [w for w in re.findall(r"[a-z]+", rest.lower()) if w in COLOR_EN]
    # a minus sign belongs to the number unless a digit comes before it (a range: "140-145")
    numbers = [number(n) for n in re.findall(r"(?<![\d.])-?\d+(?:\.\d+)?", rest.replace("²", " "))]
    return quoted, colors, numbers


def truth(facts: dict[str, Any]) -> tuple[list[str], set[str], set[float]]:
    """Every text, colour name and number the facts hold (numbers inside texts too)."""
    values = leaves(facts)
    texts = [str(v) for v in values if isinstance(v, str)]
    colors = {t for t in texts if t in COLOR_EN}
    numbers = {float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)}
    for t in texts:
        numbers |= {number(n) for n in re.findall(r"\d+(?:\.\d+)?", t)}
    return texts, colors, numbers


def says_only_the_facts(domain: str, facts: dict[str, Any], lang: str, text: str) -> list[float]:
    """Asserts that every quoted text, colour and number of `text` is in `facts`; returns the
    numbers it says."""
    texts, colors, numbers = truth(facts)
    counts = set(map(float, range(0, 21)))  # how many bars, rows, objects, lines, ...
    derived = {90.0, 180.0, 100.0, 60.0 - facts.get("minute", 0)}  # right/straight angles, pies, clocks
    quoted, said_colors, said_numbers = parse_back(text, lang)
    for q in quoted:
        assert any(q in t for t in texts), (q, text)
    for c in said_colors:
        assert c in colors or any(c in t.lower() for t in texts), (c, text)
    for n in said_numbers:
        assert n in numbers | counts | derived, (n, text)
    assert check_facts(text, lang, domain, facts).unknown == [], text
    return said_numbers


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_description_says_only_what_the_facts_hold(domain, lang):
    for facts in items(domain, lang):
        says_only_the_facts(domain, facts, lang, describe(domain, facts, lang, "seed").text)


def chart_values(f: dict[str, Any]) -> list[float]:
    """Every value a chart shows: series values, points, bin counts, box statistics."""
    out = [v for s in f["series"] for v in s["values"]]
    out += [p[k] for p in f.get("points") or [] for k in ("x", "y", "size") if k in p]
    out += f.get("counts") or []
    out += [g[k] for g in f.get("groups") or [] for k in ("min", "q1", "median", "q3", "max")]
    return [float(v) for v in out]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_chart_type_is_described_value_by_value(lang):
    from tests.test_synth_chart_types import chart_type
    from visinstruct.synth.charts import TYPES

    charts = get_domain("charts")
    seen: Counter = Counter()
    for kind in TYPES:
        for i in range(16 if kind in ("bar", "line", "pie") else 3):
            f = charts.make_type(kind, random.Random(f"{kind}{i}"), lang).facts
            text = describe("charts", f, lang, f"s{i}").text
            said = says_only_the_facts("charts", f, lang, text)
            # read back: every value the chart shows is in its description
            missing = [v for v in chart_values(f) if v not in said]
            assert not missing, (missing, text)
            report = check_facts(text, lang, "charts", f)
            assert report.coverage >= 0.95, (report.missing, text)
            seen[chart_type(f)] += 1
    assert len(seen) == 19, seen  # vertical, horizontal, grouped, stacked bars, ..., waterfalls


@pytest.mark.parametrize("domain", DOMAINS)
def test_descriptions_cover_their_facts(domain):
    for lang in ("en", "zh"):
        covered = [
            check_facts(describe(domain, f, lang, "s").text, lang, domain, f).coverage
            for f in items(domain, lang)
        ]
        assert sum(covered) / len(covered) >= 0.95 and min(covered) >= 0.75, (lang, covered)


def test_the_facts_check_measures_coverage_from_the_text():
    facts = items("tables", "en", 1)[0]
    text = describe("tables", facts, "en", "s").text
    full = check_facts(text, "en", "tables", facts)
    half = check_facts(text[: len(text) // 3], "en", "tables", facts)
    assert full.coverage == 1.0 and half.coverage < 0.7 and half.missing


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fifty_charts_read_differently(lang):
    made = [describe("charts", f, lang, f"s{i}") for i, f in enumerate(items("charts", lang, 50))]
    assert len({d.text for d in made}) == 50
    templates = Counter(t for d in made for t in d.templates)
    intros = {t for t in templates if ".intro#" in t}
    assert len(intros) >= 3 and len(templates) >= 60, templates
    # the sentences come in varied order: where the axis sentence sits differs from chart to chart
    places = Counter(
        next((i for i, s in enumerate(re.split(r"(?<=[.。])\s*", d.text)) if "axis" in s or "轴" in s), -1)
        for d in made
    )
    assert len(places) >= 3, places


def test_the_same_facts_and_seed_give_the_same_description():
    f = items("scenes", "zh", 1)[0]
    assert describe("scenes", f, "zh", "a") == describe("scenes", f, "zh", "a")
    assert describe("scenes", f, "zh", "a").text != describe("scenes", f, "zh", "b").text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_clock_with_a_seconds_hand_is_described_with_three_hands_and_its_seconds(lang):
    clocks = get_domain("clocks")
    made = [clocks.make(random.Random(seed), lang).facts for seed in range(80)]
    with_seconds = [f for f in made if "second" in f]
    odd_minutes = [f for f in made if "second" not in f and f["minute"] % 5]
    assert with_seconds and odd_minutes
    for f in with_seconds:
        text = describe("clocks", f, lang, "s").text
        assert f"{f['time']}:{f['second']:02d}" in text, text
        assert ("seconds hand" if lang == "en" else "秒针") in text, text
        assert "two hands" not in text and "两根指针" not in text, text
        assert not check_facts(text, lang, "clocks", f).unknown, text
    for f in odd_minutes:  # the minute hand between two marks, not on one
        text = describe("clocks", f, lang, "s").text
        mark = f["minute"] // 5 or 12
        assert re.search(rf"(?<!\d){mark}(?!\d).*(?<!\d){mark % 12 + 1}(?!\d)", text), text
        assert ("seconds" not in text) and ("秒" not in text), text


def test_chinese_descriptions_are_written_in_chinese():
    for domain in DOMAINS:
        for facts in items(domain, "zh", 5):
            text = describe(domain, facts, "zh", "s").text
            prose = QUOTED.sub("", text)
            for t in sorted(truth(facts)[0], key=len, reverse=True):  # text the image shows, as drawn
                prose = prose.replace(t, " ")
            han = len(re.findall(r"[\u4e00-\u9fff]", prose))
            latin = len(re.findall(r"[A-Za-z]+", prose))
            assert han > 3 * latin and not re.search(r"\b(?:the|and|is|of)\b", prose), text


PLANTED = {
    "en": "The chart also shows a purple bar for Tokyo at 999.",
    "zh": "图中还有一根紫色的柱子，代表Tokyo，数值为999。",
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_facts_check_flags_a_planted_hallucination(lang):
    facts = next(
        f for f in items("charts", lang, 30) if "purple" not in json.dumps(f) and "Tokyo" not in json.dumps(f)
    )
    text = describe("charts", facts, lang, "s").text
    assert check_facts(text, lang, "charts", facts).unknown == []
    bad = check_facts(f"{text} {PLANTED[lang]}", lang, "charts", facts).unknown
    assert "999" in bad and "Tokyo" in bad and any(c in bad for c in ("purple", "紫色")), bad


def test_the_facts_check_flags_objects_and_text_that_are_not_there():
    scene = next(f for f in items("scenes", "en", 30) if "hexagon" not in json.dumps(f))
    text = describe("scenes", scene, "en", "s").text
    assert (
        "hexagon" in check_facts(text + " A small hexagon sits on the left.", "en", "scenes", scene).unknown
    )
    doc = items("ocr", "en", 1)[0]
    text = describe("ocr", doc, "en", "s").text
    assert (
        "FREE PIZZA TODAY"
        in check_facts(text + ' A sticker says "FREE PIZZA TODAY".', "en", "ocr", doc).unknown
    )


def recipe(**extra: Any) -> dict[str, Any]:
    base = {"name": "cap", "seed": 3, "languages": ["en", "zh"], "workers": 1}
    base.update(extra)
    return base


def test_caption_is_opt_in_and_every_domain_makes_checked_caption_samples(tmp_path):
    run(parse_recipe(recipe(synthetic={d: 2 for d in DOMAINS})), tmp_path / "plain", workers=1)
    with RunStore(tmp_path / "plain", create=False) as store:
        plain = list(store.iter_samples())
    assert plain and not any(s.type == "caption" for s in plain)
    types = ["judgement", "multiple_choice", "short_vqa", "long_vqa", "caption"]
    run(parse_recipe(recipe(synthetic={d: 2 for d in DOMAINS}, types=types)), tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
    captions = [s for s in samples if s.type == "caption"]
    assert len(captions) == 2 * len(DOMAINS) and {s.domain for s in captions} == set(DOMAINS)
    assert {s.language for s in captions} == {"en", "zh"}
    for s in captions:
        assert s.status == "accepted", s.checks
        assert s.checks["facts"]["pass"] and s.checks["facts"]["coverage"] >= 0.75
        assert s.provenance["caption_request"].startswith(f"detailed/{s.language}/")
        assert s.provenance["templates"] and all("_describe." in t for t in s.provenance["templates"])
        assert len(s.turns) == 1 and s.turns[0].answer
    # the other samples are exactly those of the run without captions
    assert sorted(s.id for s in samples if s.type != "caption") == sorted(s.id for s in plain)
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and "caption facts" in p.stdout
    assert re.search(r"charts\s*│\s*en\s*│\s*template\s*│\s*1\s*│\s*\d+%", p.stdout), p.stdout
    assert re.search(r"charts\s*│\s*zh\s*│\s*template\s*│\s*1\s*│\s*\d+%", p.stdout), p.stdout
    with RunStore(tmp_path / "run", create=False) as store:
        html = write_report(store, tmp_path / "report.html").read_text("utf-8")
    assert (
        "Caption facts" in html
        and "<td class='l'>differences</td><td class='l'>zh</td><td class='l'>template</td>" in html
    )


def _description_in(req: dict) -> tuple[str, str]:
    user = next(m["content"] for m in req["messages"] if m["role"] == "user")
    lang = "zh" if "请把这段描述" in user else "en"
    start = "图像的一段朴素描述：\n" if lang == "zh" else "A plain description of the image:\n"
    return user.split(start, 1)[1].split("\n\n", 1)[0], lang


def planted(text: str) -> bool:
    return hashlib.sha256(text.encode()).digest()[0] % 2 == 0


def test_an_llm_rewrite_is_checked_against_the_facts(fake_openai, tmp_path, monkeypatch):
    """A faithful rewrite (the description's sentences in another order) is accepted; one with a
    planted hallucinated sentence goes to review with the terms it made up."""
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")

    def reply(req: dict) -> str:
        text, lang = _description_in(req)
        if planted(text):
            return f"{text} {PLANTED[lang]}"
        parts = [s for s in re.split(r"(?<=[.。])\s*", text) if s]
        return ("" if lang == "zh" else " ").join(parts[:1] + parts[1:][::-1])

    fake_openai.responder = reply
    rec = recipe(
        synthetic={"charts": {"count": 8, "llm": ["caption"]}},
        endpoints={
            "llm": {
                "model": "fake-model",
                "base_url": fake_openai.base_url,
                "provider": "vllm",
                "api_key_env": "VISINSTRUCT_TEST_KEY",
            }
        },
        instructions={"endpoint": "llm"},
    )
    summary = run(parse_recipe(rec), tmp_path / "run", workers=1)
    assert summary.stages["caption_rewrite"].done == 8 and fake_openai.requests == 8
    with RunStore(tmp_path / "run", create=False) as store:
        rewrites = [s for s in store.iter_samples() if s.generator == "llm/caption_rewrite"]
    assert len(rewrites) == 8 and {s.language for s in rewrites} == {"en", "zh"}
    flagged = [s for s in rewrites if planted(s.context["template"])]
    faithful = [s for s in rewrites if not planted(s.context["template"])]
    assert flagged and faithful
    for s in flagged:
        assert s.status == "needs_review"
        assert not s.checks["facts"]["pass"] and s.checks["facts"]["severity"] == "review"
        unknown, shown = s.checks["facts"]["unknown"], json.dumps(s.context["facts"])
        assert "999" in unknown
        for term, written in (("Tokyo", "Tokyo"), ("purple", "purple" if s.language == "en" else "紫色")):
            assert (written in unknown) == (term not in shown), (unknown, s.turns[0].answer)
    for s in faithful:
        assert s.status == "accepted", s.checks
        assert s.checks["facts"]["pass"] and s.checks["facts"]["coverage"] >= 0.75
        assert s.turns[0].answer != s.context["template"]
        assert s.provenance["prompt"] == "caption_rewrite@v1" and s.provenance["caption_request"]
    # the facts and the template description went into the prompt
    user = next(m["content"] for m in fake_openai.last_request["messages"] if m["role"] == "user")
    assert '"chart":' in user and '"questions"' not in user


def test_under_realism_descriptions_follow_the_moved_facts(tmp_path):
    """A photographed or scanned scene moves its objects: its description says where they are
    after the warp; a treated document's description leaves its tilt unsaid."""
    types = ["short_vqa", "caption"]
    synthetic = {"scenes": 6, "ocr": 6}
    run(parse_recipe(recipe(synthetic=synthetic, types=types, realism=1.0)), tmp_path / "run", workers=1)
    run(parse_recipe(recipe(synthetic=synthetic, types=types)), tmp_path / "flat", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        captions = [s for s in store.iter_samples() if s.type == "caption"]
    with RunStore(tmp_path / "flat", create=False) as store:
        flat = {s.provenance["unit"]: s for s in store.iter_samples() if s.type == "caption"}
    assert len(captions) == 12 and all(s.provenance.get("realism") for s in captions)
    moved = 0
    for s in captions:
        assert s.status == "accepted" and s.checks["facts"]["pass"], s.checks
        facts, seed = s.context["facts"], s.provenance["seed"]
        assert s.turns[0].answer == describe(s.domain, facts, s.language, seed, treated=True).text
        if s.domain == "scenes":
            before = flat[s.provenance["unit"]].context["facts"]["objects"]
            moved += [(o["x"], o["y"]) for o in facts["objects"]] != [(o["x"], o["y"]) for o in before]
        else:
            assert not re.search(r"\blevel\b|tilted|水平|倾斜", s.turns[0].answer), s.turns[0].answer
    assert moved >= 3
