"""The loop's report opens in headless Chromium: charts drawn, model text shown as text."""

from __future__ import annotations

from browser import chromium_page

from visinstruct.loop.report import render_loop_report

XSS = "<img src=x onerror=alert(1)>"


def stat(category: str, n: int, correct: int) -> dict:
    return {"category": category, "n": n, "correct": correct, "unscored": 0}


def rows() -> list[tuple[int, str, dict]]:
    cats = ["counting", "color", XSS]
    out = []
    for r in range(3):
        stats = [stat(c, 40, 10 + 8 * r + 5 * i) for i, c in enumerate(cats)]
        w = {c: 1 / 3 for c in cats} if r < 2 else {}
        out.append((r, "analyse", {"stats": stats, "weights": w, "quotas": {}, "dropped": {}}))
        if r < 2:
            made = {"samples": 300, "by_category": {c: 100 for c in cats}, "failed": 1, "cost_usd": 0.25}
            out.append((r, "generate", made))
    return out


def test_loop_report_renders_and_escapes(tmp_path):
    out = tmp_path / "report.html"
    out.write_text(render_loop_report(f"loop {XSS}", rows()), "utf-8")
    url = out.resolve().as_uri()

    def route(r):
        if r.request.url == url or r.request.url.startswith("data:"):
            r.continue_()
        else:
            r.abort()

    with chromium_page(route, "the loop report's browser test") as (page, log):
        page.goto(url, wait_until="load")
        svgs = page.evaluate(
            """() => [...document.querySelectorAll('svg')].map(svg => {
                const b = svg.getBoundingClientRect();
                const marks = [...svg.querySelectorAll('rect')].filter(r => {
                    const rb = r.getBoundingClientRect(); return rb.width > 0 && rb.height > 0; }).length;
                return {w: b.width, h: b.height, marks};
            })"""
        )
        injected = page.locator("img[src='x']").count()
        text = page.inner_text("body")
    assert not log.errors and not log.dialogs, (log.errors, log.dialogs)
    assert not [m for m in log.console if m[0] == "error"], log.console
    assert len(svgs) == 2 and all(s["w"] > 0 and s["h"] > 0 and s["marks"] >= 6 for s in svgs), svgs
    assert injected == 0 and XSS in text
    assert "counting 100" in text and "$0.2500" in text
