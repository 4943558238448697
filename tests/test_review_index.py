"""The review queue's indexes (failed checks, substring search) follow every write to the samples."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from visinstruct.checks import failed, passed
from visinstruct.recipe import parse_recipe
from visinstruct.review.db import ReviewDB
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore, failed_check_names, search_text

OLD_ANSWER = "the old answer qwertyuiop"
NEW_ANSWER = "the new answer asdfghjkl"


@pytest.fixture()
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    run_recipe(
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


def assert_indexes_current(db: sqlite3.Connection, run_dir: Path) -> None:
    want_failed, want_text = set(), {}
    with RunStore(run_dir, create=False) as store:
        for s in store.iter_samples():
            d = s.to_dict()
            want_failed.update((s.id, n) for n in failed_check_names(d))
            rowid = store.db.execute("SELECT rowid FROM samples WHERE id=?", (s.id,)).fetchone()[0]
            want_text[rowid] = search_text(d)
    assert set(db.execute("SELECT sample_id, name FROM failed_checks")) == want_failed
    assert dict(db.execute("SELECT rowid, text FROM sample_text")) == want_text


def test_store_writes_keep_indexes_current(run_dir):
    ReviewDB(run_dir).close()  # the runner leaves search rows to the review app, which adds them on open
    with RunStore(run_dir) as store:
        assert store.search_index
        assert_indexes_current(store.db, run_dir)
        sample, version, dg = next(x for x in store.iter_versioned() if x[0].language == "en")
        store.write_checks(
            "verify", "1", "", [(sample.id, version, dg, {"verify": failed("disagreed", "review")})]
        )
        sample.turns[0].answer = OLD_ANSWER
        assert store.replace_samples([sample]) == 1  # a stage made it again: new text, new digest
    db = ReviewDB(run_dir)  # brings the changed sample's search row up to date
    try:
        assert_indexes_current(db.db, run_dir)
        assert sample.id in queue_ids(db, check="verify")
        assert queue_ids(db, q="qwertyuiop") == {sample.id}
    finally:
        db.close()

    with RunStore(run_dir) as store:  # the failing check passes now and the answer is rewritten
        found, version, dg = store.sample(sample.id)
        store.write_checks("verify", "1", "", [(sample.id, version, dg, {"verify": passed()})])
        found.turns[0].answer = NEW_ANSWER
        found.checks = {"dup": failed("a duplicate")}
        store.replace_samples([found])
    db = ReviewDB(run_dir)
    try:
        assert_indexes_current(db.db, run_dir)
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
        assert_indexes_current(db.db, run_dir)
        assert sid in queue_ids(db, q="asdfghjkl")
        if len(old_answer) >= 3 and old_answer not in search_text(rec["sample"]):
            assert sid not in queue_ids(db, q=old_answer)

        rec = db.act(sid, "reject", rec["version"], "ann", reason="wrong")
        assert_indexes_current(db.db, run_dir)
        assert sid in queue_ids(db, check="review")
        db.undo("ann")  # back to the edit: the review check passes again
        assert_indexes_current(db.db, run_dir)
        assert sid not in queue_ids(db, check="review")
        db.undo("ann")  # back to the engine's answer
        assert_indexes_current(db.db, run_dir)
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


def test_search_rows_are_backfilled(run_dir):
    with RunStore(run_dir) as store, store.db:
        store.db.execute("DELETE FROM sample_text")
    db = ReviewDB(run_dir)
    try:
        assert_indexes_current(db.db, run_dir)
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
