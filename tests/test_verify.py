"""Verification through the model client: the VLM answers from the image alone; disagreements
go to review and show in status; calls are cached and costed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_mminstruct import recipe_for, sample_folder

from visinstruct.checks.verify import letter_of, yes_no_of
from visinstruct.models.ledger import ledger_rows
from visinstruct.recipe import parse_recipe
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
