"""OpenAI Batch API mode: half the price, answers within hours, through the same cache and ledger.

A job's uncached requests are written as one JSONL file (custom_id = the cache key),
uploaded, and submitted as a batch with the official `openai` SDK. The batch's id and
keys are recorded in the run's SQLite before polling starts, so a restarted process finds
the batch and polls it instead of paying twice. Results go into the response cache and
the ledger (at half price); `ModelClient` then reads them as if they had been cached.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import openai
import orjson

from visinstruct.models.endpoints import Endpoint

if TYPE_CHECKING:
    from visinstruct.models.client import ChatRequest, ModelClient

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL,
    input_file_id TEXT, output_file_id TEXT, error_file_id TEXT, keys TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL
);
"""
FINAL = {"completed", "failed", "expired", "cancelled"}


class BatchRunner:
    """Submits, polls and collects Batch API jobs for one `ModelClient`."""

    def __init__(
        self,
        client: ModelClient,
        db: sqlite3.Connection,
        *,
        poll_interval: float = 30.0,
        max_lines: int = 50_000,
        on_status: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.poll_interval = poll_interval
        self.max_lines = max_lines
        self.on_status = on_status
        db.executescript(SCHEMA)

    def _sdk(self, ep: Endpoint) -> openai.AsyncOpenAI:
        if ep.provider == "azure":
            return openai.AsyncAzureOpenAI(
                azure_endpoint=ep.resolved_base_url(),
                api_key=ep.api_key(),
                api_version=ep.api_version or "2024-10-21",
                max_retries=5,
            )
        return openai.AsyncOpenAI(base_url=ep.resolved_base_url(), api_key=ep.api_key(), max_retries=5)

    def pending(self) -> list[tuple[str, str, list[str]]]:
        """Batches submitted but not collected: (id, endpoint, keys)."""
        rows = self.db.execute(
            "SELECT id, endpoint, keys FROM batches WHERE status NOT IN ('collected', "
            "'failed', 'expired', 'cancelled') ORDER BY created"
        )
        return [(i, e, orjson.loads(k)) for i, e, k in rows]

    async def fill(self, requests: list[ChatRequest]) -> None:
        """Make sure every request's response is in the cache (or its failure recorded)."""
        keyed: dict[str, ChatRequest] = {}
        for r in requests:
            await self.client.hash_images(r)
            keyed.setdefault(self.client.key(r), r)
        hits = self.client.cache.get_many(list(keyed))
        missing = {k: r for k, r in keyed.items() if k not in hits}
        # resume: batches already submitted for these keys are polled, not sent again
        for batch_id, endpoint, keys in self.pending():
            ours = [k for k in keys if k in missing]
            if ours:
                await self._collect(batch_id, self.client.endpoint(endpoint))
                for k in ours:
                    missing.pop(k, None)
        by_endpoint: dict[str, list[tuple[str, ChatRequest]]] = {}
        for k, r in missing.items():
            by_endpoint.setdefault(r.endpoint, []).append((k, r))
        for name, items in by_endpoint.items():
            ep = self.client.endpoint(name)
            for i in range(0, len(items), self.max_lines):
                batch_id = await self._submit(ep, items[i : i + self.max_lines])
                await self._collect(batch_id, ep)

    async def _submit(self, ep: Endpoint, items: list[tuple[str, ChatRequest]]) -> str:
        await self.client.open_endpoint(ep)  # resolves model and price for the endpoint
        lines = []
        for key, req in items:
            body = orjson.loads(await self.client.request_body(req, ep))
            lines.append(
                orjson.dumps(
                    {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}
                )
            )
        sdk = self._sdk(ep)
        try:
            f = await sdk.files.create(file=("batch.jsonl", b"\n".join(lines) + b"\n"), purpose="batch")
            b = await sdk.batches.create(
                input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        finally:
            await sdk.close()
        now = time.time()
        with self.db:
            self.db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
                (
                    b.id,
                    ep.name,
                    items[0][1].stage,
                    b.status,
                    f.id,
                    orjson.dumps([k for k, _ in items]).decode(),
                    now,
                    now,
                ),
            )
        self._say(b.id, f"submitted {len(items)} requests")
        return b.id

    async def _collect(self, batch_id: str, ep: Endpoint) -> None:
        """Poll until the batch ends, then move its results into the cache and ledger."""
        await self.client.open_endpoint(ep)
        sdk = self._sdk(ep)
        try:
            while True:
                b = await sdk.batches.retrieve(batch_id)
                with self.db:
                    self.db.execute(
                        "UPDATE batches SET status=?, output_file_id=?, error_file_id=?, updated=? "
                        "WHERE id=?",
                        (b.status, b.output_file_id, b.error_file_id, time.time(), batch_id),
                    )
                if b.status in FINAL:
                    break
                self._say(batch_id, b.status)
                await asyncio.sleep(self.poll_interval)
            stage = self.db.execute("SELECT stage FROM batches WHERE id=?", (batch_id,)).fetchone()[0]
            for file_id in (b.output_file_id, b.error_file_id):
                if file_id:
                    content = await sdk.files.content(file_id)
                    self._absorb(content.content, ep, stage)
        finally:
            await sdk.close()
        self.client.flush()
        with self.db:
            status = "collected" if b.status == "completed" else b.status
            self.db.execute("UPDATE batches SET status=? WHERE id=?", (status, batch_id))
        self._say(batch_id, status)

    def _absorb(self, data: bytes, ep: Endpoint, stage: str) -> None:
        c = self.client
        model, price = c.model[ep.name], c.price[ep.name]
        for line in data.splitlines():
            if not line.strip():
                continue
            row = orjson.loads(line)
            key = row.get("custom_id")
            resp = row.get("response") or {}
            body = resp.get("body")
            if resp.get("status_code") == 200 and isinstance(body, dict) and body.get("choices"):
                c.cache.put(key, ep.name, model, body)
                c.ledger.charge(ep.name, stage, model, body.get("usage"), price, batch=True)
            else:
                err = row.get("error") or (body or {}).get("error") or {}
                what = err.get("message") or err.get("code") or resp.get("status_code")
                reason = f"batch request failed: {what}"
                c.failures.append((key, ep.name, stage, reason, None, time.time()))
                c.ledger.line(ep.name, stage, model).failed += 1

    def _say(self, batch_id: str, status: str) -> None:
        if self.on_status is not None:
            self.on_status(batch_id, status)
