"""Rule checks: clean engine output passes, planted defects are caught by the right rule."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from visinstruct.checks.rules import RULES, consistency, option_lines, rule_checks
from visinstruct.generate.instruct import samples_from
from visinstruct.generate.schemas import SCHEMAS
from visinstruct.prompts import load_prompt
from visinstruct.recipe import parse_recipe
from visinstruct.records import LETTERS, Sample, derive_status, review_action
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

DOMAINS = ["charts", "tables", "geometry", "scenes", "ocr", "clocks", "differences"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> list[Sample]:
    tmp = tmp_path_factory.mktemp("rules")
    recipe = parse_recipe(
        {
            "seed": 5,
            "languages": ["en", "zh"],
            "synthetic": {d: 24 for d in DOMAINS},
            # the engine's own output, before any run-wide gate: the rules are applied here
            "checks": {"rules": False, "dedup": False},
        }
    )
    run(recipe, tmp / "run", workers=2)
    with RunStore(tmp / "run", create=False) as store:
        samples = list(store.iter_samples())
    assert len(samples) > 500
    return samples


def pick(samples: list[Sample], type_: str, lang: str, domain: str | None = None, turns: int = 1) -> Sample:
    """A deep copy of the first clean sample of that kind, to plant a defect in."""
    for s in samples:
        if s.type == type_ and s.language == lang and len(s.turns) >= turns and domain in (None, s.domain):
            assert all(r["pass"] for r in rule_checks(s).values()), rule_checks(s)
            return copy.deepcopy(s)
    raise AssertionError(f"no clean {type_}/{lang} sample")


def failures(s: Sample, **kw) -> dict[str, dict]:
    return {k: v for k, v in rule_checks(s, **kw).items() if not v["pass"]}


def assert_caught(s: Sample, rule: str, *fragments: str, severity: str = "reject", **kw) -> dict:
    bad = failures(s, **kw)
    assert rule in bad, f"{rule} did not catch it; failed: {bad}"
    r = bad[rule]
    assert r["severity"] == severity
    for f in fragments:
        assert f.casefold() in r["reason"].casefold(), r["reason"]
    return bad


# -- clean engine output ------------------------------------------------------------------


def test_clean_samples_are_rarely_flagged(clean):
    flagged = Counter()
    n_flagged = 0
    for s in clean:
        bad = failures(s)
        n_flagged += bool(bad)
        flagged.update(bad.keys())
    rate = n_flagged / len(clean)
    print(f"\nclean set: {n_flagged}/{len(clean)} flagged ({rate:.2%}), by rule: {dict(flagged)}")
    assert rate <= 0.02
    # the few that are flagged go to review (lengths), nothing clean is rejected
    assert set(flagged) <= {"length"}


def test_every_rule_reported_and_the_status_follows_them(clean):
    mc = next(s for s in clean if s.type == "multiple_choice")
    assert set(rule_checks(mc)) == set(RULES)
    other = next(s for s in clean if s.type == "judgement")
    assert set(rule_checks(other)) == set(RULES) - {"options"}
    short = next(s for s in clean if s.type == "short_vqa")
    assert set(rule_checks(short)) == set(RULES) - {"options", "consistency"}

    refusing = copy.deepcopy(clean[0])
    refusing.turns[0].answer = "I'm sorry, I can't see the image."
    results = rule_checks(refusing)
    assert results["refusal"]["pass"] is False
    assert derive_status(None, list(results.values())) == "rejected"
    edited = {"review": {"pass": True, "action": "edit"}}
    # a person's edit outranks every automatic result
    assert derive_status(review_action(edited), list(results.values())) == "edited"
    assert all(
        derive_status(None, list(rule_checks(s).values())) == "accepted"
        for s in clean[1:50]
        if all(r["pass"] for r in rule_checks(s).values())
    )


def test_rules_give_the_same_result_every_time(clean):
    first = [rule_checks(s) for s in clean]
    assert [rule_checks(s) for s in clean * 3] == first * 3


# -- planted defects: options ---------------------------------------------------------------


def set_options(s: Sample, options: list[str], letter: str) -> None:
    """Replace the options everywhere they appear, consistently."""
    q = s.turns[0].question.split("\n")
    start, _ = option_lines(s.turns[0].question)
    q[start : start + 4] = [f"{c}. {o}" for c, o in zip(LETTERS, options, strict=True)]
    s.turns[0].question = "\n".join(q)
    s.options, s.answer_letter, s.short_answer = options, letter, options[LETTERS.index(letter)]
    s.turns[0].answer = letter


def test_three_options(clean):
    s = pick(clean, "multiple_choice", "en")
    s.options = s.options[:3]
    assert_caught(s, "options", "3 options")


def test_duplicate_options_after_normalising(clean):
    s = pick(clean, "multiple_choice", "en")
    set_options(s, ["Red", "red.", "Blue", "Green"], "C")
    assert_caught(s, "options", "not distinct", "red")


def test_letter_points_at_wrong_option(clean):
    s = pick(clean, "multiple_choice", "en")
    wrong = LETTERS[(LETTERS.index(s.answer_letter) + 1) % 4]
    s.answer_letter = wrong
    s.turns[0].answer = wrong
    assert_caught(s, "options", f"answer letter {wrong} points at")


def test_options_with_letters_of_their_own_never_pass(clean):
    # model-lettered options placed again by the engine: "A. D. pale blue / B. A. beige / …"
    s = pick(clean, "multiple_choice", "en")
    set_options(s, ["D. pale blue", "A. beige", "B. red", "C. green"], "A")
    assert "\nA. D. pale blue\n" in s.turns[0].question
    assert_caught(s, "options", "letters of their own", "'D. pale blue'", "'A. beige'")
    s = pick(clean, "multiple_choice", "zh")
    set_options(s, ["（C）红色", "（A）蓝色", "（D）米色", "（B）绿色"], "B")
    assert_caught(s, "options", "letters of their own")
    # letters that belong to the option are no prefix
    s = pick(clean, "multiple_choice", "en")
    set_options(s, ["A4 paper", "B-52", "C major", "D. H. Lawrence"], "B")
    assert "options" not in failures(s)


def test_option_lines_do_not_match_options(clean):
    s = pick(clean, "multiple_choice", "zh")
    s.turns[0].question = s.turns[0].question.replace(f"\nB. {s.options[1]}\n", "\nB. 完全不同的选项\n")
    assert_caught(s, "options", "option line B")
    s = pick(clean, "multiple_choice", "en")
    s.turns[0].question = s.turns[0].question.split("\n")[0]  # options not listed at all
    assert_caught(s, "options", "does not list the options")


# -- planted defects: length ----------------------------------------------------------------


def test_over_long_short_answer(clean):
    s = pick(clean, "short_vqa", "en")
    s.short_answer = s.turns[0].answer = "the value shown for the tallest bar in this chart is twenty five"
    assert_caught(s, "length", "short_vqa answer has 13 words", severity="review")
    s = pick(clean, "short_vqa", "zh")
    s.short_answer = s.turns[0].answer = "图中最高的柱子对应的数值是二十五，单位是千克每平方米"
    assert_caught(s, "length", "characters", severity="review")


def test_one_word_long_answer(clean):
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].answer = "Yes."
    assert_caught(s, "length", "turn 2 has 1 words", severity="review")
    s = pick(clean, "long_vqa", "zh", turns=2)
    s.turns[0].answer = "是。"
    assert_caught(s, "length", "turn 1 has 1 characters", severity="review")


def test_limits_override_and_question_length(clean):
    s = pick(clean, "short_vqa", "en", domain="tables")
    assert not failures(s)
    s.short_answer = s.turns[0].answer = "Sunset Bay"
    assert "length" not in failures(s)
    assert_caught(s, "length", "allowed 1–1", severity="review", limits={"short_vqa": (1, 1)})
    s = pick(clean, "judgement", "en")
    s.turns[0].question = "Why " + "really " * 130 + "?"
    assert_caught(s, "length", "question has", severity="review")


def test_multiple_choice_question_length_counts_only_the_stem(clean):
    s = pick(clean, "multiple_choice", "en")
    long_options = [" ".join([f"word{i}"] * 40) for i in range(4)]  # 160 words of options
    set_options(s, long_options, "A")
    assert "length" not in failures(s)


# -- planted defects: language --------------------------------------------------------------


def test_english_answer_in_chinese_sample(clean):
    s = pick(clean, "long_vqa", "zh", turns=2)
    s.turns[0].answer = "Reading the chart, the first bar is 25 and the second one is 30."
    assert_caught(s, "language", "answer in turn 1", "not in Chinese")
    s = pick(clean, "short_vqa", "zh")
    s.short_answer = s.turns[0].answer = "The car in the picture is red."
    assert_caught(s, "language", "not in Chinese")
    s = pick(clean, "judgement", "zh")
    s.turns[0].question = "Is there a red car in the picture? Please answer yes or no."
    assert_caught(s, "language", "question in turn 1")


def test_what_the_model_said_is_no_knowledge_of_the_image(clean):
    # an English answer in a Chinese sample may be text known to be in the image, never
    # text only the model's own explanation holds
    s = pick(clean, "short_vqa", "zh")
    s.short_answer = s.turns[0].answer = "The car in the picture is red."
    s.context = {**s.context, "explanation": "The car in the picture is red."}
    assert_caught(s, "language", "not in Chinese")
    s.context = {**s.context, "caption": "The car in the picture is red."}
    assert "language" not in failures(s)


def test_chinese_in_english_sample(clean):
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].answer = "图中一共有三只猫，其中两只是黑色的。"
    assert_caught(s, "language", "CJK text in the answer of turn 2")
    s = pick(clean, "judgement", "en")
    s.turns[0].question = "图中有红色的汽车吗？Answer yes or no."
    assert_caught(s, "language", "question")


def test_chinese_samples_may_quote_latin_labels_and_text(clean):
    s = pick(clean, "short_vqa", "zh", domain="tables")
    s.short_answer = s.turns[0].answer = "Sunset Bay"
    assert "language" not in failures(s)
    s = pick(clean, "long_vqa", "zh", domain="ocr", turns=2)
    s.turns[
        0
    ].answer = (
        "图中文字自上而下依次是：\nIt was a friendly day near the zoo.\nIris found a letter under the wagon."
    )
    assert "language" not in failures(s)


# -- planted defects: refusals and meta talk ------------------------------------------------


def test_refusal(clean):
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].answer = "As an AI language model, I cannot see images."
    assert_caught(s, "refusal", "refusal in the answer of turn 2")
    s = pick(clean, "short_vqa", "en")
    s.turns[0].question = "I'm sorry, but what is the value of the first bar?"
    assert_caught(s, "refusal", "refusal in the question")
    s = pick(clean, "long_vqa", "zh", turns=2)
    s.turns[0].answer = "抱歉，作为一个AI，我无法查看图片。"
    assert_caught(s, "refusal", "refusal")


def test_answer_talking_about_the_description(clean):
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[0].answer = "According to the description, the car is red and parked by the road."
    assert_caught(s, "refusal", "not the image", "the description")
    s = pick(clean, "long_vqa", "zh", turns=2)
    s.turns[1].answer = "根据描述，图中有三只猫。"
    assert_caught(s, "refusal", "根据描述")


def test_no_refusal_false_positives(clean):
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[0].question = "Write a description of the poster."
    s.turns[0].answer = "The text above the door reads EXIT, and the sign below it is green and white."
    s.turns[1].answer = "There is no caption visible; a description of the scene: two cats sit on a sofa."
    assert "refusal" not in failures(s)
    s = pick(clean, "long_vqa", "zh", turns=2)
    s.turns[0].question = "请描述中间的物体。"
    s.turns[0].answer = "中间是一只橙色的猫，它趴在红色的沙发上，旁边放着一本书。"
    assert "refusal" not in failures(s)


# -- planted defects: slots -----------------------------------------------------------------


def test_unfilled_slots(clean):
    s = pick(clean, "short_vqa", "en")
    s.turns[0].question = "What color is the <object> next to the table?"
    assert_caught(s, "slots", "<object>", "question")
    s = pick(clean, "judgement", "en")
    s.turns[0].question = "<image>\nIs the <brand name> logo red? Answer yes or no."
    assert_caught(s, "slots", "<image>")
    s = pick(clean, "short_vqa", "zh")
    s.turns[0].question = "图中的<物体>是什么颜色？"
    assert_caught(s, "slots", "<物体>")
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].answer = "The bar for {label} is the tallest, so it has the largest value of all."
    assert_caught(s, "slots", "{label}", "answer of turn 2")


def test_math_comparisons_are_not_slots(clean):
    s = pick(clean, "judgement", "en")
    s.turns[0].question = "The chart shows 3 < 5 and x<y, while a > b and a<b>c. Is 10 > 7? Answer yes or no."
    assert "slots" not in failures(s)
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].answer = "As 3 < 5 and 5 > 2, the ratio \\frac{a}{b} with x_{i} stays below 1, so it is 2."
    assert "slots" not in failures(s)  # (structure's older {name} test does flag the LaTeX group {a})
    s.turns[1].answer = "Since 3 < 5 and 5 > 2, the first value is smaller than the second, so it is 2."
    assert not failures(s)


# -- planted defects: turns -----------------------------------------------------------------


def test_repeated_question_in_conversation(clean):
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].question = "  " + s.turns[0].question.upper().rstrip("?.") + " ?"
    assert_caught(s, "turns", "turn 2 repeats")


def test_judgement_turn_disagrees_with_short_answer(clean):
    s = pick(clean, "judgement", "en")
    s.turns[0].answer, s.short_answer = "Yes", "no"
    assert_caught(s, "turns", "disagrees", "'no'")
    s = pick(clean, "judgement", "zh")
    s.turns[0].answer, s.short_answer = "否", "yes"
    assert_caught(s, "turns", "disagrees")


def test_other_turn_inconsistencies(clean):
    s = pick(clean, "multiple_choice", "en")
    s.turns[0].answer = LETTERS[(LETTERS.index(s.answer_letter) + 1) % 4]
    assert_caught(s, "turns", "is not the answer letter")
    s = pick(clean, "multiple_choice", "en")
    s.turns[0].answer = f"{s.answer_letter}. {s.short_answer}"
    assert "turns" not in failures(s)
    s = pick(clean, "short_vqa", "en")
    s.turns[0].answer = "something else"
    assert_caught(s, "turns", "differs from short_answer")
    s = pick(clean, "long_vqa", "zh", turns=2)
    s.turns = s.turns[:1]
    assert_caught(s, "turns", "at least 2")
    s = pick(clean, "long_vqa", "en", turns=2)
    s.turns[1].answer = "   "
    assert_caught(s, "turns", "turn 2 has an empty answer")


# -- consistency: the answer against what the model said ------------------------------------

PROMPT = load_prompt("instructions")


def written(itype: str, reply: dict, index: int = 0, lang: str = "en") -> list[Sample]:
    """Samples the instruction stage makes from one model reply (letters placed by `index`)."""
    return list(
        samples_from(
            itype,
            SCHEMAS[itype].model_validate(reply),
            image_ids=["0" * 64],
            domain="ocr",
            lang=lang,
            index=index,
            prompt=PROMPT,
            provenance={"generator": "llm/instructions"},
            context={"caption": "A pale blue wall with a red door."},
        )
    )


def one_choice(explanation: str, answer: str = "B", index: int = 0) -> Sample:
    options = ["A. red", "B. pale blue", "C. beige", "D. green"]
    q = {
        "question": "What colour is the wall?",
        "options": options,
        "answer": answer,
        "explanation": explanation,
    }
    [s] = written("multiple_choice", {"questions": [q]}, index)
    return s


def test_the_models_explanation_is_kept_with_the_sample():
    s = one_choice("The wall is painted pale blue.")
    assert s.context["explanation"] == "The wall is painted pale blue."
    assert s.context["model_letter"] == "B" and s.context["caption"]
    assert s.options[LETTERS.index(s.answer_letter)] == s.short_answer == "pale blue"
    reply = {
        "questions": [
            {"question": "Is the wall blue?", "answer": "是的", "reason": "The wall is pale blue."},
            {"question": "Is the door green?", "answer": "No.", "reason": ""},
        ]
    }
    yes, no = written("judgement", reply)
    assert (yes.short_answer, yes.context["explanation"]) == ("yes", "The wall is pale blue.")
    assert no.short_answer == "no" and "explanation" not in no.context
    assert all(r["pass"] for r in rule_checks(one_choice("The wall is painted pale blue.")).values())


@pytest.mark.parametrize("index", range(4))  # every place the engine may put the right option
def test_an_explanation_naming_another_option_goes_to_review(index):
    s = one_choice("The wall is beige, like sand.", index=index)
    bad = assert_caught(s, "consistency", "'beige'", "not the answer 'pale blue'", severity="review")
    assert set(bad) == {"consistency"}
    assert derive_status(None, list(rule_checks(s).values())) == "needs_review"


@pytest.mark.parametrize("index", range(4))
def test_an_explanation_stating_another_letter_goes_to_review(index):
    # the model's own letters: its C is "beige", wherever the engine puts the options
    s = one_choice("A close look at the picture settles it: the answer is C.", index=index)
    assert_caught(
        s, "consistency", "the answer is C ('beige')", "answered B ('pale blue')", severity="review"
    )
    s = one_choice("仔细看图片，答案是C。", index=index)
    assert_caught(s, "consistency", "answer is C ('beige')", severity="review")
    s = one_choice("Looking again, the answer is B.", index=index)
    assert "consistency" not in failures(s)


@pytest.mark.parametrize(
    "explanation",
    [
        "The wall is pale blue.",
        "The wall is not red but pale blue.",
        "It is pale blue rather than beige.",
        "Neither red nor green: the wall is pale blue.",
        "The door is red and the wall is pale blue.",
        "The wall is blue.",  # names no option at all
        "It is not beige.",  # names another option only after a negation
        "The answer is B because of the paint.",
        "",
    ],
)
def test_explanations_that_agree_pass(explanation):
    assert "consistency" not in failures(one_choice(explanation))


def test_a_part_of_a_longer_option_is_not_a_mention():
    q = {
        "question": "What colour is the wall?",
        "options": ["blue", "pale blue", "dark green", "green"],
        "answer": "B",
        "explanation": "A pale blue wall, no green anywhere.",
    }
    [s] = written("multiple_choice", {"questions": [q]})
    assert "consistency" not in failures(s)
    q["answer"] = "A"
    [s] = written("multiple_choice", {"questions": [q]})
    assert_caught(s, "consistency", "names 'pale blue', not the answer 'blue'", severity="review")


def test_numbers_are_mentions_only_as_whole_numbers():
    q = {"question": "How many signs?", "options": ["1", "2", "3", "4"], "answer": "C"}
    [s] = written(
        "multiple_choice", {"questions": [{**q, "explanation": "There are 3 signs, 2 of them red."}]}
    )
    assert "consistency" not in failures(s)
    [s] = written("multiple_choice", {"questions": [{**q, "explanation": "I count 4 signs in 12.5 m."}]})
    assert_caught(s, "consistency", "names '4', not the answer '3'", severity="review")
    [s] = written("multiple_choice", {"questions": [{**q, "explanation": "Each sign is 12.5 m wide."}]})
    assert "consistency" not in failures(s)


def judgement(question: str, answer: str, reason: str, lang: str = "en") -> Sample:
    [s] = written(
        "judgement",
        {"questions": [{"question": question, "answer": answer, "reason": reason}] * 2},
        lang=lang,
    )[:1]
    return s


@pytest.mark.parametrize(
    ("question", "answer", "reason", "lang", "fragment"),
    [
        ("Is the car red?", "yes", "No, the car is blue.", "en", "opens with 'no'"),
        ("Is the car red?", "no", "Yes, it is red.", "en", "opens with 'yes'"),
        ("Is the car red?", "yes", "Looking closely, the answer is no.", "en", "says the answer is 'no'"),
        ("Is the car red?", "yes", "The car is not red; it is blue.", "en", "denies"),
        ("Is there a dog in the picture?", "yes", "There is no dog.", "en", "denies"),
        ("Does the man wear a hat?", "yes", "The man doesn't wear a hat.", "en", "denies"),
        ("Are there two cats?", "yes", "There aren't two cats, only one.", "en", "denies"),
        ("图中有猫吗？", "是", "不是，图中是一只狗。", "zh", "opens with 'no'"),
        ("图中有猫吗？", "否", "是的，沙发上有一只猫。", "zh", "opens with 'yes'"),
        ("图中的汽车是红色的吗？", "是", "汽车不是红色的，而是蓝色。", "zh", "denies"),
        ("图中是否有猫？", "对", "图中没有猫。", "zh", "denies"),
        ("图中有猫吗？", "是的", "答案是否定的。", "zh", "says the answer is 'no'"),
    ],
)
def test_a_reason_arguing_the_other_answer_goes_to_review(question, answer, reason, lang, fragment):
    s = judgement(question, answer, reason, lang)
    assert_caught(s, "consistency", fragment, severity="review")


@pytest.mark.parametrize(
    ("question", "answer", "reason", "lang"),
    [
        ("Is the car red?", "yes", "Yes, the car is red.", "en"),
        ("Is the car red?", "yes", "The car is red, not blue.", "en"),
        ("Is the car red?", "no", "No, the car is blue.", "en"),
        ("Is the car red?", "no", "The car is red.", "en"),  # a "no" is not checked for an affirmation
        ("Is the street empty?", "yes", "No people are on the street.", "en"),
        ("Are the lights on?", "yes", "The lights are on, not off.", "en"),
        ("Is the man wearing a hat?", "yes", "The man wears a hat and no gloves.", "en"),
        ("Is the car not red?", "yes", "The car is not red.", "en"),  # the question negates itself
        ("Is the car red?", "yes", "", "en"),
        ("图中有猫吗？", "是", "图中有一只猫，没有狗。", "zh"),
        ("图中有猫吗？", "否", "没有猫，只有一只狗。", "zh"),
        ("图中有猫吗？", "是", "没有人会错过这只猫。", "zh"),
        ("汽车是红色的吗？", "是", "汽车是红色的，不是蓝色。", "zh"),
    ],
)
def test_reasons_that_agree_pass(question, answer, reason, lang):
    assert consistency(judgement(question, answer, reason, lang)) is None


def test_samples_without_an_explanation_pass_the_consistency_rule(clean):
    for s in clean:
        if s.type in ("judgement", "multiple_choice"):
            assert rule_checks(s)["consistency"] == {"pass": True}


def test_option_mentions_are_found_as_whole_words_exactly_as_the_word_pattern_finds_them():
    import random
    import re

    from visinstruct.checks.rules import mentions

    def pattern(key: str) -> re.Pattern[str]:  # the definition: words apart by spaces, not inside words
        body = r"\s+".join(re.escape(w) for w in key.split())
        left = r"(?<![0-9a-z\u00c0-\u024f])(?<![0-9][.,])" if key[0].isalnum() else ""
        right = r"(?![0-9a-z\u00c0-\u024f])(?![.,][0-9])" if key[-1].isalnum() else ""
        return re.compile(left + body + right)

    assert mentions("a pale  blue wall, not reddish", "pale blue") == [(2, 12)]
    assert mentions("reddish and 1.5 and red", "red") == [(20, 23)] and mentions("1.5", "1") == []
    rng = random.Random(1)
    for _ in range(20000):
        text = "".join(rng.choice("ab1.,  \n红é-") for _ in range(rng.randint(0, 14)))
        word = lambda: "".join(rng.choice("ab1.红é-") for _ in range(rng.randint(1, 3)))  # noqa: E731
        key = " ".join(word() for _ in range(rng.randint(1, 2)))
        assert mentions(text, key) == [(m.start(), m.end()) for m in pattern(key).finditer(text)], (text, key)
