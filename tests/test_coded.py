"""Code-guided synthesis against the loopback server: canned specs (valid and hostile) are
validated, drawn in the sandbox and asked about; every answer is checked against a value this
test computes from the spec itself, hostile specs fail with their reason, nothing external is
ever fetched, and a re-run asks again only what failed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser import sync_playwright_or_skip
from PIL import Image

from visinstruct.coded.render import Drawn, render
from visinstruct.coded.validate import Spec, SpecError, validate
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
ZH_COLOURS = {"red": "红色", "blue": "蓝色", "green": "绿色", "orange": "橙色", "yellow": "黄色"}

# ---------------------------------------------------------------------------------------------
# a local server that hostile specs point at: it must never be asked for anything

SERVER = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("HIT", self.path, flush=True)
        self.send_response(200); self.send_header("Content-Type", "image/png"); self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
"""


class Trap:
    """An HTTP server in a process of its own (a renderer holding the GIL cannot stall it)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def hits(self) -> list[str]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [line for line in out.splitlines() if line.startswith("HIT")]


@pytest.fixture
def trap():
    t = Trap()
    yield t
    if t.proc.poll() is None:
        t.proc.kill()
        t.proc.wait()


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


# ---------------------------------------------------------------------------------------------
# canned specs

BAR = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "title": "Visitors per gallery",
    "width": 360,
    "height": 240,
    "data": {
        "values": [
            {"gallery": "Sculpture", "visitors": 420, "season": "Spring"},
            {"gallery": "Portraits", "visitors": 310, "season": "Spring"},
            {"gallery": "Landscapes", "visitors": 150, "season": "Spring"},
            {"gallery": "Sculpture", "visitors": 380, "season": "Autumn"},
            {"gallery": "Portraits", "visitors": 455, "season": "Autumn"},
            {"gallery": "Landscapes", "visitors": 205, "season": "Autumn"},
        ]
    },
    "mark": "bar",
    "encoding": {
        "x": {"field": "gallery", "type": "nominal"},
        "y": {"field": "visitors", "type": "quantitative"},
        "color": {"field": "season", "type": "nominal"},
    },
}
PIE = {
    "title": "Ticket types",
    "width": 300,
    "height": 300,
    "data": {
        "values": [{"ticket": "Adult", "n": 50}, {"ticket": "Child", "n": 30}, {"ticket": "Senior", "n": 20}]
    },
    "mark": "arc",
    "encoding": {
        "theta": {"field": "n", "type": "quantitative"},
        "color": {"field": "ticket", "type": "nominal"},
    },
}
SVG = """```svg
<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320">
  <rect x="0" y="0" width="480" height="320" fill="white"/>
  <circle cx="70" cy="80" r="40" fill="red"/>
  <circle cx="180" cy="80" r="40" fill="blue"/>
  <circle cx="290" cy="80" r="40" fill="red"/>
  <rect x="360" y="40" width="90" height="80" fill="#22aa22"/>
  <text x="40" y="220" font-size="36" fill="black">Harbour Festival</text>
  <text x="40" y="280" font-size="18" fill="#333333">Pier 7 opens at 9</text>
</svg>
```"""
HTML = """<!DOCTYPE html>
<html><head><meta name="viewport" content="width=640, height=420">
<style>body{font-family:sans-serif} table{border-collapse:collapse}
td,th{border:1px solid #888;padding:4px 10px}</style>
</head><body>
<h1>Riverside Bakery</h1>
<p>Fresh every morning</p>
<table><tr><th>Item</th><th>Price</th><th>Stock</th></tr>
<tr><td>Croissant</td><td>3</td><td>24</td></tr>
<tr><td>Baguette</td><td>4</td><td>12</td></tr>
<tr><td>Muffin</td><td>2</td><td>30</td></tr></table>
</body></html>"""
TABLE = {
    "title": "Trail lengths",
    "columns": ["Trail", "Length km", "Climb m", "Rating"],
    "rows": [["Ridge Loop", 12, 640, "hard"], ["Lake Path", 5, 80, "easy"], ["Pine Walk", 8, 210, "medium"]],
}


def hostile(trap_url: str) -> dict[str, str]:
    return {
        "coded/vega-lite/en/1": json.dumps({**BAR, "data": {"url": f"{trap_url}/data.json"}}),
        "coded/vega-lite/zh/1": json.dumps({**BAR, "width": 1e9}),
        "coded/svg/en/1": '<svg width="99" height="99"><rect width="9" height="9"/><script>x</script></svg>',
        "coded/svg/zh/1": '<svg width="100" height="100">' + "<rect/>" * 100_000 + "</svg>",
        "coded/html/en/1": '<html><body onload="go()"><h1>Hi</h1></body></html>',
        "coded/html/zh/1": f'<html><body><h1>Hi</h1><img src="{trap_url}/pixel.png"></body></html>',
        "coded/table/en/1": json.dumps({**TABLE, "source": "file:///etc/passwd"}),
        "coded/table/zh/1": "I cannot draw tables, sorry.",
    }


REASONS = {
    "coded/vega-lite/en/1": "external URL http://127.0.0.1",
    "coded/vega-lite/zh/1": "canvas 1000000000x240 > 4096x4096",
    "coded/svg/en/1": "script element",
    "coded/svg/zh/1": "100001 elements > 5000",
    "coded/html/en/1": "event handler attribute onload",
    "coded/html/zh/1": "external URL http://127.0.0.1",
    "coded/table/en/1": "`source` is not a table field",
    "coded/table/zh/1": "not JSON",
}
VALID = {"vega-lite": json.dumps(BAR), "svg": SVG, "html": HTML, "table": json.dumps(TABLE)}
VALID_ZH = {**VALID, "vega-lite": f"```json\n{json.dumps(PIE)}\n```"}


def responder_for(replies: dict[str, str]):
    def respond(req: dict) -> str | None:
        text = req["messages"][-1]["content"]
        m = re.search(r"(?:Variant|变体) (coded/[\w-]+/\w+/\d+)", text)
        return replies.get(m.group(1)) if m else None

    return respond


def recipe(server, **coded) -> dict:
    return {
        "name": "coded",
        "seed": 3,
        "languages": ["en", "zh"],
        "endpoints": {
            "llm": {
                "model": "fake-model",
                "base_url": server.base_url,
                "provider": "vllm",
                "api_key_env": "VISINSTRUCT_TEST_KEY",
            }
        },
        "coded": {"count": 16, "topics": ["artwork", "posters", "ocr"], **coded},
        "max_attempts": 2,
        "checks": {"image_dedup": False},
    }


# ---------------------------------------------------------------------------------------------
# answers computed here, from the canned spec alone


def chart_truth(spec: dict) -> dict:
    enc = spec["encoding"]
    if spec["mark"] == "arc":
        cat, val, ser = enc["color"]["field"], enc["theta"]["field"], None
    else:
        val = next(enc[c]["field"] for c in ("x", "y") if enc[c]["type"] == "quantitative")
        cat = next(enc[c]["field"] for c in ("x", "y") if enc[c]["type"] != "quantitative")
        ser = enc.get("color", {}).get("field")
    table: dict = {}
    for r in spec["data"]["values"]:
        table.setdefault(r[ser] if ser else None, {})[r[cat]] = r[val]
    return table


def expected(kind: str, spec, rec: dict, lang: str):
    """What the sample's answer must be: the value, label or text the question asks for (or,
    for a judgement, whether its statement is true)."""
    k, args = rec["kind"], rec.get("args", {})
    if kind == "vega-lite":
        t = chart_truth(spec)
        row = t[args.get("series")]
        if k == "value":
            return row[args["category"]]
        if k in ("max", "min"):
            return (max if k == "max" else min)(row, key=row.get)
        if k == "count":
            return len({c for r in t.values() for c in r})
        if k == "total":
            return sum(row.values())
        if k == "compare":
            st = rec["stated"]
            return row[st["greater"]] > row[st["than"]]
    cols, rows = None, None
    if kind == "table" or (kind == "html" and k in ("cell", "max", "min", "rows", "total")):
        if kind == "table":
            cols, rows = spec["columns"], spec["rows"]
        else:  # the bakery table, as written in the HTML above
            cols = ["Item", "Price", "Stock"]
            rows = [["Croissant", 3, 24], ["Baguette", 4, 12], ["Muffin", 2, 30]]
        j = cols.index(args["column"]) if "column" in args else None
        if k == "cell":
            return next(r[j] for r in rows if r[0] == args["row"])
        if k in ("max", "min"):
            pick = max if args["highest"] else min
            return pick(rows, key=lambda r: r[j])[0]
        if k == "rows":
            return len(rows)
        if k == "total":
            return sum(r[j] for r in rows)
    if kind == "svg":
        shapes = re.findall(r"<(circle|rect)\b([^>]*)/>", spec)
        fills = {"red": "red", "blue": "blue", "#22aa22": "green"}
        counted = [
            (tag, re.search(r'fill="([^"]+)"', a).group(1)) for tag, a in shapes if 'width="480"' not in a
        ]
        texts = re.findall(r'font-size="(\d+)"[^>]*>([^<]+)<', spec)
        if k.startswith("count_") and k != "count_colour":
            return sum(tag == args["shape"] for tag, _ in counted)
        if k == "count_colour":
            return sum(fills[f] == args["colour"] for _, f in counted)
        if k == "colour":
            [fill] = [f for tag, f in counted if tag == args["shape"]]
            return fills[fill]
        if k == "title":
            return max(texts, key=lambda t: int(t[0]))[1]
        if k == "presence":
            return rec["stated"]["text"] in [t for _, t in texts]
    if kind == "html":
        if k == "title":
            return re.search(r"<h1>(.*?)</h1>", spec).group(1)
        if k == "presence":
            return rec["stated"]["text"] in re.findall(r">([^<>]+)<", spec)
    raise AssertionError(f"no expectation for {kind} {k}")


def shown(v) -> str:
    return str(int(v)) if isinstance(v, int | float) and float(v).is_integer() else str(v)


def check_answer(sample, rec: dict, want, lang: str) -> None:
    if sample.type == "judgement":
        truth = want if isinstance(want, bool) else shown(rec.get("shown")) == shown(want)
        assert sample.short_answer == ("yes" if truth else "no"), (sample.turns, rec, want)
        return
    if rec["kind"] == "colour" and lang == "zh":
        want = ZH_COLOURS[want]
    if sample.type == "multiple_choice":
        assert sample.short_answer == shown(want), (sample.turns, rec, want)
        assert sample.options["ABCD".index(sample.answer_letter)] == shown(want)
        assert len(set(sample.options)) == 4
    elif sample.type == "short_vqa":
        assert sample.short_answer == shown(want), (sample.turns, rec, want)
    else:  # long: the worked answer states the value asked about
        assert len(sample.turns) >= 2
        assert shown(want) in sample.turns[0].answer or shown(want) in " ".join(
            t.answer for t in sample.turns
        )


# ---------------------------------------------------------------------------------------------
# the run


def test_coded_run_end_to_end_hostile_refused_answers_exact_and_resumed(fake_openai, trap, tmp_path):
    sync_playwright_or_skip("drawing svg and html specs")
    canned = {f"coded/{k}/en/0": v for k, v in VALID.items()}
    canned |= {f"coded/{k}/zh/0": v for k, v in VALID_ZH.items()}
    canned |= hostile(trap.url)
    fake_openai.responder = responder_for(canned)
    rec = parse_recipe(recipe(fake_openai))
    run_dir = tmp_path / "run"

    summary = run_recipe(rec, run_dir, workers=1)
    counts = summary.stages["coded"]
    assert (counts.done, counts.failed, counts.gave_up) == (8, 8, 0)
    assert fake_openai.requests == 16

    with RunStore(run_dir, create=False) as store:
        failed = {key: err for _stage, key, _state, err, _n in store.failed_units()}
        assert set(failed) == set(REASONS)
        for key, reason in REASONS.items():
            assert reason in failed[key], (key, failed[key])
        rows = list(store.samples_between(0, 10**18))
        samples = [s for s, _v, _d in rows]
        for s in samples:  # every sample passes the rules (options, lengths, language, ...)
            rules = store.stage_result(s.id, "rules")
            assert all(r.get("pass") for r in rules.values()), (s.turns, rules)
        images = {i: store.image(i) for s in samples for i in s.images}
        paths = {i: store.image_path(i) for i in images}

    # what was drawn: the image each valid spec declares, not blank
    by_unit: dict[str, list] = {}
    for s in samples:
        by_unit.setdefault(s.provenance["unit"], []).append(s)
    assert set(by_unit) == {k for k in canned if k not in REASONS}
    for unit, made in by_unit.items():
        kind, lang = unit.split("/")[1:3]
        [image_id] = made[0].images
        with Image.open(paths[image_id]) as im:
            im = im.convert("RGB")
            size = im.size
            assert max(hi - lo for lo, hi in im.getextrema()) > 100, f"{unit}: the image is blank"
        if kind == "svg":
            assert size == (480, 320)
        elif kind == "html":
            assert size == (640, 420)
        else:
            assert 200 <= size[0] <= 1200 and 150 <= size[1] <= 1200, (unit, size)
        assert {s.type for s in made} == {"judgement", "multiple_choice", "short_vqa", "long_vqa"}, unit
        assert {s.language for s in made} == {lang}
        facts = made[0].context["facts"]
        assert facts["kind"] == kind and facts["topic"] in ("artwork", "posters", "ocr")
        assert {s.domain for s in made} == {facts["topic"]}
        assert "blocked_requests" not in facts
        # every answer equals the value computed here from the canned spec
        raw = VALID_ZH[kind] if lang == "zh" else VALID[kind]
        spec = json.loads(raw.strip("`").removeprefix("json")) if kind in ("vega-lite", "table") else raw
        records = facts["questions"]
        assert len(records) == len(made)
        for s, q in zip(made, records, strict=True):
            assert q["type"] == s.type
            check_answer(s, q, expected(kind, spec, q, lang), lang)
    assert trap.hits() == [], "a renderer fetched what a hostile spec pointed at"

    # `visinstruct status` names each refusal
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    status = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    flat = " ".join(status.stdout.split())
    for key, reason in REASONS.items():
        assert f"coded {key}: will be retried after 1 attempts" in flat
        assert reason in flat

    # a re-run asks again only the refused specs (refused again, they give up); the next asks nothing
    before = fake_openai.requests
    again = run_recipe(rec, run_dir, workers=1)
    assert fake_openai.requests - before == 8
    assert (again.stages["coded"].skipped, again.stages["coded"].gave_up) == (8, 8)
    third = run_recipe(rec, run_dir, workers=1)
    assert fake_openai.requests - before == 8, "a resumed run sent requests for done or given-up units"
    assert third.samples == summary.samples == len(samples)
    with RunStore(run_dir, create=False) as store:
        assert [s.id for s, _v, _d in store.samples_between(0, 10**18)] == [s.id for s in samples]


# ---------------------------------------------------------------------------------------------
# validation alone (no browser)


@pytest.mark.parametrize(
    ("kind", "reply", "reason"),
    [
        ("svg", '<svg width="100" height="100"><script>alert(1)</script></svg>', "script element"),
        ("svg", '<svg width="100" height="100"><rect onload="x()" width="5" height="5"/></svg>', "onload"),
        (
            "svg",
            '<svg width="100000" height="100000"><rect width="5" height="5"/></svg>',
            "100000x100000 > 4096",
        ),
        (
            "svg",
            '<svg viewBox="0 0 5000 20" width="100" height="100"><rect/></svg>',
            "viewBox 5000x20 > 4096",
        ),
        (
            "svg",
            '<svg width="99" height="99"><rect style="fill:url(file:///etc/passwd)"/></svg>',
            "file:// URL",
        ),
        (
            "svg",
            '<svg width="99" height="99"><rect fill="url(http://a.example/p#g)"/></svg>',
            "external URL http",
        ),
        ("svg", '<svg width="99" height="99"><image href="http://a.example/x.png"/></svg>', "image element"),
        ("svg", '<svg width="99" height="99"><foreignObject/></svg>', "foreignObject element"),
        ("svg", '<svg width="99" height="99"><a href="javascript:alert(1)"><rect/></a></svg>', "a element"),
        ("svg", '<!DOCTYPE svg [<!ENTITY x "y">]><svg width="9" height="9">&x;</svg>', "DTD"),
        ("svg", '<svg width="99" height="99"><text x="1" y="9">中文</text></svg>', "has no glyph"),
        ("html", "<p>hi</p><script>alert(1)</script>", "script element"),
        ("html", '<meta http-equiv="refresh" content="0; url=http://a.example"><p>x</p>', "meta http-equiv"),
        ("html", '<link rel="stylesheet" href="http://a.example/s.css"><p>x</p>', "link element"),
        ("html", '<iframe src="file:///etc/passwd"></iframe>', "iframe element"),
        ("html", '<p style="background:url(//a.example/x.png)">x</p>', "external URL //a.example"),
        ("html", "<style>@import 'http://a.example/s.css';</style><p>x</p>", "@import"),
        ("html", '<meta name="viewport" content="width=100000, height=100000"><p>x</p>', "100000x100000"),
        ("vega-lite", json.dumps({**BAR, "transform": [{"calculate": "1", "as": "x"}]}), "`transform`"),
        ("vega-lite", json.dumps({**BAR, "params": [{"name": "p", "expr": "1"}]}), "params"),
        ("vega-lite", json.dumps({**BAR, "data": {"url": "file:///etc/passwd"}}), "file:// URL"),
        ("vega-lite", json.dumps({**BAR, "height": 1e9}), "canvas 360x1000000000 > 4096x4096"),
        ("vega-lite", json.dumps({**BAR, "mark": "rule"}), "mark"),
        ("table", json.dumps({**TABLE, "rows": [["a", 1, 2, "x"], ["a", 3, 4, "y"]]}), "distinct"),
    ],
)
def test_hostile_and_unsupported_specs_are_refused_with_their_reason(kind, reply, reason):
    with pytest.raises(SpecError) as e:
        validate(kind, reply)
    assert reason in e.value.reason


def test_what_is_drawn_is_the_validated_serialisation():
    spec = validate("svg", '<svg width="120" height="80"><!-- note --><rect width="9" height="9"/></svg>')
    assert spec.source.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "note" not in spec.source and 'data-vi="s0"' in spec.source
    page = validate("html", '<h1 class="t">A &amp; B</h1><p>x<br>y</p>')
    assert page.source["body"] == '<h1 class="t" data-vi="t0">A &amp; B</h1><p data-vi="t1">x<br>y</p>'


# ---------------------------------------------------------------------------------------------
# the sandbox on its own: markup that never passed validation still fetches nothing


def test_the_sandbox_aborts_every_request_and_runs_no_script(trap):
    sync_playwright_or_skip("drawing in the sandbox")
    url = trap.url
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120">'
        f'<rect width="200" height="120" fill="white"/>'
        f'<image href="{url}/a.png" width="50" height="50"/>'
        f'<rect data-vi="s0" x="10" y="10" width="60" height="40" fill="red" style="stroke:url({url}/b)"/>'
        f"<script>document.querySelector('rect').setAttribute('fill', 'blue')</script></svg>"
        f'<link rel="stylesheet" href="{url}/c.css"><iframe src="{url}/d.html"></iframe>'
        f'<img src="file:///etc/hostname">'
    )
    drawn: Drawn = render(Spec("svg", 200, 120, markup, {}))
    assert drawn.image.size == (200, 120)
    assert drawn.seen["s0"]["fill"] == "rgb(255, 0, 0)", "the page's script ran"
    assert drawn.image.getpixel((30, 30))[:3] == (255, 0, 0)
    assert drawn.blocked == [] or all(u.startswith((url, "file:")) for u in drawn.blocked)
    with pytest.raises(SpecError, match="External data url not allowed"):
        render(Spec("vega-lite", 300, 200, {**BAR, "data": {"url": f"{url}/data.json"}}, {}))
    assert trap.hits() == []


def test_a_wrong_coded_section_is_refused_in_one_line(fake_openai, tmp_path):
    from visinstruct.errors import RecipeError

    bad = recipe(fake_openai, topics=["no_such_domain"])
    with pytest.raises(RecipeError, match=r"coded\.topics: 'no_such_domain' is not in the domain catalog"):
        run_recipe(parse_recipe(bad), tmp_path / "run", workers=1)
    assert not (tmp_path / "run").exists()
    with pytest.raises(RecipeError, match=r"coded\.endpoint 'llm' is not in endpoints"):
        parse_recipe({**recipe(fake_openai), "endpoints": {}})
    with pytest.raises(RecipeError, match=r"coded\.kinds\.0: Input should be"):
        parse_recipe(recipe(fake_openai, kinds=["python"]))


def test_a_dry_run_counts_one_request_per_planned_spec(fake_openai, tmp_path):
    from visinstruct.stages.estimate import requests

    reqs = requests(parse_recipe(recipe(fake_openai)), tmp_path)
    assert len(reqs) == 16 and {r.stage for r in reqs} == {"coded"}
    variant = re.compile(r"(?:Variant|变体) (coded/[\w/-]+)")
    variants = [variant.search(r.messages[-1]["content"]).group(1) for r in reqs]
    assert variants[:4] == ["coded/vega-lite/en/0", "coded/svg/en/0", "coded/html/en/0", "coded/table/en/0"]
    assert len(set(variants)) == 16
