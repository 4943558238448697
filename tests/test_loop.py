"""`visinstruct loop`: rounds recorded in a ledger, hooks run between them, resumable."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from visinstruct.cli import main
from visinstruct.loop.runner import Loop, load_loop

TOY = str(Path(__file__).parent / "loop_toy_model.py")


def write_loop(tmp_path: Path, samples: int = 200, rounds: int = 2, **extra) -> Path:
    (tmp_path / "base.yaml").write_text(
        yaml.safe_dump(
            {"name": "base", "seed": 1, "languages": ["en"], "workers": 1, "synthetic": {"scenes": 1}}
        )
    )
    spec = {
        "name": "toy",
        "recipe": "base.yaml",
        "rounds": rounds,
        "samples_per_round": samples,
        "hooks": {
            "eval": f"{sys.executable} {TOY} eval {{prev_model}} {{results}}",
            "train": f"{sys.executable} {TOY} train {{model}} {{all_data}}",
        },
        **extra,
    }
    (tmp_path / "loop.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path / "loop.yaml"


def ledger(loop_dir: Path) -> list[tuple[int, str, float]]:
    with sqlite3.connect(loop_dir / "loop.db") as db:
        return list(db.execute("SELECT round, step, finished FROM steps ORDER BY round, finished"))


def round_ids(loop_dir: Path, rnd: int) -> list[str]:
    with sqlite3.connect(loop_dir / f"round-{rnd}" / "run" / "run.db") as db:
        return [i for (i,) in db.execute("SELECT id FROM samples ORDER BY seq")]


def test_loop_runs_rounds_targets_weak_categories_and_records_them(tmp_path, capsys):
    loop_file = write_loop(tmp_path)
    main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    out = "".join(capsys.readouterr())
    steps = [(r, s) for r, s, _ in ledger(tmp_path / "L")]
    assert steps == [
        (0, "evaluate"), (0, "analyse"), (0, "generate"), (0, "train"),
        (1, "evaluate"), (1, "analyse"), (1, "generate"), (1, "train"),
        (2, "evaluate"), (2, "analyse"),
    ]  # fmt: skip
    info = {(r, s): i for r, s, i in Loop.rows_of(tmp_path / "L")}
    q0 = info[(0, "analyse")]["quotas"]
    assert sum(q0.values()) == 200
    # the weakest category (counting, 30%) gets the most, the strongest (color) the least but > 0
    assert max(q0, key=q0.get) == "counting" and min(q0, key=q0.get) == "color" and q0["color"] > 0
    made = info[(0, "generate")]["by_category"]
    for cat, n in q0.items():
        assert n <= made[cat] < n + 10, (cat, n, made)
    # each round's data is multiple-choice scenes of the quota'd categories, stamped with its round
    rows = [json.loads(x) for x in (tmp_path / "L/round-1/run/exports/round.jsonl").read_text().splitlines()]
    assert {r["type"] for r in rows} == {"multiple_choice"} and {r["round"] for r in rows} == {1}
    dataengine = json.loads((tmp_path / "L/round-1/run/exports/dataengine.json").read_text())
    assert len(dataengine) == len(rows)
    assert set(dataengine[0]) >= {
        "instruction",
        "answer",
        "short_answer",
        "options",
        "choice_answer",
        "image",
        "qtype",
    }
    # training on targeted data raised the weakest category in the toy model
    acc = {
        (r, c["category"]): c["correct"] / c["n"]
        for (r, s), i in info.items()
        if s == "analyse"
        for c in i["stats"]
    }
    assert acc[(2, "counting")] > acc[(0, "counting")]
    assert "counting" in out and "report:" in out
    page = (tmp_path / "L" / "report.html").read_text()
    assert "<svg" in page and "counting" in page


def test_killed_loop_continues_where_it_stopped(tmp_path):
    loop_file = write_loop(tmp_path, samples=400, rounds=1)
    cmd = [sys.executable, "-m", "visinstruct.cli", "loop", str(loop_file), "--loop-dir"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*cmd, str(killed)], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline, units = time.time() + 120, 0
    db_path = killed / "round-0" / "run" / "run.db"
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
        if not db_path.exists():
            continue
        try:
            with sqlite3.connect(db_path, timeout=5) as db:
                units = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        except sqlite3.Error:
            continue
        if units >= 10:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert units >= 10, "the loop must be killed while it makes round 0's data"
    before = ledger(killed)
    assert [(r, s) for r, s, _ in before] == [(0, "evaluate"), (0, "analyse")]
    subprocess.run([*cmd, str(killed)], check=True, capture_output=True)
    after = ledger(killed)
    assert after[:2] == before, "finished steps are not run again"
    assert [(r, s) for r, s, _ in after][2:] == [
        (0, "generate"),
        (0, "train"),
        (1, "evaluate"),
        (1, "analyse"),
    ]
    subprocess.run([*cmd, str(tmp_path / "clean")], check=True, capture_output=True)
    assert round_ids(killed, 0) == round_ids(tmp_path / "clean", 0)
    assert (killed / "round-1" / "results.jsonl").read_text() == (
        tmp_path / "clean" / "round-1" / "results.jsonl"
    ).read_text()


def test_a_failing_hook_stops_the_loop_and_a_rerun_starts_at_that_hook(tmp_path, capsys):
    loop_file = write_loop(tmp_path, rounds=1)
    spec = yaml.safe_load(loop_file.read_text())
    good_train = spec["hooks"]["train"]
    spec["hooks"]["train"] = f"{sys.executable} {TOY} fail"
    loop_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit) as e:
        main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    assert e.value.code == 2
    assert "hooks.train exited with 3 in round 0" in "".join(capsys.readouterr())
    before = ledger(tmp_path / "L")
    assert [(r, s) for r, s, _ in before] == [(0, "evaluate"), (0, "analyse"), (0, "generate")]
    spec["hooks"]["train"] = good_train
    loop_file.write_text(yaml.safe_dump(spec))
    main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    after = ledger(tmp_path / "L")
    assert after[:3] == before
    assert [(r, s) for r, s, _ in after][3:] == [(0, "train"), (1, "evaluate"), (1, "analyse")]


def test_uniform_strategy_spreads_evenly(tmp_path):
    loop_file = write_loop(tmp_path, rounds=1, strategy="uniform")
    spec, base = load_loop(loop_file)
    Loop(spec, base, tmp_path / "L").run()
    info = {(r, s): i for r, s, i in Loop.rows_of(tmp_path / "L")}
    assert info[(0, "analyse")]["quotas"] == {
        "color": 50,
        "counting": 50,
        "shape": 50,
        "spatial_relation": 50,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rounds": 0}, "rounds: Input should be greater than or equal to 1"),
        ({"samples_per_round": "many"}, "samples_per_round: Input should be a valid integer"),
        ({"hooks": {"train": "x"}}, "give `results:` for round 0 or an eval hook"),
        ({"strategy": "random"}, "strategy: Input should be 'targeted' or 'uniform'"),
        ({"surprise": 1}, "surprise: unknown field"),
    ],
)
def test_a_broken_loop_file_is_one_line_naming_the_field(tmp_path, capsys, change, message):
    loop_file = write_loop(tmp_path)
    spec = yaml.safe_load(loop_file.read_text())
    spec.update(change)
    loop_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit):
        main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    assert message in "".join(capsys.readouterr())


def test_a_loop_dir_refuses_a_different_loop_file(tmp_path, capsys):
    loop_file = write_loop(tmp_path, rounds=1)
    main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    spec = yaml.safe_load(loop_file.read_text())
    spec["samples_per_round"] = 999
    loop_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit):
        main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    assert "different loop file" in "".join(capsys.readouterr())


def test_weakness_command_reads_a_vlmevalkit_sheet_and_shows_targets(capsys):
    sheet = Path(__file__).parent / "data" / "loop" / "llava_v1.5_7b_MMBench_DEV_EN_openai_result.tsv"
    main(["weakness", str(sheet), "--total", "100"])
    out = "".join(capsys.readouterr())
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    per: dict[str, list[int]] = {}
    for r in rows:
        per.setdefault(r["category"], []).append(int(r["hit"]))
    for name, hits in per.items():
        line = next(x for x in out.splitlines() if name in x and "%" in x)
        assert f"{100 * sum(hits) / len(hits):.1f}%" in line
    assert "built-in mmbench.yaml" in out
