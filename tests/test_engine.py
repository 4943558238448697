"""The runner on synthetic items: resume without duplicates, determinism, balance, failures
recorded, SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from visinstruct.errors import RunDirError
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.stages.synthetic import plan
from visinstruct.store import RunStore
from visinstruct.synth import REGISTRY, SynthDomain, get_domain


def recipe(**kw):
    base = {"name": "t", "seed": 3, "languages": ["en", "zh"], "synthetic": {"clocks": 40}}
    base.update(kw)
    return parse_recipe(base)


def ids(run_dir: Path) -> list[str]:
    with RunStore(run_dir, create=False) as s:
        return [x.id for x in s.iter_samples()]


def test_rerun_resumes_and_never_duplicates(tmp_path):
    r = recipe()
    first = run(r, tmp_path / "run", workers=2)
    assert first.stages["synthetic"].done == 40 and first.failed == 0
    before = ids(tmp_path / "run")
    again = run(r, tmp_path / "run", workers=2)
    assert again.stages["synthetic"].done == 0 and again.stages["synthetic"].skipped == 40
    assert ids(tmp_path / "run") == before
    assert len(set(before)) == len(before) == first.samples


def test_same_seed_same_dataset_other_seed_differs(tmp_path):
    run(recipe(), tmp_path / "a", workers=2)
    run(recipe(), tmp_path / "b", workers=1)  # in-process vs pool: same bytes, same ids
    run(recipe(seed=4), tmp_path / "c", workers=2)
    assert ids(tmp_path / "a") == ids(tmp_path / "b")
    assert not set(ids(tmp_path / "a")) & set(ids(tmp_path / "c"))
    images_a = sorted(p.name for p in (tmp_path / "a" / "images").rglob("*.png"))
    images_b = sorted(p.name for p in (tmp_path / "b" / "images").rglob("*.png"))
    assert images_a == images_b and len(images_a) == 40


def test_growing_a_recipe_keeps_existing_samples(tmp_path):
    run(recipe(), tmp_path / "run", workers=1)
    small = set(ids(tmp_path / "run"))
    with pytest.raises(RunDirError, match="another recipe"):
        run(recipe(synthetic={"clocks": 60}), tmp_path / "run", workers=1)
    assert set(ids(tmp_path / "run")) == small
    run(recipe(synthetic={"clocks": 60}), tmp_path / "run", workers=1, force=True)
    assert small < set(ids(tmp_path / "run"))


def test_letters_and_yes_no_are_balanced(tmp_path):
    run(recipe(synthetic={"clocks": 200}), tmp_path / "run", workers=2)
    with RunStore(tmp_path / "run", create=False) as s:
        samples = list(s.iter_samples())
    letters = Counter(x.answer_letter for x in samples if x.type == "multiple_choice")
    assert sum(letters.values()) == 200
    assert set(letters) == set("ABCD") and all(n == 50 for n in letters.values())
    yn = Counter(x.short_answer for x in samples if x.type == "judgement")
    assert yn["yes"] == yn["no"]
    for x in samples:
        if x.type == "multiple_choice":
            assert x.options["ABCD".index(x.answer_letter)] == x.short_answer
            assert len(set(x.options)) == 4


def test_types_filter(tmp_path):
    run(recipe(types=["short_vqa", "long_vqa"]), tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as s:
        assert {x.type for x in s.iter_samples()} == {"short_vqa", "long_vqa"}


class Broken(SynthDomain):
    name = "broken"

    def make(self, rng, lang):
        if rng.random() < 0.5:
            raise ZeroDivisionError("planted failure")
        return get_domain("clocks").make(rng, lang)


def test_a_failing_unit_is_recorded_and_the_rest_complete(tmp_path, monkeypatch):
    monkeypatch.setitem(REGISTRY, "broken", "test_engine:Broken")
    r = recipe(synthetic={"broken": 30})
    summary = run(r, tmp_path / "run", workers=1)
    made = summary.stages["synthetic"].done
    assert summary.failed > 0 and made > 0 and made + summary.failed == 30
    with RunStore(tmp_path / "run", create=False) as s:
        failed = s.failed_units()
        assert len(failed) == summary.failed
        assert all(
            state == "failed" and "ZeroDivisionError: planted failure" in err
            for _, _, state, err, _ in failed
        )
        assert dict(((st, state), n) for st, state, n in s.unit_counts())[("synthetic", "done")] == made


def test_plan_is_stable_and_splits_languages():
    tasks = list(plan(recipe(synthetic={"clocks": 5})))
    assert [t.key for t in tasks] == [
        "clocks/en/0",
        "clocks/zh/0",
        "clocks/en/1",
        "clocks/zh/1",
        "clocks/en/2",
    ]


@pytest.mark.parametrize("workers", [2])
def test_sigkill_then_rerun_gives_the_uninterrupted_dataset(tmp_path, workers):
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump({"name": "k", "seed": 9, "synthetic": {"clocks": 1500}}))
    cmd = [
        sys.executable,
        "-m",
        "visinstruct.cli",
        "run",
        str(recipe_file),
        "--no-export",
        "--workers",
        str(workers),
        "--run-dir",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*cmd, str(killed)], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    done = 0
    while time.time() < deadline:
        time.sleep(0.02)
        try:
            with sqlite3.connect(killed / "run.db", timeout=5) as db:
                done = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        except sqlite3.Error:
            continue
        if done >= 100:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 100 <= done < 1500, "the run must be killed part way"
    with sqlite3.connect(killed / "run.db") as db:
        partial = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    assert partial < 1500
    subprocess.run([*cmd, str(killed)], check=True, capture_output=True)
    subprocess.run([*cmd, str(tmp_path / "clean")], check=True, capture_output=True)
    assert ids(killed) == ids(tmp_path / "clean")
    assert len(ids(killed)) == len(set(ids(killed)))


def test_a_run_dir_of_an_earlier_version_is_continued_and_another_recipe_still_refused(tmp_path):
    """A run directory written before the recipe gained fields (stored recipe without them,
    another hash) is the same recipe when its stored recipe, read with today's defaults, is."""
    run(recipe(), tmp_path, workers=1)
    with RunStore(tmp_path) as s:
        old = s.get_meta("recipe")
        for new_field in ("embed", "executor"):  # fields an earlier version did not have
            old.pop(new_field, None)
        s.set_meta("recipe", old)
        s.set_meta("recipe_hash", "0123456789abcdef")  # what the earlier version hashed

    again = run(recipe(), tmp_path, workers=1)
    assert again.stages["synthetic"].done == 0  # nothing made again
    with RunStore(tmp_path) as s:
        s.set_meta("recipe_hash", "0123456789abcdef")

    with pytest.raises(RunDirError, match="another recipe"):
        run(recipe(seed=99), tmp_path, workers=1)
