"""A loopback stand-in of the Hugging Face Hub: the HTTP endpoints `huggingface_hub` (2.x) calls to
create a dataset repository, upload files through the plain LFS protocol, commit, list and read them.

Built from `huggingface_hub`'s own client code (`hf_api.py`, `_commit_api.py`, `lfs.py`,
`file_download.py`, `utils/_http.py`):

- `POST /api/repos/create` `{name, organization, type, visibility}` → `{url}`; 409 when it exists
- `GET /api/{type}s/{repo}[/revision/{rev}]` → repo info (`id`, `sha`, `private`, `siblings`)
- `POST /api/validate-yaml` (a README's front matter, checked before a commit)
- `POST /api/{type}s/{repo}/preupload/{rev}` → per file `uploadMode` (`lfs` | `regular`), `oid`
- `POST /{prefix}{repo}.git/info/lfs/objects/batch` (git-lfs batch API, `basic` transfer): an
  upload action per object not stored yet, none for one that is; then `PUT` the bytes to its href
  and `POST` its verify href
- `POST /api/{type}s/{repo}/commit/{rev}`: NDJSON, a header line then `file` (base64) and
  `lfsFile` (oid, size) lines
- `POST /api/{type}s/{repo}/paths-info/{rev}` (form `paths=`) and
  `GET /api/{type}s/{repo}/tree/{rev}[/{path}]?recursive=`: `{type, path, size, oid, lfs}`
- `HEAD`/`GET /{prefix}{repo}/resolve/{rev}/{path}` with `X-Repo-Commit`, `ETag` (the sha256 of
  an LFS file, the git blob id of another) and `Range`

Errors carry `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`) as the Hub's do,
so `huggingface_hub` raises its own typed errors. Writes need `Authorization: Bearer <token>`.

Xet: `huggingface_hub` 2.x uploads through Xet whenever `hf_xet` is installed, a choice made on the
client (`utils._runtime.is_xet_available`), not from a server reply; this fake speaks plain LFS, so
a client must run with `HF_HUB_DISABLE_XET=1` (or `huggingface_hub.constants.HF_HUB_DISABLE_XET =
True` in-process). Downloads use Xet only when a resolve reply has `X-Xet-Hash`, which this one
never sends.

    with FakeHub(token="hf_test") as hub:
        hub.fail_commits[2] = "drop"   # the 2nd commit is applied, then its connection is cut
        ... HF_ENDPOINT=hub.url ...
        hub.uploads[oid], hub.committed[(repo, path)], hub.requests

Files live in a temporary folder, content-addressed by sha256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".parquet", ".arrow", ".tar", ".gz", ".zip", ".png", ".jpg", ".jpeg", ".webp", ".bin")
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores bigger files in LFS whatever their suffix
PREFIX = {"dataset": "datasets/", "space": "spaces/", "model": ""}


def git_blob_id(data: bytes) -> str:
    """A git blob's id: sha1 of `blob <size>\\0<content>`."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


@dataclass
class Entry:
    """A file at the head of a repository."""

    size: int
    sha256: str
    lfs: bool
    blob_id: str = ""  # git blob id of a regular file

    def info(self, path: str) -> dict:
        if self.lfs:
            pointer = lfs_pointer(self.sha256, self.size)
            return {
                "type": "file",
                "path": path,
                "size": self.size,
                "oid": git_blob_id(pointer),
                "lfs": {"oid": self.sha256, "size": self.size, "pointerSize": len(pointer)},
            }
        return {"type": "file", "path": path, "size": self.size, "oid": self.blob_id}


@dataclass
class Repo:
    type: str
    id: str
    private: bool
    sha: str = "0" * 40
    files: dict[str, Entry] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    )


class Drop(Exception):
    """Close the connection without an answer."""


class FakeHub:
    """The Hub on 127.0.0.1; see the module docstring."""

    def __init__(self, token: str = "hf_fake_token", user: str = "alice") -> None:
        self.token = token
        self.user = user
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-hub-")
        self.blobs = Path(self._tmp.name)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), in order
        self.uploads: Counter = Counter()  # LFS oid → bytes received for it (PUT)
        self.committed: Counter = Counter()  # (repo, path) → commits that added it
        self.commit_attempts = 0
        self.fail_commits: dict[int, str] = {}  # Nth commit request (1-based) → "error" | "drop"
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                status = 0
                try:
                    status = hub._dispatch(self)
                except Drop:
                    self.close_connection = True
                    status = -1
                finally:
                    with hub._lock:
                        hub.requests.append((self.command, urlsplit(self.path).path, status))

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._tmp.cleanup()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the tests read -----------------------------------------------------------------------
    def content(self, repo_id: str, path: str, repo_type: str = "dataset") -> bytes:
        entry = self.repos[repo_type, repo_id].files[path]
        return (self.blobs / entry.sha256).read_bytes()

    def files(self, repo_id: str, repo_type: str = "dataset") -> dict[str, Entry]:
        return dict(self.repos[repo_type, repo_id].files)

    # -- plumbing ----------------------------------------------------------------------------------
    def _body(self, h: BaseHTTPRequestHandler) -> bytes:
        if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                parts.append(h.rfile.read(size))
                h.rfile.readline()
        return h.rfile.read(int(h.headers.get("Content-Length") or 0))

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: Any = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        return status

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str | None, message: str) -> int:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        return self._send(h, status, {"error": message}, headers)

    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        return h.headers.get("Authorization", "") == f"Bearer {self.token}"

    def _repo(self, h: BaseHTTPRequestHandler, rtype: str, repo_id: str, write: bool = False) -> Repo | None:
        repo = self.repos.get((rtype, repo_id))
        if repo is None or ((repo.private or write) and not self._authorized(h)):
            return None
        return repo

    # -- routes ------------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> int:
        url = urlsplit(h.path)
        path, query = unquote(url.path), parse_qs(url.query)
        m, body = h.command, b""
        if m in ("POST", "PUT"):
            body = self._body(h)
        types = "(dataset|model|space)s"
        repo = r"(?P<repo>[^/]+/[^/]+)"
        rev = r"(?P<rev>[^/]+)"
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/api/repos/create", self._create),
            ("POST", r"/api/validate-yaml", lambda h, b: self._send(h, 200, {"errors": [], "warnings": []})),
            ("GET", r"/api/whoami-v2", self._whoami),
            ("GET", rf"/api/{types}/{repo}(/revision/{rev})?", self._info),
            ("POST", rf"/api/{types}/{repo}/preupload/{rev}", self._preupload),
            ("POST", rf"/api/{types}/{repo}/commit/{rev}", self._commit),
            ("POST", rf"/api/{types}/{repo}/paths-info/{rev}", self._paths_info),
            ("GET", rf"/api/{types}/{repo}/tree/{rev}(/(?P<path>.*))?", self._tree),
            ("POST", rf"/(?P<prefix>datasets/|spaces/|){repo}\.git/info/lfs/objects/batch", self._batch),
            ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self._lfs_put),
            ("POST", r"/lfs-verify/(?P<oid>[0-9a-f]{64})", self._lfs_verify),
            ("GET", rf"/(?P<prefix>datasets/|spaces/|){repo}/resolve/{rev}/(?P<path>.+)", self._resolve),
            ("HEAD", rf"/(?P<prefix>datasets/|spaces/|){repo}/resolve/{rev}/(?P<path>.+)", self._resolve),
        ]
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if method == m and match:
                h.match = match  # type: ignore[attr-defined]
                h.query = query  # type: ignore[attr-defined]
                with self._lock:
                    return handler(h, body)
        return self._error(h, 404, None, f"no route {m} {path}")

    def _rtype(self, h: Any) -> str:
        if "prefix" in h.match.groupdict():
            return {"datasets/": "dataset", "spaces/": "space", "": "model"}[h.match["prefix"]]
        return h.match[1]

    def _whoami(self, h: Any, body: bytes) -> int:
        if not self._authorized(h):
            return self._error(h, 401, None, "Invalid credentials in Authorization header")
        return self._send(h, 200, {"type": "user", "name": self.user, "orgs": []})

    def _create(self, h: Any, body: bytes) -> int:
        if not self._authorized(h):
            return self._error(h, 401, None, "Invalid credentials in Authorization header")
        req = json.loads(body or b"{}")
        rtype = req.get("type") or "model"
        name, org = req.get("name") or "", req.get("organization") or self.user
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}", name):
            return self._error(h, 400, None, f"invalid repository name {name!r}")
        repo_id = f"{org}/{name}"
        url = f"{self.url}/{PREFIX[rtype]}{repo_id}"
        if (rtype, repo_id) in self.repos:  # the Hub's 409 names the repository (create_repo reads it)
            message = f"You already created this {rtype} repo"
            return self._send(h, 409, {"error": message, "url": url}, {"X-Error-Message": message})
        self.repos[rtype, repo_id] = Repo(rtype, repo_id, req.get("visibility") == "private")
        return self._send(h, 200, {"url": url, "name": repo_id, "id": repo_id})

    def _info(self, h: Any, body: bytes) -> int:
        rtype, repo_id = h.match[1], h.match["repo"]
        repo = self._repo(h, rtype, repo_id)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        if h.match["rev"] not in (None, "main", repo.sha):
            return self._error(h, 404, "RevisionNotFound", "Invalid rev id")
        return self._send(
            h,
            200,
            {
                "id": repo.id,
                "author": repo.id.split("/")[0],
                "sha": repo.sha,
                "private": repo.private,
                "disabled": False,
                "gated": False,
                "createdAt": repo.created,
                "lastModified": repo.created,
                "tags": [],
                "siblings": [{"rfilename": p} for p in sorted(repo.files)],
            },
        )

    def _preupload(self, h: Any, body: bytes) -> int:
        repo = self._repo(h, h.match[1], h.match["repo"], write=True)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        files = []
        for f in json.loads(body)["files"]:
            lfs = f["path"].lower().endswith(LFS_SUFFIXES) or f["size"] >= LFS_THRESHOLD
            entry = repo.files.get(f["path"])
            oid = None
            if entry is not None:
                oid = entry.sha256 if entry.lfs else entry.blob_id
            files.append(
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        return self._send(h, 200, {"files": files, "commitOid": repo.sha})

    def _batch(self, h: Any, body: bytes) -> int:
        repo = self._repo(h, self._rtype(h), h.match["repo"], write=True)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        req = json.loads(body)
        objects = []
        for obj in req["objects"]:
            oid, size = obj["oid"], obj["size"]
            out: dict = {"oid": oid, "size": size, "authenticated": True}
            if not (self.blobs / oid).is_file():
                out["actions"] = {
                    "upload": {"href": f"{self.url}/lfs-upload/{oid}", "expires_in": 3600},
                    "verify": {"href": f"{self.url}/lfs-verify/{oid}"},
                }
            objects.append(out)
        return self._send(
            h, 200, {"transfer": "basic", "objects": objects}, content_type="application/vnd.git-lfs+json"
        )

    def _store(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        dest = self.blobs / oid
        if not dest.is_file():
            tmp = dest.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(dest)
        return oid

    def _lfs_put(self, h: Any, body: bytes) -> int:
        oid = h.match["oid"]
        self.uploads[oid] += 1
        if hashlib.sha256(body).hexdigest() != oid:
            return self._error(h, 400, None, "content does not match its oid")
        self._store(body)
        return self._send(h, 200, b"", {"ETag": f'"{oid}"'})

    def _lfs_verify(self, h: Any, body: bytes) -> int:
        req = json.loads(body)
        blob = self.blobs / h.match["oid"]
        if not blob.is_file() or blob.stat().st_size != req.get("size"):
            return self._error(h, 404, None, "object not found")
        return self._send(h, 200, {})

    def _commit(self, h: Any, body: bytes) -> int:
        repo = self._repo(h, h.match[1], h.match["repo"], write=True)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        self.commit_attempts += 1
        fail = self.fail_commits.get(self.commit_attempts)
        if fail == "error":
            return self._error(h, 500, None, "Internal Error (injected)")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return self._error(h, 400, None, "the first line must be the header")
        changes: dict[str, Entry] = {}
        for line in lines[1:]:
            value = line["value"]
            p = value["path"]
            if p.startswith("/") or ".." in p.split("/"):
                return self._error(h, 400, None, f"invalid path {p!r}")
            if line["key"] == "file":
                data = base64.b64decode(value["content"])
                changes[p] = Entry(len(data), self._store(data), False, git_blob_id(data))
            elif line["key"] == "lfsFile":
                blob = self.blobs / value["oid"]
                if not blob.is_file():
                    return self._error(h, 400, None, f"LFS object {value['oid']} was never uploaded")
                changes[p] = Entry(blob.stat().st_size, value["oid"], True)
            elif line["key"] == "deletedFile":
                changes[p] = None  # type: ignore[assignment]
            else:
                return self._error(h, 400, None, f"unsupported operation {line['key']!r}")
        for p, entry in changes.items():
            if entry is None:
                repo.files.pop(p, None)
            else:
                repo.files[p] = entry
                self.committed[repo.id, p] += 1
        repo.sha = hashlib.sha1(f"{repo.sha}{body!r}".encode()).hexdigest()
        repo.commits.append(repo.sha)
        if fail == "drop":
            raise Drop  # applied, but the client never hears so
        return self._send(
            h,
            200,
            {
                "commitUrl": f"{self.url}/{PREFIX[repo.type]}{repo.id}/commit/{repo.sha}",
                "commitOid": repo.sha,
                "pullRequestUrl": None,
            },
        )

    def _paths_info(self, h: Any, body: bytes) -> int:
        repo = self._repo(h, h.match[1], h.match["repo"])
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        form = parse_qs(body.decode())
        out = []
        for p in form.get("paths", []):
            p = p.strip("/")
            if p in repo.files:
                out.append(repo.files[p].info(p))
            elif any(f.startswith(p + "/") for f in repo.files):
                out.append(self._folder(p))
        return self._send(h, 200, out)

    def _folder(self, path: str) -> dict:
        return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}

    def _tree(self, h: Any, body: bytes) -> int:
        repo = self._repo(h, h.match[1], h.match["repo"])
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        if h.match["rev"] not in ("main", repo.sha):
            return self._error(h, 404, "RevisionNotFound", "Invalid rev id")
        base = (h.match["path"] or "").strip("/")
        recursive = h.query.get("recursive", ["false"])[0].lower() == "true"
        prefix = base + "/" if base else ""
        if base and base in repo.files:
            return self._send(h, 200, [repo.files[base].info(base)])
        out, folders = [], set()
        for p in sorted(repo.files):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix) :].split("/")
            for i in range(1, len(rest)):
                folder = prefix + "/".join(rest[:i])
                if (recursive or i == 1) and folder not in folders:
                    folders.add(folder)
                    out.append(self._folder(folder))
            if recursive or len(rest) == 1:
                out.append(repo.files[p].info(p))
        if base and not out:
            return self._error(h, 404, "EntryNotFound", f"{base} does not exist on main")
        return self._send(h, 200, out)

    def _resolve(self, h: Any, body: bytes) -> int:
        repo = self._repo(h, self._rtype(h), h.match["repo"])
        if repo is None:
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        if h.match["rev"] not in ("main", repo.sha):
            return self._error(h, 404, "RevisionNotFound", "Invalid rev id")
        p = h.match["path"]
        entry = repo.files.get(p)
        if entry is None:
            return self._error(h, 404, "EntryNotFound", "Entry not found")
        etag = entry.sha256 if entry.lfs else entry.blob_id
        headers = {
            "X-Repo-Commit": repo.sha,
            "ETag": f'"{etag}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(p.rsplit('/', 1)[-1])}",
        }
        if entry.lfs:
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers["X-Linked-Size"] = str(entry.size)
        data = b"" if h.command == "HEAD" else (self.blobs / entry.sha256).read_bytes()
        rng = re.fullmatch(r"bytes=(\d*)-(\d*)", h.headers.get("Range", ""))
        if rng and h.command == "GET":
            start = int(rng[1]) if rng[1] else max(0, entry.size - int(rng[2] or 0))
            end = int(rng[2]) if rng[1] and rng[2] else entry.size - 1
            end = min(end, entry.size - 1)
            if start > end:
                return self._send(h, 416, b"", {"Content-Range": f"bytes */{entry.size}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
            return self._send(h, 206, data[start : end + 1], headers, "application/octet-stream")
        if h.command == "HEAD":
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(entry.size))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            return 200
        return self._send(h, 200, data, headers, "application/octet-stream")
