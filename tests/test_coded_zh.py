"""Chinese coded specs: a zh unit asks for Chinese text, the spec's characters are checked
against the CJK font it is drawn with (a refusal names the character), every renderer draws
the hanzi as glyphs, not as the missing-glyph box, and every answer equals the value computed
here from the canned spec."""

from __future__ import annotations

import copy
import json
import re

import pytest
from browser import sync_playwright_or_skip
from PIL import Image
from test_coded import Trap, chart_truth, check_answer, responder_for

from visinstruct.coded.render import render
from visinstruct.coded.validate import CJK_FAMILY, Spec, SpecError, validate
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


BAR = {
    "title": "各展厅参观人数",
    "width": 360,
    "height": 240,
    "data": {
        "values": [
            {"展厅": "雕塑馆", "人数": 420, "季节": "春季"},
            {"展厅": "肖像馆", "人数": 310, "季节": "春季"},
            {"展厅": "风景馆", "人数": 150, "季节": "春季"},
            {"展厅": "雕塑馆", "人数": 380, "季节": "秋季"},
            {"展厅": "肖像馆", "人数": 455, "季节": "秋季"},
            {"展厅": "风景馆", "人数": 205, "季节": "秋季"},
        ]
    },
    "mark": "bar",
    "encoding": {
        "x": {"field": "展厅", "type": "nominal"},
        "y": {"field": "人数", "type": "quantitative", "title": "参观人数"},
        "color": {"field": "季节", "type": "nominal"},
    },
}
SVG = """```svg
<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320">
  <rect x="0" y="0" width="480" height="320" fill="white"/>
  <circle cx="70" cy="80" r="40" fill="red"/>
  <circle cx="180" cy="80" r="40" fill="blue"/>
  <circle cx="290" cy="80" r="40" fill="red"/>
  <rect x="360" y="40" width="90" height="80" fill="#22aa22"/>
  <text x="40" y="220" font-size="36" font-family="Arial" fill="black">港口节日</text>
  <text x="40" y="280" font-size="18" style="font-family: serif" fill="#333333">七号码头9点开放</text>
</svg>
```"""
HTML = """<!DOCTYPE html>
<html><head><meta name="viewport" content="width=640, height=420">
<style>body{font-family:sans-serif} table{border-collapse:collapse}
h1{font: bold 32px Georgia, serif} td,th{border:1px solid #888;padding:4px 10px}</style>
</head><body>
<h1>河畔面包店</h1>
<p>每天早上新鲜出炉</p>
<table><tr><th>品名</th><th>价格</th><th>库存</th></tr>
<tr><td>羊角面包</td><td>3</td><td>24</td></tr>
<tr><td>法棍</td><td>4</td><td>12</td></tr>
<tr><td>松饼</td><td>2</td><td>30</td></tr></table>
</body></html>"""
HTML_TABLE = (["品名", "价格", "库存"], [["羊角面包", 3, 24], ["法棍", 4, 12], ["松饼", 2, 30]])
TABLE = {
    "title": "徒步路线长度",
    "columns": ["路线", "长度 km", "爬升 m", "难度"],
    "rows": [["山脊环线", 12, 640, "难"], ["湖边小道", 5, 80, "易"], ["松林步道", 8, 210, "中等"]],
}
SPECS = {
    "vega-lite": json.dumps(BAR, ensure_ascii=False),
    "svg": SVG,
    "html": HTML,
    "table": json.dumps(TABLE),
}
# a Chinese text of each spec, and another of the same length to draw in its place
TITLES = {"vega-lite": ("各展厅参观人数", "本年度销售额表"), "svg": ("港口节日", "河畔面包"),
          "html": ("河畔面包店", "港口节日会"), "table": ("徒步路线长度", "各展厅参观表")}  # fmt: skip


def swapped(spec, old: str, new: str):
    """The validated spec with one text replaced in what is drawn (not validated again)."""
    out = copy.copy(spec)
    if isinstance(spec.source, str):
        out.source = spec.source.replace(old, new)
    else:
        out.source = json.loads(json.dumps(spec.source, ensure_ascii=False).replace(old, new))
    return out


@pytest.mark.parametrize("kind", list(SPECS))
def test_every_renderer_draws_chinese_with_glyphs_not_boxes(kind):
    """Two different Chinese titles draw two different pictures, while two different characters
    no font has draw the same picture (the missing-glyph box): the hanzi are real glyphs."""
    if kind in ("svg", "html"):
        sync_playwright_or_skip("drawing svg and html specs")
    spec = validate(kind, SPECS[kind], "zh")
    assert spec.lang == "zh"
    a, b = TITLES[kind]
    assert len(a) == len(b)
    drawn = {
        name: render(swapped(spec, a, text))
        for name, text in [("a", a), ("b", b), ("box1", "\ue000" * len(a)), ("box2", "\ue001" * len(a))]
    }
    pixels = {name: d.image.tobytes() for name, d in drawn.items()}
    assert pixels["box1"] == pixels["box2"], "the missing-glyph control draws two different pictures"
    assert pixels["a"] != pixels["box1"], f"{kind}: the Chinese title is drawn as missing-glyph boxes"
    assert pixels["a"] != pixels["b"], f"{kind}: two Chinese titles draw the same picture (boxes)"
    if kind in ("svg", "html"):  # the title's own box holds the difference, and nothing was fetched
        [tid] = [k for k, m in drawn["a"].seen.items() if k.startswith("t") and m["font"] >= 30]
        x, y, w, h = drawn["a"].seen[tid]["box"]
        crop = (int(x), int(y), int(x + w) + 1, int(y + h) + 1)
        assert drawn["a"].image.crop(crop).tobytes() != drawn["box1"].image.crop(crop).tobytes()
        assert all(d.blocked == [] for d in drawn.values())


def test_the_chinese_page_fetches_nothing_either():
    """Markup that never passed validation, drawn on the page that holds the CJK font: every
    request is aborted or never made, and the page's script does not run."""
    sync_playwright_or_skip("drawing in the sandbox")
    trap = Trap()
    try:
        url = trap.url
        markup = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120">'
            f'<rect width="200" height="120" fill="white"/>'
            f'<image href="{url}/a.png" width="50" height="50"/>'
            f'<rect data-vi="s0" x="10" y="10" width="60" height="40" fill="red" '
            f'style="stroke:url({url}/b)"/>'
            f'<text data-vi="t0" x="80" y="40" font-size="20">中文</text>'
            f"<script>document.querySelector('rect').setAttribute('fill', 'blue')</script></svg>"
            f'<link rel="stylesheet" href="{url}/c.css"><iframe src="{url}/d.html"></iframe>'
            f'<img src="file:///etc/hostname"><img src="{url}/e.png" onerror="this.remove()">'
        )
        css = f"@import url({url}/f.css); body{{background:url({url}/g.png)}}"
        drawn = render(Spec("html", 200, 120, {"css": css, "body": markup}, {}, lang="zh"))
        assert drawn.image.size == (200, 120)
        assert drawn.seen["s0"]["fill"] == "rgb(255, 0, 0)", "the page's script ran"
        assert drawn.seen["t0"]["visible"]
        assert drawn.blocked == [] or all(u.startswith((url, "file:")) for u in drawn.blocked)
        # the next drawing on that page starts from an empty body and stylesheet
        again = render(validate("svg", SVG, "zh"))
        assert set(again.seen) == {"s0", "s1", "s2", "s3", "s4", "t0", "t1"}
    finally:
        assert trap.hits() == []


def test_chinese_font_lists_name_the_bundled_font_first():
    svg = validate("svg", SVG, "zh").source
    assert f"font-family=\"'{CJK_FAMILY}', Arial\"" in svg
    assert f"font-family: '{CJK_FAMILY}', serif" in svg
    css = validate("html", HTML, "zh").source["css"]
    assert f"font-family:'{CJK_FAMILY}', sans-serif" in css
    assert f"font: bold 32px '{CJK_FAMILY}', Georgia, serif" in css
    assert validate("vega-lite", SPECS["vega-lite"], "zh").source["config"] == {"font": "Noto Sans CJK SC"}
    # English specs are drawn as before: nothing added
    en = validate("svg", SVG.replace("港口节日", "Harbour").replace("七号码头9点开放", "Pier 7"))
    assert CJK_FAMILY not in en.source and "config" not in validate("table", json.dumps(TABLE), "zh").source


EMOJI = '<svg width="99" height="99"><text y="20">港口😀</text></svg>'


@pytest.mark.parametrize(
    ("lang", "kind", "reply", "reason"),
    [
        ("zh", "svg", EMOJI, "U+1F600 '😀' (GRINNING FACE)"),
        ("zh", "table", json.dumps({**TABLE, "title": "龘路线"}), "U+9F98 '龘' (CJK UNIFIED IDEOGRAPH-9F98)"),
        ("zh", "html", "<h1>Café 咖啡</h1>", "U+00E9 'é' (LATIN SMALL LETTER E WITH ACUTE)"),
        ("zh", "vega-lite", SPECS["vega-lite"].replace("雕塑馆", "雕\U00020000"), "IDEOGRAPH-20000"),
        ("en", "svg", '<svg width="99" height="99"><text y="20">中文</text></svg>', "U+4E2D '中' (CJK"),
        ("zh", "html", "<style>@font-face{font-family:x}</style><h1>标题</h1>", "@font-face in CSS"),
    ],
)  # fmt: skip
def test_a_character_the_fonts_lack_is_refused_by_name(lang, kind, reply, reason):
    with pytest.raises(SpecError) as e:
        validate(kind, reply, lang)
    assert reason in e.value.reason
    if "U+" in reason:
        font = "Noto Sans CJK SC" if lang == "zh" else "DejaVu Sans"
        assert f"has no glyph in {font}, the font of {lang} specs" in e.value.reason


def expected(kind: str, spec, rec: dict):
    """The answer of a sample, computed from the canned Chinese spec."""
    k, args = rec["kind"], rec.get("args", {})
    if kind == "vega-lite":
        row = chart_truth(spec)[args.get("series")]
        if k == "value":
            return row[args["category"]]
        if k in ("max", "min"):
            return (max if k == "max" else min)(row, key=row.get)
        if k == "count":
            return len(row)
        if k == "total":
            return sum(row.values())
        if k == "compare":
            return row[rec["stated"]["greater"]] > row[rec["stated"]["than"]]
    if kind == "table" or (kind == "html" and k in ("cell", "max", "min", "rows", "total")):
        cols, rows = (spec["columns"], spec["rows"]) if kind == "table" else HTML_TABLE
        j = cols.index(args["column"]) if "column" in args else None
        if k == "cell":
            return next(r[j] for r in rows if r[0] == args["row"])
        if k in ("max", "min"):
            return (max if args["highest"] else min)(rows, key=lambda r: r[j])[0]
        if k == "rows":
            return len(rows)
        if k == "total":
            return sum(r[j] for r in rows)
    texts = re.findall(r">([^<>]*\S[^<>]*)<", spec)
    if kind == "svg":
        shapes = re.findall(r"<(circle|rect)\b([^>]*)/>", spec)
        counted = [(t, re.search(r'fill="([^"]+)"', a).group(1)) for t, a in shapes if 'width="480"' not in a]
        fills = {"red": "red", "blue": "blue", "#22aa22": "green"}
        if k == "count_colour":
            return sum(fills[f] == args["colour"] for _, f in counted)
        if k.startswith("count_"):
            return sum(t == args["shape"] for t, _ in counted)
        if k == "colour":
            [fill] = [f for t, f in counted if t == args["shape"]]
            return fills[fill]
        if k == "title":
            return "港口节日"
    if kind == "html" and k == "title":
        return "河畔面包店"
    if k == "presence":
        return rec["stated"]["text"] in [t.strip() for t in texts]
    raise AssertionError(f"no expectation for {kind} {k}")


def test_a_chinese_run_asks_in_chinese_and_answers_from_the_spec(fake_openai, tmp_path):
    sync_playwright_or_skip("drawing svg and html specs")
    respond = responder_for({f"coded/{k}/zh/0": v for k, v in SPECS.items()})
    received: list[dict] = []
    fake_openai.responder = lambda req: (received.append(req), respond(req))[1]
    rec = parse_recipe(
        {
            "name": "coded-zh",
            "seed": 5,
            "languages": ["zh"],
            "endpoints": {
                "llm": {
                    "model": "fake-model",
                    "base_url": fake_openai.base_url,
                    "provider": "vllm",
                    "api_key_env": "VISINSTRUCT_TEST_KEY",
                }
            },
            "coded": {"count": 4, "topics": ["posters"]},
            "checks": {"image_dedup": False},
        }
    )
    summary = run_recipe(rec, tmp_path / "run", workers=1)
    assert (summary.stages["coded"].done, summary.stages["coded"].failed) == (4, 0)
    assert len(received) == 4
    for req in received:  # the request is Chinese and asks for Chinese text
        system, user = (m["content"] for m in req["messages"])
        assert "简体中文" in system and "海报" in user and "变体 coded/" in user
    with RunStore(tmp_path / "run", create=False) as store:
        samples = [s for s, _v, _d in store.samples_between(0, 10**18)]
        for s in samples:
            assert all(r.get("pass") for r in store.stage_result(s.id, "rules").values()), s.turns
        paths = {i: store.image_path(i) for s in samples for i in s.images}
    by_kind: dict[str, list] = {}
    for s in samples:
        by_kind.setdefault(s.context["facts"]["kind"], []).append(s)
    assert set(by_kind) == set(SPECS)
    for kind, made in by_kind.items():
        assert {s.language for s in made} == {"zh"}
        assert {s.type for s in made} == {"judgement", "multiple_choice", "short_vqa", "long_vqa"}, kind
        assert all(CJK.search(s.turns[0].question) for s in made)
        facts = made[0].context["facts"]
        raw = SPECS[kind].strip("`").removeprefix("svg")
        spec = json.loads(raw) if kind in ("vega-lite", "table") else raw
        for s, q in zip(made, facts["questions"], strict=True):
            want = expected(kind, spec, q)
            check_answer(s, q, want, "zh")
        with Image.open(paths[made[0].images[0]]) as im:
            assert max(hi - lo for lo, hi in im.convert("RGB").getextrema()) > 100


def test_a_prompt_without_chinese_texts_is_refused_before_a_chinese_run(tmp_path):
    from importlib import resources

    import yaml

    from visinstruct.coded.setup import check
    from visinstruct.errors import RecipeError
    from visinstruct.recipe import CodedSpec

    data = yaml.safe_load(resources.files("visinstruct.prompts").joinpath("coded.yaml").read_text("utf-8"))
    del data["text_rules"]["table"]["zh"]
    (tmp_path / "coded.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    spec = CodedSpec(count=4, kinds=["table"])
    check(spec, {}, str(tmp_path), ("en",))  # English alone needs no Chinese text
    want = r"coded\.yaml: no `text_rules: table: zh:` text for coded specs in zh"
    with pytest.raises(RecipeError, match=want):
        check(spec, {}, str(tmp_path), ("en", "zh"))
