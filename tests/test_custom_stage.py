"""A stage written here, outside the package, named in a recipe: it runs, resumes and is
versioned like the built-in ones, with no change to the runner."""

from __future__ import annotations

import pytest
from test_mminstruct import recipe_for, sample_folder

from visinstruct.checks import REVIEW, failed, passed
from visinstruct.errors import RecipeError
from visinstruct.recipe import parse_recipe
from visinstruct.review.db import ReviewDB
from visinstruct.runner import run_recipe
from visinstruct.stages import SampleCheck
from visinstruct.store import RunStore

CALLS: list[str] = []


class CaptionLength(SampleCheck):
    """Samples written from a short caption go to review."""

    name = "caption_length"
    version = "1"

    def check(self, sample):
        CALLS.append(sample.id)
        words = len((sample.context.get("caption") or "").split())
        if words < self.options.get("min_words", 5):
            return {"caption_length": failed(f"the caption has {words} words", REVIEW)}
        return {"caption_length": passed(words=words)}


class CaptionLengthV2(CaptionLength):
    version = "2"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def recipe(server, images, stage="test_custom_stage:CaptionLength", **options):
    return parse_recipe(
        recipe_for(server, images, languages=["en"], stages=[{"use": stage, "options": options}])
    )


def results(run_dir):
    with RunStore(run_dir, create=False) as store:
        rows = store.db.execute("SELECT sample_id, version, result FROM checks WHERE stage='caption_length'")
        return {sid: (version, res) for sid, version, res in rows}, store.count_samples()


def test_a_stage_from_a_test_file_runs_resumes_and_is_versioned(fake_openai, tmp_path):
    images = sample_folder(tmp_path / "images")
    CALLS.clear()
    first = run_recipe(recipe(fake_openai, images, min_words=5), tmp_path / "run", workers=1)
    stored, n = results(tmp_path / "run")
    assert first.stages["caption_length"].done > 0 and len(stored) == n == len(CALLS)
    assert all(v == "1" for v, _ in stored.values())

    # resumes: nothing changed, nothing is checked again
    CALLS.clear()
    again = run_recipe(recipe(fake_openai, images, min_words=5), tmp_path / "run", workers=1)
    assert CALLS == [] and again.stages["caption_length"].planned == 0

    # a person's edit: only that sample is checked again
    db = ReviewDB(tmp_path / "run")
    rec = db.get(next(iter(stored)))
    turns = [{"question": t["question"], "answer": t["answer"] + "!"} for t in rec["sample"]["turns"]]
    db.act(rec["sample"]["id"], "edit", rec["version"], "ana", turns=turns)
    db.close()
    run_recipe(recipe(fake_openai, images, min_words=5), tmp_path / "run", workers=1)
    assert [rec["sample"]["id"]] == CALLS

    # another option value makes other results: every sample again, the statuses follow
    CALLS.clear()
    run_recipe(recipe(fake_openai, images, min_words=100_000), tmp_path / "run", workers=1, force=True)
    assert len(CALLS) == n
    with RunStore(tmp_path / "run", create=False) as store:
        flagged = [s for s in store.iter_samples() if not s.checks["caption_length"]["pass"]]
        assert len(flagged) == n and all(s.status in ("needs_review", "rejected", "edited") for s in flagged)

    # a new version of the stage: every result made again, stored with the new version
    CALLS.clear()
    run_recipe(
        recipe(fake_openai, images, "test_custom_stage:CaptionLengthV2", min_words=100_000),
        tmp_path / "run",
        workers=1,
        force=True,
    )
    stored, n = results(tmp_path / "run")
    assert len(CALLS) == n and {v for v, _ in stored.values()} == {"2"}


def test_a_stage_that_cannot_be_loaded_is_one_clear_error(fake_openai, tmp_path):
    images = sample_folder(tmp_path / "images")
    for use, why in [
        ("test_custom_stage:Nope", "has no 'Nope'"),
        ("no_such_module_here:Stage", "cannot import"),
        ("test_custom_stage:recipe", "not a visinstruct Stage"),
        ("no-such-entry-point", "no such entry point"),
    ]:
        with pytest.raises(RecipeError, match=why):
            run_recipe(recipe(fake_openai, images, use), tmp_path / "run", workers=1)
    assert not (tmp_path / "run").exists(), "nothing is made before the recipe's stages load"
