"""The review queue's indexes (failed checks, substring search) follow every write to the samples."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from visinstruct.checks import failed, passed
from visinstruct.engine import run
from visinstruct.recipe import parse_recipe
from visinstruct.review.db import ReviewDB
from visinstruct.store import RunStore, UnitResult, failed_check_names, search_text

OLD_ANSWER = "the old answer qwertyuiop"
NEW_ANSWER = "the new answer asdfghjkl"


@pytest.fixture()
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    run(
        parse_recipe({"seed": 3, "languages": ["en", "zh"], "synthetic": {"clocks": 3, "scenes": 3}}),
        path,
        workers=1,
    )
    return path


def queue_ids(db: ReviewDB, **kw) -> set[str]:
    out, after = set(), None
    while True:
        page = db.queue(after=after, limit=200, **kw)
        out.update(item["id"] for item in page["items"])
        after = page["next"]
        if after is None:
            return out


def assert_indexes_current(db: sqlite3.Connection) -> None:
    want_failed, want_text = set(), {}
    for rowid, data in db.execute("SELECT rowid, data FROM samples"):
        d = json.loads(data)
        want_failed.update((d["id"], n) for n in failed_check_names(d))
        want_text[rowid] = search_text(d)
    assert set(db.execute("SELECT sample_id, name FROM failed_checks")) == want_failed
    assert dict(db.execute("SELECT rowid, text FROM sample_text")) == want_text


def test_store_writes_keep_indexes_current(run_dir):
    ReviewDB(run_dir).close()  # the engine leaves search rows to the review app, which adds them on open
    with RunStore(run_dir) as store:
        assert store.search_index
        assert_indexes_current(store.db)
        sample = next(s for s in store.iter_samples() if s.language == "en")
        sample.checks["verify"] = failed("the verifier disagreed", severity="review")
        sample.turns[0].answer = OLD_ANSWER
        store.update_samples([sample])
        assert_indexes_current(store.db)
    db = ReviewDB(run_dir)
    try:
        assert sample.id in queue_ids(db, check="verify")
        assert queue_ids(db, q="qwertyuiop") == {sample.id}
    finally:
        db.close()

    with RunStore(run_dir) as store:  # the failing check is fixed and the answer rewritten
        sample.checks["verify"] = passed(model_answer="12:10")
        sample.turns[0].answer = NEW_ANSWER
        store.update_samples([sample])
        assert_indexes_current(store.db)
        # a re-run replacing a whole unit (new rowid) leaves one search row per sample
        unit, seq = store.db.execute("SELECT unit, seq FROM samples WHERE id=?", (sample.id,)).fetchone()
        same_unit = [
            s
            for s in store.iter_samples()
            if store.db.execute("SELECT unit FROM samples WHERE id=?", (s.id,)).fetchone()[0] == unit
        ]
        for s in same_unit:
            if s.id == sample.id:
                s.checks["dup"] = failed("a duplicate")
        store.commit_units([UnitResult(unit, sample.domain, seq // 1000, samples=same_unit)])
    db = ReviewDB(run_dir)  # catches up the re-committed unit's search rows
    assert_indexes_current(db.db)
    try:
        assert sample.id not in queue_ids(db, check="verify")
        assert queue_ids(db, check="dup") == {sample.id}
        assert queue_ids(db, q="qwertyuiop") == set()
        assert queue_ids(db, q="asdfghjkl") == {sample.id}
        assert queue_ids(db, q="ASDFGH") == {sample.id}  # case-insensitive, as LIKE was
    finally:
        db.close()


def test_review_decisions_keep_indexes_current(run_dir):
    db = ReviewDB(run_dir)
    try:
        sid = db.queue(limit=1)["items"][0]["id"]
        rec = db.get(sid)
        old_answer = rec["sample"]["turns"][0]["answer"]
        turns = [{"question": t["question"], "answer": t["answer"]} for t in rec["sample"]["turns"]]
        turns[0]["answer"] = NEW_ANSWER
        rec = db.act(sid, "edit", rec["version"], "ann", turns=turns)
        assert_indexes_current(db.db)
        assert sid in queue_ids(db, q="asdfghjkl")
        if len(old_answer) >= 3 and old_answer not in search_text(rec["sample"]):
            assert sid not in queue_ids(db, q=old_answer)

        rec = db.act(sid, "reject", rec["version"], "ann", reason="wrong")
        assert_indexes_current(db.db)
        assert sid in queue_ids(db, check="review")
        db.undo("ann")  # back to the edit: the review check passes again
        assert_indexes_current(db.db)
        assert sid not in queue_ids(db, check="review")
        db.undo("ann")  # back to the engine's answer
        assert_indexes_current(db.db)
        assert sid not in queue_ids(db, q="asdfghjkl")
    finally:
        db.close()


def test_chinese_substring_search(run_dir):
    db = ReviewDB(run_dir)
    try:
        rec = next(
            db.get(i["id"]) for i in db.queue(limit=200)["items"] if i["language"] == "zh"
        )  # an engine-made Chinese question
        question = rec["sample"]["turns"][0]["question"]
        han = [c for c in question if "\u4e00" <= c <= "\u9fff"]
        assert len(han) >= 3
        start = question.index(han[0])
        needle = question[start : start + 3]
        assert rec["sample"]["id"] in queue_ids(db, q=needle)

        turns = [{"question": t["question"], "answer": t["answer"]} for t in rec["sample"]["turns"]]
        turns[0]["answer"] = "钟表显示的是下午三点十分"
        db.act(rec["sample"]["id"], "edit", rec["version"], "ann", turns=turns)
        assert queue_ids(db, q="三点十") == {rec["sample"]["id"]}
        assert rec["sample"]["id"] in queue_ids(db, q="三点")  # 2 characters: the scan fallback
        assert queue_ids(db, q="四点十") == set()
    finally:
        db.close()


def test_indexes_are_backfilled_for_older_runs(run_dir):
    with RunStore(run_dir) as store:
        template = json.loads(store.db.execute("SELECT data FROM samples LIMIT 1").fetchone()[0])
        template["id"] = "inserted-around-the-store"
        template["checks"] = {"verify": failed("no")}
        template["turns"] = [{"question": "zyxwvut question", "answer": "an answer"}]
        with store.db:  # as a run written before the indexes existed
            store.db.execute("DELETE FROM failed_checks")
            store.db.execute("DELETE FROM sample_text")
            store.db.execute(
                "INSERT INTO samples VALUES (?, 999999999, 'x', 'clocks', 'short_vqa', 'en', NULL,"
                " 'accepted', ?)",
                (template["id"], json.dumps(template)),
            )
    db = ReviewDB(run_dir)
    try:
        assert_indexes_current(db.db)
        assert queue_ids(db, check="verify") >= {"inserted-around-the-store"}
        assert queue_ids(db, q="zyxwvu") == {"inserted-around-the-store"}
        assert db.sync_indexes() == 0  # once
    finally:
        db.close()


def test_search_with_quotes_and_fts_syntax(run_dir):
    db = ReviewDB(run_dir)
    try:
        for q in ['"', 'a "b" c', "NOT AND OR", "x*y", "col:umn", "nothing-matches-this", "%_\\"]:
            assert isinstance(queue_ids(db, q=q), set)
    finally:
        db.close()
