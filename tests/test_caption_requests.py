"""The caption request pool: seeded draws, several requests per 100 samples, a pool augment reads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from visinstruct.augment.templates import load_file
from visinstruct.captions.requests import CaptionRequestError, bundled_pool, load_pool

ROOT = Path(__file__).resolve().parents[1]
POOL_FILE = ROOT / "src" / "visinstruct" / "captions" / "requests.yaml"


def test_draws_are_seeded_and_varied():
    pool = bundled_pool()
    for lang in ("en", "zh"):
        drawn = [pool.draw(f"unit/{i}", lang) for i in range(100)]
        assert drawn == [pool.draw(f"unit/{i}", lang) for i in range(100)]
        counts = Counter(r.text for r in drawn)
        assert len(counts) >= 5 and max(counts.values()) < 40
        assert all(r.lang == lang and r.kind == "detailed" for r in drawn)
    zh = pool.draw("x", "zh", "brief").text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)


def test_ids_are_stable_per_text():
    pool = bundled_pool()
    a, b = pool.draw("k1", "en"), pool.draw("k2", "en")
    assert (a.id == b.id) == (a.text == b.text)
    assert a.id.startswith("detailed/en/")


def test_augment_reads_the_pool_file():
    templates = load_file(POOL_FILE)
    tasks = {t.task for t in templates}
    assert tasks == {"brief", "detailed"}
    assert {t.lang for t in templates} == {"en", "zh"}


def test_a_grown_pool_file_is_used(tmp_path):
    f = tmp_path / "pool.yaml"
    f.write_text("detailed:\n  en: ['Only this one.']\n", encoding="utf-8")
    pool = load_pool(f)
    assert pool.draw("any", "en").text == "Only this one."
    with pytest.raises(CaptionRequestError, match="no detailed caption requests in language 'zh'"):
        pool.draw("any", "zh")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("- a list\n", "mapping of kind"),
        ("long: {en: [x]}\n", "unknown kinds long"),
        ("brief: {en: []}\n", "brief.en: expected a non-empty list"),
        ("brief: {en: ['Describe {image}.']}\n", "takes no placeholders"),
        ("brief: {en: [3]}\n", r"brief.en\[0\]"),
    ],
)
def test_bad_pools_name_the_problem(tmp_path, text, why):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(CaptionRequestError, match=why):
        load_pool(f)
    with pytest.raises(CaptionRequestError, match="cannot read"):
        load_pool(tmp_path / "missing.yaml")
