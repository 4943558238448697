"""Augmentation filters, masking and similarity: each rule against planted bad rephrasings."""

from __future__ import annotations

import random

import pytest

from visinstruct.augment.diversity import (
    SimilarityIndex,
    cjk_share,
    detect_language,
    distinct_n,
    diversity,
    lcs_length,
    mean_pairwise_rouge_l,
    rouge_l,
    tokens,
)
from visinstruct.augment.filters import FilterSettings, Verdict, check, clean, normalise
from visinstruct.augment.mask import MaskError, brace_problems, mask, protected_spans, unmask

ORIGINAL = "Select the region {region} that best matches {text}. {options}"


def verdict(
    reply: str, original: str = ORIGINAL, lang: str = "en", kept: list[str] | None = None, **kw
) -> Verdict:
    """Run the rules on `reply` (written with the original's sentinels) as the engine does."""
    index, exact = SimilarityIndex(), set()
    for i, t in enumerate([original, *(kept or [])]):
        index.add(f"t{i}", tokens(t))
        exact.add(normalise(t))
    return check(reply, mask(original), original, lang, index, exact, FilterSettings(**kw))


GOOD = "Given the options [[C]], pick which area [[A]] corresponds most closely to [[B]]."


def test_a_good_rephrasing_passes_with_its_placeholders_restored():
    v = verdict(GOOD)
    assert v.ok, v
    assert (
        v.text == "Given the options {options}, pick which area {region} corresponds most closely to {text}."
    )
    assert protected_spans(v.text) == protected_spans(ORIGINAL)


# -- masking -----------------------------------------------------------------------------------
def test_mask_gives_one_sentinel_per_distinct_span_and_unmask_restores_it():
    m = mask("<image> Is {a} bigger than {b}? Compare {a} with <image>.")
    assert m.text == "[[A]] Is [[B]] bigger than [[C]]? Compare [[B]] with [[A]]."
    assert m.spans == {"A": "<image>", "B": "{a}", "C": "{b}"}
    back, unknown = unmask(m.text, m)
    assert back == "<image> Is {a} bigger than {b}? Compare {a} with <image>." and unknown == []
    assert unmask("[[B]] and [[Z]]", m) == ("{a} and [[Z]]", ["[[Z]]"])


def test_a_template_with_a_sentinel_already_in_it_cannot_be_masked():
    with pytest.raises(MaskError, match="already contains"):
        mask("Keep [[A]] as it is")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{__import__('os').system('x')}", ["{__import__('os').system('x')}"]),
        ("Q: {question.__class__}", ["{question.__class__}"]),
        ("{options[0]}", ["{options[0]}"]),
        ("{x!r} and {x:>10}", ["{x!r}", "{x:>10}"]),
        ("{{question}}", ["{{question}}"]),
        ("a {question} b }", ["}"]),
        ("{a{b}}", ["{a{b}}"]),
        ("{question} and {options}", []),
    ],
)
def test_brace_problems_names_every_expression_that_is_not_a_plain_placeholder(text, expected):
    assert brace_problems(text) == expected


# -- each rule, with a planted bad rephrasing --------------------------------------------------
@pytest.mark.parametrize(
    "reply, rule",
    [
        ("", "empty"),
        ('  ""  ', "empty"),
        (GOOD + " {__import__('os').system('touch /tmp/x')}", "unsafe_brace"),
        ("Pick [[A]] for [[B]] {question.__class__} [[C]]", "unsafe_brace"),
        ("Pick [[A]] for [[B]] from {options[0]} [[C]]", "unsafe_brace"),
        ("Pick [[A]] for {x!r} [[B]] [[C]]", "unsafe_brace"),
        ("Pick [[A]] for {x:>10} [[B]] [[C]]", "unsafe_brace"),
        ("Pick the area [[A]] that fits [[B]] best. [[C]] [[D]]", "unknown_marker"),
        ("Pick the area [[A]] that fits the text best. [[C]]", "placeholders"),
        ("Pick the area [[A]] that fits [[B]] and [[B]] best. [[C]]", "placeholders"),
        ("Pick the area [[A]] that fits {question} best. [[B]] [[C]]", "placeholders"),
        ("Sure! Here is the rephrased sentence: " + GOOD, "meta_text"),
        ("Rephrased: " + GOOD, "meta_text"),
        (GOOD + " I hope this helps!", "meta_text"),
        (GOOD + "\nThis keeps the meaning of the original.", "extra_lines"),
        ("[[A]] [[B]] [[C]]", "length"),
        (
            GOOD + " Look carefully at every single corner of the whole picture, compare all of the"
            " candidate areas one by one, and think it through before you answer.",
            "length",
        ),  # fmt: skip
        ("请从选项[[C]]中选出与[[B]]最相符的区域[[A]]。", "language"),
        (
            ORIGINAL.replace("{region}", "[[A]]").replace("{text}", "[[B]]").replace("{options}", "[[C]]"),
            "duplicate",
        ),
        ("select the REGION [[A]] that best matches   [[B]]!! [[C]]", "duplicate"),
        ("Select the region [[A]] that best matches [[B]] here. [[C]]", "near_duplicate"),
    ],
)
def test_each_rule_rejects_its_planted_rephrasing(reply, rule):
    v = verdict(reply)
    assert not v.ok and v.rule == rule, v
    assert v.text is None and v.detail


def test_meta_phrases_the_original_already_has_are_allowed():
    original = "Question: {question}\nAnswer:"
    assert verdict("Query: [[A]]\nAnswer:", original=original).ok
    v = verdict("Query: [[A]]\nRephrased: Answer:", original=original)
    assert v.rule == "meta_text" and "'rephrased:'" in v.detail


def test_rejection_details_say_what_was_wrong():
    assert verdict("Pick the area [[A]] that fits the text best. [[C]]").detail == "missing {text}"
    assert "{options[0]}" in verdict("Pick [[A]] for [[B]] from {options[0]} [[C]]").detail
    assert "with t0" in verdict("Select the region [[A]] that best matches [[B]] here. [[C]]").detail
    assert verdict("[[A]] [[B]] [[C]]").detail == "3 tokens, allowed 4..18 for an original of 9"


def test_near_duplicates_are_measured_against_every_kept_template():
    kept = ["Which area {region} goes with {text}? Choose among {options}."]
    reply = "Which area [[A]] goes with [[B]]? Please choose among [[C]]."
    assert verdict(reply).ok
    v = verdict(reply, kept=kept)
    assert v.rule == "near_duplicate" and "with t1" in v.detail
    assert verdict(reply, kept=kept, max_similarity=0.95).ok


def test_length_bounds_follow_the_settings():
    short = "Pick [[A]] for [[B]] from [[C]]."  # 6 tokens against 9
    assert verdict(short).ok
    assert verdict(short, min_length_ratio=0.8).rule == "length"
    room = "Answer from the image: [[A]]"  # 5 tokens against 1
    assert verdict(room, original="{question}").ok, "short originals get length_slack tokens of room"
    assert verdict(room, original="{question}", length_slack=3).rule == "length"


def test_language_is_kept_for_chinese_templates_too():
    zh = "请根据图片回答问题：{question}"
    assert verdict("看完这幅图，再回答这个提问：[[A]]", original=zh, lang="zh").ok
    v = verdict("Look at the picture and answer: [[A]]", original=zh, lang="zh")
    assert v.rule == "language" and "expected zh" in v.detail
    assert verdict("以下是改写后的指令：看图作答[[A]]", original=zh, lang="zh").rule == "meta_text"
    assert verdict("Look at the picture and answer: [[A]]", original=zh, lang="zh", language=False).ok


def test_wrapping_quotes_and_an_announcing_line_are_cleaned_not_rejected():
    for reply in (
        f'"{GOOD}"',
        f"“{GOOD}”",
        f"Here is the rewritten instruction:\n{GOOD}",
        f"```\n{GOOD}\n```",
    ):
        v = verdict(reply)
        assert v.ok and v.cleaned, (reply, v)
        assert v.text.startswith("Given the options {options}")
    assert not verdict(GOOD).cleaned


def test_code_fences_are_removed_with_their_language_tag_only():
    assert clean("```\nDescribe\n[[A]]\n```", "Describe\n{x}") == ("Describe\n[[A]]", True)
    assert clean("```text\nDescribe [[A]]\n```", "")[0] == "Describe [[A]]"
    assert clean("```Describe [[A]]```", "")[0] == "Describe [[A]]"


def test_quotes_that_belong_to_the_template_are_kept():
    text, cleaned = clean('"[[A]]" describes part of the image; find "[[B]]"', '"{text}" describes "{x}"')
    assert text.startswith('"[[A]]"') and not cleaned
    original = '"{text}"'
    assert clean('"[[A]]"', original) == ('"[[A]]"', False)


# -- similarity and diversity ------------------------------------------------------------------
def lcs_dp(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            cur = row[j]
            row[j] = prev + 1 if x == y else max(row[j], row[j - 1])
            prev = cur
    return row[-1]


def test_bit_parallel_lcs_equals_the_textbook_dynamic_programme():
    rng = random.Random(7)
    for _ in range(500):
        a = [rng.choice("abcde") for _ in range(rng.randrange(0, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randrange(0, 30))]
        assert lcs_length(a, b) == lcs_dp(a, b), (a, b)


def test_rouge_l_tokenises_chinese_by_character_and_placeholders_as_one_token():
    assert tokens("看图回答：{question}") == ["看", "图", "回", "答", "{question}"]
    assert tokens("Is <image> the {a_b}'s photo?") == ["is", "<image>", "the", "{a_b}", "s", "photo"]
    assert rouge_l(tokens("a b c d"), tokens("a b c d")) == 1.0
    assert rouge_l(tokens("a b c d"), tokens("e f")) == 0.0
    # lcs 3 of 4 and of 6: p=3/4, r=3/6 → F1 = 0.6
    assert rouge_l(tokens("a b c d"), tokens("a x b y c z")) == pytest.approx(0.6)
    assert rouge_l(tokens("请看图片"), tokens("请看照片")) == pytest.approx(0.75)


def test_distinct_n_and_mean_pairwise_rouge_l():
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n([], 2) == 0.0
    assert mean_pairwise_rouge_l(["a b", "a b", "c d"]) == pytest.approx(1 / 3)
    same, varied = (
        diversity(["look at it"] * 4),
        diversity(["look at it", "read the sign", "count the dogs", "a b"]),
    )
    assert same.rouge_l == 1.0 and varied.rouge_l < 0.2
    assert varied.distinct_1 > same.distinct_1 and varied.words > same.words


def test_script_share_decides_the_language():
    assert detect_language("What is in {region}?") == "en"
    assert detect_language("{region}里有什么？") == "zh"
    assert cjk_share("{question}") is None
    assert cjk_share("看 the 图") == pytest.approx(2 / 5)
