"""The run directory: SQLite (WAL) for records, a content-addressed folder for images.

Layout of a run directory:
    run.db                  images, inputs, dataset records, contexts, units, samples, check results, meta
    images/ab/abcdef….png   each image once, named by the sha256 of its bytes
    exports/                what the recipe's exports wrote

What the tables hold, and who writes them:
- `dataset_records`: what an open dataset's import made of each of its images (stored, with
  how many questions) and of each record it refused (with the reason);
- `units`: every unit a stage has finished (`done`) or failed (`failed`, retried on the next
  run; `gave_up` after the recipe's number of attempts), with the stage's version;
- `samples`: each sample as its stage made it (or as a person edited it) in `data`, with a
  digest of that text and a `version` that every change of the sample bumps; `status` is
  derived, never written by hand;
- `check_results`: one automatic result per (sample, check stage), with the stage's version,
  its configuration digest and the digest of the sample it was computed on, keyed by the
  sample's rowid (`samples` rows are appended, so a commit adds to the end of the table instead
  of inserting all over an index of content hashes, which cost a third of a commit at a million
  samples). The view `checks` shows the same rows by sample id (sample_id, stage,
  version, config, digest, result), the layout of schema 2; a run directory of schema 2 is
  moved to this layout when it is opened. A person's decision is part of the sample (`review`)
  and outranks every automatic result. Sample rowids are never reused (samples are never
  deleted) and the run database is never vacuumed (the search index relies on them too).

A unit is committed in the same transaction as everything it made, so a killed process
loses at most the units in flight and a re-run redoes exactly those. A check result is
written only if the sample still has the version the check read: no automatic pass ever
writes over a sample that changed after it was read.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from visinstruct.errors import RunDirError
from visinstruct.records import ImageRecord, Sample, derive_status, review_action

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, width INTEGER, height INTEGER, format TEXT,
    provenance TEXT NOT NULL DEFAULT '{}', phash INTEGER
);
CREATE TABLE IF NOT EXISTS inputs (
    seq INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, image_id TEXT, domain TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS inputs_image ON inputs (image_id);
CREATE TABLE IF NOT EXISTS dataset_records (
    seq INTEGER NOT NULL, dataset TEXT NOT NULL, record TEXT NOT NULL, image_id TEXT,
    questions INTEGER NOT NULL DEFAULT 0, error TEXT, PRIMARY KEY (dataset, record)
);
CREATE TABLE IF NOT EXISTS contexts (
    image_id TEXT NOT NULL, kind TEXT NOT NULL, language TEXT NOT NULL, text TEXT,
    data TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (image_id, kind, language)
);
CREATE TABLE IF NOT EXISTS units (
    stage TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, n_samples INTEGER NOT NULL DEFAULT 0, version TEXT,
    PRIMARY KEY (stage, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, unit TEXT NOT NULL, domain TEXT NOT NULL,
    type TEXT NOT NULL, language TEXT NOT NULL, category TEXT, status TEXT NOT NULL,
    data TEXT NOT NULL, digest TEXT NOT NULL, generator TEXT NOT NULL, review TEXT,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS samples_seq ON samples (seq, id);
CREATE INDEX IF NOT EXISTS samples_status ON samples (status, domain, type);
CREATE TABLE IF NOT EXISTS check_results (
    sample INTEGER NOT NULL, stage TEXT NOT NULL, version TEXT NOT NULL, config TEXT NOT NULL,
    digest TEXT NOT NULL, result TEXT NOT NULL, UNIQUE (sample, stage)
);
CREATE TABLE IF NOT EXISTS failed_checks (
    sample_id TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (name, sample_id)
);
CREATE INDEX IF NOT EXISTS failed_checks_sample ON failed_checks (sample_id);
"""

# The check results by sample id, as schema 2 stored them.
CHECKS_VIEW = (
    "CREATE VIEW IF NOT EXISTS checks AS SELECT s.id AS sample_id, c.stage, c.version, c.config, "
    "c.digest, c.result FROM check_results c JOIN samples s ON s.rowid = c.sample"
)

# Substring search over each sample's questions, answers and options: one row per sample,
# rowid = samples.rowid, with the digest of the sample text it was made from (the review app
# brings stale rows up to date when it opens). The trigram tokenizer needs SQLite >= 3.34;
# without it the review queue falls back to scanning.
SEARCH_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS sample_text USING fts5(text, digest UNINDEXED, tokenize='trigram')"
)

# A check result of a sample named by its id (Packed.checks rows: sample_id, stage, version,
# config, digest, result), stored under the sample's rowid.
_INSERT_CHECK = (
    "INSERT OR REPLACE INTO check_results (sample, stage, version, config, digest, result) "
    "SELECT rowid, ?2, ?3, ?4, ?5, ?6 FROM samples WHERE id = ?1"
)

SAMPLE_COLUMNS = "id, seq, unit, domain, type, language, category, status, data, digest, generator, review"
READ_BATCH = 512


def digest(text: str) -> str:
    """A short content digest: of a sample's stored text, of a check's configuration."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def dumps(obj: Any) -> str:
    """Compact JSON text of a stored record (orjson: several times faster than `json`, and the
    text decides digests only within this format)."""
    try:  # the plain form first: the option for non-string keys costs a third more on every record
        return orjson.dumps(obj).decode()
    except TypeError:  # orjson.JSONEncodeError: a key that is not a string (the same text as before)
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(text: str | bytes) -> Any:
    """A stored record back (orjson; `json` for text it refuses, such as NaN)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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


def stored_data(sample: Sample) -> dict[str, Any]:
    """What the run stores of a sample: everything but its status and automatic results."""
    d = sample.to_dict()
    d.pop("status", None)
    review = (sample.checks or {}).get("review")
    d["checks"] = {"review": review} if review is not None else {}
    return d


def image_relpath(image_id: str, fmt: str) -> str:
    return f"images/{image_id[:2]}/{image_id}.{fmt.lower()}"


def temp_name(dest: Path) -> Path:
    """A temporary name beside `dest` that says which process wrote it (see `clean_temp_files`)."""
    return dest.with_name(f".{dest.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")


_MADE_FOLDERS: set[str] = set()
_O_BINARY = getattr(os, "O_BINARY", 0)


def write_image_file(run_dir: Path, data: bytes, fmt: str) -> tuple[str, str]:
    """Store encoded image bytes once by content hash; returns (id, relative path).

    Safe to call from worker processes: the file is written under a temporary name and
    renamed, so a reader never sees a partial image and two writers never clash.
    """
    image_id = hashlib.sha256(data).hexdigest()
    rel = image_relpath(image_id, fmt)
    folder = os.path.join(run_dir, "images", image_id[:2])
    dest = os.path.join(folder, f"{image_id}.{fmt.lower()}")
    if not os.path.exists(dest):
        if folder not in _MADE_FOLDERS:  # one mkdir per shard folder and process, not per image
            os.makedirs(folder, exist_ok=True)
            _MADE_FOLDERS.add(folder)
        # plain os calls: a pathlib write of a small image cost a third again as much
        tmp = os.path.join(folder, f".{image_id}.{fmt.lower()}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
        try:
            try:
                _write_new(tmp, data)
            except FileNotFoundError:  # the folder went away since it was made
                os.makedirs(folder, exist_ok=True)
                _write_new(tmp, data)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    return image_id, rel


def _write_new(path: str, data: bytes) -> None:
    """Write `data` to a new file at `path` (O_EXCL: never into one that is there)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), where /proc says (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as f:
            boot = next(int(ln.split()[1]) for ln in f if ln.startswith(b"btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _pid_alive(pid: int, wrote_at: float | None = None) -> bool:
    """Whether the writer `pid` may still be writing. `wrote_at`: the file's mtime; a process of
    that id started after it is another one (ids are reused), so the writer is gone."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if wrote_at is not None:
        started = _started_at(pid)
        if started is not None and started > wrote_at + 2:  # /proc's btime is whole seconds
            return False
    return True


def clean_temp_files(folder: Path) -> int:
    """Remove temporary files that interrupted writes left under `folder` (their writer is gone)."""
    removed = 0
    if not folder.is_dir():
        return 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            stamp = name[:-4].rsplit(".", 1)[-1].split("-", 1)[0]
            path = os.path.join(root, name)
            try:
                wrote_at = os.stat(path).st_mtime
            except OSError:
                continue
            if stamp.isdigit() and _pid_alive(int(stamp), wrote_at):
                continue
            try:
                os.unlink(path)
                removed += 1
            except OSError:
                pass
    return removed


def damaged(db: Path, e: BaseException) -> RunDirError:
    """The one line for a run database SQLite cannot read."""
    return RunDirError(
        f"{db}: the run database is damaged ({e}); restore it from a copy, or recover what is "
        f'readable with `sqlite3 "{db}" .recover | sqlite3 recovered.db` and use a new run directory'
    )


@dataclass
class UnitEntry:
    """One unit's end, to commit: what it made (or why it failed) and its check results."""

    stage: str
    version: str
    key: str
    track: bool = True  # record the unit's state (a stage that knows what is left sets False)
    packed: Packed | None = None
    checks: list[tuple[str, int, str, dict]] = field(default_factory=list)
    config: str = ""
    error: str | None = None
    attempts: int = 0
    gave_up: bool = False


class Packed:
    """What one unit made, as database rows: made where the unit ran (a worker process), so
    the process that commits does as little as possible."""

    __slots__ = (
        "images",
        "inputs",
        "records",
        "contexts",
        "domains",
        "samples",
        "checks",
        "failed",
        "phashes",
    )

    def __init__(self) -> None:
        self.images: list[tuple] = []  # images table rows
        self.inputs: list[tuple] = []  # (seq, ref, image_id, domain, error)
        self.records: list[
            tuple
        ] = []  # dataset_records rows: (seq, dataset, record, image_id, questions, error)
        self.contexts: list[tuple] = []  # (image_id, kind, language, text, data json)
        self.domains: list[tuple[str, str]] = []  # (domain, image_id): a chosen domain
        self.samples: list[tuple] = []  # samples rows (SAMPLE_COLUMNS)
        self.checks: list[tuple] = []  # (sample_id, stage, version, config, digest, result json)
        self.failed: list[tuple[str, str]] = []  # (sample_id, check name)
        self.phashes: list[tuple[int, str]] = []  # (perceptual hash, image_id)

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    def extend(self, other: Packed) -> None:
        """Add what another unit's part made (a batch's images, one after the other)."""
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))

    def add_image(self, i: ImageRecord, phash: int | None = None) -> None:
        self.images.append((i.id, i.path, i.width, i.height, i.format, dumps(i.provenance), _signed(phash)))

    def add_sample(self, s: Sample, seq: int, unit: str, stage_results: dict[str, tuple]) -> None:
        """One sample and its make-time check results: stage → (version, config, results)."""
        data = dumps(stored_data(s))
        dg = digest(data)
        sid = s.id
        failing: list[dict] = []  # the status depends on the failed results alone
        for stage, (version, config, res) in stage_results.items():
            self.checks.append((sid, stage, version, config, dg, dumps(res)))
            for n, r in res.items():
                if r.get("pass") is False:
                    failing.append(r)
                    self.failed.append((sid, n))
        review = review_action(s.checks)
        status = derive_status(review, failing)
        self.samples.append(
            (sid, seq, unit, s.domain, s.type, s.language, s.category, status, data, dg, s.generator, review)
        )


_UNIT_DONE = (
    "INSERT OR REPLACE INTO units VALUES (?, ?, 'done', NULL, "
    "COALESCE((SELECT attempts FROM units WHERE stage=? AND key=?), 0) + 1, ?, ?)"
)
_UNIT_FAILED = "INSERT OR REPLACE INTO units VALUES (?, ?, ?, ?, ?, 0, ?)"


def _signed(h: int | None) -> int | None:
    """A 64-bit hash as SQLite's signed integer."""
    if h is None:
        return None
    return h - (1 << 64) if h >= (1 << 63) else h


_LAST: list[Path] = []


def last_opened() -> Path | None:
    """The run database this process opened last (named when SQLite finds it damaged)."""
    return _LAST[-1] if _LAST else None


class RunStore:
    """A run directory opened for reading and writing."""

    def __init__(self, run_dir: str | os.PathLike[str], create: bool = True) -> None:
        self.dir = Path(run_dir)
        self._images_root: Path | None = None
        self.path = self.dir / "run.db"
        _LAST[:] = [self.path]
        if not create and not self.path.exists():
            raise RunDirError(f"{self.dir}: not a run directory (no run.db)")
        if self.dir.exists() and not self.dir.is_dir():
            raise RunDirError(f"run directory {self.dir}: exists and is not a directory")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            if create:
                probe = self.dir / f".write-probe-{os.getpid()}"
                probe.write_bytes(b"")
                probe.unlink()
            self.db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        except OSError as e:
            reason = e.strerror or str(e)
            raise RunDirError(f"run directory {self.dir}: cannot write there ({reason})") from None
        except sqlite3.Error as e:
            raise RunDirError(f"run directory {self.dir}: cannot open run.db ({e})") from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of a large run stay cached
            self._check_schema()
            self.db.executescript(SCHEMA)
            self._migrate_checks()
            self.db.execute(CHECKS_VIEW)
            self.search_index = self._create_search_index()
            if self.get_meta("schema") is None:
                self.set_meta("schema", SCHEMA_VERSION)
        except sqlite3.DatabaseError as e:
            self.db.close()
            if isinstance(e, sqlite3.OperationalError) and "readonly" in str(e):
                raise RunDirError(f"run directory {self.dir}: cannot write there ({e})") from None
            raise damaged(self.path, e) from None

    def _check_schema(self) -> None:
        cols = [r[1] for r in self.db.execute("PRAGMA table_info(units)")]
        if cols and "stage" not in cols:
            raise RunDirError(
                f"{self.dir}: this run directory was made by an older visinstruct; "
                "make a new run directory (the old one stays readable with that version)"
            )

    def _migrate_checks(self) -> None:
        """A run directory of schema 2 keeps its check results in a table `checks` keyed by
        sample id: they move to `check_results` (keyed by the sample's rowid) in one
        transaction, and `checks` becomes the view of them by id."""
        row = self.db.execute("SELECT type FROM sqlite_master WHERE name='checks'").fetchone()
        if row is None or row[0] != "table":
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT type FROM sqlite_master WHERE name='checks'").fetchone()
            if row is None or row[0] != "table":  # another process moved them meanwhile
                self.db.rollback()
                return
            self.db.execute(
                "INSERT INTO check_results SELECT s.rowid, c.stage, c.version, c.config, c.digest, "
                "c.result FROM checks c JOIN samples s ON s.id = c.sample_id ORDER BY s.rowid, c.stage"
            )
            self.db.execute("DROP TABLE checks")
            self.db.execute(CHECKS_VIEW)
            self.db.execute(
                "INSERT INTO meta VALUES ('schema', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (json.dumps(SCHEMA_VERSION),),
            )
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create_search_index(self) -> bool:
        if sqlite3.sqlite_version_info < (3, 34, 0):
            return False
        try:
            self.db.execute(SEARCH_SCHEMA)
        except sqlite3.OperationalError:  # SQLite built without FTS5
            return False
        return True

    def verify_integrity(self) -> None:
        """Raise the one-line error for a damaged database before a run builds on it (a full
        scan of the file's structure: seconds for millions of samples, once per run)."""
        try:
            rows = self.db.execute("PRAGMA quick_check(5)").fetchall()
        except sqlite3.DatabaseError as e:
            raise damaged(self.path, e) from None
        if rows != [("ok",)]:
            raise damaged(self.path, "; ".join(r[0] for r in rows))

    def clean_temp_files(self) -> int:
        """Remove what interrupted writes left in images/ and exports/."""
        return clean_temp_files(self.dir / "images") + clean_temp_files(self.dir / "exports")

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
    def unit_states(self, stage: str, keys: list[str]) -> dict[str, tuple[str, int, str | None]]:
        """key → (state, attempts, stage version) for the keys that have a record."""
        out: dict[str, tuple[str, int, str | None]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = (
                "SELECT key, state, attempts, version FROM units WHERE stage=? AND key IN "
                f"({','.join('?' * len(chunk))})"
            )
            for k, state, attempts, version in self.db.execute(q, [stage, *chunk]):
                out[k] = (state, attempts, version)
        return out

    def commit(self, entries: Iterable[UnitEntry]) -> set[tuple[str, str]]:
        """Write finished and failed units in one transaction: first everything they made,
        then their check results, then the units' states. A unit whose check results were all
        written over a sample that changed meanwhile is not marked done (the next run checks
        the sample as it is now). Returns the (stage, key) of those stale units."""
        entries = list(entries)
        stale_units: set[tuple[str, str]] = set()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._write_all([e.packed for e in entries if e.packed is not None])
            changed: list[str] = []
            for e in entries:
                if e.checks:
                    fresh = self._write_checks(e.stage, e.version, e.config, e.checks, changed)
                    if not fresh:
                        stale_units.add((e.stage, e.key))
            self._refresh(changed)
            rows: list[tuple[str, tuple]] = []  # (statement, parameters) in entry order
            for e in entries:
                if not e.track or (e.stage, e.key) in stale_units:
                    continue
                if e.error is None:
                    n = e.packed.n_samples if e.packed is not None else 0
                    rows.append((_UNIT_DONE, (e.stage, e.key, e.stage, e.key, n, e.version)))
                else:
                    state = "gave_up" if e.gave_up else "failed"
                    rows.append((_UNIT_FAILED, (e.stage, e.key, state, e.error, e.attempts, e.version)))
            for sql, group in itertools.groupby(rows, key=lambda r: r[0]):
                self.db.executemany(sql, [params for _, params in group])
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return stale_units

    def _write_all(self, packs: list[Packed]) -> None:
        """Write what several units made, one statement per table for all of them (per unit, the
        statements' own overhead was a fifth of a commit). The same rows as writing them unit by
        unit: each table's rows keep their order, and a unit's check rows name only its own
        samples, written before them either way. Updates of other rows (perceptual hashes, chosen
        domains) could meet rows of a later unit, so those go unit by unit."""
        if len(packs) > 1 and not any(p.phashes or p.domains for p in packs):
            merged = Packed()
            for p in packs:
                merged.extend(p)
            packs = [merged]
        for p in packs:
            self._write_packed(p)

    def _write_packed(self, p: Packed) -> None:
        db = self.db
        if p.images:
            db.executemany("INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?, ?, ?, ?)", p.images)
        if p.phashes:
            db.executemany("UPDATE images SET phash=? WHERE id=?", p.phashes)
        if p.inputs:
            db.executemany("INSERT OR IGNORE INTO inputs VALUES (?, ?, ?, ?, ?)", p.inputs)
        if p.records:
            db.executemany("INSERT OR REPLACE INTO dataset_records VALUES (?, ?, ?, ?, ?, ?)", p.records)
        if p.contexts:
            db.executemany("INSERT OR REPLACE INTO contexts VALUES (?, ?, ?, ?, ?)", p.contexts)
        if p.domains:
            db.executemany("UPDATE inputs SET domain=? WHERE image_id=? AND domain IS NULL", p.domains)
        if p.samples:
            # a sample a person decided on is never overwritten by a stage making it again
            db.executemany(
                f"INSERT INTO samples ({SAMPLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, unit=excluded.unit, "
                "domain=excluded.domain, type=excluded.type, language=excluded.language, "
                "category=excluded.category, status=excluded.status, data=excluded.data, "
                "digest=excluded.digest, generator=excluded.generator, review=excluded.review, "
                "version=samples.version + 1 "
                "WHERE samples.review IS NULL AND samples.digest != excluded.digest",
                p.samples,
            )
        if p.checks:
            db.executemany(_INSERT_CHECK, p.checks)
        if p.failed:
            db.executemany("INSERT OR IGNORE INTO failed_checks VALUES (?, ?)", p.failed)

    def add_samples(
        self,
        unit: str,
        seq: int,
        samples: Iterable[Sample],
        images: Iterable[ImageRecord] = (),
        stage: str = "given",
    ) -> None:
        """Store samples made outside a stage (an import, a test), with the automatic results
        they carry recorded as the results of check stage `stage`; one unit, one transaction."""
        p = Packed()
        for im in images:
            p.add_image(im)
        for n, s in enumerate(samples):
            auto = {k: v for k, v in (s.checks or {}).items() if k != "review"}
            p.add_sample(s, seq * 1000 + n, unit, {stage: ("1", "", auto)} if auto else {})
        self.commit([UnitEntry(stage, "1", unit, packed=p)])

    def replace_samples(self, samples: Iterable[Sample], stage: str = "given") -> int:
        """Store new versions of samples already in the run (a re-import), each in its place,
        with the automatic results they carry as the results of check stage `stage`. A sample a
        person decided on is left as it is. Returns how many samples were written."""
        n = 0
        with self.db:
            for s in samples:
                row = self.db.execute("SELECT seq, unit, review FROM samples WHERE id=?", (s.id,)).fetchone()
                if row is None or row[2] is not None:
                    continue
                p = Packed()
                auto = {k: v for k, v in (s.checks or {}).items() if k != "review"}
                p.add_sample(s, 0, row[1], {stage: ("1", "", auto)} if auto else {})
                p.samples[0] = (p.samples[0][0], row[0], *p.samples[0][2:])
                self._write_packed(p)
                self._refresh([s.id])
                n += 1
        return n

    # -- check results --------------------------------------------------------------------
    def write_checks(
        self, stage: str, version: str, config: str, rows: Iterable[tuple[str, int, str, dict]]
    ) -> int:
        """Store one check stage's results (sample id, version read, digest read, results) in
        one transaction; see `_write_checks`. Returns how many were fresh (not stale)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            changed: list[str] = []
            fresh = self._write_checks(stage, version, config, list(rows), changed)
            self._refresh(changed)
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return fresh

    def _write_checks(
        self,
        stage: str,
        version: str,
        config: str,
        rows: list[tuple[str, int, str, dict]],
        changed: list[str],
    ) -> int:
        """A result is written only if the sample still has the version it was computed on,
        and only if it differs from what is stored (`changed` collects those samples: their
        statuses are derived again). Returns how many results were fresh."""
        fresh = 0
        for sid, read_version, dg, res in rows:
            cur = self.db.execute(
                "SELECT s.version, c.version, c.config, c.digest, c.result, s.rowid FROM samples s "
                "LEFT JOIN check_results c ON c.sample = s.rowid AND c.stage = ? WHERE s.id = ?",
                (stage, sid),
            ).fetchone()
            if cur is None or cur[0] != read_version:
                continue
            fresh += 1
            text = dumps(res)
            if cur[1:5] == (version, config, dg, text):
                continue
            self.db.execute(
                "INSERT OR REPLACE INTO check_results VALUES (?, ?, ?, ?, ?, ?)",
                (cur[5], stage, version, config, dg, text),
            )
            changed.append(sid)
        return fresh

    def _refresh(self, ids: list[str]) -> None:
        """Derive the status and failed-check index of `ids` again (inside a transaction)."""
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            results: dict[str, list[tuple[str, dict]]] = {sid: [] for sid in chunk}
            for sid, res in self.db.execute(
                "SELECT s.id, c.result FROM samples s JOIN check_results c ON c.sample = s.rowid "
                f"WHERE s.id IN ({marks})",
                chunk,
            ):
                results[sid].extend(loads(res).items())
            reviews = dict(self.db.execute(f"SELECT id, review FROM samples WHERE id IN ({marks})", chunk))
            self.db.executemany("DELETE FROM failed_checks WHERE sample_id=?", [(s,) for s in chunk])
            failed = [
                (sid, n)
                for sid, rs in results.items()
                for n, r in rs
                if isinstance(r, dict) and r.get("pass") is False
            ]
            failed += [(sid, "review") for sid, review in reviews.items() if review == "reject"]
            self.db.executemany("INSERT OR IGNORE INTO failed_checks VALUES (?, ?)", failed)
            self.db.executemany(
                "UPDATE samples SET status=? WHERE id=? AND status != ?",
                [
                    (st, sid, st)
                    for sid in chunk
                    if sid in reviews
                    for st in [derive_status(reviews[sid], [r for _, r in results[sid]])]
                ],
            )

    def refresh_status(self, ids: list[str]) -> None:
        """Derive the statuses of `ids` again (call inside the writer's transaction)."""
        self._refresh(ids)

    def stale_for(
        self, stage: str, version: str, config: str, where: str = "", batch: int = READ_BATCH
    ) -> Iterator[list[tuple[str, int, str, str]]]:
        """Batches of (id, version, digest, data) of samples whose result of `stage` is missing
        or was computed by another version, configuration or content; in dataset order."""
        last = (-(2**63), "")
        cond = f" AND ({where})" if where else ""
        while True:
            rows = self.db.execute(
                "SELECT s.seq, s.id, s.version, s.digest, s.data FROM samples s "
                "LEFT JOIN check_results c ON c.sample = s.rowid AND c.stage = ? "
                "WHERE (s.seq, s.id) > (?, ?) AND (c.sample IS NULL OR c.version != ? OR c.config != ? "
                f"OR c.digest != s.digest){cond} ORDER BY s.seq, s.id LIMIT ?",
                (stage, *last, version, config, batch),
            ).fetchall()
            if not rows:
                return
            last = (rows[-1][0], rows[-1][1])
            yield [(sid, v, dg, data) for _, sid, v, dg, data in rows]

    def check_results(self, ids: list[str]) -> dict[str, dict[str, dict]]:
        """sample id → merged automatic results (check name → result), stages in name order."""
        out: dict[str, dict[str, dict]] = {sid: {} for sid in ids}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = (
                "SELECT s.id, c.result FROM samples s JOIN check_results c ON c.sample = s.rowid "
                f"WHERE s.id IN ({','.join('?' * len(chunk))}) ORDER BY c.sample, c.stage"
            )
            for sid, res in self.db.execute(q, chunk):
                out[sid].update(loads(res))
        return out

    def stage_result(self, sample_id: str, stage: str) -> dict | None:
        row = self.db.execute(
            "SELECT c.result FROM samples s JOIN check_results c ON c.sample = s.rowid "
            "WHERE s.id=? AND c.stage=?",
            (sample_id, stage),
        ).fetchone()
        return json.loads(row[0]) if row else None

    # -- inputs (source images) and contexts ------------------------------------------------
    def input_for(self, ref: str) -> tuple[int, str | None, str | None, str | None] | None:
        """(seq, image_id, domain, error) of a source reference already taken in."""
        return self.db.execute(
            "SELECT seq, image_id, domain, error FROM inputs WHERE ref=?", (ref,)
        ).fetchone()

    def iter_inputs(self, batch: int = READ_BATCH) -> Iterator[tuple[int, str, str, str | None]]:
        """(seq, ref, image_id, domain) of every stored source image, in source order."""
        last = -(2**63)
        while True:
            rows = self.db.execute(
                "SELECT seq, ref, image_id, domain FROM inputs WHERE image_id IS NOT NULL AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield from rows

    def first_input_of(self, image_id: str) -> int | None:
        """The lowest source place (seq) among the inputs that brought `image_id`, if any."""
        return self.db.execute("SELECT MIN(seq) FROM inputs WHERE image_id=?", (image_id,)).fetchone()[0]

    def duplicate_inputs(self) -> int:
        """Inputs whose image an earlier input already brought (stored once, made into samples once)."""
        return self.db.execute("SELECT COUNT(image_id) - COUNT(DISTINCT image_id) FROM inputs").fetchone()[0]

    def input_counts(self) -> tuple[int, int]:
        """(source images taken in, rejected)."""
        n, bad = self.db.execute("SELECT COUNT(*), COUNT(error) FROM inputs").fetchone()
        return n, bad

    def rejected_inputs(self, limit: int | None = None) -> list[tuple[str, str]]:
        sql = "SELECT ref, error FROM inputs WHERE error IS NOT NULL ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return list(self.db.execute(sql))

    def dataset_counts(self) -> list[tuple[str, int, int, int, int]]:
        """(dataset, images stored, questions, bad records, samples) per imported dataset."""
        rows = self.db.execute(
            "SELECT dataset, COUNT(image_id), COALESCE(SUM(questions), 0), COUNT(error) "
            "FROM dataset_records GROUP BY dataset ORDER BY dataset"
        ).fetchall()
        if not rows:
            return []
        made: dict[str, int] = {}
        for gen, k in self.db.execute(
            "SELECT generator, COUNT(*) FROM samples "
            "WHERE generator LIKE 'dataset/%' OR generator LIKE 'import/%' GROUP BY generator"
        ):
            name = gen.split("/", 1)[1]
            made[name] = made.get(name, 0) + k
        return [(d, n, q, bad, made.get(d, 0)) for d, n, q, bad in rows]

    def bad_records(self, limit: int | None = None) -> list[tuple[str, str, str]]:
        """(dataset, record id, reason) of every record an import refused, in dataset order."""
        sql = (
            "SELECT dataset, record, error FROM dataset_records WHERE error IS NOT NULL ORDER BY seq, record"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return list(self.db.execute(sql))

    def contexts_of(self, image_id: str, kind: str) -> dict[str, tuple[str | None, dict]]:
        """language → (text, data) of one image's contexts of one kind (captions, a domain)."""
        return {
            lang: (text, loads(data))
            for lang, text, data in self.db.execute(
                "SELECT language, text, data FROM contexts WHERE image_id=? AND kind=?", (image_id, kind)
            )
        }

    def phashes(self) -> Iterator[tuple[int, str, int | None]]:
        """(source seq, image id, perceptual hash) of every source image, in source order."""
        for seq, image_id, h in self.db.execute(
            "SELECT i.seq, i.image_id, m.phash FROM inputs i JOIN images m ON m.id = i.image_id "
            "WHERE i.image_id IS NOT NULL ORDER BY i.seq"
        ):
            yield seq, image_id, (h + (1 << 64) if h is not None and h < 0 else h)

    # -- reading samples ----------------------------------------------------------------------
    def _samples_where(self, where: str, args: list, batch: int | None = None) -> Iterator[list[tuple]]:
        """Batches of sample rows in dataset order after the last one seen. Always walked along
        the (seq, id) index: with a status filter SQLite would otherwise pick the status index
        and sort every matching row for each batch (quadratic in the run's size)."""
        last = (-(2**63), "")
        cond = f" AND ({where})" if where else ""
        while True:
            rows = self.db.execute(
                "SELECT seq, id, data, status, version, digest FROM samples INDEXED BY samples_seq "
                f"WHERE (seq, id) > (?, ?){cond} ORDER BY seq, id LIMIT ?",
                (*last, *args, batch or READ_BATCH),
            ).fetchall()
            if not rows:
                return
            last = (rows[-1][0], rows[-1][1])
            yield rows

    def iter_samples(
        self, statuses: Iterable[str] | None = None, where: str = "", args: Iterable[Any] = ()
    ) -> Iterator[Sample]:
        """Samples in dataset order (plan order, not finishing order), with their automatic
        check results and derived status; optionally only some statuses. Streams in batches."""
        for sample, _version, _digest in self.iter_versioned(statuses, where, args):
            yield sample

    def iter_versioned(
        self, statuses: Iterable[str] | None = None, where: str = "", args: Iterable[Any] = ()
    ) -> Iterator[tuple[Sample, int, str]]:
        """(sample, version, digest) in dataset order: what a check needs to write back safely."""
        conds, params = [], list(args)
        if where:
            conds.append(where)
        if statuses is not None:
            st = list(statuses)
            conds.append(f"status IN ({','.join('?' * len(st))})")
            params += st
        for rows in self._samples_where(" AND ".join(conds), params):
            merged = self.check_results([r[1] for r in rows])
            for _seq, sid, data, status, version, dg in rows:
                yield self._sample(data, status, merged[sid]), version, dg

    @staticmethod
    def _sample(data: str, status: str, automatic: dict[str, dict]) -> Sample:
        d = loads(data)
        checks = dict(automatic)
        checks.update(d.get("checks") or {})  # the person's decision last: it outranks
        d["checks"] = checks
        d["status"] = status
        return Sample.from_dict(d)

    def sample(self, sample_id: str) -> tuple[Sample, int, str] | None:
        row = self.db.execute(
            "SELECT data, status, version, digest FROM samples WHERE id=?", (sample_id,)
        ).fetchone()
        if row is None:
            return None
        return self._sample(row[0], row[1], self.check_results([sample_id])[sample_id]), row[2], row[3]

    def samples_between(self, lo: int, hi: int) -> Iterator[tuple[Sample, int, str]]:
        """(sample, version, digest) of the samples whose place in the dataset is in [lo, hi):
        one unit's samples, or one image's (see `mm_span` and `facts_span` in stages/instructions.py)."""
        rows = self.db.execute(
            "SELECT id, data, status, version, digest FROM samples "
            "WHERE seq >= ? AND seq < ? ORDER BY seq, id",
            (lo, hi),
        ).fetchall()
        merged = self.check_results([r[0] for r in rows])
        for sid, data, status, version, dg in rows:
            yield self._sample(data, status, merged[sid]), version, dg

    def image(self, image_id: str) -> ImageRecord:
        row = self.db.execute(
            "SELECT id, path, width, height, format, provenance FROM images WHERE id=?", (image_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"image {image_id} is not in run {self.dir}")
        return ImageRecord(*row[:5], provenance=loads(row[5]))

    def image_path(self, image_id: str) -> Path:
        """Absolute path of a stored image; never outside the run's image folder."""
        return self.image_file(image_id)[1]

    def image_file(self, image_id: str) -> tuple[ImageRecord, Path]:
        """A stored image's record and absolute path (never outside the run's image folder)."""
        rec = self.image(image_id)
        if self._images_root is None:
            self._images_root = (self.dir / "images").resolve()
        path = (self.dir / rec.path).resolve()
        if not path.is_relative_to(self._images_root):
            raise RunDirError(f"image {image_id}: stored path {rec.path!r} leaves the run's image store")
        return rec, path

    def iter_images(self, batch: int = READ_BATCH) -> Iterator[ImageRecord]:
        """Every stored image (sources' and drawn ones), in id order, streaming."""
        last = ""
        while True:
            rows = self.db.execute(
                "SELECT id, path, width, height, format, provenance FROM images "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            for row in rows:
                yield ImageRecord(*row[:5], provenance=loads(row[5]))

    def license_counts(self) -> list[tuple[str, int]]:
        """(license, images) over the stored images whose provenance names one, commonest first."""
        return list(
            self.db.execute(
                "SELECT json_extract(provenance, '$.license') AS l, COUNT(*) FROM images "
                "WHERE l IS NOT NULL GROUP BY l ORDER BY 2 DESC, 1"
            )
        )

    def licensed_images(self, limit: int | None = None) -> list[tuple[str, dict]]:
        """(image id, provenance) of the stored images whose provenance names a license, in the
        order their inputs came."""
        sql = (
            "SELECT m.id, m.provenance FROM images m JOIN inputs i ON i.image_id = m.id "
            "WHERE json_extract(m.provenance, '$.license') IS NOT NULL "
            "GROUP BY m.id ORDER BY MIN(i.seq)"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(i, loads(p)) for i, p in self.db.execute(sql)]

    def license_version_counts(self) -> list[tuple[str, str | None, int]]:
        """(license, license version, images) over the stored images whose provenance names a
        license, commonest first: what a dataset card's license is read from."""
        return list(
            self.db.execute(
                "SELECT json_extract(provenance, '$.license') AS l, "
                "json_extract(provenance, '$.license_version') AS v, COUNT(*) FROM images "
                "WHERE l IS NOT NULL GROUP BY l, v ORDER BY 3 DESC, 1, 2"
            )
        )

    def unlicensed_images(self, limit: int | None = None) -> tuple[int, list[tuple[str, str]]]:
        """(how many, [(image id, the input that brought it)]) of the stored images that came from a
        source (not drawn by a generator) and whose provenance names no license."""
        where = (
            "json_extract(m.provenance, '$.license') IS NULL "
            "AND COALESCE(json_extract(m.provenance, '$.source'), '') != 'synthetic'"
        )
        n = self.db.execute(f"SELECT COUNT(*) FROM images m WHERE {where}").fetchone()[0]
        sql = (
            "SELECT m.id, COALESCE(MIN(i.ref), m.path) FROM images m LEFT JOIN inputs i ON i.image_id = m.id "
            f"WHERE {where} GROUP BY m.id ORDER BY MIN(i.seq), m.id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return n, list(self.db.execute(sql))

    def count_images(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    # -- figures ------------------------------------------------------------------------------
    def counts(self) -> list[tuple[str, str, str, int]]:
        """(domain, type, status, n) for every group present."""
        return list(
            self.db.execute(
                "SELECT domain, type, status, COUNT(*) FROM samples"
                " GROUP BY domain, type, status ORDER BY 1, 2, 3"
            )
        )

    def status_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM samples GROUP BY status"))

    def count_samples(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def category_counts(self, domain: str) -> dict[str, int]:
        """Samples of `domain` per category, rejected ones left out."""
        rows = self.db.execute(
            "SELECT category, COUNT(*) FROM samples WHERE domain=? AND status!='rejected' GROUP BY category",
            (domain,),
        )
        return {c: n for c, n in rows if c is not None}

    def failed_check_counts(self) -> list[tuple[str, int]]:
        """(check name, samples failing it), commonest first."""
        return list(self.db.execute("SELECT name, COUNT(*) FROM failed_checks GROUP BY name ORDER BY 2 DESC"))

    def verification_counts(self) -> tuple[int, int]:
        """(agree, disagree) among the samples a verifier answered."""
        agree = disagree = 0
        for (res,) in self.db.execute("SELECT result FROM check_results WHERE stage='verify'"):
            v = loads(res).get("verify") or {}
            if v.get("method") in ("exact", "judge") and v.get("answer") is not None:
                agree += v.get("pass") is True
                disagree += v.get("pass") is False
        return agree, disagree

    def unit_counts(self) -> list[tuple[str, str, int]]:
        """(stage, state, n) over every recorded unit."""
        return list(self.db.execute("SELECT stage, state, COUNT(*) FROM units GROUP BY 1, 2 ORDER BY 1, 2"))

    def failed_units(self, limit: int | None = None) -> list[tuple[str, str, str, str, int]]:
        """(stage, key, state, error, attempts) of the units not done: `failed` ones are retried
        by the next run, `gave_up` ones are not."""
        sql = (
            "SELECT stage, key, state, error, attempts FROM units WHERE state != 'done' "
            "ORDER BY state DESC, stage, key"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return list(self.db.execute(sql))

    def model_failure_reasons(self, limit: int = 10) -> list[tuple[str, int]]:
        has = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='model_failures'").fetchone()
        if not has:
            return []
        return list(
            self.db.execute(
                "SELECT reason, COUNT(*) FROM model_failures GROUP BY reason ORDER BY 2 DESC LIMIT ?",
                (limit,),
            )
        )
