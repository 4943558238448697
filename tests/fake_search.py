"""Loopback fakes of the Openverse API and the Wikimedia Commons MediaWiki API, with the files their
results point to.

The responses are shaped as the services document them: Openverse's search
(`GET /v1/images/?q=&license=&page=&page_size=`; WordPress/openverse
`api/api/serializers/media_serializers.py`, `api/api/utils/pagination.py`; anonymous page sizes
above 20 refused with 401, throttling with 429 and `Retry-After`, as DRF's throttles do) and the
MediaWiki Action API (`action=query&generator=search&gsrnamespace=6&prop=imageinfo`, `formatversion=2`
pages with `index`, `continue` with `gsroffset`; `extmetadata` as in Openverse's Commons test data,
`catalog/tests/dags/providers/provider_api_scripts/resources/wikimedia/image_data_example.json`).

    with FakeSearch() as fake:
        fake.add("openverse", "Eiffel Tower", "tower.jpg", jpeg_bytes, license="by", version="4.0")
        fake.throttle.add(("openverse", "Eiffel Tower", 1))   # the first ask of that page gets a 429
        ... fake.openverse_url, fake.commons_url ...

`log` lists every API request in order as (api, query, page, status); `early` counts requests that
came back for a throttled page before its `Retry-After` had passed (an honouring client makes
none); `file_requests` counts downloads per file.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

RETRY_AFTER = 1  # seconds a throttled page asks the client to wait

_CC_URL = {"cc0": "https://creativecommons.org/publicdomain/zero/1.0/",
           "pdm": "https://creativecommons.org/publicdomain/mark/1.0/"}  # fmt: skip


@dataclass
class Work:
    api: str  # openverse | commons
    query: str
    name: str  # file name under /files/
    license: str  # Openverse code, or a Commons name such as "GFDL"
    version: str | None
    creator: str
    title: str
    id: str

    def license_url(self) -> str | None:
        if self.license in _CC_URL:
            return _CC_URL[self.license]
        if self.license.startswith("by"):
            return f"https://creativecommons.org/licenses/{self.license}/{self.version}/"
        return None


class FakeSearch:
    def __init__(self, token: str | None = None) -> None:
        self.token = token  # the Openverse key this server accepts
        self.works: list[Work] = []
        self.files: dict[str, tuple[int, str, bytes]] = {}  # name → (status, content type, body)
        self.throttle: set[tuple[str, str, int]] = set()  # (api, query, page) to answer 429 once
        self.errors: dict[
            tuple[str, str, int], list[int]
        ] = {}  # (api, query, page) → statuses to answer first
        self.log: list[tuple[str, str, int, int]] = []
        self.auth: list[str | None] = []  # the Authorization header of each Openverse request
        self.early = 0
        self.file_requests: Counter = Counter()
        self._deadline: dict[tuple[str, str, int], float] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- content --------------------------------------------------------------------------------
    def add(
        self,
        api: str,
        query: str,
        name: str,
        data: bytes | None = None,
        *,
        license: str = "by",
        version: str | None = "4.0",
        creator: str = "A. Photographer",
        title: str | None = None,
        content_type: str = "image/jpeg",
        status: int = 200,
    ) -> Work:
        """A result of `query` on `api` whose file `name` is served with `data` (or as given)."""
        w = Work(api, query, name, license, version, creator, title or name.rsplit(".", 1)[0],
                 str(uuid.uuid5(uuid.NAMESPACE_URL, f"{api}/{query}/{name}")))  # fmt: skip
        self.works.append(w)
        if data is not None or name not in self.files:
            self.files[name] = (status, content_type, data if data is not None else b"")
        return w

    # -- server ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openverse_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def commons_url(self) -> str:
        return f"{self.url}/w/api.php"

    def start(self) -> FakeSearch:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSearch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api_requests(self, api: str | None = None) -> int:
        return sum(1 for a, *_ in self.log if api is None or a == api)

    # -- handling -------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path == "/v1/images/":
            self._openverse(h, q)
        elif parts.path == "/w/api.php":
            self._commons(h, q)
        elif parts.path.startswith("/files/"):
            name = unquote(parts.path[len("/files/") :])
            with self._lock:
                self.file_requests[name] += 1
            status, ctype, body = self.files.get(name, (404, "text/html", b"<h1>Not Found</h1>"))
            _send(h, status, body, ctype)
        elif parts.path.startswith("/wiki/"):
            _send(h, 200, b"<html><body>the work's page</body></html>", "text/html; charset=utf-8")
        else:
            _send(h, 404, b"{}", "application/json")

    def _error(self, key: tuple[str, str, int]) -> int | None:
        """The next planted error status of `key`, if any."""
        with self._lock:
            planted = self.errors.get(key)
            return planted.pop(0) if planted else None

    def _throttled(self, key: tuple[str, str, int]) -> bool:
        """True (a 429 is sent) the first time `key` is asked, and when asked again too early."""
        now = time.monotonic()
        with self._lock:
            if key in self.throttle:
                self.throttle.discard(key)
                self._deadline[key] = now + RETRY_AFTER
                return True
            deadline = self._deadline.get(key)
            if deadline is not None and now < deadline:
                self.early += 1
                return True
        return False

    def _record(self, api: str, query: str, page: int, status: int) -> None:
        with self._lock:
            self.log.append((api, query, page, status))

    def _openverse(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        query = q.get("q", "")
        page, size = int(q.get("page", "1")), int(q.get("page_size", "20"))
        auth = h.headers.get("Authorization")
        with self._lock:
            self.auth.append(auth)
        keyed = auth is not None and self.token is not None and auth == f"Bearer {self.token}"
        if auth is not None and not keyed:
            self._record("openverse", query, page, 401)
            return _json(h, 401, {"detail": "Authentication credentials were not provided."})
        if size > (500 if keyed else 20):
            self._record("openverse", query, page, 401)
            limit = 500 if keyed else 20
            return _json(h, 401, {"detail": f"Ensure this value is less than or equal to {limit}."})
        status = self._error(("openverse", query, page))
        if status is not None:
            self._record("openverse", query, page, status)
            return _json(h, status, {"detail": "Internal server error."})
        if self._throttled(("openverse", query, page)):
            self._record("openverse", query, page, 429)
            return _json(
                h,
                429,
                {"detail": f"Request was throttled. Expected available in {RETRY_AFTER} second."},
                {"Retry-After": str(RETRY_AFTER)},
            )
        wanted = set(q["license"].split(",")) if q.get("license") else None
        hits = [w for w in self.works if w.api == "openverse" and w.query.lower() == query.lower()]
        hits = [w for w in hits if wanted is None or w.license in wanted]
        count = max(1, math.ceil(len(hits) / size))
        if page > count and hits:
            self._record("openverse", query, page, 400)
            return _json(h, 400, {"detail": "Invalid page."})
        self._record("openverse", query, page, 200)
        chunk = hits[(page - 1) * size : page * size]
        _json(
            h,
            200,
            {
                "result_count": len(hits),
                "page_count": count if hits else 0,
                "page_size": size,
                "page": page,
                "results": [self._openverse_result(w) for w in chunk],
            },
        )

    def _openverse_result(self, w: Work) -> dict:
        ext = w.name.rsplit(".", 1)[-1]
        return {
            "id": w.id,
            "title": w.title,
            "indexed_on": "2024-01-01T00:00:00Z",
            "foreign_landing_url": f"{self.url}/wiki/{quote(w.name)}",
            "url": f"{self.url}/files/{quote(w.name)}",
            "creator": w.creator,
            "creator_url": f"{self.url}/wiki/User:{quote(w.creator)}",
            "license": w.license,
            "license_version": w.version,
            "license_url": w.license_url(),
            "provider": "flickr",
            "source": "flickr",
            "category": "photograph",
            "filesize": None,
            "filetype": ext,
            "tags": [{"name": "test", "accuracy": None}],
            "attribution": f'"{w.title}" by {w.creator} is licensed under CC {w.license.upper()} '
            f"{w.version}.",
            "fields_matched": ["title"],
            "mature": False,
            "height": 240,
            "width": 320,
            "thumbnail": f"{self.url}/v1/images/{w.id}/thumb/",
            "detail_url": f"{self.url}/v1/images/{w.id}/",
            "related_url": f"{self.url}/v1/images/{w.id}/related/",
            "unstable__sensitivity": [],
        }

    def _commons(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        search = q.get("gsrsearch", "").replace(" filetype:bitmap", "")
        offset, limit = int(q.get("gsroffset", "0")), int(q.get("gsrlimit", "10"))
        page = offset // limit + 1
        bad = [k for k, v in (("action", "query"), ("generator", "search"), ("gsrnamespace", "6"),
                              ("prop", "imageinfo"), ("format", "json")) if q.get(k) != v]  # fmt: skip
        if bad or "extmetadata" not in q.get("iiprop", "").split("|"):
            self._record("commons", search, page, 200)
            return _json(h, 200, {"error": {"code": "badparams", "info": f"unexpected {bad}"}})
        status = self._error(("commons", search, page))
        if status is not None:
            self._record("commons", search, page, status)
            return _send(h, status, b"<html>upstream error</html>", "text/html")
        if self._throttled(("commons", search, page)):
            self._record("commons", search, page, 429)
            return _send(h, 429, b"Too many requests", "text/plain", {"Retry-After": str(RETRY_AFTER)})
        self._record("commons", search, page, 200)
        hits = [w for w in self.works if w.api == "commons" and w.query.lower() == search.lower()]
        chunk = hits[offset : offset + limit]
        body: dict[str, Any] = {"batchcomplete": True}
        if offset + limit < len(hits):
            body["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
        if chunk:
            width = q.get("iiurlwidth")
            body["query"] = {
                "pages": [self._commons_page(w, offset + i + 1, width) for i, w in enumerate(chunk)]
            }
        _json(h, 200, body)

    def _commons_page(self, w: Work, index: int, width: str | None) -> dict:
        short = {"cc0": "CC0", "pdm": "Public domain"}.get(w.license)
        if short is None:
            short = f"CC {w.license.upper()} {w.version}" if w.license.startswith("by") else w.license
        code = {"cc0": "cc0", "pdm": "pd"}.get(w.license) or (
            f"cc-{w.license}-{w.version}" if w.license.startswith("by") else w.license.lower()
        )
        meta = {
            "ObjectName": {"value": w.title, "source": "mediawiki-metadata", "hidden": ""},
            "Artist": {
                "value": f'<a href="//commons.example/wiki/User:{w.creator}" '
                f'title="User:{w.creator}">{w.creator}</a>',
                "source": "commons-desc-page",
            },
            "LicenseShortName": {"value": short, "source": "commons-desc-page", "hidden": ""},
            "License": {"value": code, "source": "commons-templates", "hidden": ""},
            "AttributionRequired": {"value": "true" if w.license.startswith("by") else "false"},
            "UsageTerms": {"value": short, "source": "commons-desc-page", "hidden": ""},
        }
        if w.license_url():
            meta["LicenseUrl"] = {"value": w.license_url().rstrip("/"), "source": "commons-desc-page"}
        name = w.name.replace(" ", "_")
        info: dict[str, Any] = {
            "size": 123456,
            "width": 4000,
            "height": 3000,
            "url": f"{self.url}/files/original/{quote(w.name)}",
            "descriptionurl": f"{self.url}/wiki/File:{quote(name)}",
            "descriptionshorturl": f"{self.url}/w/index.php?curid={index}",
            "mime": self.files[w.name][1],
            "extmetadata": meta,
        }
        if width:
            info.update(thumburl=f"{self.url}/files/{quote(w.name)}", thumbwidth=int(width), thumbheight=240)
        return {"pageid": 1000 + index, "ns": 6, "title": f"File:{w.name}", "index": index,
                "imagerepository": "local", "imageinfo": [info]}  # fmt: skip


def _send(
    h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, headers: dict | None = None
) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def _json(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict | None = None) -> None:
    _send(h, status, json.dumps(body).encode(), "application/json", headers)
