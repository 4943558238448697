"""The main job as a new user runs it: `visinstruct run recipes/quickstart.yaml`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("quickstart") / "run"
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "run", str(QUICKSTART), "--run-dir", str(d)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    return d


@pytest.fixture(scope="module")
def records(run_dir) -> list[dict]:
    lines = (run_dir / "exports" / "quickstart.jsonl").read_text("utf-8").splitlines()
    return [json.loads(x) for x in lines]


def test_covers_domains_types_and_languages(records):
    assert len(records) >= 300
    domains = Counter(r["domain"] for r in records)
    assert len(domains) >= 7
    assert any(len(r["images"]) >= 2 for r in records), "one domain is multi-image"
    assert {r["type"] for r in records} == {
        "judgement",
        "multiple_choice",
        "short_vqa",
        "long_vqa",
        "caption",
    }
    assert {r["language"] for r in records} == {"en", "zh"}
    for domain in domains:  # every domain has every type
        assert {r["type"] for r in records if r["domain"] == domain} == {
            "judgement",
            "multiple_choice",
            "short_vqa",
            "long_vqa",
            "caption",
        }
    for r in records:
        for key in (
            "id",
            "images",
            "domain",
            "type",
            "language",
            "turns",
            "options",
            "answer_letter",
            "status",
            "checks",
            "provenance",
        ):
            assert key in r
        assert r["status"] == "accepted" and r["checks"]["structure"]["pass"]


def test_multiple_choice_and_judgement_are_right_and_balanced(records):
    mc = [r for r in records if r["type"] == "multiple_choice"]
    assert len(mc) >= 100
    for r in mc:
        assert len(r["options"]) == 4 and len(set(r["options"])) == 4
        assert r["options"]["ABCD".index(r["answer_letter"])] == r["short_answer"]
        assert r["turns"][0]["answer"] == r["answer_letter"]
    letters = Counter(r["answer_letter"] for r in mc)
    for letter in "ABCD":
        assert abs(letters[letter] / len(mc) - 0.25) <= 0.05, letters
    yn = Counter(r["short_answer"] for r in records if r["type"] == "judgement")
    assert 0.45 <= yn["yes"] / (yn["yes"] + yn["no"]) <= 0.55, yn


def test_captions_say_only_what_the_facts_hold(records):
    captions = [r for r in records if r["type"] == "caption"]
    assert len(captions) == 336 and {r["language"] for r in captions} == {"en", "zh"}
    for r in captions:
        assert r["checks"]["facts"]["pass"] and r["checks"]["facts"]["coverage"] >= 0.75


def test_long_vqa_has_several_rounds(records):
    assert all(len(r["turns"]) >= 2 for r in records if r["type"] == "long_vqa")


def test_every_export_format_is_written_and_loads(run_dir, records):
    ex = run_dir / "exports"
    ids = {r["id"] for r in records}
    llava = json.loads((ex / "llava" / "quickstart.json").read_text("utf-8"))
    assert {x["id"] for x in llava} == ids
    for x in llava:
        images = x["image"] if isinstance(x["image"], list) else [x["image"]]
        assert x["conversations"][0]["value"].count("<image>") == len(images)
        assert all((ex / "llava" / p).is_file() for p in images)
    sharegpt = json.loads((ex / "sharegpt" / "quickstart.json").read_text("utf-8"))
    assert len(sharegpt) == len(ids)
    internvl = [json.loads(x) for x in (ex / "internvl" / "quickstart.jsonl").read_text("utf-8").splitlines()]
    assert {x["id"] for x in internvl} == ids
    engine_rows = json.loads((ex / "dataengine" / "quickstart.json").read_text("utf-8"))
    assert len(engine_rows) == sum(r["type"] == "multiple_choice" for r in records)
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(
        "parquet", data_files=str(ex / "parquet" / "quickstart.parquet"), split="train"
    )
    assert len(ds) == len(ids) and set(ds["id"]) == ids
    row = ds[0]
    first = next(r for r in records if r["id"] == row["id"])
    assert [t["question"] for t in row["turns"]] == [t["question"] for t in first["turns"]]
    img = row["images"][0]
    assert img.size[0] > 0
    raw = (ex / first["images"][0]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == first["image_ids"][0]


def test_status_reports_the_run(run_dir):
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and "differences" in p.stdout and "total" in p.stdout
