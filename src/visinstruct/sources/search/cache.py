"""Search result pages kept in the run's SQLite store, so a rerun does not ask again.

A page is stored by the digest of its request (provider, URL and parameters; never the key) with
the response body as received: changing how a provider parses its responses needs no new
requests. A request that failed for good is stored with its reason and no body; it is asked again
by the next run. Each row counts the requests it took and the retries among them (after a 429 or
a passing error), which `visinstruct status` and the report show.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS search_pages (
    key TEXT PRIMARY KEY, provider TEXT NOT NULL, query TEXT NOT NULL, page INTEGER NOT NULL,
    body TEXT, error TEXT, requests INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,
    fetched REAL NOT NULL
)
"""


def request_key(provider: str, url: str, params: dict[str, str]) -> str:
    blob = json.dumps([provider, url, sorted(params.items())], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class SearchCounts:
    """Per provider: pages stored, requests sent, retries among them, pages that failed."""

    provider: str
    pages: int
    requests: int
    retries: int
    failed: int


class SearchCache:
    """The `search_pages` table of one run database (`db` may be None: nothing is kept)."""

    def __init__(self, db: sqlite3.Connection | None) -> None:
        self.db = db
        if db is not None:
            with db:
                db.execute(SCHEMA)

    def get(self, key: str) -> str | None:
        if self.db is None:
            return None
        sql = "SELECT body FROM search_pages WHERE key=? AND body IS NOT NULL"
        row = self.db.execute(sql, (key,)).fetchone()
        return row[0] if row else None

    def put(
        self,
        key: str,
        provider: str,
        query: str,
        page: int,
        *,
        body: str | None = None,
        error: str | None = None,
        requests: int = 0,
        retries: int = 0,
    ) -> None:
        if self.db is None:
            return
        with self.db:
            self.db.execute(
                "INSERT INTO search_pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "body=excluded.body, error=excluded.error, "
                "requests=search_pages.requests + excluded.requests, "
                "retries=search_pages.retries + excluded.retries, fetched=excluded.fetched",
                (key, provider, query, page, body, error, requests, retries, time.time()),
            )


def search_counts(db: sqlite3.Connection) -> list[SearchCounts]:
    """Per provider, from a run database (empty when it never searched)."""
    if not _has_table(db):
        return []
    rows = db.execute(
        "SELECT provider, COUNT(body), SUM(requests), SUM(retries), COUNT(error) FROM search_pages "
        "GROUP BY provider ORDER BY provider"
    )
    return [SearchCounts(p, n, r or 0, t or 0, f) for p, n, r, t, f in rows]


def search_failures(db: sqlite3.Connection, limit: int | None = None) -> list[tuple[str, str, int, str]]:
    """(provider, query, page, reason) of every result page that could not be had."""
    if not _has_table(db):
        return []
    sql = "SELECT provider, query, page, error FROM search_pages WHERE error IS NOT NULL ORDER BY fetched"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return list(db.execute(sql))


def _has_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name='search_pages'").fetchone() is not None
