"""A loopback OpenAI-compatible server for the test-suite.

``FakeOpenAI`` runs an ``aiohttp.web`` application on 127.0.0.1 (free port) in a background thread
with its own event loop. It serves deterministic chat completions (plain text, ``json_object`` or
``json_schema`` output generated from the schema), ``/v1/models``, the Files and Batch APIs, and a
``/stats`` endpoint, and it can inject latency, errors, rate limits, malformed bodies, bad content and
hangs, either at random (``random.Random(seed)``) or from an exact ``script``.

    with FakeOpenAI() as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        server.script = ["429", "ok"]
        ...

All settings are plain attributes and may be changed while the server runs; counters are guarded by a
lock and ``snapshot()`` returns a consistent copy.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import math
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["FakeOpenAI", "OUTCOMES", "SchemaFaker", "body_key"]

OUTCOMES = ("ok", "500", "429", "malformed", "bad_content", "timeout", "length")
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
FILE_PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}
BATCH_ENDPOINT = "/v1/chat/completions"
MAX_BODY = 512 * 1024 * 1024
DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(;[^;,]*)*),(?P<payload>.*)$", re.S)
WORDS = (
    "river", "prime", "orbit", "cedar", "vector", "harbor", "quartz", "lantern",
    "meadow", "signal", "copper", "glacier", "falcon", "matrix", "ember", "delta",
    "amber", "basalt", "canyon", "dune", "echo", "fjord", "garnet", "hollow",
    "indigo", "juniper", "kelp", "lagoon", "marble", "nectar", "onyx", "pebble",
    "quiver", "raven", "saffron", "tundra", "umber", "velvet", "willow", "xenon",
    "yarrow", "zephyr", "anchor", "beacon", "cobalt", "drift", "fable", "grove",
    "heron", "island", "jasper", "kite", "lotus", "mosaic", "nimbus", "opal",
    "prism", "ripple", "summit", "thistle", "violet", "walnut", "yonder", "zinc",
)  # fmt: skip
MAX_DEPTH = 5  # schema nesting beyond which optional parts are dropped (recursive models terminate)


def body_key(body: dict | list | str | bytes) -> str:
    """Key of a request body in ``FakeOpenAI.by_key``: sha256 of its canonical JSON (sorted keys)."""
    if isinstance(body, bytes | str):
        body = json.loads(body)
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()


def _digest(*parts: str) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


def _num(*parts: str) -> int:
    return int.from_bytes(_digest(*parts)[:8], "big")


def _words(seed: str, path: str, low: int = 3, high: int = 6) -> str:
    d = _digest(seed, path)
    n = low + d[0] % (high - low + 1)
    words = list(dict.fromkeys(WORDS[b % len(WORDS)] for b in d[1:]))  # distinct words, hash order
    return " ".join(words[:n])


def _sentence(seed: str, path: str) -> str:
    text = _words(seed, path, 8, 14)
    return text[0].upper() + text[1:] + "."


def _error_body(message: str, etype: str = "invalid_request_error", code: str | None = None, param=None):
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


class ApiError(Exception):
    """An OpenAI-style error answer (status + error body)."""

    def __init__(
        self, status: int, message: str, etype: str = "invalid_request_error", code=None, param=None
    ):
        super().__init__(message)
        self.status, self.message, self.etype, self.code, self.param = status, message, etype, code, param

    def body(self) -> dict:
        return _error_body(self.message, self.etype, self.code, self.param)

    def response(self, headers: dict | None = None) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=headers)


def _auth_error() -> ApiError:
    return ApiError(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")


class SchemaFaker:
    """Generates a JSON value valid against a JSON schema (the subset pydantic and typical clients emit).

    Strings are word-based and derived from a hash of ``seed`` and the value's path, so different seeds
    (requests) give different content and the same seed gives the same content.
    """

    def __init__(self, root: dict, seed: str):
        self.root, self.seed = root, seed

    def generate(self) -> Any:
        return self.value(self.root, "$", 0)

    # -- schema plumbing -------------------------------------------------------------------------
    def resolve(self, schema: Any) -> dict:
        if schema is True or schema is None:
            return {}
        if schema is False:
            raise ValueError("schema 'false' admits no value")
        seen = 0
        while "$ref" in schema:
            seen += 1
            if seen > 64:
                raise ValueError("$ref cycle")
            target = self.pointer(schema["$ref"])
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        if "allOf" in schema:
            merged: dict = {k: v for k, v in schema.items() if k != "allOf"}
            for sub in schema["allOf"]:
                sub = self.resolve(sub)
                for k, v in sub.items():
                    if k == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **v}
                    elif k == "required":
                        merged["required"] = list(dict.fromkeys([*merged.get("required", []), *v]))
                    else:
                        merged.setdefault(k, v)
            schema = self.resolve(merged) if "$ref" in merged or "allOf" in merged else merged
        return schema

    def pointer(self, ref: str) -> dict:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref is supported: {ref!r}")
        node: Any = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            node = node[raw.replace("~1", "/").replace("~0", "~")]
        return node

    @staticmethod
    def is_null(schema: Any) -> bool:
        return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("const", 0) is None)

    # -- values ------------------------------------------------------------------------------------
    def value(self, schema: Any, path: str, depth: int) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema and schema["enum"]:
            options = schema["enum"]
            return options[_num(self.seed, path, "enum") % len(options)]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if not self.is_null(s)]
                if not options or (depth > MAX_DEPTH and len(options) < len(schema[key])):
                    return None
                merged = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                return self.value({**merged, **self.resolve(options[0])}, path, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            if not non_null or (depth > MAX_DEPTH and "null" in kind):
                return None
            kind = non_null[0]
        if kind is None:
            if "properties" in schema or "additionalProperties" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            else:
                kind = "string"
        maker = getattr(self, f"make_{kind}", None)
        if maker is None:
            raise ValueError(f"unsupported schema type {kind!r}")
        return maker(schema, path, depth)

    def make_null(self, schema: dict, path: str, depth: int) -> None:
        return None

    def make_boolean(self, schema: dict, path: str, depth: int) -> bool:
        return _num(self.seed, path, "bool") % 2 == 0

    def make_integer(self, schema: dict, path: str, depth: int) -> int:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if schema.get("exclusiveMinimum") is not None:
            lo = max(lo if lo is not None else -math.inf, math.floor(schema["exclusiveMinimum"]) + 1)
        if schema.get("exclusiveMaximum") is not None:
            hi = min(hi if hi is not None else math.inf, math.ceil(schema["exclusiveMaximum"]) - 1)
        lo = math.ceil(lo) if lo is not None else None
        hi = math.floor(hi) if hi is not None else None
        if lo is None and hi is None:
            lo, hi = 0, 100
        elif hi is None:
            hi = lo + 100
        elif lo is None:
            lo = hi - 100
        if hi < lo:
            return lo
        step = schema.get("multipleOf")
        n = _num(self.seed, path, "int")
        if isinstance(step, int) and step > 0:
            first, last = -(-lo // step), hi // step
            return (first + n % (last - first + 1)) * step if last >= first else lo
        return lo + n % (hi - lo + 1)

    def make_number(self, schema: dict, path: str, depth: int) -> float:
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        if lo is None and hi is None:
            lo, hi = 0.0, 100.0
        elif hi is None:
            hi = lo + 100.0
        elif lo is None:
            lo = hi - 100.0
        frac = (_num(self.seed, path, "num") % 10_000) / 10_000
        exact = lo + (hi - lo) * (0.05 + 0.9 * frac)
        rounded = round(exact, 2)

        def ok(v: float) -> bool:
            return (
                v >= schema.get("minimum", -math.inf)
                and v <= schema.get("maximum", math.inf)
                and v > schema.get("exclusiveMinimum", -math.inf)
                and v < schema.get("exclusiveMaximum", math.inf)
            )

        return rounded if ok(rounded) else exact

    def make_string(self, schema: dict, path: str, depth: int) -> str:
        fmt = schema.get("format")
        d = _digest(self.seed, path, "fmt")
        word = WORDS[d[0] % len(WORDS)]
        if fmt == "date-time":
            return f"2024-{1 + d[1] % 12:02d}-{1 + d[2] % 28:02d}T{d[3] % 24:02d}:{d[4] % 60:02d}:00Z"
        if fmt == "date":
            return f"2024-{1 + d[1] % 12:02d}-{1 + d[2] % 28:02d}"
        if fmt == "time":
            return f"{d[3] % 24:02d}:{d[4] % 60:02d}:00"
        if fmt == "email":
            return f"{word}{d[5]}@example.com"
        if fmt in ("uri", "url", "iri"):
            return f"https://example.com/{word}/{d[5]}"
        if fmt == "uuid":
            h = d[:16].hex()
            return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
        text = _words(self.seed, path)
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        extra = 0
        while len(text) < lo:
            extra += 1
            text += " " + _words(self.seed, f"{path}+{extra}")
        if hi is not None and len(text) > hi:
            text = text[:hi].rstrip() if len(text[:hi].rstrip()) >= lo else text[:hi]
        return text

    def make_array(self, schema: dict, path: str, depth: int) -> list:
        prefix = schema.get("prefixItems")
        if prefix:
            return [self.value(s, f"{path}[{i}]", depth + 1) for i, s in enumerate(prefix)]
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        n = lo if depth > MAX_DEPTH else max(lo, 2 if hi is None else min(hi, 2))
        items_schema = schema.get("items", {"type": "string"})
        out: list = []
        seen: set[str] = set()
        for i in range(n):
            item, key = None, None
            for attempt in range(32):  # distinct items: retry with a salted path on collision
                item = self.value(
                    items_schema, f"{path}[{i}]" + (f"~{attempt}" if attempt else ""), depth + 1
                )
                key = json.dumps(item, sort_keys=True)
                if key not in seen:
                    break
            seen.add(key)
            out.append(item)
        return out

    def make_object(self, schema: dict, path: str, depth: int) -> dict:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        out = {}
        for name, sub in props.items():
            if depth > MAX_DEPTH and name not in required:
                continue
            out[name] = self.value(sub, f"{path}.{name}", depth + 1)
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and extra:
            count = max(schema.get("minProperties", 0), 0 if depth > MAX_DEPTH else 1)
            for i in range(count):
                name = WORDS[_num(self.seed, path, "key", str(i)) % len(WORDS)] + str(i)
                out[name] = self.value(extra, f"{path}.{name}", depth + 1)
        return out


class TokenBucket:
    """rpm/60 requests per second, up to ``burst_s`` seconds' worth at once."""

    def __init__(self, rpm: float, burst_s: float = 1.0):
        self.rpm = rpm
        self.rate = rpm / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.tokens, self.stamp = self.capacity, time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> float:
        """0.0 if a request may pass (and takes a token), else the seconds until one may."""
        self.refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class FakeOpenAI:
    """Loopback OpenAI-compatible server; see the module docstring."""

    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        models: list[str] | tuple[str, ...] = ("fake-model", "fake-vlm"),
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        fail_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        malformed_rate: float = 0.0,
        bad_content_rate: float = 0.0,
        timeout_rate: float = 0.0,
        hang: float = 30.0,
        retry_after: float = 1,
        rpm: float | None = None,
        tpm: int = 10_000_000,
        batch_polls_to_complete: int = 2,
        batch_fail_rate: float = 0.0,
        require_json_word: bool = True,
        responder: Callable[[dict], str | None] | None = None,
    ):
        self.api_key = api_key
        self.models = list(models)
        self.seed = seed
        self.host, self.port = host, port
        # failure injection (read on every request; change any time)
        self.latency = latency
        self.fail_rate = fail_rate
        self.rate_limit_rate = rate_limit_rate
        self.malformed_rate = malformed_rate
        self.bad_content_rate = bad_content_rate
        self.timeout_rate = timeout_rate
        self.hang = hang
        self.retry_after = retry_after
        self.rpm = rpm
        self.tpm = tpm
        self.script: list[str] = []
        self.batch_polls_to_complete = batch_polls_to_complete
        self.batch_fail_rate = batch_fail_rate
        self.require_json_word = require_json_word
        self.responder = responder
        # per choice, after its content is made: (request body, choice) -> overrides of the choice's
        # "content", "finish_reason" and "refusal" (a dict), or None to keep it as made
        self.reply_hook: Callable[[dict, dict], dict | None] | None = None
        # stored objects (persist across clients and across stop()/start())
        self.files: dict[str, dict] = {}
        self.file_data: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self._batch_polls: dict[str, int] = {}
        # counters
        self._lock = threading.RLock()
        self.requests = 0
        self.ok = 0
        self.by_status: Counter[int] = Counter()
        self.by_key: Counter[str] = Counter()
        self.images: list[tuple[str, int | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.batch_lines = 0
        self.last_request: dict | None = None
        self._rng = random.Random(seed)
        self._bucket: TokenBucket | None = None
        # runtime
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> FakeOpenAI:
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._run_loop, args=(loop,), name="fake-openai", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._astart(), loop).result(timeout=10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._astop(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = self._thread = self._runner = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def _astart(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._errors_middleware])
        r = app.router
        for prefix in ("/v1", ""):
            r.add_post(f"{prefix}/chat/completions", self._chat)
            r.add_get(f"{prefix}/models", self._models)
            r.add_get(f"{prefix}/models/{{model}}", self._model)
        r.add_post("/v1/files", self._file_create)
        r.add_get("/v1/files", self._file_list)
        r.add_get("/v1/files/{file_id}", self._file_get)
        r.add_delete("/v1/files/{file_id}", self._file_delete)
        r.add_get("/v1/files/{file_id}/content", self._file_content)
        r.add_post("/v1/batches", self._batch_create)
        r.add_get("/v1/batches", self._batch_list)
        r.add_get("/v1/batches/{batch_id}", self._batch_get)
        r.add_post("/v1/batches/{batch_id}/cancel", self._batch_cancel)
        r.add_get("/stats", self._stats)
        r.add_post("/stats/reset", self._stats_reset)
        r.add_post("/config", self._config)
        self.add_routes(r)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """More routes for a subclass (called once, before the server starts)."""

    async def _astop(self) -> None:
        assert self._closing is not None
        self._closing.set()  # wakes hanging / sleeping handlers
        if self._runner is not None:
            await self._runner.cleanup()
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        for t in rest:
            t.cancel()
        if rest:
            await asyncio.gather(*rest, return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that ends early when the server stops."""
        if seconds <= 0 or self._closing is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # -- counters ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Zeroes the counters, clears ``script`` and reseeds the random generator (stored files and
        batches are kept)."""
        with self._lock:
            self.requests = self.ok = self.batch_lines = 0
            self.max_in_flight = self.in_flight
            self.by_status.clear()
            self.by_key.clear()
            self.images.clear()
            self.script.clear()
            self.last_request = None
            self._rng = random.Random(self.seed)
            self._bucket = None

    def snapshot(self) -> dict:
        """A consistent, JSON-able copy of the counters (also served by ``GET /stats``)."""
        with self._lock:
            return {
                "requests": self.requests,
                "ok": self.ok,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "by_key": dict(self.by_key),
                "images": [list(x) for x in self.images],
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "batch_lines": self.batch_lines,
                "files": len(self.files),
                "batches": len(self.batches),
                "script_left": len(self.script),
            }

    def max_successes(self) -> int:
        """The largest number of 200 "ok" answers given to one distinct request body (1 = no repeats)."""
        with self._lock:
            return max(self.by_key.values(), default=0)

    key_of = staticmethod(body_key)

    # -- aiohttp plumbing --------------------------------------------------------------------------
    @web.middleware
    async def _errors_middleware(self, request: web.Request, handler):
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            msg = (
                f"Unknown request URL: {request.method} {request.path}."
                if exc.status in (404, 405)
                else exc.reason
            )
            return web.json_response(_error_body(msg, code="unknown_url"), status=exc.status)
        except Exception as exc:  # a bug here or in a responder: answer like OpenAI, keep serving
            return web.json_response(_error_body(f"fake server error: {exc!r}", "server_error"), status=500)

    def _check_auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            raise _auth_error()

    @staticmethod
    async def _json_body(request: web.Request) -> Any:
        raw = await request.read()
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None

    def _limit_headers(self) -> dict[str, str]:
        if not self.rpm:
            return {}
        bucket = self._get_bucket()
        bucket.refill()
        reset_ms = max(0, int((bucket.capacity - bucket.tokens) / bucket.rate * 1000))
        return {
            "x-ratelimit-limit-requests": str(int(self.rpm)),
            "x-ratelimit-remaining-requests": str(int(bucket.tokens)),
            "x-ratelimit-reset-requests": f"{reset_ms}ms",
            "x-ratelimit-limit-tokens": str(int(self.tpm)),
            "x-ratelimit-remaining-tokens": str(int(self.tpm)),
        }

    def _get_bucket(self) -> TokenBucket:
        with self._lock:
            if self._bucket is None or self._bucket.rpm != self.rpm:
                self._bucket = TokenBucket(float(self.rpm))
            return self._bucket

    # -- chat ----------------------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        status, key = 500, None
        try:
            try:
                resp, key = await self._chat_inner(request)
            except ApiError as exc:
                resp = exc.response()
            status = resp.status
            gone = request.transport is None or request.transport.is_closing()
            if status == 200 and gone:
                status, key = 499, None  # the client gave up (e.g. timed out) before the answer
            resp.headers.update(self._limit_headers())
            resp.headers.setdefault("x-request-id", "req_" + secrets.token_hex(12))
            return resp
        finally:
            with self._lock:
                self.in_flight -= 1
                self.by_status[status] += 1
                if status == 200 and key is not None:
                    self.ok += 1
                    self.by_key[key] += 1

    async def _chat_inner(self, request: web.Request) -> tuple[web.Response, str | None]:
        """(response, body key if it is a genuine success else None)."""
        self._check_auth(request)
        req = await self._json_body(request)
        info = self.validate_chat(req)
        with self._lock:
            self.last_request = req
            self.images.extend(info["images"])
        if self.rpm:
            wait = self._get_bucket().take()
            if wait > 0:
                ms = math.ceil(wait * 1000)
                return self._rate_limited(ms, f"Rate limit reached for requests: {self.rpm:g} per min."), None
        outcome = self._next_outcome()
        if outcome == "429":
            return self._rate_limited(round(self.retry_after * 1000), "Rate limit reached (injected)."), None
        await self._sleep(self.latency)
        if outcome == "timeout":
            await self._sleep(self.hang)
        if outcome == "500":
            body = _error_body(
                "The server had an error while processing your request. Sorry about that!", "server_error"
            )
            return web.json_response(body, status=500), None
        if outcome not in OUTCOMES:
            body = _error_body(
                f"unknown script entry {outcome!r}; expected one of {OUTCOMES}", "server_error"
            )
            return web.json_response(body, status=500), None
        payload = self.completion(req, info, outcome)
        if outcome == "malformed":
            text = json.dumps(payload)
            return web.Response(text=text[: len(text) // 2], content_type="application/json"), None
        good = outcome in ("ok", "timeout")
        return web.json_response(payload), body_key(req) if good else None

    def _rate_limited(self, ms: int, message: str) -> web.Response:
        ms = max(1, int(ms))
        headers = {"retry-after": str(max(1, math.ceil(ms / 1000))), "retry-after-ms": str(ms)}
        body = _error_body(f"{message} Please try again in {ms}ms.", "requests", "rate_limit_exceeded")
        return web.json_response(body, status=429, headers=headers)

    def _next_outcome(self) -> str:
        with self._lock:
            if self.script:
                return str(self.script.pop(0))
            r = self._rng.random()
        acc = 0.0
        for outcome, rate in (
            ("500", self.fail_rate),
            ("429", self.rate_limit_rate),
            ("malformed", self.malformed_rate),
            ("bad_content", self.bad_content_rate),
            ("timeout", self.timeout_rate),
        ):
            acc += rate
            if r < acc:
                return outcome
        return "ok"

    def validate_chat(self, req: Any) -> dict:
        """Checks a chat request like OpenAI does; raises ApiError. Returns {text_chars, images, seed}."""
        if not isinstance(req, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        model = req.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "you must provide a model parameter", param="model")
        if model not in self.models:
            raise ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty array.", param="messages")
        if req.get("stream"):
            raise ApiError(400, "stream=true is not supported by the fake server.", param="stream")
        n = req.get("n", 1)
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128):
            raise ApiError(400, "'n' must be an integer between 1 and 128.", param="n")
        chars, images, seeds = 0, [], {}
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or msg.get("role") not in ROLES:
                raise ApiError(
                    400, f"Invalid message at messages[{i}]: needs a valid 'role'.", param=f"messages[{i}]"
                )
            content = msg.get("content")
            parts_text, seed_parts = [], []
            if isinstance(content, str):
                parts_text.append(content)
            elif isinstance(content, list):
                for j, part in enumerate(content):
                    where = f"messages[{i}].content[{j}]"
                    kind = part.get("type") if isinstance(part, dict) else None
                    if kind in ("text", "refusal"):
                        text = part.get(kind)
                        if not isinstance(text, str):
                            raise ApiError(400, f"'{where}.{kind}' must be a string.", param=where)
                        parts_text.append(text)
                    elif kind == "image_url":
                        detail, size, url = self._check_image(part.get("image_url"), where)
                        images.append((detail, size))
                        seed_parts.append(hashlib.sha1(url.encode()).hexdigest())
                    elif kind in ("input_audio", "file"):
                        seed_parts.append(json.dumps(part, sort_keys=True)[:256])
                    else:
                        raise ApiError(400, f"Invalid content part type {kind!r} at {where}.", param=where)
            elif content is None:
                if msg["role"] != "assistant":
                    raise ApiError(400, f"messages[{i}].content is required.", param=f"messages[{i}].content")
            else:
                raise ApiError(
                    400, f"messages[{i}].content must be a string or an array.", param=f"messages[{i}]"
                )
            chars += sum(len(t) for t in parts_text)
            seeds[i] = "\n".join(parts_text + seed_parts)
        self._check_response_format(req)
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        seed = seeds[users[-1] if users else len(messages) - 1]  # the last user message (text + images)
        return {"text_chars": chars, "images": images, "seed": seed}

    @staticmethod
    def _check_image(image: Any, where: str) -> tuple[str, int | None, str]:
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise ApiError(400, f"'{where}.image_url' must be an object with a 'url'.", param=where)
        url, detail = image["url"], image.get("detail", "auto")
        if url.startswith(("http://", "https://")):
            return str(detail), None, url
        m = DATA_URL.match(url)
        if not m or ";base64" not in m["params"] or not m["mime"].startswith("image/"):
            raise ApiError(
                400, f"Invalid image URL at {where}: expected data:image/...;base64,...", param=where
            )
        try:
            data = base64.b64decode(m["payload"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                400, f"Invalid base64 image_url at {where}.", param=where, code="invalid_image"
            ) from None
        if not data:
            raise ApiError(400, f"Empty image at {where}.", param=where, code="invalid_image")
        return str(detail), len(data), url

    def _check_response_format(self, req: dict) -> None:
        rf = req.get("response_format")
        if rf is None:
            return
        kind = rf.get("type") if isinstance(rf, dict) else None
        if kind == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not isinstance(js.get("schema"), dict):
                raise ApiError(
                    400, "response_format.json_schema.schema must be an object.", param="response_format"
                )
        elif kind == "json_object":
            if self.require_json_word and "json" not in json.dumps(req["messages"]).lower():
                raise ApiError(
                    400,
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                    "'json_object'.",
                    param="messages",
                )
        elif kind != "text":
            raise ApiError(400, f"Invalid response_format type {kind!r}.", param="response_format")

    def default_content(self, req: dict, seed: str) -> str:
        """The deterministic content the server answers when no responder overrides it."""
        rf = req.get("response_format") or {}
        kind = rf.get("type")
        if kind == "json_schema":
            return json.dumps(SchemaFaker(rf["json_schema"]["schema"], seed).generate(), ensure_ascii=False)
        if kind == "json_object":
            return json.dumps({"answer": _sentence(seed, "$.answer")})
        return _sentence(seed, "$")

    def completion(self, req: dict, info: dict, outcome: str = "ok") -> dict:
        """A chat.completion for a validated request."""
        choices = []
        for i in range(req.get("n") or 1):
            seed = info["seed"] if i == 0 else f"{info['seed']}#choice{i}"
            content = self.responder(req) if self.responder is not None else None
            if content is None:
                content = self.default_content(req, seed)
            elif not isinstance(content, str):  # a dict/list from the responder is sent as JSON text
                content = json.dumps(content, ensure_ascii=False)
            finish = "stop"
            if outcome == "bad_content":
                content = 'Sure! Here is {broken "' + _words(seed, "$bad")
            elif outcome == "length":
                content, finish = content[: max(1, len(content) // 2)], "length"
            message = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
            choice = {"index": i, "message": message, "logprobs": None, "finish_reason": finish}
            if self.reply_hook is not None:
                change = self.reply_hook(req, choice) or {}
                message.update({k: change[k] for k in ("content", "refusal") if k in change})
                choice["finish_reason"] = change.get("finish_reason", choice["finish_reason"])
            choices.append(choice)
        return self.envelope(req, info, choices)

    @staticmethod
    def envelope(req: dict, info: dict, choices: list[dict]) -> dict:
        """A chat.completion around `choices`, with usage counted from the text (about 4
        characters a token, 85 tokens an image)."""
        prompt = math.ceil(info["text_chars"] / 4) + 85 * len(info["images"])
        completion = sum(
            math.ceil(len(c["message"]["content"] or c["message"].get("refusal") or "") / 4) for c in choices
        )
        return {
            "id": "chatcmpl-" + secrets.token_hex(12),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req["model"],
            "choices": choices,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }

    # -- models --------------------------------------------------------------------------------------
    def _model_object(self, name: str) -> dict:
        return {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}

    async def _models(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        return web.json_response({"object": "list", "data": [self._model_object(m) for m in self.models]})

    async def _model(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        name = request.match_info["model"]
        if name not in self.models:
            raise ApiError(404, f"The model `{name}` does not exist.", code="model_not_found", param="model")
        return web.json_response(self._model_object(name))

    # -- files -------------------------------------------------------------------------------------
    def add_file(self, data: bytes, filename: str, purpose: str) -> dict:
        """Stores a file (as an upload would) and returns its file object."""
        fid = "file-" + secrets.token_hex(12)
        obj = {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }
        with self._lock:
            self.files[fid] = obj
            self.file_data[fid] = data
        return obj

    def _get_file(self, fid: str) -> dict:
        with self._lock:
            obj = self.files.get(fid)
        if obj is None:
            raise ApiError(404, f"No such File object: {fid}", param="id")
        return obj

    async def _file_create(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        if not request.content_type.startswith("multipart/"):
            raise ApiError(400, "Files must be uploaded as multipart/form-data.")
        form = await request.post()
        purpose, upload = form.get("purpose"), form.get("file")
        if not isinstance(purpose, str) or not purpose:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
        if purpose not in FILE_PURPOSES:
            raise ApiError(400, f"Invalid value for 'purpose': {purpose!r}.", param="purpose")
        if not isinstance(upload, web.FileField):
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        data = upload.file.read()
        return web.json_response(self.add_file(data, upload.filename or "upload", purpose))

    async def _file_list(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        purpose = request.query.get("purpose")
        with self._lock:
            data = [f for f in reversed(self.files.values()) if purpose in (None, f["purpose"])]
        return web.json_response(self._page(data, request))

    async def _file_get(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        return web.json_response(self._get_file(request.match_info["file_id"]))

    async def _file_delete(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        fid = request.match_info["file_id"]
        self._get_file(fid)
        with self._lock:
            self.files.pop(fid, None)
            self.file_data.pop(fid, None)
        return web.json_response({"id": fid, "object": "file", "deleted": True})

    async def _file_content(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        fid = request.match_info["file_id"]
        self._get_file(fid)
        with self._lock:
            data = self.file_data[fid]
        return web.Response(body=data, content_type="application/octet-stream")

    @staticmethod
    def _page(data: list[dict], request: web.Request) -> dict:
        after = request.query.get("after")
        if after:
            ids = [d["id"] for d in data]
            data = data[ids.index(after) + 1 :] if after in ids else []
        try:
            limit = int(request.query.get("limit", 20))
        except ValueError:
            raise ApiError(400, "'limit' must be an integer.", param="limit") from None
        page = data[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(data) > limit,
        }

    # -- batches -----------------------------------------------------------------------------------
    def _get_batch(self, bid: str) -> dict:
        with self._lock:
            batch = self.batches.get(bid)
        if batch is None:
            raise ApiError(404, f"No batch found with id '{bid}'.", param="batch_id")
        return batch

    async def _batch_create(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        req = await self._json_body(request)
        if not isinstance(req, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        fid = req.get("input_file_id")
        if not isinstance(fid, str):
            raise ApiError(400, "Missing required parameter: 'input_file_id'.", param="input_file_id")
        self._get_file(fid)
        if req.get("endpoint") != BATCH_ENDPOINT:
            raise ApiError(400, f"Invalid 'endpoint': only {BATCH_ENDPOINT} is supported.", param="endpoint")
        if req.get("completion_window") != "24h":
            raise ApiError(400, "Invalid 'completion_window': must be '24h'.", param="completion_window")
        now = int(time.time())
        batch = {
            "id": "batch_" + secrets.token_hex(12),
            "object": "batch",
            "endpoint": BATCH_ENDPOINT,
            "model": None,
            "errors": None,
            "input_file_id": fid,
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "usage": None,
            "metadata": req.get("metadata"),
        }
        with self._lock:
            self.batches[batch["id"]] = batch
            self._batch_polls[batch["id"]] = 0
        return web.json_response(batch)

    async def _batch_list(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        with self._lock:
            data = list(reversed(self.batches.values()))
        return web.json_response(self._page(data, request))

    async def _batch_get(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        return web.json_response(self.poll_batch(request.match_info["batch_id"]))

    async def _batch_cancel(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        batch = self._get_batch(request.match_info["batch_id"])
        with self._lock:
            if batch["status"] in ("validating", "in_progress"):
                batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
            elif batch["status"] not in ("cancelling", "cancelled"):
                raise ApiError(
                    400, f"Cannot cancel a batch with status '{batch['status']}'.", code="invalid_state"
                )
        return web.json_response(batch)

    def poll_batch(self, bid: str) -> dict:
        """What ``GET /v1/batches/{id}`` does: advances the batch by one poll and returns it."""
        batch = self._get_batch(bid)
        with self._lock:
            now = int(time.time())
            if batch["status"] == "cancelling":
                batch["status"], batch["cancelled_at"] = "cancelled", now
            if batch["status"] not in ("validating", "in_progress"):
                return batch
            self._batch_polls[bid] += 1
            if batch["status"] == "validating":
                lines, errors = self._parse_batch_input(self.file_data.get(batch["input_file_id"], b""))
                if errors:
                    batch.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
                    return batch
                batch.update(status="in_progress", in_progress_at=now)
                batch["request_counts"]["total"] = len(lines)
                batch["model"] = lines[0]["body"].get("model")
            if self._batch_polls[bid] >= self.batch_polls_to_complete:
                lines, _ = self._parse_batch_input(self.file_data.get(batch["input_file_id"], b""))
                self._finish_batch(batch, lines, now)
            return batch

    def _parse_batch_input(self, data: bytes) -> tuple[list[dict], list[dict]]:
        lines, errors, seen = [], [], set()

        def err(code: str, message: str, line: int) -> None:
            errors.append({"code": code, "message": message, "param": None, "line": line})

        for no, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                err("invalid_json_line", "This line is not parseable as valid JSON.", no)
                continue
            if not isinstance(obj, dict) or not {"custom_id", "method", "url", "body"} <= obj.keys():
                err("missing_required_parameter", "Each line needs custom_id, method, url and body.", no)
            elif not isinstance(obj["custom_id"], str) or obj["custom_id"] in seen:
                err("duplicate_custom_id", "custom_id must be a string unique within the batch.", no)
            elif obj["method"] != "POST":
                err("invalid_method", "method must be POST.", no)
            elif obj["url"] != BATCH_ENDPOINT:
                err("invalid_url", f"url must be {BATCH_ENDPOINT}, the batch's endpoint.", no)
            elif not isinstance(obj["body"], dict):
                err("invalid_request", "body must be an object.", no)
            else:
                seen.add(obj["custom_id"])
                lines.append(obj)
        if not lines and not errors:
            err("empty_file", "The batch input file is empty.", 1)
        return lines, errors

    def _finish_batch(self, batch: dict, lines: list[dict], now: int) -> None:
        out, failed = [], []
        usage = {"input_tokens": 0, "output_tokens": 0}
        for line in lines:
            ok, record = self._batch_line(line)
            (out if ok else failed).append(record)
            if ok:
                u = record["response"]["body"]["usage"]
                usage["input_tokens"] += u["prompt_tokens"]
                usage["output_tokens"] += u["completion_tokens"]
            self.batch_lines += 1
        bid = batch["id"]
        if out:
            data = "".join(json.dumps(r) + "\n" for r in out).encode()
            batch["output_file_id"] = self.add_file(data, f"{bid}_output.jsonl", "batch_output")["id"]
        if failed:
            data = "".join(json.dumps(r) + "\n" for r in failed).encode()
            batch["error_file_id"] = self.add_file(data, f"{bid}_error.jsonl", "batch_output")["id"]
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(failed)}
        batch["usage"] = {
            **usage,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        }
        batch.update(status="completed", finalizing_at=now, completed_at=now)

    def _batch_line(self, line: dict) -> tuple[bool, dict]:
        rid, request_id = "batch_req_" + secrets.token_hex(12), "req_" + secrets.token_hex(12)
        record = {"id": rid, "custom_id": line["custom_id"], "response": None, "error": None}
        if self.batch_fail_rate > 0 and self._rng.random() < self.batch_fail_rate:
            record["error"] = {"code": "server_error", "message": "Injected batch line failure."}
            return False, record
        try:
            body = self.completion(line["body"], self.validate_chat(line["body"]))
        except ApiError as exc:
            record["response"] = {"status_code": exc.status, "request_id": request_id, "body": exc.body()}
            return False, record
        except Exception as exc:  # e.g. a responder raising
            body = _error_body(f"fake server error: {exc!r}", "server_error")
            record["response"] = {"status_code": 500, "request_id": request_id, "body": body}
            return False, record
        record["response"] = {"status_code": 200, "request_id": request_id, "body": body}
        return True, record

    # -- stats -------------------------------------------------------------------------------------
    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _stats_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _config(self, request: web.Request) -> web.Response:
        """Change the failure injection of a server running in another process."""
        body = await request.json()
        for name in CONFIGURABLE:
            if name in body:
                setattr(self, name, float(body[name]))
        return web.json_response({name: getattr(self, name) for name in CONFIGURABLE})


CONFIGURABLE = (
    "latency",
    "fail_rate",
    "rate_limit_rate",
    "malformed_rate",
    "bad_content_rate",
    "timeout_rate",
    "retry_after",
)


def main(argv: list[str] | None = None) -> None:
    """Run the server in this process until killed: `python tests/fake_openai.py --port 0`
    prints `LISTENING <port>` (benchmarks and subprocess tests start it so)."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--fail-rate", type=float, default=0.0, help="share answered HTTP 500")
    ap.add_argument(
        "--bad-content-rate", type=float, default=0.0, help="share answered 200 with unparsable text"
    )
    ap.add_argument("--rpm", type=float, default=None, help="requests per minute before a 429")
    a = ap.parse_args(argv)
    server = FakeOpenAI(
        port=a.port,
        rpm=a.rpm,
        seed=a.seed,
        latency=a.latency_ms / 1000,
        fail_rate=a.fail_rate,
        bad_content_rate=a.bad_content_rate,
    ).start()
    print(f"LISTENING {server.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
