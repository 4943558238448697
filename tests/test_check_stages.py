"""Check stages: duplicates, statuses derived from results, nothing deleted, a person's
decision kept, results recomputed only when what they depend on changed."""

from __future__ import annotations

from visinstruct.checks.dedup import Deduper
from visinstruct.recipe import parse_recipe
from visinstruct.records import Sample, Turn, derive_status
from visinstruct.review.db import ReviewDB
from visinstruct.runner import run_recipe
from visinstruct.stages.checks import local_duplicates
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


def flagged(results: list[dict]) -> set[str]:
    return {f"s{n + 1}" for n, r in enumerate(results) if any(not v["pass"] for v in r.values())}


def planted() -> list[Sample]:
    return [
        sample(1, "What is written on the sign?", "EXIT"),
        sample(2, "What is written on the sign?", "EXIT"),  # exact duplicate
        sample(3, "What is written on the sign ?!", "exit"),  # same after normalising
        sample(4, "What is written on the red sign?", "EXIT"),  # near-identical question, same answer
        sample(5, "Is the sign red?", "yes", type_="judgement"),
        sample(6, "Is the sign blue?", "no", type_="judgement"),  # contrastive pair: kept
        sample(7, "What is written on the sign?", "EXIT", images=("img2",)),  # another image: kept
        sample(8, "What is written on the sign?", "ENTRY"),  # the same question, another answer: kept
    ]


def test_duplicates_on_one_image_are_rejected_contrastive_pairs_are_not():
    local = local_duplicates(planted(), threshold=0.8)
    assert flagged(local) == {"s2", "s3", "s4"}
    assert "s1" in local[1]["duplicate"]["reason"] and local[3]["near_duplicate"]["severity"] == "reject"
    # the dataset stage's streaming index applies the same rule
    streamed = list(Deduper(threshold=0.8, by_answer=True).check_all(planted()))
    assert {"s2", "s3"} <= flagged(streamed) <= {"s2", "s3", "s4"}


def test_a_model_repeating_itself_across_images_goes_to_review_short_answers_do_not():
    long_q = "Describe the layout of the shop front and read every line of text on its sign"
    long_a = "The shop front has a green awning; the sign reads FRESH BREAD DAILY and OPEN 7 DAYS"
    s = [
        sample(1, long_q, long_a),
        sample(2, long_q, long_a + ".", images=("img2",)),
        sample(3, "What colour is the car?", "Red"),
        sample(4, "What colour is the car?", "Red", images=("img3",)),
    ]
    res = list(Deduper(threshold=0.85, by_answer=True).check_all(s))
    assert res[1]["near_duplicate"]["severity"] == "review" and "s1" in res[1]["near_duplicate"]["reason"]
    assert res[3]["near_duplicate"]["pass"] and res[3]["duplicate"]["pass"]


def test_drawn_samples_are_exempt_from_the_dataset_dedup(tmp_path):
    long_q = "Describe the layout of the shop front and read every line of text on its sign"
    long_a = "The shop front has a green awning; the sign reads FRESH BREAD DAILY and OPEN 7 DAYS"
    rec = parse_recipe({"seed": 1, "synthetic": {"clocks": 1}})
    with RunStore(tmp_path / "run") as store:
        store.add_samples("u/llm", 0, [sample(1, long_q, long_a), sample(2, long_q, long_a, images=("i2",))])
        drawn = [
            sample(3, long_q, long_a, ("i3",), generator="synth/ocr"),
            sample(4, long_q, long_a, ("i4",), generator="synth/ocr"),
        ]
        store.add_samples("u/synth", 1, drawn)
    run_recipe(rec, tmp_path / "run", make=False)
    with RunStore(tmp_path / "run", create=False) as store:
        got = {s.id: s for s in store.iter_samples()}
    assert got["s2"].checks["near_duplicate"]["pass"] is False and got["s2"].status == "needs_review"
    assert "near_duplicate" not in got["s4"].checks


def test_checks_keep_everything_and_a_persons_decision_survives(tmp_path):
    rec = parse_recipe({"seed": 3, "languages": ["en"], "synthetic": {"clocks": 8, "scenes": 8}})
    run_recipe(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        before = [(s, v) for s, v, _ in store.iter_versioned()]
    (edited, ev), (rejected, rv) = before[0], before[1]
    review = ReviewDB(tmp_path / "run")
    turns = [{"question": "As an AI, what is <object>?", "answer": "I cannot see images."}]
    review.act(edited.id, "edit", ev, "ana", turns=turns)
    review.act(rejected.id, "reject", rv, "ana", reason="wrong clock")
    review.close()
    run_recipe(rec, tmp_path / "run", make=False)  # `visinstruct check`
    with RunStore(tmp_path / "run", create=False) as store:
        after = {s.id: s for s in store.iter_samples()}
        rules = store.stage_result(edited.id, "rules")
    assert len(after) == len(before), "nothing is deleted"
    assert {"refusal", "slots"} <= {
        k for k, v in rules.items() if not v["pass"]
    }  # the edit was checked again
    assert after[edited.id].status == "edited" and after[edited.id].turns[0].answer == "I cannot see images."
    assert after[rejected.id].status == "rejected"
    assert all(s.checks.get("facts", {}).get("pass") for s in after.values())


def test_a_reviewers_decision_outranks_the_checks():
    refusal = {"pass": False, "reason": "refusal", "severity": "reject"}
    assert derive_status("accept", [refusal]) == "accepted"
    assert derive_status("reject", []) == "rejected"
    assert derive_status("edit", [refusal]) == "edited"
    assert derive_status(None, [refusal]) == "rejected"
    assert derive_status(None, [{"pass": False, "reason": "long", "severity": "review"}]) == "needs_review"


def test_a_check_run_on_an_unchanged_run_writes_nothing(tmp_path):
    rec = parse_recipe({"seed": 3, "languages": ["en"], "synthetic": {"clocks": 6}})
    run_recipe(rec, tmp_path / "run", workers=1)
    summary = run_recipe(rec, tmp_path / "run", make=False)
    assert summary.stages["rules"].planned == 0  # every result is current: nothing recomputed


def _row_visits(tmp_path, n: int, monkeypatch) -> int:
    """SQLite steps taken to stream `n` samples with a status filter, 20 a batch."""
    import visinstruct.store as store_module

    monkeypatch.setattr(store_module, "READ_BATCH", 20)
    with RunStore(tmp_path / f"run{n}") as store:
        for u in range(n // 50):
            samples = [sample(u * 50 + k, f"what is on sign {u * 50 + k}?", f"{k} km") for k in range(50)]
            store.add_samples(f"u{u}", u, samples)
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        store.db.set_progress_handler(count, 100)
        got = sum(1 for _ in store.iter_samples(("accepted", "needs_review", "rejected", "edited")))
        store.db.set_progress_handler(None, 0)
    assert got == n
    return steps[0]


def test_streaming_samples_with_a_status_filter_visits_each_row_once(tmp_path, monkeypatch):
    """Keyset batches along (seq, id): four times the samples cost about four times the steps,
    not sixteen (a status index plus a sort per batch is quadratic in the run's size)."""
    small, large = _row_visits(tmp_path, 500, monkeypatch), _row_visits(tmp_path, 2000, monkeypatch)
    assert large < 6 * small, (small, large)
