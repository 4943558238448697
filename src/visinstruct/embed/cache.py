"""Embeddings kept on disk, keyed by (model fingerprint, image content hash).

An image's content hash is the sha256 of its bytes, which is also its id in a run's image store,
so the same picture under two names, in two folders or in a run is embedded once per model. The
cache is one SQLite table in WAL mode; vectors are stored as float32 bytes. A row whose length
does not match the model's dimension is treated as missing (and replaced).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from visinstruct.embed.errors import EmbedError

SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL, image TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, image)
) WITHOUT ROWID;
"""
_CHUNK = 500  # ids per SELECT (below SQLite's variable limit)


class EmbeddingCache:
    """Image embeddings by (model fingerprint, content hash), in a SQLite file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self.lock = threading.Lock()  # one connection, used from whichever thread embeds
        except (OSError, sqlite3.DatabaseError) as e:
            raise EmbedError(f"{self.path}: cannot open the embedding cache ({e})") from None

    def get_many(self, model: str, dim: int, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """id → vector for the ids the cache holds for `model`."""
        found: dict[str, np.ndarray] = {}
        want = list(dict.fromkeys(ids))
        for i in range(0, len(want), _CHUNK):
            part = want[i : i + _CHUNK]
            marks = ",".join("?" * len(part))
            with self.lock:
                rows = self.db.execute(
                    f"SELECT image, vector FROM embeddings WHERE model=? AND image IN ({marks})",
                    (model, *part),
                ).fetchall()
            for image, blob in rows:
                if len(blob) == 4 * dim:
                    found[image] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(model, image, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for image, v in items]
        if not rows:
            return
        with self.lock, self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)

    def count(self, model: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM embeddings", ()
        if model is not None:
            sql, args = sql + " WHERE model=?", (model,)
        with self.lock:
            return self.db.execute(sql, args).fetchone()[0]

    def close(self) -> None:
        with self.lock:
            self.db.close()
