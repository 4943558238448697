"""The run directory: SQLite (WAL) for records, a content-addressed folder for images.

Layout of a run directory:
    run.db                  images, samples, units (what is done or failed) and meta
    images/ab/abcdef….png   each image once, named by the sha256 of its bytes
    exports/                what the recipe's exports wrote

A unit (one synthetic item, one source image) is committed in the same transaction as its
samples, so a killed process loses at most the units in flight and a re-run redoes exactly
those: the dataset never holds half a unit or a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from visinstruct.errors import RunDirError
from visinstruct.records import ImageRecord, Sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, width INTEGER, height INTEGER, format TEXT,
    provenance TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY, domain TEXT NOT NULL, state TEXT NOT NULL, error TEXT,
    n_samples INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, unit TEXT NOT NULL, domain TEXT NOT NULL,
    type TEXT NOT NULL, language TEXT NOT NULL, category TEXT, status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
    seq INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, image_id TEXT, domain TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS contexts (
    image_id TEXT NOT NULL, kind TEXT NOT NULL, language TEXT NOT NULL, text TEXT,
    data TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (image_id, kind, language)
);
CREATE INDEX IF NOT EXISTS samples_seq ON samples (seq);
CREATE INDEX IF NOT EXISTS samples_status ON samples (status, domain, type);
CREATE TABLE IF NOT EXISTS failed_checks (
    sample_id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (name, sample_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS failed_checks_sample ON failed_checks (sample_id);
"""

# Substring search over each sample's questions, answers and options: one row per sample,
# rowid = samples.rowid. The trigram tokenizer needs SQLite >= 3.34; without it the review
# queue falls back to scanning.
SEARCH_SCHEMA = "CREATE VIRTUAL TABLE IF NOT EXISTS sample_text USING fts5(text, tokenize='trigram')"


def failed_check_names(d: dict[str, Any]) -> list[str]:
    """Names of the checks whose result says `"pass": False` in a sample's record."""
    return [n for n, r in (d.get("checks") or {}).items() if isinstance(r, dict) and r.get("pass") is False]


def search_text(d: dict[str, Any]) -> str:
    """The text the review queue searches: questions, answers, options and the short answer."""
    parts: list[str] = []
    for t in d.get("turns") or ():
        parts.append(t.get("question") or "")
        parts.append(t.get("answer") or "")
    parts.extend(o for o in d.get("options") or () if isinstance(o, str))
    short = d.get("short_answer")
    if isinstance(short, str) and short not in parts:
        parts.append(short)
    return "\n".join(parts)


def index_entry(d: dict[str, Any]) -> tuple[str, list[str], str]:
    """(sample id, failed check names, search text) of one sample's record."""
    return d["id"], failed_check_names(d), search_text(d)


def image_relpath(image_id: str, fmt: str) -> str:
    return f"images/{image_id[:2]}/{image_id}.{fmt.lower()}"


def write_image_file(run_dir: Path, data: bytes, fmt: str) -> tuple[str, str]:
    """Store encoded image bytes once by content hash; returns (id, relative path).

    Safe to call from worker processes: the file is written under a temporary name and
    renamed, so a reader never sees a partial image and two writers never clash.
    """
    image_id = hashlib.sha256(data).hexdigest()
    rel = image_relpath(image_id, fmt)
    dest = run_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    return image_id, rel


class RunStore:
    """A run directory opened for reading and writing."""

    def __init__(self, run_dir: str | os.PathLike[str], create: bool = True) -> None:
        self.dir = Path(run_dir)
        db = self.dir / "run.db"
        if not create and not db.exists():
            raise RunDirError(f"{self.dir}: not a run directory (no run.db)")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
            self.db = sqlite3.connect(db, timeout=30, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self.search_index = self._create_search_index()
        except (OSError, sqlite3.Error) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise RunDirError(f"run directory {self.dir}: cannot write there ({reason})") from None

    def close(self) -> None:
        self.db.close()

    def _create_search_index(self) -> bool:
        if sqlite3.sqlite_version_info < (3, 34, 0):
            return False
        try:
            self.db.execute(SEARCH_SCHEMA)
        except sqlite3.OperationalError:  # SQLite built without FTS5
            return False
        return True

    # -- indexes over samples (failed checks, search text) ------------------------------------
    # Kept current by every writer of `samples`, in the writer's transaction: drop a sample's
    # index rows before its row is replaced or updated, add them back once it is written.
    def unindex_samples(self, ids: Iterable[str], search: bool = True) -> None:
        params = [(i,) for i in ids]
        self.db.executemany("DELETE FROM failed_checks WHERE sample_id=?", params)
        if self.search_index and search:
            self.db.executemany(
                "DELETE FROM sample_text WHERE rowid = (SELECT rowid FROM samples WHERE id=?)", params
            )

    def index_samples(self, entries: Iterable[tuple[str, list[str], str]], search: bool = True) -> None:
        """(sample id, failed check names, search text) per sample already written. The engine
        passes `search=False`: new samples get their search rows when the review app opens
        (it indexes every sample without one), which keeps the hot write path lean."""
        entries = list(entries)
        self.db.executemany(
            "INSERT OR IGNORE INTO failed_checks VALUES (?, ?)",
            [(sid, name) for sid, names, _ in entries for name in names],
        )
        if self.search_index and search:
            self.db.executemany(
                "INSERT OR REPLACE INTO sample_text (rowid, text) SELECT rowid, ? FROM samples WHERE id=?",
                [(text, sid) for sid, _, text in entries],
            )

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value, ensure_ascii=False)),
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # -- units --------------------------------------------------------------------------
    def done_units(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM units WHERE state='done'")}

    def commit_units(self, results: Iterable[UnitResult]) -> None:
        """Write whole units (images, samples, done marker) in one transaction."""
        with self.db:
            for r in results:
                if r.error is not None:
                    self.db.execute(
                        "INSERT OR REPLACE INTO units VALUES (?, ?, 'failed', ?, 0)",
                        (r.key, r.domain, r.error),
                    )
                    continue
                self._insert_images(r.images)
                self.unindex_samples((row[0] for row in r.rows), search=False)
                self.db.executemany(
                    "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", r.rows
                )
                self.index_samples(r.index, search=False)
                self.db.execute(
                    "INSERT OR REPLACE INTO units VALUES (?, ?, 'done', NULL, ?)",
                    (r.key, r.domain, len(r.rows)),
                )

    # -- inputs (source images) and contexts ------------------------------------------------
    def input_refs(self) -> set[str]:
        """Source references already taken in (stored, or rejected with a reason)."""
        return {r for (r,) in self.db.execute("SELECT ref FROM inputs")}

    def _insert_images(self, images: Iterable[ImageRecord]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?, ?, ?)",
            [
                (i.id, i.path, i.width, i.height, i.format, json.dumps(i.provenance, ensure_ascii=False))
                for i in images
            ],
        )

    def add_inputs(
        self,
        rows: Iterable[tuple[str, str | None, str | None, str | None]],
        images: Iterable[ImageRecord] = (),
    ) -> None:
        """(ref, image_id, domain, error) per source image, in the order they came, with the
        images stored for them (one transaction)."""
        with self.db:
            self._insert_images(images)
            self.db.executemany(
                "INSERT OR IGNORE INTO inputs (ref, image_id, domain, error) VALUES (?, ?, ?, ?)", rows
            )

    def inputs(self) -> list[tuple[int, str, str, str | None]]:
        """(seq, ref, image_id, domain) of every stored source image, in arrival order."""
        return list(
            self.db.execute(
                "SELECT seq, ref, image_id, domain FROM inputs WHERE image_id IS NOT NULL ORDER BY seq"
            )
        )

    def rejected_inputs(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT ref, error FROM inputs WHERE error IS NOT NULL ORDER BY seq"))

    def set_input_domain(self, image_id: str, domain: str) -> None:
        with self.db:
            self.db.execute(
                "UPDATE inputs SET domain=? WHERE image_id=? AND domain IS NULL", (domain, image_id)
            )

    def put_contexts(self, rows: Iterable[tuple[str, str, str, str | None, dict]]) -> None:
        """(image_id, kind, language, text, data): a caption, a chosen domain, ..."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO contexts VALUES (?, ?, ?, ?, ?)",
                [(i, k, lang, t, json.dumps(d, ensure_ascii=False)) for i, k, lang, t, d in rows],
            )

    def contexts(self, kind: str) -> dict[tuple[str, str], tuple[str | None, dict]]:
        """(image_id, language) → (text, data) for one kind of context."""
        return {
            (i, lang): (t, json.loads(d))
            for i, lang, t, d in self.db.execute(
                "SELECT image_id, language, text, data FROM contexts WHERE kind=?", (kind,)
            )
        }

    def contexts_data(self, image_id: str, kind: str, language: str) -> dict:
        row = self.db.execute(
            "SELECT data FROM contexts WHERE image_id=? AND kind=? AND language=?", (image_id, kind, language)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def synthetic_items(self) -> Iterator[tuple[int, str, dict]]:
        """(seq, unit key, one sample's record) per synthetic unit, in plan order: the images,
        domain, language and exact facts every sample of the unit shares."""
        rows = self.db.execute(
            "SELECT MIN(seq), unit, data FROM samples WHERE unit NOT LIKE 'mm/%' AND unit NOT LIKE 'facts/%' "
            "GROUP BY unit ORDER BY 1"
        )
        for seq, unit, data in rows:
            yield seq, unit, json.loads(data)

    def update_samples(self, samples: Iterable[Sample]) -> int:
        """Write back samples whose checks or status changed (one transaction)."""
        rows, entries = [], []
        for s in samples:
            d = s.to_dict()
            rows.append((s.status, s.category, json.dumps(d, ensure_ascii=False), s.id))
            entries.append(index_entry(d))
        with self.db:
            self.unindex_samples(sid for sid, _, _ in entries)
            self.db.executemany("UPDATE samples SET status=?, category=?, data=? WHERE id=?", rows)
            self.index_samples(entries)
        return len(rows)

    def failed_units(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT key, error FROM units WHERE state='failed' ORDER BY key"))

    # -- reading ------------------------------------------------------------------------
    def iter_samples(self, statuses: Iterable[str] | None = None) -> Iterator[Sample]:
        """Samples in a stable order (plan order, not finishing order), optionally by status."""
        sql, args = "SELECT data FROM samples", []
        if statuses is not None:
            st = list(statuses)
            sql += f" WHERE status IN ({','.join('?' * len(st))})"
            args = st
        for (data,) in self.db.execute(sql + " ORDER BY seq", args):
            yield Sample.from_dict(json.loads(data))

    def image(self, image_id: str) -> ImageRecord:
        row = self.db.execute(
            "SELECT id, path, width, height, format, provenance FROM images WHERE id=?", (image_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"image {image_id} is not in run {self.dir}")
        return ImageRecord(*row[:5], provenance=json.loads(row[5]))

    def image_path(self, image_id: str) -> Path:
        """Absolute path of a stored image; never outside the run's image folder."""
        rec = self.image(image_id)
        path = (self.dir / rec.path).resolve()
        if not path.is_relative_to((self.dir / "images").resolve()):
            raise RunDirError(f"image {image_id}: stored path {rec.path!r} leaves the run's image store")
        return path

    def counts(self) -> list[tuple[str, str, str, int]]:
        """(domain, type, status, n) for every group present."""
        return list(
            self.db.execute(
                "SELECT domain, type, status, COUNT(*) FROM samples"
                " GROUP BY domain, type, status ORDER BY 1, 2, 3"
            )
        )

    def count_samples(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def category_counts(self, domain: str) -> dict[str, int]:
        """Samples of `domain` per category, rejected ones left out."""
        rows = self.db.execute(
            "SELECT category, COUNT(*) FROM samples WHERE domain=? AND status!='rejected' GROUP BY category",
            (domain,),
        )
        return {c: n for c, n in rows if c is not None}


class UnitResult:
    """What one unit produced, ready to commit; `error` set instead when it failed.

    Samples are serialised to database rows where the result is made (a worker process),
    so the process that commits does as little as possible.
    """

    __slots__ = ("key", "domain", "seq", "images", "rows", "index", "error")

    def __init__(
        self,
        key: str,
        domain: str,
        seq: int,
        images: list[ImageRecord] | None = None,
        samples: list[Sample] | None = None,
        error: str | None = None,
    ) -> None:
        self.key, self.domain, self.seq = key, domain, seq
        self.images = images or []
        self.rows = []
        self.index = []  # (id, failed check names, search text): the store's indexes, made here too
        for n, s in enumerate(samples or []):
            d = s.to_dict()
            self.rows.append(
                (
                    s.id,
                    seq * 1000 + n,
                    key,
                    s.domain,
                    s.type,
                    s.language,
                    s.category,
                    s.status,
                    json.dumps(d, ensure_ascii=False),
                )
            )
            self.index.append(index_entry(d))
        self.error = error

    def keep(self, wanted: Callable[[tuple], bool]) -> None:
        """Keep only the sample rows (and their index entries) that `wanted` accepts."""
        pairs = [(row, ix) for row, ix in zip(self.rows, self.index, strict=True) if wanted(row)]
        self.rows = [p[0] for p in pairs]
        self.index = [p[1] for p in pairs]
