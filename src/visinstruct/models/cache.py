"""Persistent response cache: a finished request is never sent again.

Keyed on what decides the answer — model, messages with images replaced by their content
hash and preparation, generation parameters, output schema — never on file paths or URLs.
The raw response is stored, not the parsed result, so changing a parser re-uses it.
Writes are buffered and flushed in one transaction at short intervals (and on close).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, endpoint TEXT, model TEXT, response BLOB NOT NULL, created REAL NOT NULL
);
"""


class ResponseCache:
    """SQLite (WAL) map from request key to the raw chat.completion JSON."""

    def __init__(self, path: str | os.PathLike[str] | None, flush_every: int = 512) -> None:
        self.path = str(path) if path else ":memory:"
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.pending: dict[str, tuple[str, str, bytes]] = {}
        self.flush_every = flush_every
        self.hits = self.misses = 0

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        """The cached responses among `keys` (one query per 500 keys)."""
        keys = list(keys)
        found: dict[str, dict] = {}
        for k in keys:
            if k in self.pending:
                found[k] = orjson.loads(self.pending[k][2])
        rest = [k for k in keys if k not in found]
        for i in range(0, len(rest), 500):
            chunk = rest[i : i + 500]
            q = f"SELECT key, response FROM responses WHERE key IN ({','.join('?' * len(chunk))})"
            for k, blob in self.db.execute(q, chunk):
                found[k] = orjson.loads(blob)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def get(self, key: str) -> dict | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, endpoint: str, model: str, response: dict | bytes) -> None:
        blob = response if isinstance(response, bytes) else orjson.dumps(response)
        self.pending[key] = (endpoint, model, blob)
        if len(self.pending) >= self.flush_every:
            self.flush()

    def drop(self, key: str) -> None:
        """Forget an answer (it no longer parses): the next run asks again."""
        self.pending.pop(key, None)
        with self.db:
            self.db.execute("DELETE FROM responses WHERE key=?", (key,))

    def flush(self) -> None:
        if not self.pending:
            return
        now = time.time()
        rows = [(k, e, m, b, now) for k, (e, m, b) in self.pending.items()]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", rows)
        self.pending.clear()

    def __len__(self) -> int:
        self.flush()
        return self.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self.flush()
        self.db.close()
