"""Chinese items draw Chinese: the bundled CJK fonts hold every character the word lists can draw,
and a Chinese chart, table and document show hanzi in their pictures, not boxes."""

from __future__ import annotations

import random
import re
from functools import cache
from importlib import resources

import pytest
import yaml
from PIL import ImageFont

from visinstruct.synth import get_domain, style
from visinstruct.synth.ocr.data import ZH
from visinstruct.synth.tables.data import ZH_PARTS

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
WORDS = resources.files("visinstruct.synth").joinpath("words")
MISSING = "\uffff"  # no font has it: rendering it gives the .notdef glyph ("tofu")


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def drawable_text() -> set[str]:
    """Every character a Chinese item can draw: word lists, colour names, time and date words."""
    text = ""
    for f in WORDS.iterdir():
        if f.name.endswith(".zh.yaml"):
            text += "".join(strings(yaml.safe_load(f.read_text("utf-8"))))
    text += "".join(c[1] for c in style.COLORS)
    text += "".join(p for _, p in ZH_PARTS) + "年月日号市区¥：—（）"
    return {c for c in text if not c.isspace()}


@cache
def mask(name: str, ch: str) -> bytes:
    f = style.font(name, 24)
    m = f.getmask(ch)
    return bytes(m) + bytes(m.size)


def covered(name: str, ch: str) -> bool:
    """A character has a glyph of its own in the font (its mask is not the .notdef box)."""
    return mask(name, ch) != mask(name, MISSING)


def test_the_fonts_are_small_licensed_and_load():
    folder = resources.files("visinstruct").joinpath("fonts")
    sizes = [len(folder.joinpath(n).read_bytes()) for n in style.CJK_FONT_FILES]
    assert sum(sizes) < 3.2e6
    assert "SIL OPEN FONT LICENSE Version 1.1" in folder.joinpath("LICENSE-NotoCJK.txt").read_text("utf-8")
    for name in style.CJK_FONT_FILES:
        assert isinstance(style.font(name, 20), ImageFont.FreeTypeFont)
    # a font without hanzi draws the box: the check below can fail
    assert not covered("DejaVuSans.ttf", "中")


@pytest.mark.parametrize("name", style.CJK_FONT_FILES)
def test_every_drawable_character_is_in_every_cjk_font(name):
    chars = drawable_text()
    assert len(chars) > 500
    missing = sorted(c for c in chars if not covered(name, c))
    assert not missing, f"{name} lacks {''.join(missing)}: run scripts/subset_cjk_font.py"


def test_chinese_items_pick_cjk_fonts():
    rng = random.Random(0)
    assert {style.pick_font_name(rng, "zh") for _ in range(50)} <= set(style.CJK_FONT_FILES)
    assert {style.pick_font_name(rng, "en") for _ in range(50)} <= set(style.FONT_FILES)
    assert style.mono_font("zh") in style.CJK_FONT_FILES
    assert set(style.bold_fonts("zh")) <= set(style.CJK_FONT_FILES)


def ink(img, box) -> int:
    lo, hi = img.crop(box).convert("L").getextrema()
    return hi - lo


def test_a_chinese_document_draws_its_hanzi_in_their_boxes():
    """Each Chinese line's box holds drawn text, and every hanzi of it has a real glyph in the
    fonts Chinese items draw with (a box drawn in a font without it would be tofu)."""
    seen = 0
    for seed in range(12):
        item = get_domain("ocr").make(random.Random(seed), "zh")
        f = item.facts
        zh_lines = [(ln, box) for ln, box in zip(f["lines"], f["boxes"], strict=True) if CJK.search(ln)]
        assert zh_lines, f["lines"]
        for line, box in zh_lines:
            assert ink(item.images[0], box) > 60
            for name in style.CJK_FONT_FILES:
                assert all(covered(name, c) for c in line if CJK.match(c)), line
            seen += 1
        for q in item.questions:  # the questions quote what the picture shows
            assert not re.search(
                r"[A-Za-z]{2,}", q.turns[0][0].replace(f.get("fields", {}).get("email", "@"), "")
            )
    assert seen > 30


def test_chinese_charts_and_tables_label_their_pictures_in_chinese():
    for seed in range(6):
        chart = get_domain("charts").make(random.Random(seed), "zh").facts
        assert CJK.search(chart["title"]) and all(CJK.search(x) or x.isdigit() for x in chart["labels"])
        table = get_domain("tables").make(random.Random(seed), "zh").facts
        assert CJK.search(table["title"]) and all(CJK.search(r) for r in table["rows"])
        cells = [c for col in table["columns"] for c in col["cells"]]
        assert not any(re.search(r"[A-Za-z]", c) for c in cells), cells
        for text in [chart["title"], *chart["labels"], table["title"], *table["rows"], table["row_header"]]:
            assert all(covered(style.CJK_FONT_FILES[0], c) for c in text if CJK.match(c)), text


def test_the_drawn_table_differs_from_tofu(monkeypatch):
    """Drawn with a font that lacks hanzi, a Chinese table's picture changes: the hanzi in the
    real picture are glyphs, not the boxes a missing font draws."""
    real = get_domain("tables").make(random.Random(3), "zh").images[0]
    monkeypatch.setattr(
        style, "font", lambda name, size: ImageFont.truetype(style._font_path("DejaVuSans.ttf"), size)
    )
    tofu = get_domain("tables").make(random.Random(3), "zh").images[0]
    assert real.tobytes() != tofu.tobytes()
    assert ZH().people  # the Chinese vocabulary loads once and names people from it
