"""Answers read the way models write them: option texts without their own letters, answer
letters in every common form, yes/no in English and Chinese — one value, or a validation
error, never a guess. Tested through the instruction schemas, which every model stage uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from visinstruct.answers import leading_yes_no, stated_letter, stated_yes_no
from visinstruct.generate.schemas import Choice, ChoiceSet, Judgement, JudgementSet

OPTIONS = ["red", "pale blue", "beige", "green"]


def choice(options, answer="A", explanation="") -> Choice:
    return Choice.model_validate(
        {
            "question": "What colour is the wall?",
            "options": options,
            "answer": answer,
            "explanation": explanation,
        }
    )


# -- option texts -----------------------------------------------------------------------------

PREFIXED = [
    ["A. red", "B. pale blue", "C. beige", "D. green"],
    ["(A) red", "(B) pale blue", "(C) beige", "(D) green"],
    ["A) red", "B) pale blue", "C) beige", "D) green"],
    ["A、red", "B、pale blue", "C、beige", "D、green"],
    ["Ａ．red", "Ｂ．pale blue", "Ｃ．beige", "Ｄ．green"],
    ["A: red", "B: pale blue", "C: beige", "D: green"],
    ["a. red", "b. pale blue", "c. beige", "d. green"],
    ["A.red", "B.pale blue", "C.beige", "D.green"],
    ["（A）red", "（B）pale blue", "（C）beige", "（D）green"],
    ["[A] red", "[B] pale blue", "[C] beige", "[D] green"],
]


@pytest.mark.parametrize("options", PREFIXED, ids=lambda o: o[0])
def test_options_lose_their_letter_prefixes(options):
    assert choice(options).options == OPTIONS


KEPT = [
    ["A4 paper", "B-52", "C major", "D-Day"],  # letters that belong to the option
    ["A cat", "B cat", "C cat", "D cat"],  # a letter and a space is no prefix
    ["A. red", "B. pale blue", "C) beige", "D. green"],  # not one shape
    ["B. red", "A. pale blue", "C. beige", "D. green"],  # not A..D in order
    ["A. red", "B. pale blue", "beige", "D. green"],  # not all lettered
    ["(A red", "(B pale blue", "(C beige", "(D green"],  # a bracket never closed
]


@pytest.mark.parametrize("options", KEPT, ids=lambda o: "|".join(o))
def test_genuine_option_texts_are_kept(options):
    assert choice(options).options == options


def test_an_option_that_is_only_its_letter_fails():
    with pytest.raises(ValidationError, match="option C holds only its letter"):
        choice(["A. red", "B. blue", "C.", "D. green"])


def test_numbers_as_options_become_text():
    assert choice([1, 2.0, 2.5, "4"], answer="C").options == ["1", "2", "2.5", "4"]


# -- answer letters ---------------------------------------------------------------------------

LETTER_FORMS = [
    ("B", "B"),
    ("b", "B"),
    ("(B)", "B"),
    ("（B）", "B"),
    ("B.", "B"),
    ("B)", "B"),
    ("[B]", "B"),
    ("Option B", "B"),
    ("option b", "B"),
    ("The answer is B", "B"),
    ("Answer: B", "B"),
    ("The correct answer is (B).", "B"),
    ("选B", "B"),
    ("选项B", "B"),
    ("答案是B", "B"),
    ("答案：B", "B"),
    ("正确答案是B。", "B"),
    ("Ｂ", "B"),
    ("**B**", "B"),
    (" pale blue ", "B"),
    ("Pale  Blue.", "B"),
    ("B. pale blue", "B"),
    ("(B) Pale Blue", "B"),
    ("d", "D"),
    ("green", "D"),
]


@pytest.mark.parametrize(("written", "letter"), LETTER_FORMS)
def test_answer_letters_in_every_common_form(written, letter):
    assert choice(OPTIONS, written).answer == letter


def test_a_text_answer_is_matched_against_the_cleaned_options():
    assert choice(["A. red", "B. pale blue", "C. beige", "D. green"], "beige").answer == "C"
    assert choice(["A. red", "B. pale blue", "C. beige", "D. green"], "C. beige").answer == "C"


LETTER_FAILS = [
    ("A or B", "not the text of option A"),
    ("A and B", "not the text of option A"),
    ("purple", "not a letter A-D or the text of one option"),
    ("E", "not a letter A-D"),
    ("Both", "not a letter A-D"),
    ("B. beige", "'beige' is not the text of option B"),
    ("(B", "not a letter A-D"),
    ("", "not a letter A-D"),
    (2, "not a letter A-D"),
    (None, "not a letter A-D"),
]


@pytest.mark.parametrize(("written", "why"), LETTER_FAILS)
def test_an_answer_that_names_no_single_option_fails(written, why):
    with pytest.raises(ValidationError, match=why):
        choice(OPTIONS, written)


def test_an_answer_matching_several_options_fails():
    with pytest.raises(ValidationError, match="matches several options"):
        choice(["red", "Red", "blue", "green"], "red")


def test_a_letter_that_is_also_another_options_text_fails():
    # "B" is letter B (option "C") and the text of option C: which one was meant is unknown
    with pytest.raises(ValidationError, match="letter B but also the text of option C"):
        choice(["D", "C", "B", "A"], "B")
    assert choice(["A", "B", "C", "D"], "B").answer == "B"  # both readings agree


# -- yes / no ---------------------------------------------------------------------------------

YES_NO = [
    ("yes", "yes"),
    ("Yes.", "yes"),
    ("YES", "yes"),
    ("yes, it is", "yes"),
    ("Yes, there is a dog.", "yes"),
    ("**Yes**", "yes"),
    ("true", "yes"),
    ("True", "yes"),
    ("correct", "yes"),
    (True, "yes"),
    ("no", "no"),
    ("No.", "no"),
    ("No, there is not", "no"),
    ("NO", "no"),
    ("false", "no"),
    ("incorrect", "no"),
    (False, "no"),
    ("是", "yes"),
    ("是的", "yes"),
    ("是的。", "yes"),
    ("是的，图中有一只猫", "yes"),
    ("对", "yes"),
    ("正确", "yes"),
    ("没错", "yes"),
    ("有", "yes"),
    ("不是", "no"),
    ("不对", "no"),
    ("错", "no"),
    ("错误", "no"),
    ("否", "no"),
    ("否。", "no"),
    ("没有", "no"),
    ("没有，图中没有猫", "no"),
    ("不正确", "no"),
]


@pytest.mark.parametrize(("written", "word"), YES_NO)
def test_yes_no_in_english_and_chinese(written, word):
    j = Judgement.model_validate({"question": "Is the wall blue?", "answer": written, "reason": None})
    assert j.answer == word and j.reason == ""


YES_NO_FAILS = [
    "maybe",
    "Yes and no",
    "yes/no",
    "No, yes",
    "Yes, but it is not",
    "not yes",
    "Nope",
    "unclear",
    "不确定",
    "可能",
    "没有错",  # "not wrong": not "没有" (no)
    "是，不是",
    "是，也不是",
    "不是很清楚",
    "",
    1,
    None,
]


@pytest.mark.parametrize("written", YES_NO_FAILS, ids=repr)
def test_anything_else_is_not_read_as_yes_or_no(written):
    with pytest.raises(ValidationError, match="answer"):
        Judgement.model_validate({"question": "Is the wall blue?", "answer": written})


def test_whole_replies_validate_with_the_forms_normalised():
    js = JudgementSet.model_validate(
        {"questions": [{"question": "q1?", "answer": "是的"}, {"question": "q2?", "answer": "No, it is not"}]}
    )
    assert [j.answer for j in js.questions] == ["yes", "no"]
    cs = ChoiceSet.model_validate(
        {"questions": [{"question": "q?", "options": PREFIXED[1], "answer": "Option b", "explanation": "x"}]}
    )
    assert cs.questions[0].options == OPTIONS and cs.questions[0].answer == "B"
    # the JSON schema sent to the model is what it was: the readers run after the reply
    assert Choice.model_json_schema()["properties"]["answer"]["enum"] == ["A", "B", "C", "D"]


# -- what an explanation states ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("A close look at the picture settles it: the answer is C.", "C"),
        ("The correct answer is (D).", "D"),
        ("Option A is correct because the sign is red.", "A"),
        ("First I thought the answer is A, but the answer is B.", "B"),
        ("答案是C。", "C"),
        ("故选D", "D"),
        ("The answer is a red car.", None),  # the article, not a letter
        ("Option A is not correct.", None),
        ("选项C是错误的。", None),
        ("The wall is blue.", None),
    ],
)
def test_stated_letter(text, letter):
    assert stated_letter(text) == letter


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("So the answer is no.", "no"),
        ("Answer: Yes", "yes"),
        ("答案是否定的。", "no"),
        ("答案：是", "yes"),
        ("答案是否正确还不清楚", None),  # 是否: whether, not a stated answer
        ("The answer is not clear.", None),
    ],
)
def test_stated_yes_no(text, word):
    assert stated_yes_no(text) == word


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("No, the car is blue.", "no"),
        ("Yes.", "yes"),
        ("不是，图中是狗。", "no"),
        ("是的，有猫。", "yes"),
        ("No people are on the street.", None),
        ("没有人在街上。", None),
        ("Not quite.", None),
    ],
)
def test_leading_yes_no(text, word):
    assert leading_yes_no(text) == word
