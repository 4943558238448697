"""Review state kept beside the run's samples: versions, the audit trail, and the queue."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from visinstruct.checks import REJECT, failed, passed, reasons
from visinstruct.records import LETTERS, Sample, Turn, review_action
from visinstruct.store import RunStore, digest, dumps, search_text, stored_data

REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_audit (
    id INTEGER PRIMARY KEY, sample_id TEXT NOT NULL, reviewer TEXT NOT NULL, at TEXT NOT NULL,
    action TEXT NOT NULL, before TEXT, after TEXT, undoes INTEGER
);
CREATE INDEX IF NOT EXISTS review_audit_reviewer ON review_audit (reviewer, id);
CREATE INDEX IF NOT EXISTS review_audit_undoes ON review_audit (undoes);
CREATE INDEX IF NOT EXISTS review_status_seq ON samples (status, seq);
CREATE INDEX IF NOT EXISTS review_sdt_seq ON samples (status, domain, type, seq);
CREATE INDEX IF NOT EXISTS review_dt_seq ON samples (domain, type, seq);
CREATE INDEX IF NOT EXISTS review_t_seq ON samples (type, seq);
"""

CHECK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CURSOR = re.compile(r"^([01]):(-?\d{1,19})$")
MAX_TEXT = 20_000
MIN_INDEXED_SEARCH = 3  # the trigram index finds substrings of 3+ characters; shorter ones scan
ACTIONS = ("accept", "reject", "edit")
# the decisions in force: every action but an undo, less those an undo took back
LIVE_DECISIONS = (
    "FROM review_audit a WHERE action != 'undo'"
    " AND NOT EXISTS (SELECT 1 FROM review_audit u WHERE u.undoes = a.id)"
)


class NotFound(KeyError):
    pass


class Invalid(ValueError):
    pass


class Conflict(Exception):
    """The sample changed since the client read it; carries the current record."""

    def __init__(self, current: dict[str, Any], message: str = "the sample changed") -> None:
        super().__init__(message)
        self.current = current
        self.message = message


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _fts_phrase(text: str) -> str:
    """A search string as one FTS5 phrase: with the trigram tokenizer, a substring match."""
    return '"' + text.replace('"', '""') + '"'


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def review_progress(db: sqlite3.Connection) -> dict[str, Any] | None:
    """Manual review so far, read straight from a run's database without setting up the review
    tables (so `status` leaves a never-reviewed run as it is): samples reviewed, samples still
    waiting in needs_review, and decisions per reviewer and action (undone ones not counted).
    None when the run was never opened for review."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='review_audit'").fetchone() is None:
        return None
    reviewed = db.execute(f"SELECT COUNT(DISTINCT sample_id) {LIVE_DECISIONS}").fetchone()[0]
    waiting = db.execute("SELECT COUNT(*) FROM samples WHERE status='needs_review'").fetchone()[0]
    reviewers: dict[str, dict[str, int]] = {}
    sql = f"SELECT reviewer, action, COUNT(*) {LIVE_DECISIONS} GROUP BY 1, 2"
    for reviewer, action, n in db.execute(sql):
        reviewers.setdefault(reviewer, {})[action] = n
    return {"reviewed": reviewed, "waiting": waiting, "reviewers": reviewers}


class ReviewDB:
    """One connection to the run, guarded by a lock (requests are served from a thread pool)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.store = RunStore(run_dir, create=False)
        self.db: sqlite3.Connection = self.store.db
        self.lock = threading.RLock()
        with self.lock, self.db:
            self.db.executescript(REVIEW_SCHEMA)
        self.sync_indexes()
        self._facets: dict[str, list[str]] | None = None

    def close(self) -> None:
        with self.lock:
            self.store.close()

    def sync_indexes(self) -> int:
        """Give every sample its row in the search index.

        The runner's bulk commits leave search rows to this catch-up (keeping its hot path
        lean), and a sample a stage made again has a new digest, so its row is made again
        here; a person's edit replaces its sample's row at once. Returns how many samples were
        indexed."""
        if not self.store.search_index:
            return 0
        with self.lock, self.db:
            self.db.execute("DELETE FROM sample_text WHERE rowid NOT IN (SELECT rowid FROM samples)")
            rows = self.db.execute(
                "SELECT s.rowid, s.data, s.digest FROM samples s "
                "LEFT JOIN sample_text t ON t.rowid = s.rowid "
                "WHERE t.rowid IS NULL OR t.digest IS NOT s.digest"
            ).fetchall()
            self.db.executemany(
                "INSERT OR REPLACE INTO sample_text (rowid, text, digest) VALUES (?, ?, ?)",
                [(rowid, search_text(json.loads(data)), dg) for rowid, data, dg in rows],
            )
        return len(rows)

    # -- reading ----------------------------------------------------------------------------
    def _record(self, sample_id: str) -> dict[str, Any]:
        found = self.store.sample(sample_id)
        if found is None:
            raise NotFound(sample_id)
        sample, version, _digest = found
        images = []
        for image_id in sample.images:
            try:
                im = self.store.image(image_id)
            except KeyError:
                images.append({"id": image_id, "missing": True})
                continue
            images.append(
                {
                    "id": im.id,
                    "width": im.width,
                    "height": im.height,
                    "format": im.format,
                    "provenance": im.provenance,
                }
            )
        return {"sample": sample.to_dict(), "version": version, "failed": reasons(sample), "images": images}

    def get(self, sample_id: str) -> dict[str, Any]:
        with self.lock:
            return self._record(sample_id)

    def queue(
        self,
        status: str | None = None,
        domain: str | None = None,
        type_: str | None = None,
        check: str | None = None,
        q: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """needs_review first, then everything else, each in seq order; keyset cursor "segment:seq"."""
        limit = max(1, min(int(limit), 200))
        conds: list[str] = []
        args: list[Any] = []
        if domain:
            conds.append("domain = ?")
            args.append(domain)
        if type_:
            conds.append("type = ?")
            args.append(type_)
        if check:
            if not CHECK_NAME.match(check):
                raise Invalid("bad check name")
            conds.append("id IN (SELECT sample_id FROM failed_checks WHERE name = ?)")
            args.append(check)
        if q:
            q = q.strip()[:200]
            if len(q) >= MIN_INDEXED_SEARCH and self.store.search_index:
                conds.append("rowid IN (SELECT rowid FROM sample_text WHERE sample_text MATCH ?)")
                args.append(_fts_phrase(q))
            elif q:  # shorter than a trigram: no index can help, scan the records
                conds.append("data LIKE ? ESCAPE '\\'")
                args.append(f"%{_like_escape(q)}%")
        if status:
            segments = [("0", "status = ?", [status])]
        else:
            segments = [("0", "status = 'needs_review'", []), ("1", "status != 'needs_review'", [])]
        start_seg, start_seq = "0", None
        if after:
            m = CURSOR.match(after)
            if not m:
                raise Invalid("bad cursor")
            start_seg, start_seq = m.group(1), int(m.group(2))
        items: list[dict[str, Any]] = []
        more = False
        with self.lock:
            for seg, seg_cond, seg_args in segments:
                if seg < start_seg:
                    continue
                where = [seg_cond, *conds]
                wargs = [*seg_args, *args]
                if seg == start_seg and start_seq is not None:
                    where.append("seq > ?")
                    wargs.append(start_seq)
                need = limit - len(items)
                rows = self.db.execute(
                    "SELECT id, seq, status, domain, type, language, category,"
                    " json_extract(data, '$.turns[0].question') FROM samples"
                    f" WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                    [*wargs, need + 1],
                ).fetchall()
                if len(rows) > need:
                    more = True
                    rows = rows[:need]
                for r in rows:
                    items.append(
                        {
                            "id": r[0],
                            "seq": r[1],
                            "status": r[2],
                            "domain": r[3],
                            "type": r[4],
                            "language": r[5],
                            "category": r[6],
                            "question": (r[7] or "")[:160],
                            "cursor": f"{seg}:{r[1]}",
                        }
                    )
                if more:
                    break
                start_seq = None
        return {"items": items, "next": items[-1]["cursor"] if more and items else None}

    def facets(self) -> dict[str, list[str]]:
        with self.lock:
            if self._facets is None:
                domains = [d for (d,) in self.db.execute("SELECT DISTINCT domain FROM samples ORDER BY 1")]
                types = [t for (t,) in self.db.execute("SELECT DISTINCT type FROM samples ORDER BY 1")]
                names = {"review"}
                names.update(n for (n,) in self.db.execute("SELECT DISTINCT name FROM failed_checks"))
                self._facets = {"domains": domains, "types": types, "checks": sorted(names)}
            return self._facets

    def progress(self) -> dict[str, Any]:
        with self.lock:
            by_status = dict(self.db.execute("SELECT status, COUNT(*) FROM samples GROUP BY status"))
            reviewers: dict[str, dict[str, int]] = {}
            for reviewer, action, n in self.db.execute(
                f"SELECT reviewer, action, COUNT(*) {LIVE_DECISIONS} GROUP BY reviewer, action"
            ):
                reviewers.setdefault(reviewer, {})[action] = n
            reviewed = self.db.execute(f"SELECT COUNT(DISTINCT sample_id) {LIVE_DECISIONS}").fetchone()[0]
        for counts in reviewers.values():
            counts["total"] = sum(counts.values())
        return {
            "overall": {"total": sum(by_status.values()), "by_status": by_status, "reviewed": reviewed},
            "reviewers": reviewers,
        }

    # -- writing ----------------------------------------------------------------------------
    def _write(self, sample_id: str, data: str) -> None:
        """Store a person's version of a sample (inside the caller's transaction): new content
        digest, version + 1, status derived again, search row replaced."""
        d = json.loads(data)
        self.db.execute(
            "UPDATE samples SET data=?, digest=?, review=?, category=?, version=version + 1 WHERE id=?",
            (data, digest(data), review_action(d.get("checks")), d.get("category"), sample_id),
        )
        self.store.refresh_status([sample_id])
        if self.store.search_index:
            self.db.execute(
                "INSERT OR REPLACE INTO sample_text (rowid, text, digest) "
                "SELECT rowid, ?, digest FROM samples WHERE id=?",
                (search_text(d), sample_id),
            )

    def _audit(self, sample_id, reviewer, action, before, after, undoes=None) -> None:
        self.db.execute(
            "INSERT INTO review_audit (sample_id, reviewer, at, action, before, after, undoes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sample_id, reviewer, _now(), action, before, after, undoes),
        )

    def act(
        self,
        sample_id: str,
        action: str,
        version: int,
        reviewer: str,
        reason: str | None = None,
        turns: list[dict[str, str]] | None = None,
        options: list[str] | None = None,
        answer_letter: str | None = None,
    ) -> dict[str, Any]:
        """Apply one decision atomically (sample, version, audit row) if `version` is current."""
        if action not in ACTIONS:
            raise Invalid(f"unknown action {action!r}")
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT data, version FROM samples WHERE id=?", (sample_id,)).fetchone()
                if row is None:
                    raise NotFound(sample_id)
                before, current = row
                if version != current:
                    raise Conflict(self._record(sample_id), "the sample changed since you loaded it")
                d = json.loads(before)
                d.setdefault("status", "accepted")
                sample = Sample.from_dict(d)
                _apply(sample, action, reviewer, reason, turns, options, answer_letter)
                data = dumps(stored_data(sample))
                self._write(sample_id, data)
                self._audit(sample_id, reviewer, action, before, data)
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise
            return self._record(sample_id)

    def undo(self, reviewer: str) -> dict[str, Any]:
        """Undo the reviewer's last decision not yet undone, if nobody changed the sample since."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                last = self.db.execute(
                    "SELECT id, sample_id, before, after FROM review_audit a"
                    " WHERE reviewer = ? AND action != 'undo'"
                    " AND NOT EXISTS (SELECT 1 FROM review_audit u WHERE u.undoes = a.id)"
                    " ORDER BY id DESC LIMIT 1",
                    (reviewer,),
                ).fetchone()
                if last is None:
                    raise NotFound("nothing to undo")
                audit_id, sample_id, before, after = last
                row = self.db.execute("SELECT data FROM samples WHERE id=?", (sample_id,)).fetchone()
                if row is None:
                    raise NotFound(sample_id)
                if row[0] != after:
                    raise Conflict(self._record(sample_id), "the sample changed after your action")
                self._write(sample_id, before)
                self._audit(sample_id, reviewer, "undo", row[0], before, undoes=audit_id)
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise
            return self._record(sample_id)

    def audit(self, sample_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, sample_id, reviewer, at, action, undoes FROM review_audit"
        args: tuple = ()
        if sample_id is not None:
            sql, args = sql + " WHERE sample_id = ?", (sample_id,)
        with self.lock:
            rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        keys = ("id", "sample_id", "reviewer", "at", "action", "undoes")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def _text(value: Any, what: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{what} must be text")
    if len(value) > MAX_TEXT:
        raise Invalid(f"{what} is longer than {MAX_TEXT} characters")
    if not allow_empty and not value.strip():
        raise Invalid(f"{what} is empty")
    return value


def _apply(sample, action, reviewer, reason, turns, options, answer_letter) -> None:
    if action == "accept":
        sample.status = "accepted"
        sample.checks["review"] = passed(reviewer=reviewer, action="accept")
    elif action == "reject":
        why = _text(reason or "rejected by a reviewer", "reason")[:2000]
        sample.status = "rejected"
        sample.checks["review"] = failed(why, severity=REJECT, reviewer=reviewer)
    else:
        if turns is not None:
            if len(turns) != len(sample.turns):
                raise Invalid(f"expected {len(sample.turns)} turns, got {len(turns)}")
            new = [
                Turn(_text(t.get("question"), f"question {i + 1}"), _text(t.get("answer"), f"answer {i + 1}"))
                for i, t in enumerate(turns)
            ]
            old_first = sample.turns[0].answer if sample.turns else None
            if sample.short_answer is not None and sample.short_answer == old_first and new:
                sample.short_answer = new[0].answer
            sample.turns = new
        if options is not None:
            if len(options) != len(sample.options):
                raise Invalid(f"expected {len(sample.options)} options, got {len(options)}")
            sample.options = [_text(o, f"option {LETTERS[i]}") for i, o in enumerate(options)]
        if answer_letter is not None:
            if not sample.options or answer_letter not in LETTERS[: len(sample.options)]:
                raise Invalid(f"answer letter {answer_letter!r} is not one of the options")
            sample.answer_letter = answer_letter
        sample.status = "edited"
        sample.checks["review"] = passed(reviewer=reviewer, action="edit")
