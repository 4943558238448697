"""The checks table: one result per (sample, check stage), in either layout a run directory has."""

from __future__ import annotations

import sqlite3

import pytest

from visinstruct.checks.results import failed, passed
from visinstruct.records import Sample, Turn
from visinstruct.store import RunStore

# the layout run directories were made with before checks were appended in the order made
OLD_CHECKS = """CREATE TABLE checks (
    sample_id TEXT NOT NULL, stage TEXT NOT NULL, version TEXT NOT NULL, config TEXT NOT NULL,
    digest TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (sample_id, stage)
) WITHOUT ROWID;"""


def sample(n: int) -> Sample:
    return Sample(
        id=f"s{n:03d}",
        images=["img"],
        domain="d",
        type="short_vqa",
        language="en",
        turns=[Turn(f"What is {n}?", str(n))],
        short_answer=str(n),
        checks={"length": passed()},
        provenance={"generator": "import/x"},
    )


@pytest.mark.parametrize("layout", ["new", "old"])
def test_results_are_replaced_per_sample_and_stage_and_decide_the_status(tmp_path, layout):
    if layout == "old":
        db = sqlite3.connect(tmp_path / "run.db")
        db.executescript(OLD_CHECKS)
        db.close()
    with RunStore(tmp_path) as store:
        store.add_samples("u", 0, [sample(n) for n in range(3)])
        rows = list(store.iter_versioned())
        assert [s.status for s, _, _ in rows] == ["accepted"] * 3
        s1, v1, d1 = rows[1]
        assert store.write_checks("rules", "1", "", [(s1.id, v1, d1, {"length": failed("too long")})]) == 1
        assert store.write_checks("rules", "1", "", [(s1.id, v1, d1, {"length": failed("too long!")})]) == 1
        n = store.db.execute("SELECT COUNT(*) FROM checks WHERE sample_id=? AND stage='rules'", (s1.id,))
        assert n.fetchone()[0] == 1  # replaced, not added
        assert store.stage_result(s1.id, "rules") == {"length": failed("too long!")}
        assert [s.status for s in store.iter_samples()] == ["accepted", "rejected", "accepted"]
        assert store.check_results([s1.id])[s1.id]["length"]["reason"] == "too long!"
        ordered = (
            "WITHOUT ROWID"
            in store.db.execute("SELECT sql FROM sqlite_master WHERE name='checks'").fetchone()[0]
        )
    assert ordered == (layout == "old")  # a new run appends; an old one keeps its table
