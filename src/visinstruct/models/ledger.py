"""Cost ledger: requests, tokens and dollars per endpoint and stage, and the budget cap."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from visinstruct.models.endpoints import Price

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    endpoint TEXT NOT NULL, stage TEXT NOT NULL, model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0, PRIMARY KEY (endpoint, stage)
);
CREATE TABLE IF NOT EXISTS model_failures (
    key TEXT PRIMARY KEY, endpoint TEXT, stage TEXT, reason TEXT NOT NULL, raw TEXT, at REAL
);
CREATE TABLE IF NOT EXISTS endpoint_modes (
    endpoint TEXT NOT NULL, model TEXT NOT NULL, base_url TEXT NOT NULL, configured TEXT NOT NULL,
    mode TEXT NOT NULL, note TEXT NOT NULL, at REAL, PRIMARY KEY (endpoint, model, base_url, configured)
);
"""

FIELDS = ("requests", "cached", "failed", "retries", "input_tokens", "output_tokens", "cost_usd")


@dataclass
class Line:
    model: str
    requests: int = 0  # answered by the server (billed)
    cached: int = 0  # answered from the cache (free)
    failed: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Ledger:
    """In memory while a job runs; `save` adds it to a run's SQLite, so spend accumulates."""

    lines: dict[tuple[str, str], Line] = field(default_factory=dict)
    prior_cost: float = 0.0  # spend recorded by earlier jobs of the same run

    def line(self, endpoint: str, stage: str, model: str) -> Line:
        ln = self.lines.get((endpoint, stage))
        if ln is None:
            ln = self.lines[(endpoint, stage)] = Line(model)
        return ln

    def charge(
        self, endpoint: str, stage: str, model: str, usage: dict | None, price: Price, batch: bool = False
    ) -> float:
        """Record one billed response; returns its cost."""
        ln = self.line(endpoint, stage, model)
        ln.requests += 1
        if not usage:
            return 0.0
        tin, tout = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        ln.input_tokens += tin
        ln.output_tokens += tout
        cost = (tin * price.input + tout * price.output) / 1e6 * (0.5 if batch else 1.0)
        ln.cost_usd += cost
        return cost

    def total_cost(self) -> float:
        return self.prior_cost + sum(ln.cost_usd for ln in self.lines.values())

    def save(self, db: sqlite3.Connection) -> None:
        """Add this job's figures to the run's ledger table and start counting from zero."""
        db.executescript(SCHEMA)
        with db:
            for (endpoint, stage), ln in self.lines.items():
                db.execute(
                    "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(endpoint, stage) DO UPDATE "
                    "SET model=excluded.model, " + ", ".join(f"{f}={f}+excluded.{f}" for f in FIELDS),
                    (endpoint, stage, ln.model, *(getattr(ln, f) for f in FIELDS)),
                )
        self.prior_cost = self.total_cost()
        self.lines.clear()

    @staticmethod
    def load_total(db: sqlite3.Connection) -> float:
        db.executescript(SCHEMA)
        return db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM ledger").fetchone()[0]


def ledger_rows(db: sqlite3.Connection) -> list[tuple]:
    """(endpoint, stage, model, requests, cached, failed, retries, in, out, cost) for `status`."""
    db.executescript(SCHEMA)
    return list(db.execute("SELECT * FROM ledger ORDER BY endpoint, stage"))


def record_failure(
    db: sqlite3.Connection, key: str, endpoint: str, stage: str, reason: str, raw: str | None, at: float
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO model_failures VALUES (?, ?, ?, ?, ?, ?)",
        (key, endpoint, stage, reason, raw, at),
    )


def record_mode(
    db: sqlite3.Connection,
    endpoint: str,
    model: str,
    base_url: str,
    configured: str,
    mode: str,
    note: str,
    at: float,
) -> None:
    """An endpoint found to honour another structured mode than the one configured."""
    db.execute(
        "INSERT OR REPLACE INTO endpoint_modes VALUES (?, ?, ?, ?, ?, ?, ?)",
        (endpoint, model, base_url, configured, mode, note, at),
    )


def learned_mode(
    db: sqlite3.Connection, endpoint: str, model: str, base_url: str, configured: str
) -> str | None:
    """The structured mode an earlier job switched this endpoint to, if any (the table is made
    when the client opens the ledger)."""
    row = db.execute(
        "SELECT mode FROM endpoint_modes WHERE endpoint=? AND model=? AND base_url=? AND configured=?",
        (endpoint, model, base_url, configured),
    ).fetchone()
    return row[0] if row else None


def endpoint_notes(db: sqlite3.Connection) -> list[str]:
    """What was learned about endpoints (for `status`)."""
    db.executescript(SCHEMA)
    return [n for (n,) in db.execute("SELECT note FROM endpoint_modes ORDER BY at")]
