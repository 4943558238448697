"""The HTML report: statistics in one pass, a seeded gallery, escaping, and a real browser render."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import chromium_page

from visinstruct.checks import failed, passed
from visinstruct.models.endpoints import Price
from visinstruct.models.ledger import Ledger
from visinstruct.recipe import parse_recipe
from visinstruct.report import write_report
from visinstruct.report.stats import collect
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

XSS_Q = "<img src=x onerror=alert(1)> How many bars are there?"
XSS_A = "</script><script>alert(1)</script>"
XSS_OPT = "<svg onload=alert(2)>"
XSS_REASON = "<b onmouseover=alert(3)>answer differs</b>"
GALLERY, SEED = 24, 7
SECTIONS = ("overview", "samples", "balance", "lengths", "checks", "verification", "cost", "gallery")
CHART_SECTIONS = ("samples", "balance", "lengths", "checks", "verification", "cost")


def make_run(path: Path) -> Path:
    recipe = parse_recipe(
        {"seed": 1, "languages": ["en", "zh"], "synthetic": {"charts": 6, "differences": 4, "clocks": 6}}
    )
    run(recipe, path, workers=1)
    return path


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("plain") / "run")


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory) -> Path:
    """A run whose samples exercise every section: statuses, failed checks, verification,
    spend, and hostile text in samples the gallery shows."""
    path = make_run(tmp_path_factory.mktemp("busy") / "run")
    with RunStore(path) as store:
        _, shown = collect(store.iter_samples(), gallery=GALLERY, seed=SEED)
        shown_ids = {s.id for s in shown}
        samples = list(store.iter_samples())
        gallery = [s for s in samples if s.id in shown_ids]
        mc = next(s for s in gallery if s.type == "multiple_choice")
        other = next(s for s in gallery if s.type in ("short_vqa", "judgement"))
        changed = []

        other.turns[0].question, other.turns[0].answer = XSS_Q, XSS_A
        other.checks["verify"] = failed(XSS_REASON, severity="review", model_answer="7")
        other.checks["structure"] = failed("answer is not a single word or phrase")
        other.status = "rejected"
        changed.append(other)

        mc.options[0] = XSS_OPT
        mc.checks["verify"] = failed("the verifier chose another letter", severity="review")
        mc.status = "needs_review"
        changed.append(mc)

        for s in samples[::5]:
            if s.id in (mc.id, other.id):
                continue
            s.checks["verify"] = passed(model_answer=s.short_answer)
            changed.append(s)
        for s in [s for s in samples if s.id not in shown_ids and s.type == "judgement"][:3]:
            s.checks["verify"] = failed("the verifier said the opposite", severity="review")
            s.status = "needs_review"
            changed.append(s)
        edited = next(s for s in samples if s.type == "long_vqa" and s not in changed)
        edited.checks["review"] = passed(reviewer="ana", action="edit")
        changed.append(edited)
        assert store.replace_samples(changed) == len(changed)

        ledger = Ledger()
        price = Price(input=0.15, output=0.6)
        for _ in range(40):
            ledger.charge(
                "vlm", "caption", "gpt-4o-mini", {"prompt_tokens": 1200, "completion_tokens": 300}, price
            )
        for _ in range(25):
            ledger.charge(
                "llm", "verify", "gpt-4o-mini", {"prompt_tokens": 800, "completion_tokens": 20}, price
            )
        ledger.save(store.db)
    return path


class Tags(HTMLParser):
    """Every start tag and its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_report_is_self_contained_and_escaped(busy_run, tmp_path):
    with RunStore(busy_run) as store:
        out = write_report(store, tmp_path / "r" / "report.html", gallery=GALLERY, seed=SEED)
    page = out.read_text("utf-8")
    parser = Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "object", "embed", "link", "base"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
                assert (value or "").startswith(("data:", "#")), (tag, name, value)
    assert "http://" not in page and "https://" not in page
    for text in (XSS_Q, XSS_A, XSS_OPT, XSS_REASON):
        assert text not in page
    imgs = [a for t, a in parser.tags if t == "img"]
    assert imgs and all(a["src"].startswith("data:image/jpeg;base64,") for a in imgs)
    for key in SECTIONS:
        assert f'<section id="{key}"' in page
    assert "no verification run" not in page and "no model calls" not in page


def test_empty_sections_say_so(plain_run, tmp_path):
    with RunStore(plain_run) as store:
        page = write_report(store, tmp_path / "report.html").read_text("utf-8")
    assert "no verification run" in page
    assert "no model calls" in page
    assert "every check passed" in page


def test_gallery_is_seeded_and_uniform_size(plain_run):
    with RunStore(plain_run) as store:
        total = store.count_samples()
        a = [s.id for s in collect(store.iter_samples(), gallery=10, seed=3)[1]]
        b = [s.id for s in collect(store.iter_samples(), gallery=10, seed=3)[1]]
        c = [s.id for s in collect(store.iter_samples(), gallery=10, seed=4)[1]]
        order = [s.id for s in store.iter_samples()]
        stats, everything = collect(store.iter_samples(), gallery=total + 5, seed=0)
    assert a == b and len(a) == 10 and len(set(a)) == 10
    assert a != c
    assert a == sorted(a, key=order.index), "gallery picks are shown in run order"
    assert [s.id for s in everything] == order
    assert stats.total == total == sum(stats.by_status.values())


def test_report_renders_in_chromium(busy_run, tmp_path):
    with RunStore(busy_run) as store:
        out = write_report(store, tmp_path / "report.html", gallery=GALLERY, seed=SEED)
    url = out.resolve().as_uri()
    routed = []

    def route(r):
        routed.append(r.request.url)
        if r.request.url == url or r.request.url.startswith("data:"):
            r.continue_()
        else:
            r.abort()

    with chromium_page(route, "the report's browser test") as (page, log):
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")

        charts = page.evaluate(
            """() => [...document.querySelectorAll('svg.chart')].map(svg => {
                const b = svg.getBoundingClientRect();
                return {section: svg.closest('section')?.id, w: b.width, h: b.height,
                        marks: svg.querySelectorAll('rect.bar').length,
                        sized: [...svg.querySelectorAll('rect.bar')].filter(r => {
                            const rb = r.getBoundingClientRect(); return rb.width > 0 && rb.height > 0;
                        }).length};
            })"""
        )
        images = page.evaluate(
            """() => [...document.querySelectorAll('#gallery img')].map(i => ({
                complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                shown: i.getBoundingClientRect().width}))"""
        )
        cards = page.locator("#gallery .sample").count()
        scripts = page.locator("script").count()
        injected = page.locator("img[src='x'], svg[onload], b[onmouseover]").count()
        body_text = page.inner_text("body")
        visible = {t: page.get_by_text(t, exact=False).first.is_visible() for t in (XSS_Q, XSS_A, XSS_OPT)}
        sections = {key: page.locator(f"section#{key}").is_visible() for key in SECTIONS}
        # the embedded CJK font loads from the page itself and draws hanzi
        cjk = page.evaluate(
            """async () => {
                const spec = '16px "visinstruct CJK"';
                const faces = await document.fonts.load(spec, '中文');
                const s = document.createElement('span');
                s.style.font = spec;
                s.textContent = '中文字体';
                document.body.appendChild(s);
                return {faces: faces.length, check: document.fonts.check(spec, '中文'),
                        width: s.getBoundingClientRect().width};
            }"""
        )
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    assert not log.errors, log.errors
    assert not [m for m in log.console if m[0] == "error"], log.console
    assert not log.dialogs, f"a script ran: {log.dialogs}"
    assert all(sections.values()), sections
    assert cjk["faces"] == 1 and cjk["check"] and cjk["width"] > 0, cjk
    # every chart is drawn, has a size and holds visible marks; every charted section has one
    assert len(charts) >= 10, charts
    for c in charts:
        assert c["w"] > 0 and c["h"] > 0 and c["marks"] > 0 and c["sized"] > 0, c
    assert set(CHART_SECTIONS) <= {c["section"] for c in charts}
    # the gallery: every card, every image decoded
    assert cards == GALLERY
    assert images and all(i["complete"] and i["w"] > 0 and i["h"] > 0 and i["shown"] > 0 for i in images)
    assert max(max(i["w"], i["h"]) for i in images) <= 320
    # hostile text shows as text and nothing it names exists in the page
    assert scripts == 0 and injected == 0
    for text in (XSS_Q, XSS_A, XSS_OPT, XSS_REASON):
        assert text in body_text, text
    assert all(visible.values()), visible
    # nothing was fetched but the report itself (data: URIs are not requests)
    fetched = [u for u in log.requests + routed if u != url and not u.startswith("data:")]
    assert not fetched, fetched
    assert (tmp_path / "report.png").stat().st_size > 0
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(tmp_path / "report.png", os.environ["REPORT_SCREENSHOT"])


def test_cjk_font_is_embedded_only_when_the_report_shows_chinese(busy_run, tmp_path):
    with RunStore(busy_run) as store:
        page = write_report(store, tmp_path / "zh.html", gallery=GALLERY, seed=SEED).read_text("utf-8")
    assert re.search(r"[\u4e00-\u9fff]", page)
    assert page.count("@font-face") == 1 and "font/otf;base64," in page and "font-src data:" in page
    en = run(
        parse_recipe({"seed": 1, "languages": ["en"], "synthetic": {"clocks": 2}}), tmp_path / "en", workers=1
    )
    with RunStore(tmp_path / "en") as store:
        page = write_report(store, tmp_path / "en.html").read_text("utf-8")
    assert en is not None and "@font-face" not in page


def test_length_histogram_with_bins_of_25():
    from visinstruct.report.charts import histogram

    # 0..260 in 12 bins needs a step of 22 → rounded to 25 (2.5 × 10): a whole number of words
    svg = histogram({0: 1, 130: 5, 260: 2}, x_label="words", y_label="samples", title="t")
    assert svg.startswith("<svg") and "250" in svg


def test_report_shows_each_imported_dataset_and_its_bad_records(tmp_path):
    """Per dataset: images and questions read, samples made, bad records with their reasons (as
    `visinstruct status` shows); a run without datasets says so."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_expand_tabmwp import build_tabmwp

    exp = build_tabmwp(tmp_path)
    source = {"dataset": "tabmwp", "path": str(tmp_path / exp.path), "split": "train"}
    run(parse_recipe({"name": "tabs", "sources": [source]}), tmp_path / "run", exports=False)
    with RunStore(tmp_path / "run") as store:
        [(_, images, questions, bad, samples)] = store.dataset_counts()
        page = write_report(store, tmp_path / "report.html").read_text("utf-8")
    assert (images, questions, bad) == (6, 6, 5)
    section = page.split('<section id="datasets">', 1)[1].split("</section>", 1)[0]
    cells = [c.split(">", 1)[1] for c in section.split("<td")[1:]]
    cells = [c.split("</td>", 1)[0] for c in cells]
    assert cells[:5] == ["tabmwp", "6", "6", f"{samples:,}", "5"]
    assert "tables/21.png is missing" in section and "unknown ques_type &#x27;essay&#x27;" in section
    assert {"21", "22", "23", "24", "25"} <= set(cells)


def test_a_run_without_datasets_says_so(plain_run, tmp_path):
    with RunStore(plain_run) as store:
        page = write_report(store, tmp_path / "report.html").read_text("utf-8")
    assert "no dataset imported" in page
