"""The one model client: cache → budget → rate limiter → retries → cost ledger.

Every model call in visinstruct goes through `ModelClient`. A stage builds
`ChatRequest`s (the prompt half) and reads `Outcome`s (the parse half); because the raw
response is cached, changing how a stage parses never re-sends a request.

    async with ModelClient([Endpoint(name="llm", model="gpt-4o-mini")], cache="cache.db") as client:
        async for index, outcome in client.stream(requests):
            ...
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import orjson
from pydantic import BaseModel

from visinstruct.aio import run_async
from visinstruct.errors import ReplyError, VisinstructError
from visinstruct.models import replies, structured
from visinstruct.models.cache import ResponseCache
from visinstruct.models.endpoints import Endpoint, Price, price_for
from visinstruct.models.images import ImageEncoder, ImageSpec, image_tokens, sha256_bytes, sha256_file
from visinstruct.models.ledger import Ledger, learned_mode, record_failure, record_mode
from visinstruct.models.limits import Limiter, retry_after_seconds
from visinstruct.models.transport import MalformedResponse, make_transport

# 400s that concern one request only (its image, its length, its content), not the job
PER_REQUEST_400 = {
    "invalid_image",
    "image_parse_error",
    "content_filter",
    "content_policy_violation",
    "context_length_exceeded",
    "invalid_image_url",
    "image_too_large",
}
RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    MalformedResponse,
)
# a reply cut off at max_tokens is asked again with twice the room, up to 4 times the
# original and at most 16k tokens (unless more was asked to begin with)
MORE_ROOM, ROOM_CAP = 4, 16384
# replies that are not JSON, before any that is, which show a server ignores a JSON schema
IGNORED_AFTER = 3


class ModelFatalError(VisinstructError):
    """A request that can never succeed (bad key, unknown model, malformed request): stop the job."""


class BudgetReached(VisinstructError):
    """The recipe's budget is spent; the run continues later with a larger one."""


@dataclass
class ChatRequest:
    """One chat completion to make. Image parts are `{"type": "image", "image": path or bytes}`
    (optionally with `"sha256"`): the client prepares them once and keys the cache on content."""

    messages: list[dict[str, Any]]
    endpoint: str = "default"
    stage: str = "default"
    params: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, top_p, seed, ...
    schema: type[BaseModel] | None = None
    meta: Any = None  # handed back untouched in the outcome
    # the caller's parse half: called with the outcome once the reply (and its schema) is valid;
    # its return value becomes `outcome.value`. Raising `ReplyError` (or anything) makes the
    # reply invalid: one repair re-ask when there is a schema, never cached. Not in the cache key.
    parse: Callable[[Outcome], Any] | None = field(default=None, repr=False, compare=False)
    # the messages already say how to reply (a repair re-ask): no instruction is added
    instructed: bool = field(default=False, repr=False, compare=False)


@dataclass
class Outcome:
    request: ChatRequest
    key: str
    text: str | None = None  # the reply's content (the last one, after a repair)
    value: Any = None  # the validated schema object, or the text when there is no schema
    error: str | None = None  # why there is no value
    cached: bool = False
    usage: dict[str, Any] | None = None
    response: dict[str, Any] | None = None  # the raw chat.completion
    attempts: int = 0
    repaired: bool = False
    skipped: bool = False  # not sent: budget reached
    final: bool = False  # failed in a way no retry can mend (a 400 about this request)
    refused: bool = False  # the model declined (message.refusal or a refusal instead of the payload)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Image:
    source: Any
    sha256: str


class ModelClient:
    """Sends chat requests to named endpoints, fast and frugal, and remembers every answer."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint] | dict[str, Endpoint],
        *,
        cache: ResponseCache | str | os.PathLike[str] | None = None,
        db: sqlite3.Connection | None = None,
        budget_usd: float | None = None,
        prices: dict[str, Price] | None = None,
        encoder: ImageEncoder | None = None,
        seed: int = 0,
        batch_poll_interval: float = 30.0,
    ) -> None:
        eps = list(endpoints.values()) if isinstance(endpoints, dict) else list(endpoints)
        self.endpoints = {e.name: e for e in eps}
        self.cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache)
        self.db = db
        self.ledger = Ledger()
        if db is not None:
            self.ledger.prior_cost = Ledger.load_total(db)
        self.budget = budget_usd
        self.prices = prices
        self.encoder = encoder
        self._own_encoder = encoder is None
        self.rng = random.Random(seed)
        self.batch_poll_interval = batch_poll_interval
        self.transports: dict[str, Any] = {}
        self.limiters: dict[str, Limiter] = {}
        self.price: dict[str, Price] = {}
        self.model: dict[str, str] = {}
        self.inflight: dict[str, asyncio.Future[Outcome]] = {}
        self.reserved = 0.0  # estimated cost of requests in flight, held against the budget
        self.fatal: ModelFatalError | None = None
        self.budget_hit = False
        self.failures: list[tuple] = []
        self._file_hashes: dict[tuple[str, int, int], str] = {}
        self.sent = 0
        # structured mode per endpoint when the server was found to ignore the configured one
        self.modes: dict[str, str] = {}
        self.mode_notes: list[tuple] = []
        self._json_replies: dict[str, list[int]] = {}  # endpoint: [bare JSON, other] in json_schema mode
        self._flusher: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------
    async def __aenter__(self) -> ModelClient:
        self.start()
        return self

    def start(self) -> ModelClient:
        """Begin persisting answers, failures and spend every half second (needs a running loop)."""
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        for t in self.transports.values():
            await t.close()
        self.transports.clear()
        if self.encoder is not None and self._own_encoder:
            self.encoder.close()
            self.encoder = None
        self.flush()

    def flush(self) -> None:
        """Persist buffered responses, failures and spend (also runs every half second)."""
        self.cache.flush()
        if self.db is not None:
            with self.db:
                for row in self.failures:
                    record_failure(self.db, *row)
                for row in self.mode_notes:
                    record_mode(self.db, *row)
            self.failures.clear()
            self.mode_notes.clear()
            self.ledger.save(self.db)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.flush()

    def endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise VisinstructError(
                f"no endpoint named {name!r} (have: {', '.join(self.endpoints)})"
            ) from None

    async def open_endpoint(self, ep: Endpoint) -> Any:
        t = self.transports.get(ep.name)
        if t is None:
            t = make_transport(ep)
            await t.open()
            self.transports[ep.name] = t
            self.limiters[ep.name] = Limiter(ep.max_in_flight, ep.rpm, ep.tpm, probe=ep.probes_limits())
            self.price[ep.name] = price_for(ep, self.prices)
            self.model[ep.name] = ep.resolved_model()
            if self.db is not None and ep.name not in self.modes:
                learned = learned_mode(
                    self.db, ep.name, self.model[ep.name], ep.location(), ep.structured_mode()
                )
                if learned is not None:
                    self.modes[ep.name] = learned
        return t

    def mode(self, ep: Endpoint) -> str:
        """The structured mode requests to `ep` are sent in: the configured one, unless the
        server was found to ignore it."""
        return self.modes.get(ep.name) or ep.structured_mode()

    # -- keys -----------------------------------------------------------------------------
    def key(self, req: ChatRequest) -> str:
        """The cache key: model, messages (images by content hash and preparation), params, schema."""
        ep = self.endpoint(req.endpoint)
        spec = (ep.image_max_side, ep.image_format, ep.image_detail)
        messages = (
            [self._key_message(m, spec) for m in req.messages] if _has_images(req.messages) else req.messages
        )
        schema = structured.schema_text(req.schema) if req.schema is not None else None
        mode = ep.structured_mode() if req.schema is not None else None
        blob = orjson.dumps(
            [ep.resolved_model(), messages, req.params, schema, mode], option=orjson.OPT_SORT_KEYS
        )
        return hashlib.sha256(blob).hexdigest()

    @staticmethod
    def _key_message(m: dict, spec: tuple) -> dict:
        content = m.get("content")
        if not isinstance(content, list):
            return m
        parts = []
        for p in content:
            if p.get("type") == "image":
                parts.append({"type": "image", "sha256": _image(p).sha256, "prep": list(spec)})
            elif p.get("type") == "image_url":
                url = p["image_url"]["url"]
                h = hashlib.sha256(url.encode()).hexdigest() if url.startswith("data:") else url
                parts.append({"type": "image_url", "ref": h, "detail": p["image_url"].get("detail")})
            else:
                parts.append(p)
        return {**m, "content": parts}

    # -- estimating -----------------------------------------------------------------------
    async def estimate(self, requests: Iterable[ChatRequest]) -> list[Estimate]:
        """What a job would send, before anything is sent: requests not already cached,
        tokens in (text at ~4 characters a token, images by the tile rule) and out
        (`max_tokens`, else 256), and their cost, per endpoint and stage."""
        lines: dict[tuple[str, str], Estimate] = {}
        batch: list[ChatRequest] = []

        def count(chunk: list[ChatRequest]) -> None:
            keys = [self.key(r) for r in chunk]
            hits = self.cache.get_many(keys)
            for r, k in zip(chunk, keys, strict=True):
                ep = self.endpoint(r.endpoint)
                est = lines.setdefault((ep.name, r.stage), Estimate(ep.name, r.stage, ep.resolved_model()))
                if k in hits:
                    est.cached += 1
                    continue
                tin, tout = est_in(r, ep), int(r.params.get("max_tokens") or 256)
                price = price_for(ep, self.prices)
                est.requests += 1
                est.input_tokens += tin
                est.output_tokens += tout
                est.cost_usd += (price.input * tin + price.output * tout) / 1e6 * (0.5 if ep.batch else 1.0)

        for r in requests:
            await self.hash_images(r)
            batch.append(r)
            if len(batch) >= 500:
                count(batch)
                batch = []
        count(batch)
        return list(lines.values())

    # -- running --------------------------------------------------------------------------
    async def run(self, requests: Iterable[ChatRequest]) -> list[Outcome]:
        """Every request's outcome, in request order. Requests to a `batch: true` endpoint go
        through the Batch API first (their answers land in the cache), then read as cached."""
        requests = list(requests)
        await self.fill(r for r in requests if self.endpoint(r.endpoint).collected())
        out: dict[int, Outcome] = {}
        async for i, o in self.stream(requests):
            out[i] = o
        return [out[i] for i in range(len(out))]

    async def fill(self, requests: Iterable[ChatRequest]) -> None:
        """Send the requests to endpoints that take a job's requests at once (`collected()`):
        Batch API endpoints as batches, `vllm-offline` endpoints as a Ray Data job. Their
        answers land in the cache and the ledger; reading them afterwards (`stream`,
        `complete`) validates them like any cached reply."""
        batched, offline = [], []
        for r in requests:
            ep = self.endpoint(r.endpoint)
            (offline if ep.offline else batched if ep.batch else []).append(r)
        if batched:
            from visinstruct.models.batch import BatchRunner

            if self.db is None:
                raise VisinstructError("Batch API mode needs a run directory to remember its batches")
            await BatchRunner(self, self.db, poll_interval=self.batch_poll_interval).fill(batched)
        if offline:
            from visinstruct.models.offline import OfflineRunner

            await OfflineRunner(self).fill(offline)

    def map(self, requests: Iterable[ChatRequest]) -> list[Outcome]:
        """`run` for synchronous callers (opens and closes the client)."""

        async def go() -> list[Outcome]:
            async with self:
                return await self.run(requests)

        return run_async(go())

    async def stream(
        self, requests: Iterable[ChatRequest], chunk: int = 256
    ) -> AsyncIterator[tuple[int, Outcome]]:
        """(index, outcome) as they finish. At most a few windows' worth of requests are
        alive at once, so a million requests take no more memory than a thousand."""
        done: asyncio.Queue[asyncio.Task[tuple[int, Outcome]] | None] = asyncio.Queue()
        live = asyncio.Semaphore(max(64, 2 * sum(e.max_in_flight for e in self.endpoints.values())))
        tasks: set[asyncio.Task[tuple[int, Outcome]]] = set()

        def finished(t: asyncio.Task[tuple[int, Outcome]]) -> None:
            live.release()
            done.put_nowait(t)

        async def produce() -> None:
            batch: list[tuple[int, ChatRequest]] = []
            for item in enumerate(requests):
                batch.append(item)
                if len(batch) >= chunk:
                    await submit(batch)
                    batch = []
            if batch:
                await submit(batch)

        async def submit(batch: list[tuple[int, ChatRequest]]) -> None:
            for _, req in batch:  # content hashes of images given as paths, off the loop
                await self.hash_images(req)
            keyed = [(i, r, self.key(r)) for i, r in batch]
            hits = self.cache.get_many([k for _, _, k in keyed])
            for i, r, k in keyed:
                await live.acquire()
                t = asyncio.create_task(self._one(i, r, k, hits.get(k)))
                tasks.add(t)
                t.add_done_callback(finished)

        producer = asyncio.create_task(produce())
        try:
            while True:
                if producer.done() and not tasks:
                    producer.result()
                    break
                getter = asyncio.ensure_future(done.get())
                waits = {getter} if producer.done() else {getter, producer}
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    if producer.done() and producer.exception() is not None:
                        producer.result()
                    continue
                t = getter.result()
                tasks.discard(t)
                yield t.result()  # a fatal error propagates here
        finally:
            producer.cancel()
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self.flush()

    async def hash_images(self, req: ChatRequest) -> None:
        """Content hashes of image parts, for the cache key: bytes hashed here, files in a
        thread, each file once per (path, size, mtime)."""
        for m in req.messages:
            content = m.get("content")
            if isinstance(content, list):
                for p in content:
                    if p.get("type") == "image" and "sha256" not in p:
                        src = p["image"]
                        if isinstance(src, bytes):
                            p["sha256"] = sha256_bytes(src)
                            continue
                        st = os.stat(src)
                        stamp = (str(src), st.st_size, st.st_mtime_ns)
                        sha = self._file_hashes.get(stamp)
                        if sha is None:
                            sha = self._file_hashes[stamp] = await asyncio.to_thread(sha256_file, src)
                        p["sha256"] = sha

    async def complete(self, req: ChatRequest) -> Outcome:
        """One request's outcome (cache, sharing of identical requests in flight, limits, retries)."""
        await self.hash_images(req)
        key = self.key(req)
        _, out = await self._one(0, req, key, self.cache.get(key))
        return out

    async def _one(self, index: int, req: ChatRequest, key: str, hit: dict | None) -> tuple[int, Outcome]:
        ep = self.endpoint(req.endpoint)
        if hit is not None:
            out = Outcome(req, key, cached=True)
            self._read(out, hit)
            reason = out.error or self._check(out)
            if reason is None:
                self.ledger.line(ep.name, req.stage, ep.resolved_model()).cached += 1
                return index, out
            self.cache.drop(key)  # an answer that no longer parses is asked again
        shared = self.inflight.get(key)
        if shared is not None:  # the same request is already on its way: share its answer
            first = await asyncio.shield(shared)
            out = Outcome(
                req,
                key,
                text=first.text,
                error=first.error,
                cached=True,
                usage=first.usage,
                response=first.response,
                final=first.final,
                skipped=first.skipped,
            )
            if out.error is None:  # the sharer's own parse half, on the same reply
                out.error = self._check(out)
            return index, out
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.inflight[key] = fut
        try:
            out = await self._fetch(req, key)
            if out.error is None and out.response is not None:
                await self._accept(out)
            fut.set_result(out)
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: sharers re-raise it themselves
            raise
        finally:
            self.inflight.pop(key, None)
        if out.error is not None and not out.skipped:
            self.failures.append((key, req.endpoint, req.stage, out.error, out.text, time.time()))
            self.ledger.line(ep.name, req.stage, ep.resolved_model()).failed += 1
        return index, out

    def _read(self, out: Outcome, response: dict) -> None:
        out.response = response
        out.usage = response.get("usage")
        try:
            out.text = response["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError):
            out.error = "the response has no message content"

    def _check(self, out: Outcome) -> str | None:
        """Why the reply cannot be used (cut off, refused, schema, then the caller's parse
        half), or None; sets `value`."""
        req = out.request
        cut = _cut_off(out.response)
        if cut is not None:
            return cut
        refusal = _refusal(out.response)
        if refusal is not None:
            out.refused = True
            return f"the model refused: {refusal}"
        if req.schema is not None:
            ep = self.endpoints.get(req.endpoint)
            mode = self.mode(ep) if ep is not None else "json_schema"
            value, reason = structured.parse(out.text, req.schema, mode)
            if value is None:
                said = replies.refusal(out.text)
                if said is not None:
                    out.refused = True
                    return f"the model refused: {said}"
                return reason
            out.value = value
        else:
            out.value = out.text
        if req.parse is not None:
            try:
                out.value = req.parse(out)
            except ReplyError as e:
                return str(e)
            except Exception as e:  # the reply broke the parser: the reply is unusable, not the run
                return f"the reply could not be read ({type(e).__name__}: {e})"
        return None

    async def _accept(self, out: Outcome) -> None:
        """Keep a fetched reply only if it is valid: cached then, else one repair re-ask for a
        schema, else a failure that the next run asks again (nothing invalid is cached)."""
        req = out.request
        ep = self.endpoint(req.endpoint)
        if _cut_off(out.response) is not None:
            await self._more_room(out)
            if out.error is not None:
                return
        reason = self._check(out)
        if out.refused:  # declined: not cached, no re-ask now; the next run asks again
            out.error = reason
            return
        if req.schema is not None:
            self._learn_mode(ep, out.text)
        if reason is None:
            self.cache.put(out.key, ep.name, self.model[ep.name], out.response)
            return
        if req.schema is None:
            out.error = f"unusable reply: {reason}"
            return
        fix = ChatRequest(
            structured.repair_messages(req.messages, out.text or "", reason, req.schema, self.mode(ep)),
            req.endpoint,
            req.stage,
            req.params,
            req.schema,
            req.meta,
            req.parse,
            instructed=True,
        )
        fix_key = self.key(fix)
        out.repaired = True
        hit = self.cache.get(fix_key)
        second = Outcome(fix, fix_key, cached=hit is not None)
        if hit is not None:
            self._read(second, hit)
        else:
            second = await self._fetch(fix, fix_key)
        if second.error is not None:
            out.error = f"invalid structured output ({reason}); the repair failed: {second.error}"
            out.final = second.final
            return
        reason2 = self._check(second)
        out.text = second.text
        if second.refused:
            out.refused, out.error = True, reason2
            return
        self._learn_mode(ep, second.text)
        if reason2 is not None:
            out.error = f"invalid structured output after one repair: {reason2}"
            return
        out.value, out.response, out.usage = second.value, second.response, second.usage
        # the repaired answer stands for the request: a re-run reads it instead of asking again
        self.cache.put(fix_key, ep.name, self.model[ep.name], second.response)
        self.cache.put(out.key, ep.name, self.model[ep.name], second.response)

    async def _more_room(self, out: Outcome) -> None:
        """A reply cut off at max_tokens is asked again with twice the room, up to `MORE_ROOM`
        times the original (and `ROOM_CAP`); still cut off, it fails (not cached: the next run
        asks again). A server refusing the larger request fails this request only."""
        req = out.request
        name = "max_completion_tokens" if "max_completion_tokens" in req.params else "max_tokens"
        used = int((out.usage or {}).get("completion_tokens") or 0)
        start = int(req.params.get(name) or used or 256)
        limit = min(start * MORE_ROOM, max(start, ROOM_CAP))
        room = start
        ep = self.endpoint(req.endpoint)
        while _cut_off(out.response) is not None and room * 2 <= limit:
            room *= 2
            self.ledger.line(ep.name, req.stage, self.model[ep.name]).retries += 1
            bigger = ChatRequest(
                req.messages, req.endpoint, req.stage, {**req.params, name: room}, req.schema, req.meta
            )
            again = await self._fetch(bigger, out.key, per_request=True)
            if again.error is not None:
                out.error = f"reply cut off at max_tokens ({room // 2}); with {room}: {again.error}"
                out.skipped = again.skipped
                return
            out.text, out.response, out.usage = again.text, again.response, again.usage
        if _cut_off(out.response) is not None:
            out.error = f"reply cut off at max_tokens (still at {room}; asked again with more room)"

    def _learn_mode(self, ep: Endpoint, text: str | None) -> None:
        """Replies that are not JSON in json_schema mode (`IGNORED_AFTER` of them before any
        that is) show the server ignores `response_format`: from then on the endpoint is asked
        in the mode its replies take (the tag format, else JSON described in the prompt), once,
        with a note for `status`. One odd reply from a server that decodes to the schema is
        the model's slip, not the server's."""
        if self.mode(ep) != "json_schema" or ep.name in self.modes:
            return
        form = structured.reply_form(text)
        seen = self._json_replies.setdefault(ep.name, [0, 0])
        seen[form != "json"] += 1
        if seen[0] or seen[1] < IGNORED_AFTER:
            return
        mode = "tags" if form == "tags" else "prompt"
        self.modes[ep.name] = mode
        note = (
            f"{ep.describe()} ignores response_format json_schema (it replied in "
            f"{'the tag format' if form == 'tags' else 'text that is not only JSON'}): now asked with "
            f"structured: {mode} (set the endpoint's `structured:` to another mode to choose one yourself)"
        )
        where = (ep.name, self.model[ep.name], ep.location(), ep.structured_mode())
        self.mode_notes.append((*where, mode, note, time.time()))

    async def _fetch(self, req: ChatRequest, key: str, per_request: bool = False) -> Outcome:
        """Send one request with retries; returns an outcome, raises ModelFatalError.
        `per_request`: a 400 concerns this request only (a larger one than the server takes)."""
        if self.fatal is not None:
            raise self.fatal
        ep = self.endpoint(req.endpoint)
        transport = await self.open_endpoint(ep)
        limiter = self.limiters[ep.name]
        out = Outcome(req, key)
        body = await self.request_body(req, ep)
        est_tokens = _estimate_tokens(req, ep) if (limiter.tokens is not None or self.budget) else 0.0
        est_cost = 0.0
        if self.budget is not None:
            price = self.price[ep.name]
            est_cost = (
                est_tokens * price.input + int(req.params.get("max_tokens") or 512) * price.output
            ) / 1e6
            if self.ledger.total_cost() + self.reserved + est_cost > self.budget:
                self.budget_hit = True
                out.error, out.skipped = f"budget of ${self.budget:g} reached", True
                return out
            self.reserved += est_cost
        try:
            last: Exception | None = None
            for attempt in range(ep.max_retries + 1):
                if self.fatal is not None:
                    raise self.fatal
                out.attempts = attempt + 1
                await limiter.acquire(est_tokens)
                headers = None
                try:
                    self.sent += 1
                    response, headers = await transport.chat(body)
                except openai.RateLimitError as e:
                    limiter.done(e.response.headers, False, est_tokens, None)
                    limiter.throttled(retry_after_seconds(e.response.headers))
                    last = e
                except RETRYABLE as e:
                    h = getattr(getattr(e, "response", None), "headers", None)
                    limiter.done(h, False, est_tokens, None)
                    last = e
                except openai.APIStatusError as e:
                    limiter.done(e.response.headers, False, est_tokens, None)
                    if not (per_request and isinstance(e, openai.BadRequestError)):
                        self._classify(e, ep)
                    out.error = f"{_describe(e)} (not retried)"
                    out.final = True
                    return out
                else:
                    usage = response.get("usage") or {}
                    limiter.done(headers, True, est_tokens, usage.get("total_tokens"))
                    self.ledger.charge(ep.name, req.stage, self.model[ep.name], usage, self.price[ep.name])
                    self._read(out, response)
                    return out
                if attempt < ep.max_retries:
                    self.ledger.line(ep.name, req.stage, self.model[ep.name]).retries += 1
                    await asyncio.sleep(self._backoff(attempt, last))
            out.error = f"gave up after {out.attempts} attempts: {_describe(last)}"
            return out
        finally:
            self.reserved -= est_cost

    def _classify(self, e: openai.APIStatusError, ep: Endpoint) -> None:
        """Raise ModelFatalError when no request to this endpoint can succeed."""
        code = (e.body or {}).get("code") if isinstance(e.body, dict) else None
        if isinstance(e, openai.BadRequestError) and code in PER_REQUEST_400:
            return
        if isinstance(
            e,
            openai.AuthenticationError
            | openai.PermissionDeniedError
            | openai.NotFoundError
            | openai.BadRequestError,
        ):
            hint = ""
            if isinstance(e, openai.AuthenticationError) and ep.api_key_env:
                hint = f"; check the key in {ep.api_key_env}"
            elif isinstance(e, openai.NotFoundError):
                hint = "; check the model name and base_url"
            self.fatal = ModelFatalError(f"{ep.describe()}: {_describe(e)}{hint}")
            raise self.fatal

    def _backoff(self, attempt: int, err: Exception | None) -> float:
        """Retry-After when the server gave one, else exponential backoff with full jitter."""
        if isinstance(err, openai.RateLimitError):
            ra = retry_after_seconds(err.response.headers)
            if ra is not None:
                return ra + self.rng.uniform(0, 0.1 + ra * 0.1)
        return self.rng.uniform(0, min(30.0, 0.25 * 2**attempt))

    async def request_body(self, req: ChatRequest, ep: Endpoint) -> bytes:
        messages = req.messages
        if _has_images(messages):
            messages = [await self._body_message(m, ep) for m in messages]
        body: dict[str, Any] = {"model": self.model[ep.name], "messages": messages, **req.params}
        if req.schema is not None:
            mode = self.mode(ep)
            fmt = structured.response_format(req.schema, mode, strict=ep.strict_schema())
            if fmt is not None:
                body["response_format"] = fmt
            if not req.instructed:
                body["messages"] = structured.with_instruction(messages, req.schema, mode)
        return orjson.dumps(body)

    async def _body_message(self, m: dict, ep: Endpoint) -> dict:
        content = m.get("content")
        if not isinstance(content, list):
            return m
        if self.encoder is None:
            self.encoder = ImageEncoder()
        spec = ImageSpec(max_side=ep.image_max_side, format=ep.image_format, detail=ep.image_detail)
        parts = []
        for p in content:
            if p.get("type") == "image":
                img = _image(p)
                prepared = await self.encoder.prepare(img.source, spec, sha256=img.sha256)
                parts.append(
                    {"type": "image_url", "image_url": {"url": prepared.data_url(), "detail": spec.detail}}
                )
            else:
                parts.append(p)
        return {**m, "content": parts}


def _image(part: dict) -> _Image:
    src = part["image"]
    sha = part.get("sha256")
    if sha is None:
        sha = sha256_bytes(src) if isinstance(src, bytes) else sha256_file(src)
        part["sha256"] = sha
    return _Image(str(src) if isinstance(src, Path) else src, sha)


def _choice(response: dict | None) -> dict:
    try:
        choice = (response or {})["choices"][0]
    except (KeyError, IndexError, TypeError):
        return {}
    return choice if isinstance(choice, dict) else {}


def _cut_off(response: dict | None) -> str | None:
    """Why a reply is incomplete (`finish_reason` "length"), or None."""
    if _choice(response).get("finish_reason") == "length":
        return "reply cut off at max_tokens"
    return None


def _refusal(response: dict | None) -> str | None:
    """The refusal a server reports in `message.refusal` (or by its content filter), or None."""
    if _choice(response).get("finish_reason") == "content_filter":
        return "the server's content filter stopped the reply"
    message = _choice(response).get("message")
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if isinstance(refusal, str) and refusal.strip():
        return refusal.strip()[:200]
    return None


def _has_images(messages: list[dict]) -> bool:
    for m in messages:
        c = m.get("content")
        if isinstance(c, list) and any(p.get("type") in ("image", "image_url") for p in c):
            return True
    return False


@dataclass
class Estimate:
    endpoint: str
    stage: str
    model: str
    requests: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


def est_in(req: ChatRequest, ep: Endpoint) -> int:
    return int(_estimate_tokens(req, ep)) - int(req.params.get("max_tokens") or 256)


def _estimate_tokens(req: ChatRequest, ep: Endpoint) -> float:
    """Prompt tokens (about 4 characters a token, images by OpenAI's tile rule) plus max_tokens."""
    chars, images = 0, 0
    for m in req.messages:
        c = m.get("content")
        if isinstance(c, str):
            chars += len(c)
        elif isinstance(c, list):
            for p in c:
                if p.get("type") == "text":
                    chars += len(p.get("text", ""))
                elif p.get("type") in ("image", "image_url"):
                    side = ep.image_max_side
                    images += image_tokens(side, side, ep.image_detail)
    return chars / 4 + images + int(req.params.get("max_tokens") or 256)


def _describe(e: Exception | None) -> str:
    if e is None:
        return "no attempt made"
    if isinstance(e, openai.APIStatusError):
        return f"HTTP {e.status_code} {type(e).__name__}: {e.message}"
    if isinstance(e, openai.APITimeoutError):
        return "timed out"
    if isinstance(e, MalformedResponse):
        return "malformed response (not a chat completion)"
    return f"{type(e).__name__}: {e}"
