"""Check results: one per (sample, check stage), keyed by the sample's rowid, shown by sample id
through the `checks` view; run directories of the earlier layouts are moved to it when opened."""

from __future__ import annotations

import json
import sqlite3

import pytest

from visinstruct.checks.results import failed, passed
from visinstruct.records import Sample, Turn
from visinstruct.store import SAMPLE_COLUMNS, RunStore, dumps

# the layouts run directories were made with before check results were keyed by sample rowid:
# ordered by (sample_id, stage), then appended with a (sample_id, stage) index (schema 2)
OLD_CHECKS = {
    "ordered": """CREATE TABLE checks (
    sample_id TEXT NOT NULL, stage TEXT NOT NULL, version TEXT NOT NULL, config TEXT NOT NULL,
    digest TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (sample_id, stage)
) WITHOUT ROWID;""",
    "appended": """CREATE TABLE checks (
    sample_id TEXT NOT NULL, stage TEXT NOT NULL, version TEXT NOT NULL, config TEXT NOT NULL,
    digest TEXT NOT NULL, result TEXT NOT NULL, UNIQUE (sample_id, stage)
);""",
}
OLD_SAMPLES = """CREATE TABLE samples (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, unit TEXT NOT NULL, domain TEXT NOT NULL,
    type TEXT NOT NULL, language TEXT NOT NULL, category TEXT, status TEXT NOT NULL,
    data TEXT NOT NULL, digest TEXT NOT NULL, generator TEXT NOT NULL, review TEXT,
    version INTEGER NOT NULL DEFAULT 0
);"""


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


@pytest.mark.parametrize("layout", ["new", "ordered", "appended"])
def test_results_are_replaced_per_sample_and_stage_and_decide_the_status(tmp_path, layout):
    if layout != "new":
        db = sqlite3.connect(tmp_path / "run.db")
        db.executescript(OLD_CHECKS[layout])
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
        kinds = dict(store.db.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'check%'"))
        assert kinds == {"checks": "view", "check_results": "table"}
        assert store.get_meta("schema") == 3


@pytest.mark.parametrize("layout", ["ordered", "appended"])
def test_a_run_directory_of_an_earlier_layout_keeps_its_results(tmp_path, layout):
    made = [sample(n) for n in range(3)]
    db = sqlite3.connect(tmp_path / "run.db")
    db.executescript(OLD_SAMPLES + OLD_CHECKS[layout])
    for n, s in enumerate(made):
        d = s.to_dict()
        d.pop("status")
        d["checks"] = {}
        status = "rejected" if n == 1 else "accepted"
        row = (s.id, n, "u", s.domain, s.type, s.language, None, status, dumps(d), f"dg{n}", "x", None)
        db.execute(f"INSERT INTO samples ({SAMPLE_COLUMNS}) VALUES ({','.join('?' * 12)})", row)
    results = [(made[n].id, "rules", "2", "", f"dg{n}", {"length": passed()}) for n in (2, 0)]
    results.append((made[1].id, "rules", "2", "", "dg1", {"length": failed("too long")}))
    results.append((made[1].id, "dedup", "1", "c", "dg1", {"duplicate": passed()}))
    results.append(("gone", "rules", "2", "", "dg9", {"length": passed()}))  # of no sample
    db.executemany(
        "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?)", [(*r[:5], json.dumps(r[5])) for r in results]
    )
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', '2')")
    db.commit()
    db.close()
    with RunStore(tmp_path) as store:
        assert store.get_meta("schema") == 3
        assert store.db.execute("SELECT COUNT(*) FROM check_results").fetchone()[0] == 4
        assert store.stage_result(made[1].id, "rules") == {"length": failed("too long")}
        assert store.check_results([made[1].id])[made[1].id] == {
            "duplicate": passed(),
            "length": failed("too long"),
        }
        by_id = store.db.execute(
            "SELECT sample_id, stage, digest FROM checks ORDER BY sample_id, stage"
        ).fetchall()
        assert by_id == [
            (made[0].id, "rules", "dg0"),
            (made[1].id, "dedup", "dg1"),
            (made[1].id, "rules", "dg1"),
            (made[2].id, "rules", "dg2"),
        ]
        assert [s.status for s in store.iter_samples()] == ["accepted", "rejected", "accepted"]
        stale = [sid for batch in store.stale_for("rules", "2", "") for sid, _v, _dg, _ in batch]
        assert stale == []  # every result still belongs to its sample
    with RunStore(tmp_path) as store:  # opened again: nothing left to move
        assert store.db.execute("SELECT COUNT(*) FROM check_results").fetchone()[0] == 4
