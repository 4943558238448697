"""The review server: keyboard review in a real browser, token/CSRF/path guards, optimistic
concurrency with an audit trail, and undo."""

from __future__ import annotations

import http.client
import http.server
import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import httpx
import pytest
from browser import chromium_page

from visinstruct.export import export
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

uvicorn = pytest.importorskip("uvicorn")
from visinstruct.review import create_app  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
XSS_Q = "<img src=x onerror=alert(1)>"
NEW_ANSWER = "edited answer from the keyboard"
REASON = "the answer is wrong"


class Server:
    def __init__(self, run_dir: Path) -> None:
        self.app = create_app(run_dir, TOKEN)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:  # uvicorn's thread ends if the server cannot start
            assert self.thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        self.base = self.origin + self.app.state.prefix  # every URL of the app starts with it
        page = httpx.get(f"{self.base}/", headers=auth()).text
        self.csrf = re.search(r'<meta name="csrf" content="([^"]+)">', page).group(1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.review.close()


@pytest.fixture(scope="module")
def review_run(tmp_path_factory):
    """A run with four short answers to review (the fourth with hostile text), in seq order."""
    path = tmp_path_factory.mktemp("review") / "run"
    run(
        parse_recipe({"seed": 1, "languages": ["en"], "synthetic": {"clocks": 6, "scenes": 6}}),
        path,
        workers=1,
    )
    with RunStore(path) as store:
        picked = [s for s in store.iter_samples() if s.type == "short_vqa"][:4]
        for s in picked:
            s.checks["planted"] = {"pass": False, "reason": "to review", "severity": "review"}
        picked[3].turns[0].question = XSS_Q
        store.replace_samples(picked)
    ids = [s.id for s in picked]
    with Server(path) as server:
        yield path, server, ids


def auth(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **extra}


def post_headers(server: Server) -> dict[str, str]:
    return auth(**{"X-Visinstruct-CSRF": server.csrf})


def test_keyboard_review_in_chromium(review_run, tmp_path):
    path, server, (a_id, b_id, c_id, x_id) = review_run
    outside = []

    def route(r):
        if r.request.url.startswith(server.base + "/") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    def wait_status(page, sample_id, status):
        page.wait_for_function(
            "([id, st]) => { const li = document.querySelector(`#queue li[data-id='${id}']`);"
            " return li && li.dataset.status === st; }",
            arg=[sample_id, status],
            timeout=5000,
        )

    def wait_shown(page, sample_id):
        page.wait_for_function("(id) => document.getElementById('view').dataset.id === id", arg=sample_id)

    with chromium_page(route, "the review's browser test") as (page, log):
        page.goto(f"{server.base}/?token={TOKEN}", wait_until="load")
        assert "token" not in page.url
        wait_shown(page, a_id)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#images img')].every(i => i.complete && i.naturalWidth > 0)"
        )

        page.keyboard.press("a")
        wait_status(page, a_id, "accepted")
        wait_shown(page, b_id)

        page.keyboard.press("e")
        assert page.evaluate("document.activeElement.dataset.field") == "question"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.field") == "answer"
        page.keyboard.press("Control+a")
        page.keyboard.type(NEW_ANSWER)
        page.keyboard.press("Control+Enter")
        wait_status(page, b_id, "edited")
        wait_shown(page, c_id)

        page.keyboard.press("r")
        assert page.evaluate("document.activeElement.id") == "reason"
        page.keyboard.type(REASON)
        page.keyboard.press("Enter")
        wait_status(page, c_id, "rejected")
        wait_shown(page, x_id)

        shown_q = page.locator("#sample textarea.q").first.input_value()
        queue_text = page.locator(f"#queue li[data-id='{x_id}']").inner_text()
        injected = page.locator("img[src='x'], img[onerror]").count()
        progress = page.inner_text("#progress")
        page.keyboard.press("j")
        page.wait_for_timeout(100)

    assert not log.errors, log.errors
    assert not [m for m in log.console if m[0] == "error"], log.console
    assert not log.dialogs, f"a script ran: {log.dialogs}"
    assert not outside, outside
    assert shown_q == XSS_Q and XSS_Q in queue_text and injected == 0
    assert "you: 3" in progress, progress

    with RunStore(path) as store:
        out = tmp_path / "out.jsonl"
        export(store, "jsonl", out)
    records = {r["id"]: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    assert records[a_id]["status"] == "accepted"
    assert records[b_id]["status"] == "edited"
    assert records[b_id]["turns"][0]["answer"] == NEW_ANSWER
    assert c_id not in records and x_id not in records
    rejected = httpx.get(f"{server.base}/api/samples/{c_id}", headers=auth()).json()
    assert rejected["sample"]["checks"]["review"] == {
        "pass": False,
        "reason": REASON,
        "severity": "reject",
        "reviewer": "reviewer",
    }


def test_guards_refuse(review_run):
    _, server, (a_id, *_) = review_run
    base = server.base
    image_id = httpx.get(f"{base}/api/samples/{a_id}", headers=auth()).json()["images"][0]["id"]
    assert httpx.get(f"{base}/images/{image_id}", headers=auth()).content[:8] == b"\x89PNG\r\n\x1a\n"

    def status(url: str, headers: dict | None = None) -> int:
        req = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    for bad in (
        "/images/..%2f..%2fetc%2fpasswd",
        "/images/../../etc/passwd",
        "/images/" + "0" * 64,
        "/images/" + image_id.upper(),
        "/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ):
        code = status(base + bad, auth())
        assert code in (400, 404), (bad, code)
    host, port = server.origin.removeprefix("http://").split(":")
    prefix = server.app.state.prefix
    for raw in (
        f"{prefix}/images/../../etc/passwd",
        f"{prefix}/images/..%2f..%2fetc%2fpasswd",
        f"{prefix}/../../etc/passwd",
        f"{prefix}/../../{prefix}/api/progress",
        "/../../etc/passwd",
    ):
        conn = http.client.HTTPConnection(host, int(port), timeout=5)  # the raw target, unnormalised
        conn.request("GET", raw, headers=auth())
        r = conn.getresponse()
        assert r.status in (400, 404) and b"root:" not in r.read(), raw
        conn.close()

    # outside the prefix: one bare 404 for every path, with or without the token
    origin = server.origin
    for url in (
        f"{origin}/",
        f"{origin}/?token={TOKEN}",
        f"{origin}/api/progress",
        f"{origin}/images/{image_id}",
        f"{origin}/r/",
        f"{origin}{prefix}x/?token={TOKEN}",
        f"{origin}{prefix[:-1]}/api/progress",
        f"{origin}/r/{'A' * 32}/?token={TOKEN}",
    ):
        for headers in ({}, auth()):
            r = httpx.get(url, headers=headers)
            assert (r.status_code, r.json()) == (404, {"error": "not found"}), url
            assert "set-cookie" not in r.headers and TOKEN not in r.text and prefix not in r.text, url
    assert status(f"{origin}{prefix}?token={TOKEN}") == 200  # the prefix itself is the page too

    # no token, a wrong token, a token only in the query of an API call
    for url, headers in (
        (f"{base}/", None),
        (f"{base}/?token=wrong", None),
        (f"{base}/api/samples", None),
        (f"{base}/api/samples?token={TOKEN}", None),
        (f"{base}/api/samples/{a_id}", {"Authorization": "Bearer wrong"}),
        (f"{base}/images/{image_id}", None),
        (f"{base}/api/progress", {"Cookie": "visinstruct_token_1=wrong"}),
        (f"{base}/api/progress", {"Cookie": "visinstruct_session=wrong"}),
        (f"{base}/api/progress", {"Cookie": f"visinstruct_session={TOKEN}"}),  # the cookie is no token
        (f"{base}/api/progress", {"Cookie": f"visinstruct_token_{port}={TOKEN}"}),
        (f"{base}/api/progress", {"Authorization": f"Bearer {server.csrf}"}),
    ):
        assert status(url, headers) == 401, url
    assert status(f"{base}/?token={TOKEN}") == 200
    # state changes need the CSRF header, a same-origin Origin, a small body and the right Host
    body = {"action": "accept", "version": 0}
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=auth(), json=body).status_code == 403
    with_token = auth(**{"X-Visinstruct-CSRF": TOKEN})  # the token is not the CSRF value
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=with_token, json=body).status_code == 403
    evil = post_headers(server) | {"Origin": "https://evil.example"}
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=evil, json=body).status_code == 403
    big = {"action": "reject", "version": 0, "reason": "x" * 300_000}
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=post_headers(server), json=big).status_code == 413
    rebound = auth(Host="attacker.example")
    assert httpx.get(f"{base}/api/progress", headers=rebound).status_code == 400
    page = httpx.get(f"{base}/?token={TOKEN}")
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    assert f"; Path={prefix}" in page.headers["set-cookie"] and TOKEN not in page.headers["set-cookie"]
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    assert TOKEN not in page.text and server.csrf in page.text and server.csrf != TOKEN
    (session,) = page.cookies.values()
    assert session not in (TOKEN, server.csrf) and session not in page.text
    cookie_auth = httpx.get(f"{base}/api/progress", cookies=dict(page.cookies))
    assert cookie_auth.status_code == 200
    # a cookie of the same name with a wider Path, as another local service could set, hides nothing
    tossed = {"Cookie": f"visinstruct_session={session}; visinstruct_session=junk"}
    assert httpx.get(f"{base}/api/progress", headers=tossed).status_code == 200
    assert httpx.get(f"{origin}/api/progress", cookies=dict(page.cookies)).status_code == 404
    # the session cookie and the CSRF header together allow a change, as the page makes them
    cookie_post = {"Cookie": f"visinstruct_session={session}", "X-Visinstruct-CSRF": server.csrf}
    assert httpx.post(f"{base}/api/undo", headers=cookie_post, json={"reviewer": "nobody"}).status_code == 404


def test_concurrent_edits_conflict_then_undo(review_run):
    path, server, _ = review_run
    base = server.base
    with RunStore(path) as store:
        target = next(s for s in store.iter_samples(["accepted"]) if s.type == "long_vqa")
    original = httpx.get(f"{base}/api/samples/{target.id}", headers=auth()).json()
    version = original["version"]
    turns = [{"question": t["question"], "answer": t["answer"]} for t in original["sample"]["turns"]]
    results: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def edit(who: str) -> None:
        body = {
            "action": "edit",
            "version": version,
            "reviewer": who,
            "turns": [{**turns[0], "answer": f"answer by {who}"}, *turns[1:]],
        }
        barrier.wait()
        results.append(httpx.post(f"{base}/api/samples/{target.id}", headers=post_headers(server), json=body))

    threads = [threading.Thread(target=edit, args=(who,)) for who in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], codes
    won = next(r for r in results if r.status_code == 200).json()
    lost = next(r for r in results if r.status_code == 409).json()
    assert lost["current"] == won and won["version"] == version + 1
    winner = won["sample"]["checks"]["review"]["reviewer"]
    assert won["sample"]["turns"][0]["answer"] == f"answer by {winner}"
    audit = server.app.state.review.audit(target.id)
    assert [(a["action"], a["reviewer"]) for a in audit] == [("edit", winner)]

    # undo: the loser has nothing to undo on this sample; the winner's undo restores it
    loser = "bob" if winner == "ann" else "ann"
    assert (
        httpx.post(f"{base}/api/undo", headers=post_headers(server), json={"reviewer": loser}).status_code
        == 404
    )
    r = httpx.post(f"{base}/api/undo", headers=post_headers(server), json={"reviewer": winner})
    assert r.status_code == 200
    restored = r.json()
    assert restored["sample"] == original["sample"] and restored["version"] == version + 2
    with RunStore(path) as store:
        stored, _, _ = store.sample(target.id)
    assert stored.status == "accepted" and stored.to_dict() == original["sample"]
    progress = httpx.get(f"{base}/api/progress", headers=auth()).json()
    assert winner not in progress["reviewers"]
    # an old version is refused after the undo too, with the current record
    stale = httpx.post(
        f"{base}/api/samples/{target.id}",
        headers=post_headers(server),
        json={"action": "accept", "version": version},
    )
    assert stale.status_code == 409 and stale.json()["current"]["version"] == version + 2


def test_status_shows_review_progress(tmp_path):
    import subprocess
    import sys

    from visinstruct.review.db import ReviewDB, review_progress

    path = tmp_path / "run"
    run(parse_recipe({"seed": 2, "languages": ["en"], "synthetic": {"clocks": 2}}), path, workers=1)
    with RunStore(path) as store:
        assert review_progress(store.db) is None  # never opened for review
    db = ReviewDB(path)
    try:
        first, second, third = [item["id"] for item in db.queue(limit=3)["items"]]
        db.act(first, "accept", db.get(first)["version"], "ana")
        db.act(second, "reject", db.get(second)["version"], "bo", reason="blurry")
        db.act(third, "accept", db.get(third)["version"], "bo")
        db.undo("bo")  # the undone accept counts for nobody
        waiting = db.progress()["overall"]["by_status"].get("needs_review", 0)
        assert review_progress(db.db) == {
            "reviewed": 2,
            "waiting": waiting,
            "reviewers": {"ana": {"accept": 1}, "bo": {"reject": 1}},
        }
    finally:
        db.close()
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "review: 2 samples reviewed" in p.stdout
    assert "ana: 1 accept" in p.stdout and "bo: 1 reject" in p.stdout


class Recorder(http.server.ThreadingHTTPServer):
    """Another local HTTP service on a free port of 127.0.0.1: keeps every request's path and
    headers, and lets `allow_origin` read its answers with credentials (so a fetch resolves)."""

    def __init__(self, allow_origin: str) -> None:
        self.allow_origin = allow_origin
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.server.seen.append((self.path, list(self.headers.items())))
        body = b"another local service"
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.send_header("access-control-allow-origin", self.server.allow_origin)
        self.send_header("access-control-allow-credentials", "true")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def start_review(run_dir: Path) -> tuple[subprocess.Popen, str]:
    """`visinstruct review` on a free port, and the URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "visinstruct.cli", "review", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=120)
    except queue.Empty:
        line = ""
    if "http://" not in line:
        proc.kill()
        pytest.fail(f"no URL printed: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}")
    return proc, line[line.index("http://") :].strip()


def test_other_local_services_never_get_the_token(review_run):
    path, _, _ = review_run
    proc, url = start_review(path)
    try:
        parts = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        review_origin = f"{parts.scheme}://{parts.netloc}"
        prefix = parts.path.rstrip("/")
        assert parts.hostname == "127.0.0.1" and re.fullmatch(r"/r/[A-Za-z0-9_-]{16,}", prefix), url
        other = Recorder(allow_origin=review_origin)
        threading.Thread(target=other.serve_forever, daemon=True).start()
        try:

            def route(r):
                if r.request.url.startswith(("http://127.0.0.1:", "data:")):
                    r.continue_()
                else:
                    r.abort()

            # the CSP would stop the review page's own fetch to another port: lift it, so that
            # only the cookie's scope keeps the secrets from being sent
            with chromium_page(route, "the review's cookie-scope test", bypass_csp=True) as (page, log):
                page.goto(url, wait_until="load")
                page.wait_for_function("() => !!document.getElementById('view').dataset.id")
                page.wait_for_function("() => document.querySelectorAll('#images img').length > 0")
                csrf = page.get_attribute("meta[name=csrf]", "content")
                cookies = page.context.cookies()
                fetched = page.evaluate(
                    "async (u) => { const r = await fetch(u, {credentials: 'include'});"
                    " return [r.status, await r.text()]; }",
                    other.base + "/fetched?from=review",
                )
                page.goto(other.base + "/visited", wait_until="load")
                visited = page.inner_text("body")
        finally:
            other.shutdown()
            other.server_close()
    finally:
        proc.terminate()
        proc.wait(30)

    # the review page did set its cookie (the queue and sample loads above ran on it alone),
    # scoped to the prefix, and holding neither the token nor the CSRF value
    (cookie,) = [c for c in cookies if c["name"] == "visinstruct_session"]
    assert cookie["domain"] == "127.0.0.1" and cookie["path"] == prefix
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    session = cookie["value"]
    assert len({token, session, csrf}) == 3 and len(session) >= 32 and len(csrf) >= 32
    assert fetched == [200, "another local service"] and visited == "another local service"
    # both requests reached the other service, and neither carried a review secret
    paths = [p for p, _ in other.seen]
    assert "/fetched?from=review" in paths and "/visited" in paths, paths
    for p, headers in other.seen:
        names = {k.lower() for k, _ in headers}
        assert "cookie" not in names and "authorization" not in names, (p, headers)
        for k, v in headers:
            for secret in (token, session, csrf, prefix):
                assert secret not in v, (p, k, v)
    assert not log.errors, log.errors


def test_review_db_needs_no_web_framework():
    code = "import sys, visinstruct.review.db; print('fastapi' in sys.modules, 'starlette' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.split() == ["False", "False"], p.stderr
