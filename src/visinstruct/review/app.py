"""The review server: a token-guarded FastAPI app over one run directory."""

from __future__ import annotations

import html
import ipaddress
import json
import re
import secrets
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers, MutableHeaders

from visinstruct.errors import RunDirError
from visinstruct.review.db import Conflict, Invalid, NotFound, ReviewDB
from visinstruct.review.page import render_page

MAX_BODY = 256 * 1024
COOKIE = "visinstruct_session"
CSRF_HEADER = "x-visinstruct-csrf"
PREFIX = re.compile(r"^/r/[A-Za-z0-9_-]{16,128}$")
IMAGE_ID = re.compile(r"^[0-9a-f]{64}$")
SAMPLE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
MEDIA = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}


def is_loopback(host: str) -> bool:
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _same(a: str | None, b: str) -> bool:
    return a is not None and secrets.compare_digest(a.encode(), b.encode())


def new_prefix() -> str:
    """An unguessable path the whole app lives under: the session cookie is scoped to it, so a
    browser sends that cookie to no other server on the same host (cookies ignore ports)."""
    return "/r/" + secrets.token_urlsafe(24)


def _cookie_values(header: str, name: str) -> list[str]:
    """Every value sent for cookie `name`: another service on this host may set one of the same
    name with a wider Path, and a dict of cookies would keep only one of them."""
    out = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            out.append(value.strip().strip('"'))
    return out


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """Pure ASGI middleware: the path prefix, Host check, token (query on the page, then a session
    cookie; or bearer), CSRF header and Origin on state changes, a request body limit, and
    security headers on every response.

    Three separate secrets: the token (printed, or sent as a bearer), the session value (only ever
    in the cookie) and the CSRF value (only ever in the page); none can be derived from another.
    """

    def __init__(
        self,
        app,
        token: str,
        allowed_hosts: set[str] | None,
        prefix: str,
        session: str,
        csrf: str,
        max_body: int = MAX_BODY,
    ) -> None:
        self.app, self.token, self.allowed_hosts, self.max_body = app, token, allowed_hosts, max_body
        self.prefix, self.session, self.csrf = prefix, session, csrf

    async def _reply(self, send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            await self._reply(send, 404, "not found")  # the same answer for every path outside
            return
        inner = path[len(self.prefix) :] or "/"
        raw = scope.get("raw_path") or b""
        raw = raw[len(self.prefix) :] if raw.startswith(self.prefix.encode()) else quote(inner).encode()
        scope = {**scope, "path": inner, "raw_path": raw or b"/"}
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _host_name(host).lower() not in self.allowed_hosts:
            await self._reply(send, 400, "unexpected Host header")
            return
        authorization = headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        ok = _same(bearer, self.token) or any(
            _same(v, self.session) for v in _cookie_values(headers.get("cookie", ""), COOKIE)
        )
        from_query = False
        method = scope["method"]
        downstream = receive
        if not ok and inner == "/" and method in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            from_query = ok = _same((query.get("token") or [None])[0], self.token)
        if not ok:
            await self._reply(send, 401, "a valid token is required")
            return
        if method not in ("GET", "HEAD", "OPTIONS"):
            if not _same(headers.get(CSRF_HEADER), self.csrf):
                await self._reply(send, 403, "missing or wrong CSRF header")
                return
            origin = headers.get("origin")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                await self._reply(send, 403, "cross-origin request refused")
                return
            if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
                await self._reply(send, 403, "cross-site request refused")
                return
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await self._reply(send, 413, "request body too large")
                return
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await self._reply(send, 413, "request body too large")
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return {"type": "http.disconnect"}

            downstream = replay

        cookie = f"{COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path={self.prefix}"

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("x-content-type-options", "nosniff")
                h.setdefault("referrer-policy", "no-referrer")
                h.setdefault("x-frame-options", "DENY")
                h.setdefault("cache-control", "no-store")
                h.setdefault("content-security-policy", "default-src 'none'; frame-ancestors 'none'")
                if from_query:
                    h.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, downstream, send_with_headers)


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=20_000)
    answer: str = Field(max_length=20_000)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["accept", "reject", "edit"]
    version: int
    reviewer: str | None = Field(None, max_length=100)
    reason: str | None = Field(None, max_length=2000)
    turns: list[TurnIn] | None = Field(None, max_length=50)
    options: list[str] | None = Field(None, max_length=10)
    answer_letter: str | None = Field(None, max_length=1)


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reviewer: str | None = Field(None, max_length=100)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(
    run_dir: str | Path,
    token: str,
    reviewer_default: str = "reviewer",
    *,
    allowed_hosts: Iterable[str] | None = ("localhost", "127.0.0.1", "::1"),
    prefix: str | None = None,
) -> FastAPI:
    """The review app over `run_dir`, served under `prefix` (`/r/<random>`, new if not given;
    `app.state.prefix`). Every request must carry `token`; `allowed_hosts` limits the Host
    header (None turns the check off, e.g. when bound to every interface)."""
    if not token:
        raise ValueError("the review server needs a token")
    prefix = prefix or new_prefix()
    if not PREFIX.match(prefix):
        raise ValueError(f"the review prefix must look like /r/<16+ URL-safe characters>, not {prefix!r}")
    session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    rdb = ReviewDB(run_dir)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, title="visinstruct review")
    app.state.review, app.state.prefix, app.state.csrf = rdb, prefix, csrf
    hosts = {h.lower().strip("[]") for h in allowed_hosts} if allowed_hosts is not None else None
    app.add_middleware(Guard, token=token, allowed_hosts=hosts, prefix=prefix, session=session, csrf=csrf)

    def reviewer_of(name: str | None) -> str:
        name = (name or "").strip()
        return name[:100] if name else reviewer_default

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        body = render_page(
            nonce=nonce,
            csrf=html.escape(csrf),
            base=html.escape(prefix),
            reviewer_default=html.escape(reviewer_default),
        )
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}';"
            " img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none';"
            " frame-ancestors 'none'"
        )
        return HTMLResponse(body, headers={"content-security-policy": csp})

    @app.get("/api/facets")
    def facets() -> dict:
        return rdb.facets()

    @app.get("/api/progress")
    def progress() -> dict:
        return rdb.progress()

    @app.get("/api/samples")
    def samples(
        status: str | None = Query(None, max_length=32),
        domain: str | None = Query(None, max_length=100),
        type: str | None = Query(None, max_length=64),
        check: str | None = Query(None, max_length=64),
        q: str | None = Query(None, max_length=200),
        after: str | None = Query(None, max_length=40),
        limit: int = Query(50, ge=1, le=200),
    ):
        try:
            return rdb.queue(status, domain, type, check, q, after, limit)
        except Invalid as e:
            return _error(400, str(e))

    @app.get("/api/samples/{sample_id}")
    def sample(sample_id: str):
        if not SAMPLE_ID.match(sample_id):
            return _error(404, "no such sample")
        try:
            return rdb.get(sample_id)
        except NotFound:
            return _error(404, "no such sample")

    @app.post("/api/samples/{sample_id}")
    def decide(sample_id: str, body: ActionIn):
        if not SAMPLE_ID.match(sample_id):
            return _error(404, "no such sample")
        try:
            return rdb.act(
                sample_id,
                body.action,
                body.version,
                reviewer_of(body.reviewer),
                reason=body.reason,
                turns=[t.model_dump() for t in body.turns] if body.turns is not None else None,
                options=body.options,
                answer_letter=body.answer_letter,
            )
        except NotFound:
            return _error(404, "no such sample")
        except Invalid as e:
            return _error(400, str(e))
        except Conflict as e:
            return _error(409, e.message, current=e.current)

    @app.post("/api/undo")
    def undo(body: UndoIn):
        try:
            return rdb.undo(reviewer_of(body.reviewer))
        except NotFound:
            return _error(404, "nothing to undo")
        except Conflict as e:
            return _error(409, e.message, current=e.current)

    @app.get("/images/{image_id}")
    def image(image_id: str):
        if not IMAGE_ID.match(image_id):
            return _error(404, "no such image")
        try:
            with rdb.lock:
                rec = rdb.store.image(image_id)
                path = rdb.store.image_path(image_id)
        except (KeyError, RunDirError):
            return _error(404, "no such image")
        if not path.is_file():
            return _error(404, "no such image")
        media = MEDIA.get(rec.format.lower(), "application/octet-stream")
        return FileResponse(
            path,
            media_type=media,
            headers={"cache-control": "private, max-age=86400, immutable", "content-disposition": "inline"},
        )

    @app.exception_handler(404)
    async def not_found(request, exc) -> Response:
        return _error(404, "not found")

    return app


def review_url(origin: str, app: FastAPI, token: str) -> str:
    """The one URL that opens the app: its prefix, and the token for the first load (the page
    trades it for the session cookie and drops it from the address bar)."""
    return f"{origin}{app.state.prefix}/?token={quote(token, safe='')}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
    """Serve the review UI until interrupted; prints the URL (prefix and token) to open."""
    import uvicorn

    token = token or secrets.token_urlsafe(32)
    if not is_loopback(host) and not token:
        raise ValueError(f"refusing to listen on non-loopback host {host!r} without a token")
    wildcard = host.strip("[]") in ("0.0.0.0", "::", "")
    allowed = None if wildcard else {*LOOPBACK_NAMES, host.strip("[]")}
    app = create_app(run_dir, token, allowed_hosts=allowed)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    print(f"visinstruct review: {review_url(f'http://{shown}:{bound}', app, token)}", flush=True)
    if not is_loopback(host):
        print("warning: listening beyond this machine; anyone with the URL can review", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
