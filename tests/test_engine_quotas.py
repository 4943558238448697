"""Synthetic domains targeted by category: filters, quotas, and resume under quotas."""

from __future__ import annotations

import sqlite3

import pytest

from visinstruct.recipe import RecipeError, parse_recipe
from visinstruct.runner import run_recipe as run


def counts(run_dir) -> dict[tuple[str, str], int]:
    with sqlite3.connect(run_dir / "run.db") as db:
        rows = db.execute("SELECT domain, category, COUNT(*) FROM samples GROUP BY 1, 2")
        return {(d, c): n for d, c, n in rows}


def ids(run_dir) -> list[str]:
    with sqlite3.connect(run_dir / "run.db") as db:
        return [i for (i,) in db.execute("SELECT id FROM samples ORDER BY seq")]


def recipe(**synthetic):
    return parse_recipe({"name": "q", "seed": 5, "languages": ["en"], "synthetic": synthetic})


def test_categories_keep_only_the_asked_questions(tmp_path):
    run(recipe(scenes={"count": 20, "categories": ["counting", "color"]}), tmp_path, workers=1)
    got = counts(tmp_path)
    assert got, "some samples are made"
    assert {c for _, c in got} <= {"counting", "color"}
    assert {c for _, c in got} == {"counting", "color"}


def test_quotas_are_met_with_few_items_and_stop_early(tmp_path):
    spec = {"count": 2000, "quotas": {"counting": 30, "shape": 10}, "types": ["multiple_choice", "judgement"]}
    summary = run(recipe(scenes=spec), tmp_path, workers=2)
    got = counts(tmp_path)
    assert set(got) == {("scenes", "counting"), ("scenes", "shape")}
    # met, and overshot by at most one item's questions of that category
    assert 30 <= got[("scenes", "counting")] < 30 + 8
    assert 10 <= got[("scenes", "shape")] < 10 + 8
    assert summary.stages["synthetic"].done < 200, "items stop being made once every quota is met"
    assert summary.quota_short == {}
    with sqlite3.connect(tmp_path / "run.db") as db:
        types = {t for (t,) in db.execute("SELECT DISTINCT type FROM samples")}
    assert types <= {"multiple_choice", "judgement"}


def test_a_quota_that_cannot_be_met_is_reported_not_looped_on(tmp_path):
    summary = run(
        recipe(clocks={"count": 6, "quotas": {"time_reading": 5, "counting": 3}}), tmp_path, workers=1
    )
    assert summary.quota_short == {"clocks": {"counting": 3}}
    assert summary.stages["synthetic"].done == 6


def test_interrupted_quota_run_resumes_to_the_uninterrupted_dataset(tmp_path):
    spec = {"count": 3000, "quotas": {"counting": 60, "color": 40, "spatial_relation": 25}}
    clean, broken = tmp_path / "clean", tmp_path / "broken"
    run(recipe(scenes=spec), clean, workers=2)

    class Stop(Exception):
        pass

    calls = []

    def stop_after_a_few(stage: str, done: int, total: int | None) -> None:
        calls.append(done)
        if len(calls) == 12:
            raise Stop

    with pytest.raises(Stop):
        run(recipe(scenes=spec), broken, workers=1, progress=stop_after_a_few)
    partial = ids(broken)
    assert 0 < len(partial) < len(ids(clean))
    run(recipe(scenes=spec), broken, workers=2)
    assert ids(broken) == ids(clean)


def test_negative_quota_is_a_recipe_error():
    with pytest.raises(RecipeError, match="quota of 'counting' must be ≥ 0"):
        recipe(scenes={"count": 3, "quotas": {"counting": -1}})
