"""The ocr domain: rendered text whose exact lines, boxes and fields are known."""

from __future__ import annotations

import random
import re

import pytest

from visinstruct.synth import get_domain
from visinstruct.synth.ocr import Ocr, near_miss, valid_target

SEEDS = range(120)
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
STRIP = ".,:;!?\"'()"


def make(seed: int, lang: str = "en"):
    return Ocr().make(random.Random(seed), lang)


def tokens(line: str) -> list[str]:
    return [t.strip(STRIP) for t in line.split() if t.strip(STRIP)]


def count_word(word: str, lines: list[str], lang: str = "en") -> int:
    """Whole tokens in English; in Chinese, which runs words together, every place it is written."""
    if lang == "zh":
        return sum(line.count(word) for line in lines)
    return sum(t.lower() == word.lower() for line in lines for t in tokens(line))


def expected(facts: dict, query: dict, lang: str = "en") -> str:
    """The answer to a recorded query, recomputed from the facts alone."""
    lines = facts["lines"]
    kind = query["kind"]
    if kind == "read_line":
        return lines[query["line"] - 1]
    if kind == "read_title":
        assert facts["has_title"]
        return lines[0]
    if kind == "count_lines":
        return str(len(lines))
    if kind == "field":
        value = facts["fields"][query["field"]]
        assert any(value in line for line in lines), (value, lines)
        return value
    if kind == "item_price":
        (price,) = [it["price"] for it in facts["items"] if it["name"] == query["item"]]
        assert f"{query['item']} {price}" in lines
        return price
    if kind == "count_words":
        line = lines[query["line"] - 1]
        assert all(t.isalpha() for t in tokens(line))
        return str(len(line.split()))
    if kind == "count_word":
        return str(count_word(query["word"], lines, lang))
    if kind == "find_line":
        hits = [i + 1 for i, line in enumerate(lines) if count_word(query["word"], [line], lang)]
        assert len(hits) == 1
        return str(hits[0])
    if kind == "first_word":
        return tokens(lines[query["line"] - 1])[0]
    if kind == "last_word":
        return tokens(lines[query["line"] - 1])[-1]
    raise AssertionError(kind)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_contract_and_answers_recomputed_from_facts(lang):
    layouts = set()
    for seed in SEEDS:
        item = make(seed, lang)
        facts, qs = item.facts, item.questions
        layouts.add(facts["layout"])
        types = {q.type for q in qs}
        assert types == {"judgement", "multiple_choice", "short_vqa", "long_vqa"}
        judg = [q for q in qs if q.type == "judgement"]
        assert len(judg) % 2 == 0 and sum(q.truth for q in judg) == len(judg) // 2
        assert len(facts["queries"]) == len(qs)
        lines = facts["lines"]
        text = " ".join(lines).lower()
        for q, query in zip(qs, facts["queries"], strict=True):
            assert q.category in {
                "text_reading",
                "value_lookup",
                "counting",
                "localization",
                "word_search",
                "transcription",
            }
            if q.type == "judgement":
                assert q.turns[0][1] == ""
                if query["kind"] == "word_present":
                    present = count_word(query["word"], lines, lang) > 0
                    assert present == q.truth
                    if not present:  # a false word must not even hide inside another word
                        assert query["word"].lower() not in text
                else:
                    assert (query["claim"] == expected(facts, query, lang)) == q.truth
            elif q.type == "multiple_choice":
                ans = expected(facts, query, lang)
                assert q.correct == ans
                opts = [q.correct, *q.distractors]
                assert len(q.distractors) == 3 and len(set(opts)) == 4
                assert all(isinstance(o, str) and o for o in opts)
            elif q.type == "short_vqa":
                ans = expected(facts, query, lang)
                assert q.short_answer == ans == q.turns[0][1]
                assert len(q.turns) == 1
            else:
                assert 2 <= len(q.turns) <= 4
                assert "\n".join(lines) in q.turns[0][1]
                assert len(query["follow"]) == len(q.turns) - 1
                for (_, a), follow in zip(q.turns[1:], query["follow"], strict=True):
                    ans = expected(facts, follow, lang)
                    assert follow["answer"] == ans
                    assert re.findall(r"\d+", a)[-1] == ans, (ans, a)  # the working ends with the answer
    assert layouts == {"sign", "receipt", "business_card", "notice", "label", "paragraph", "word_grid"}


def test_layout_facts_are_consistent():
    for seed in SEEDS:
        item = make(seed)
        f = item.facts
        img = item.images[0]
        assert f["size"] == [img.width, img.height]
        assert 320 <= img.width <= 840 and 320 <= img.height <= 840
        lines, boxes = f["lines"], f["boxes"]
        assert len(lines) >= 4 and len(lines) == len(boxes)
        assert len(set(lines)) == len(lines) or f["layout"] == "word_grid"
        assert all(line and line == line.strip() for line in lines)
        for x0, y0, x1, y1 in boxes:  # every line lies inside the image
            assert 0 <= x0 < x1 <= img.width and 0 <= y0 < y1 <= img.height
        if f["rotation"] == 0:  # lines are stacked top to bottom and never overlap
            for a, b in zip(boxes, boxes[1:], strict=False):
                assert a[3] <= b[1]
        else:
            assert 1.0 <= abs(f["rotation"]) <= 5.0
        if f["layout"] == "receipt":
            cents = [int(it["price"].lstrip("$").replace(".", "")) for it in f["items"]]
            total = int(f["fields"]["total"].lstrip("$").replace(".", ""))
            assert sum(cents) == total
        if f["layout"] == "business_card":
            assert f["fields"]["name"] == lines[0]
            assert "@" in f["fields"]["email"]


def test_text_is_drawn_inside_its_boxes():
    """The pixels inside a line's box differ from a plain background: the text was drawn there."""
    for seed in range(20):
        item = make(seed)
        img = item.images[0]
        for box in item.facts["boxes"]:
            crop = img.crop(box)
            lo, hi = crop.convert("L").getextrema()
            assert hi - lo > 60


def test_same_seed_same_item_and_different_seeds_differ():
    for seed in (0, 7, 31):
        for lang in ("en", "zh"):
            a, b = make(seed, lang), make(seed, lang)
            assert a.images[0].tobytes() == b.images[0].tobytes()
            assert a.facts == b.facts
            assert [(q.type, q.turns, q.truth, q.correct, q.distractors) for q in a.questions] == [
                (q.type, q.turns, q.truth, q.correct, q.distractors) for q in b.questions
            ]
    images = {make(seed).images[0].tobytes() for seed in range(12)}
    assert len(images) == 12


def test_chinese_wording_and_no_placeholders():
    for seed in range(60):
        for lang in ("en", "zh"):
            for q in make(seed, lang).questions:
                for question, answer in q.turns:
                    assert not PLACEHOLDER.search(question) and not PLACEHOLDER.search(answer)
                    if lang == "zh":
                        assert CJK.search(question)
                        if q.type == "long_vqa":
                            assert CJK.search(answer)


def test_helpers():
    rng = random.Random(3)
    for s in ("GRAND OPENING", "555-123-4567", "Milk $3.49"):
        t = near_miss(s, rng)
        assert t != s and len(t) == len(s)
        assert sum(a != b for a, b in zip(s, t, strict=True)) == 1
    assert near_miss("$12.40", rng, mode="digits").startswith("$")
    lines = ["The cat sat", "the theme park", "Cat food"]
    assert not valid_target("the", lines)  # hidden inside "theme" and spelled two ways
    assert not valid_target("cat", lines)  # "cat" and "Cat"
    assert valid_target("park", lines) and valid_target("food", lines)


def test_registered():
    assert isinstance(get_domain("ocr"), Ocr)
    assert get_domain("ocr").name == "ocr"
