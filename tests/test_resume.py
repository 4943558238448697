"""A resumed run is the uninterrupted run: after failures, reruns and kills, the same bytes.

And a reply that does not parse is never cached: the next run asks exactly those again."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_mminstruct import photo, recipe_for

from visinstruct.export import export
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore

DOMAIN_FOLDERS = ("landmark", "ocr", "artwork")


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def thirty_images(root: Path) -> Path:
    """30 photos: most in folders naming their domain, every fifth without one (the LLM picks)."""
    for i in range(30):
        folder = root if i % 5 == 0 else root / DOMAIN_FOLDERS[i % 3]
        photo(folder / f"img{i:02d}.jpg", i + 1, size=(200 + 3 * i, 160))
    return root


def full_recipe(server, images: Path, **extra) -> dict:
    data = recipe_for(
        server,
        images,
        languages=["en"],
        checks={"verify": {"endpoint": "vlm", "types": ["judgement", "multiple_choice", "short_vqa"]}},
        max_attempts=100,
        **extra,
    )
    for ep in data["endpoints"].values():
        ep["max_retries"] = 0  # every injected failure fails its unit: only reruns complete the run
    return data


def jsonl(run_dir: Path, out: Path) -> bytes:
    with RunStore(run_dir, create=False) as store:
        export(store, "jsonl", out, include=("accepted", "edited", "needs_review", "rejected"))
    return out.read_bytes()


def test_reruns_after_failures_give_the_fault_free_dataset(fake_openai, tmp_path):
    images = thirty_images(tmp_path / "images")
    rec = parse_recipe(full_recipe(fake_openai, images))
    clean = run_recipe(rec, tmp_path / "clean", workers=1)
    assert clean.complete and clean.stages["verify"].done > 100
    expected = jsonl(tmp_path / "clean", tmp_path / "out" / "clean.jsonl")

    fake_openai.fail_rate = 0.5
    runs, failed_first = 0, None
    while True:
        runs += 1
        s = run_recipe(rec, tmp_path / "faulty", workers=1)
        failed_first = s.failed if failed_first is None else failed_first
        if s.complete:
            break
        assert runs < 40, "a rerun must make progress"
    assert failed_first > 50 and runs > 2, "the faults must have hit many units, over several runs"
    assert jsonl(tmp_path / "faulty", tmp_path / "out" / "faulty.jsonl") == expected


def done_units(run_dir: Path) -> int:
    try:
        with sqlite3.connect(run_dir / "run.db", timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM units WHERE state='done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_at_three_points_then_rerun_gives_the_uninterrupted_dataset(fake_openai, tmp_path):
    fake_openai.latency = 0.05  # a run of a few seconds, to kill it part way
    images = thirty_images(tmp_path / "images")
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump(full_recipe(fake_openai, images)))
    cmd = [sys.executable, "-m", "visinstruct.cli", "run", str(recipe_file), "--workers", "2", "--run-dir"]
    env = {**os.environ, "VISINSTRUCT_TEST_KEY": "sk-test"}
    subprocess.run([*cmd, str(tmp_path / "clean")], check=True, capture_output=True, env=env)
    expected = jsonl(tmp_path / "clean", tmp_path / "out" / "clean.jsonl")
    total, requests = done_units(tmp_path / "clean"), fake_openai.requests

    # Kill points counted in requests the server has seen (not in units committed, which arrive in
    # batches): before two thirds of the requests a run cannot have finished, however fast the machine.
    killed = tmp_path / "killed"
    fake_openai.reset()
    rng = random.Random(12)
    kills, left = 0, []
    for point in sorted(rng.sample(range(10, requests * 2 // 3), 3)):
        proc = subprocess.Popen(
            [*cmd, str(killed)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        while proc.poll() is None and fake_openai.requests < point:
            time.sleep(0.02)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        left.append(total - done_units(killed))
    assert kills >= 2 and max(left) > 0, "the run must be killed part way"
    subprocess.run([*cmd, str(killed)], check=True, capture_output=True, env=env)
    assert jsonl(killed, tmp_path / "out" / "killed.jsonl") == expected


def test_unparsable_replies_are_retried_by_the_next_run_and_only_they(fake_openai, tmp_path):
    """One model stage, nothing downstream: the second run sends exactly the failed units."""
    endpoint = recipe_for(fake_openai, tmp_path)["endpoints"]["llm"]
    rec = parse_recipe(
        {
            "seed": 4,
            "languages": ["en"],
            "synthetic": {"charts": {"count": 30, "llm": ["long_vqa"]}},
            "endpoints": {"llm": endpoint},
            "instructions": {"endpoint": "llm"},
        }
    )
    # HTTP 200 with content that is not what was asked, repair too: a unit fails with p = 0.36
    fake_openai.bad_content_rate = 0.6
    first = run_recipe(rec, tmp_path / "run", workers=1)
    failed = first.stages["facts_llm"].failed
    assert failed > 0 and first.gave_up == 0 and first.stages["facts_llm"].done == 30 - failed
    with RunStore(tmp_path / "run", create=False) as store:
        states = [(stage, state) for stage, _, state, _, _ in store.failed_units()]
    assert states == [("facts_llm", "failed")] * failed  # will be retried, with the reason recorded

    fake_openai.bad_content_rate = 0.0
    fake_openai.reset()
    second = run_recipe(rec, tmp_path / "run", workers=1)
    assert second.complete
    assert fake_openai.requests == failed == second.stages["facts_llm"].done  # exactly those
    assert second.stages["facts_llm"].skipped == 30 - failed
    fake_openai.reset()
    assert run_recipe(rec, tmp_path / "run", workers=1).complete and fake_openai.requests == 0


def test_broken_captions_are_asked_again_and_their_images_complete(fake_openai, tmp_path):
    images = thirty_images(tmp_path / "images")
    rec = parse_recipe(recipe_for(fake_openai, images, languages=["en"]))
    fake_openai.bad_content_rate = 0.6  # a caption fails with p = 0.36: some of 30 always do
    first = run_recipe(rec, tmp_path / "run", workers=1)
    broken = first.stages["captions"].failed
    assert broken > 0 and first.stages["captions"].done == 30 - broken
    with RunStore(tmp_path / "run", create=False) as store:
        reasons = [err for stage, _, _, err, _ in store.failed_units() if stage == "captions"]
        captions = sum(len(store.contexts_of(i, "caption")) for _, _, i, _ in store.iter_inputs())
    assert captions == 30 - broken, "no broken caption is stored"
    assert all("broken text" in r for r in reasons), reasons
    fake_openai.bad_content_rate = 0.0
    fake_openai.reset()
    second = run_recipe(rec, tmp_path / "run", workers=1)
    assert second.complete and second.stages["captions"].done == broken
    assert second.stages["instructions"].skipped == first.stages["instructions"].done  # not sent again
    made = sum(second.stages[s].done for s in ("captions", "domains", "instructions"))
    assert fake_openai.requests == made  # one request per unit made now, none for anything done before
