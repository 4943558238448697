"""Verification through the model client: the VLM answers from the image alone; disagreements
go to review and show in status; calls are cached and costed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError
from test_mminstruct import recipe_for, sample_folder

from visinstruct.checks.verify import Agreement, Score, compare, letter_of, yes_no_of
from visinstruct.models import structured
from visinstruct.models.ledger import ledger_rows
from visinstruct.recipe import parse_recipe
from visinstruct.records import Sample, Turn
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


@pytest.fixture
def images(tmp_path):
    return sample_folder(tmp_path / "images")


def verifier(req: dict) -> str | None:
    """Answers like a VLM that always picks B and always says yes; other requests: default."""
    user = req["messages"][-1]["content"]
    if len(req["messages"]) != 1 or not isinstance(user, list) or req.get("response_format"):
        return None  # not a verification request (those are one user turn: image(s) + question)
    question = next(p["text"] for p in user if p.get("type") == "text")
    return "B" if "\nA. " in question else "Yes, it is."


def test_disagreements_go_to_review_and_show_in_status(fake_openai, tmp_path, images):
    fake_openai.responder = verifier
    spec = recipe_for(
        fake_openai,
        images,
        languages=["en"],
        types=["multiple_choice", "judgement"],
        checks={"verify": {"endpoint": "vlm", "types": ["multiple_choice", "judgement"]}},
    )
    summary = run(parse_recipe(spec), tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
        rows = {r[1]: r for r in ledger_rows(store.db)}
    assert samples
    for s in samples:
        v = s.checks["verify"]
        if s.type == "multiple_choice":
            assert v["pass"] is (s.answer_letter == "B"), (s.answer_letter, v)
        else:
            assert v["pass"] is (s.short_answer == "yes"), (s.short_answer, v)
        if not v["pass"]:
            assert s.status == "needs_review" and "the verifier answered" in v["reason"]
        else:
            assert s.status in ("accepted", "rejected", "needs_review")
    disagree = sum(not s.checks["verify"]["pass"] for s in samples)
    assert 0 < disagree < len(samples)
    assert summary.stages["verify"].done == len(samples)
    with RunStore(tmp_path / "run", create=False) as store:
        assert store.verification_counts() == (len(samples) - disagree, disagree)
    assert rows["verify"][3] == len(samples)  # one verification request per sample, costed in the ledger

    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"{disagree} disagree" in p.stdout and "verify" in p.stdout

    # exports leave disagreements out by default and take them with --include needs_review
    base = [sys.executable, "-m", "visinstruct.cli", "export", str(tmp_path / "run"), "--format", "jsonl"]
    subprocess.run([*base, "--out", str(tmp_path / "a.jsonl")], check=True, capture_output=True)
    subprocess.run(
        [*base, "--out", str(tmp_path / "b.jsonl"), "--include", "needs_review"],
        check=True,
        capture_output=True,
    )
    n_default = len((tmp_path / "a.jsonl").read_text().splitlines())
    n_review = len((tmp_path / "b.jsonl").read_text().splitlines())
    assert n_review - n_default == sum(s.status == "needs_review" for s in samples) > 0

    # re-checking sends nothing new: verification answers come from the cache
    fake_openai.reset()
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "check", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ},
    )
    assert p.returncode == 0, p.stderr
    assert fake_openai.requests == 0


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("B", "B"),
        ("B. 42", "B"),
        ("The answer is C.", "C"),
        ("(D)", "D"),
        ("答案是A", "A"),
        ("I think so", None),
    ],
)
def test_letter_of(reply, letter):
    assert letter_of(reply) == letter


@pytest.mark.parametrize(
    ("reply", "yn"),
    [("Yes", "yes"), ("no.", "no"), ("是的", "yes"), ("不是", "no"), ("否", "no"), ("Maybe", None)],
)
def test_yes_no_of(reply, yn):
    assert yes_no_of(reply) == yn


# -- reading the verifier's final answer ----------------------------------------------------------

MC = Sample(
    id="mc",
    images=["0" * 64],
    domain="ocr",
    type="multiple_choice",
    language="en",
    turns=[Turn("What colour is the sign?\nA. red\nB. pale blue\nC. blue\nD. green", "B")],
    options=["red", "pale blue", "blue", "green"],
    answer_letter="B",
    short_answer="pale blue",
)
YN = Sample(
    id="yn",
    images=["0" * 64],
    domain="ocr",
    type="judgement",
    language="en",
    turns=[Turn("Is there a sign above the door?", "Yes")],
    short_answer="yes",
)


@pytest.mark.parametrize(
    ("sample", "reply", "verdict"),
    [
        # the option letter the verifier settles on: B agrees, any other letter disagrees
        (MC, "B", "agree"),
        (MC, "A close look at the picture settles it: the answer is B.", "agree"),
        (MC, "<think>A seems likely... or {A}?</think>\nThe answer is B.", "agree"),
        (MC, "<think>Surely B.</think>\nThe answer is A.", "disagree"),
        (MC, "reasoning whose opening tag the server dropped: A?</think> Final answer: (B)", "agree"),
        (MC, "Final answer: (C)", "disagree"),
        (MC, "Answer: B", "agree"),
        (MC, "答案是B", "agree"),
        (MC, "答案：（Ｂ）", "agree"),
        (MC, "我选B。", "agree"),
        (MC, "(b)", "agree"),
        (MC, "Option B.", "agree"),
        (MC, "It is B, not A.", "agree"),
        (MC, "B is correct; A is wrong.", "agree"),
        (MC, "Looking at the colours, A would be wrong, I pick C.", "disagree"),
        (MC, "A sign hangs above the door; its colour is pale blue.", "agree"),  # the option's text
        (MC, "The sign is blue.", "disagree"),
        (MC, "I cannot tell from this picture.", "unsure"),
        (MC, "<think>it is B</think>", "unsure"),  # the answer is in the reasoning only
        # yes / no in English and Chinese
        (YN, "Yes", "agree"),
        (YN, "The answer is yes.", "agree"),
        (YN, "Answer: Yes", "agree"),
        (YN, "Now that I look closely, yes.", "agree"),
        (YN, "Yes, there is no doubt about it.", "agree"),
        (YN, "<think>no... wait, no, there is a sign.</think>Yes.", "agree"),
        (YN, "No, there is not.", "disagree"),
        (YN, "At first I thought yes, but no.", "disagree"),
        (YN, "Final answer: No", "disagree"),
        (YN, "是的", "agree"),
        (YN, "是。", "agree"),
        (YN, "对", "agree"),
        (YN, "答案是是", "agree"),
        (YN, "答案：是", "agree"),
        (YN, "我仔细看了看，是的。", "agree"),
        (YN, "不是", "disagree"),
        (YN, "不对", "disagree"),
        (YN, "错", "disagree"),
        (YN, "答案：否", "disagree"),
        (YN, "I'm not sure.", "unsure"),
        (YN, "不清楚", "unsure"),
        (YN, "There is a sign in the picture.", "unsure"),
    ],
)
def test_the_verifier_is_read_for_its_final_answer(sample, reply, verdict):
    res = compare(sample, reply)
    got = "agree" if res["pass"] else "unsure" if "no clear answer" in res["reason"] else "disagree"
    assert got == verdict, res
    assert res["pass"] or res["severity"] == "review"


def test_letter_of_skips_the_article_and_negated_letters():
    assert letter_of("A close look settles it: B.") == "B"
    assert letter_of("A dog sits on a bench.") is None
    assert letter_of("The answer is a bit unclear.") is None
    assert letter_of("A is the answer.") == "A"
    assert letter_of("Not A; it must be D") == "D"


def verifier_and_judge(req: dict) -> str | None:
    """A verifier that reasons before it answers (always B, always yes) and a judge that answers
    in the styles real judges use: a Python dict, full-width punctuation, one Chinese word."""
    msgs = req["messages"]
    if msgs[0]["role"] == "system" and msgs[0]["content"].startswith("You compare answers"):
        user = msgs[1]["content"]
        ref = user.split("\nReference answer: ")[1].split("\nCandidate answer: ")[0]
        agree = len(ref) % 2 == 0
        style = len(user) % 3
        if style == 0:
            return "{'agree': %s}" % agree  # noqa: UP031 - a Python-style dict, as some models write
        if style == 1:
            return '{"agree"：%s}' % str(agree).lower()  # noqa: UP031
        return "是" if agree else "不一致"
    user = msgs[-1]["content"]
    if len(msgs) != 1 or not isinstance(user, list) or req.get("response_format"):
        return None
    question = next(p["text"] for p in user if p.get("type") == "text")
    if "\nA. " in question:
        return "<think>Option A looks plausible at first.</think>\nA close look settles it: the answer is B."
    return "<think>Probably no.</think>\nNow that I look closely, yes."  # open questions: to the judge


def test_verification_reads_final_answers_and_any_judge_style_end_to_end(fake_openai, tmp_path, images):
    fake_openai.responder = verifier_and_judge
    types = ["multiple_choice", "judgement", "short_vqa"]
    spec = recipe_for(fake_openai, images, languages=["en"], types=types, checks={"verify": {"types": types}})
    summary = run(parse_recipe(spec), tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        samples = [s for s in store.iter_samples() if "verify" in s.checks]
    judged_ = [s for s in samples if s.checks["verify"].get("method") == "judge"]
    assert summary.stages["verify"].failed == 0 and len(judged_) >= 6
    for s in samples:
        v = s.checks["verify"]
        if s.type == "multiple_choice":
            want = s.answer_letter == "B"
        elif s.type == "judgement":
            want = s.short_answer == "yes"
        else:
            want = len(s.turns[0].answer) % 2 == 0
            assert v["method"] == "judge" and v["answer"] == "Now that I look closely, yes."
        assert v["pass"] is want, (s.type, s.turns[0], v)
    assert {s.type for s in samples} == set(types)
    assert {s.checks["verify"]["pass"] for s in judged_} == {True, False}


def test_judge_verdicts_and_scores_written_in_words_are_read():
    assert Agreement.model_validate({"agree": "是"}).agree is True
    assert Agreement.model_validate({"agree": "No."}).agree is False
    assert Score.model_validate({"score": "4/5"}).score == 4
    with pytest.raises(ValidationError):
        Agreement.model_validate({"agree": "perhaps"})


@pytest.mark.parametrize(
    ("reply", "agree"),
    [
        ("是", True),
        ("Yes.", True),
        ("<think>the reference says {3} and so does the candidate</think>\nYes.", True),
        ("不一致", False),
        ("They disagree.", False),
    ],
)
def test_a_judge_verdict_in_words_is_read_from_its_first_reply(reply, agree):
    value, reason = structured.parse(reply, Agreement)
    assert reason is None and value.agree is agree


@pytest.mark.parametrize("reply", ["maybe", "<think>they agree, yes", "I cannot tell."])
def test_a_reply_with_no_verdict_is_not_taken_for_one(reply):
    value, reason = structured.parse(reply, Agreement)
    assert value is None and reason


def _is_verification(req: dict) -> bool:
    user = req["messages"][-1]["content"]
    return len(req["messages"]) == 1 and isinstance(user, list) and not req.get("response_format")


def test_a_sample_whose_verification_failed_is_not_accepted_until_a_rerun_verifies_it(
    fake_openai, tmp_path, images
):
    fake_openai.responder = verifier
    fake_openai.reply_hook = lambda req, choice: (
        {"content": None, "refusal": "I can't help with that."} if _is_verification(req) else None
    )
    types = ["multiple_choice", "judgement"]
    spec = recipe_for(fake_openai, images, languages=["en"], types=types, checks={"verify": {"types": types}})
    first = run(parse_recipe(spec), tmp_path / "run", workers=1)
    assert first.stages["verify"].failed > 0 and first.stages["verify"].done == 0
    with RunStore(tmp_path / "run", create=False) as store:
        checked = [s for s in store.iter_samples() if "verify" in s.checks]
    assert checked and not any(s.status == "accepted" for s in checked)
    assert all(s.checks["verify"]["reason"].startswith("not verified yet") for s in checked)
    assert {s.status for s in checked} <= {"needs_review", "rejected"}

    fake_openai.reply_hook = None
    fake_openai.reset()
    second = run(parse_recipe(spec), tmp_path / "run", workers=1)
    assert second.stages["verify"].failed == 0 and second.stages["verify"].done == len(checked)
    with RunStore(tmp_path / "run", create=False) as store:
        after = {s.id: s for s in store.iter_samples()}
    for s in checked:
        v = after[s.id].checks["verify"]
        assert not v.get("reason", "").startswith("not verified yet")
        agrees = after[s.id].answer_letter == "B" if s.type == "multiple_choice" else s.short_answer == "yes"
        assert v["pass"] is agrees
        if agrees and after[s.id].status != "rejected":
            assert after[s.id].status in ("accepted", "needs_review")
    assert any(after[s.id].status == "accepted" for s in checked)
