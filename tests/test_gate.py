"""The quality gate over a run: duplicates, statuses, nothing deleted, edits kept."""

from __future__ import annotations

import copy

from visinstruct.checks import decide
from visinstruct.checks.gate import duplicate_checks, run_gate
from visinstruct.engine import run
from visinstruct.models import run_async
from visinstruct.recipe import parse_recipe
from visinstruct.records import Sample, Turn
from visinstruct.store import RunStore


def sample(
    i: int, q: str, a: str, images=("img1",), type_="short_vqa", generator="llm/instructions"
) -> Sample:
    return Sample(
        id=f"s{i}",
        images=list(images),
        domain="ocr",
        type=type_,
        language="en",
        turns=[Turn(q, a)],
        short_answer=a,
        provenance={"generator": generator},
    )


def test_duplicates_on_one_image_are_rejected_contrastive_pairs_are_not():
    s = [
        sample(1, "What is written on the sign?", "EXIT"),
        sample(2, "What is written on the sign?", "EXIT"),  # exact duplicate
        sample(3, "What is written on the sign ?!", "exit"),  # same after normalising
        sample(4, "What is written on the red sign?", "EXIT"),  # near-identical question, same answer
        sample(5, "Is the sign red?", "yes", type_="judgement"),
        sample(6, "Is the sign blue?", "no", type_="judgement"),  # contrastive pair: kept
        sample(7, "What is written on the sign?", "EXIT", images=("img2",)),  # another image: kept
    ]
    duplicate_checks(s, threshold=0.8)
    flagged = {x.id for x in s if not x.checks["duplicate"]["pass"]}
    assert flagged == {"s2", "s3", "s4"}
    assert "s1" in s[1].checks["duplicate"]["reason"]
    assert all(decide(x) == "rejected" for x in s if x.id in flagged)


def test_a_model_repeating_itself_across_images_goes_to_review_synthetic_is_exempt():
    long_q = "Describe the layout of the shop front and read every line of text on its sign"
    long_a = "The shop front has a green awning; the sign reads FRESH BREAD DAILY and OPEN 7 DAYS"
    s = [
        sample(1, long_q, long_a),
        sample(2, long_q, long_a + ".", images=("img2",)),
        sample(3, long_q, long_a, images=("img3",), generator="synth/ocr"),
        sample(4, long_q, long_a, images=("img4",), generator="synth/ocr"),
    ]
    duplicate_checks(s, threshold=0.85)
    assert s[1].checks["near_copy"]["severity"] == "review" and "s1" in s[1].checks["near_copy"]["reason"]
    assert "near_copy" not in s[0].checks and "near_copy" not in s[3].checks


def test_gate_keeps_everything_and_an_edit_survives(tmp_path):
    rec = parse_recipe({"seed": 3, "languages": ["en"], "synthetic": {"clocks": 8, "scenes": 8}})
    run(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        before = list(store.iter_samples())
        bad = copy.deepcopy(before[0])
        bad.turns[0] = Turn("As an AI, what is <object>?", "I cannot see images.")
        edited = copy.deepcopy(before[1])
        edited.status = "edited"
        edited.turns[0] = Turn(edited.turns[0].question, edited.turns[0].answer + " ")
        store.update_samples([bad, edited])
        summary = run_async(run_gate(rec, store))
        after = {s.id: s for s in store.iter_samples()}
    assert len(after) == len(before) == summary.samples, "nothing is deleted"
    assert after[bad.id].status == "rejected"
    assert {"refusal", "slots"} <= {k for k, v in after[bad.id].checks.items() if not v["pass"]}
    assert after[edited.id].status == "edited"
    assert all(s.checks.get("facts", {}).get("pass") for s in after.values())


def test_a_reviewers_decision_outranks_the_checks():
    s = sample(1, "As an AI, what is this?", "I cannot see images.")
    s.checks = {
        "refusal": {"pass": False, "reason": "refusal", "severity": "reject"},
        "review": {"pass": True, "reviewer": "ana"},
    }
    assert decide(s) == "accepted"
    s.checks["review"] = {"pass": False, "reason": "wrong", "severity": "reject"}
    s.checks.pop("refusal")
    assert decide(s) == "rejected"


def test_short_answers_repeating_across_images_are_not_copies():
    s = [
        sample(1, "What colour is the car?", "Red"),
        sample(2, "What colour is the car?", "Red", images=("img2",)),
    ]
    duplicate_checks(s, threshold=0.85)
    assert all("near_copy" not in x.checks for x in s)
