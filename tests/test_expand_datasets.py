"""Every dataset fixture imported through `visinstruct run`, offline: all its questions kept with
their answers, the four types made, bad records reported one by one, counts in `status`.

The fixtures are the `build_<dataset>(root) -> Expected` functions of tests/test_expand_*.py:
a dataset added with such a builder is tested here without a change to this file.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from expand_expect import Expected

from visinstruct.cli import cli
from visinstruct.expand import READERS
from visinstruct.store import RunStore

HERE = Path(__file__).parent
GENERIC = {"llava", "sharegpt", "vqa", "hf"}  # importers of already-written samples
TYPES = {"judgement", "multiple_choice", "short_vqa", "long_vqa"}


def builders() -> list:
    found = []
    for f in sorted(HERE.glob("test_expand_*.py")):
        if f.stem == Path(__file__).stem:
            continue
        module = importlib.import_module(f.stem)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("build_") and fn.__module__ == module.__name__:
                found.append(pytest.param(fn, id=f"{f.stem.removeprefix('test_expand_')}:{name}"))
    return found


def run(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_builders_are_found():
    assert any("build_tabmwp" in str(p.id) for p in builders())


@pytest.mark.parametrize("build", builders())
def test_dataset_fixture_imports_through_a_recipe(build, tmp_path):
    root = tmp_path / "fixture"
    root.mkdir()
    exp: Expected = build(root)
    assert exp.dataset in READERS
    source = {"dataset": exp.dataset, "path": str(root / exp.path), "split": exp.split, **exp.options}
    recipe = {
        "name": f"import-{exp.dataset}",
        "sources": [source],
        "workers": 2,
        "export": [
            {
                "format": "jsonl",
                "out": "all.jsonl",
                "include": ["accepted", "edited", "needs_review", "rejected"],
            }
        ],
    }
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe), "utf-8")
    run_dir = tmp_path / "run"
    run("run", str(tmp_path / "recipe.yaml"), "--run-dir", str(run_dir))

    with RunStore(run_dir, create=False) as store:
        samples = [s for s in store.iter_samples() if s.provenance.get("dataset") == exp.dataset]
        bad = store.bad_records()
        counts = {d: (n, q, b, m) for d, n, q, b, m in store.dataset_counts()}
    by_qid: dict[str, list] = {}
    for s in samples:
        for qid in [s.provenance.get("qid"), *s.provenance.get("qids", [])]:
            if qid is not None:
                by_qid.setdefault(str(qid), []).append(s)

    # every usable question kept, with its ground-truth answer
    assert set(exp.answers) <= set(by_qid), f"questions missing: {sorted(set(exp.answers) - set(by_qid))}"
    for qid, answer in exp.answers.items():
        mine = [s for s in by_qid[qid] if s.provenance.get("qid") == qid]
        assert mine, f"{qid}: no sample of its own"
        for s in mine:
            if s.type in ("short_vqa", "multiple_choice") and "facts" in s.context:
                assert s.short_answer == answer, f"{qid} {s.type}: {s.short_answer!r} != {answer!r}"
            if "facts" in s.context:
                assert s.context["facts"]["answer"] == answer
                assert "answer_raw" in s.provenance
        answered = [
            s.short_answer if s.short_answer is not None else s.turns[-1].answer
            for s in mine
            if s.type != "judgement" or s.context.get("facts", {}).get("kind") == "yes_no"
        ]
        assert answer in answered, f"{qid}: no sample answers {answer!r} ({answered})"
        for s in mine:
            assert s.provenance["split"] == exp.split and s.provenance["dataset"] == exp.dataset
    if exp.dataset not in GENERIC:
        assert {s.type for s in samples} == TYPES
        judged = [s for s in samples if s.type == "judgement" and s.context["facts"]["kind"] != "yes_no"]
        assert sum(s.short_answer == "yes" for s in judged) * 2 == len(judged)
    rejected = [(s.type, s.checks) for s in samples if s.status == "rejected"]
    assert not rejected, rejected

    # bad records one by one, with the dataset, the record id and a reason; images stored once
    assert {r for d, r, _ in bad if d == exp.dataset} == exp.bad
    assert all(reason for _, _, reason in bad)
    n_images, n_questions, n_bad, n_samples = counts[exp.dataset]
    assert (n_images, n_bad, n_samples) == (exp.images, len(exp.bad), len(samples))
    assert n_questions >= len(exp.answers)
    assert len({i for s in samples for i in s.images}) == exp.images

    # `status` shows the counts and each bad record
    status = run("status", str(run_dir))
    row = re.search(
        rf"│ {re.escape(exp.dataset)}\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│", status
    )
    assert row is not None, status
    assert tuple(map(int, row.groups())) == (n_images, n_questions, n_samples, n_bad)
    for record in exp.bad:
        assert f"bad record {exp.dataset} {record}:" in status

    # a re-run makes nothing new and exports the same bytes
    first = (run_dir / "exports" / "all.jsonl").read_bytes()
    again = run("run", str(tmp_path / "recipe.yaml"), "--run-dir", str(run_dir))
    assert re.search(r"dataset: 0 done, \d+ already done", again), again
    assert (run_dir / "exports" / "all.jsonl").read_bytes() == first
