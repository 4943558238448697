"""The review server: keyboard review in a real browser, token/CSRF/path guards, optimistic
concurrency with an audit trail, and undo."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from browser import chromium_page

from visinstruct.engine import run
from visinstruct.export import export
from visinstruct.recipe import parse_recipe
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
        self.base = f"http://127.0.0.1:{port}"
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
            s.status = "needs_review"
        picked[3].turns[0].question = XSS_Q
        store.update_samples(picked)
    ids = [s.id for s in picked]
    with Server(path) as server:
        yield path, server, ids


def auth(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **extra}


def post_headers() -> dict[str, str]:
    return auth(**{"X-Visinstruct-CSRF": TOKEN})


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
    host, port = base.removeprefix("http://").split(":")
    for raw in ("/images/../../etc/passwd", "/images/..%2f..%2fetc%2fpasswd", "/../../etc/passwd"):
        conn = http.client.HTTPConnection(host, int(port), timeout=5)  # the raw target, unnormalised
        conn.request("GET", raw, headers=auth())
        r = conn.getresponse()
        assert r.status in (400, 404) and b"root:" not in r.read(), raw
        conn.close()

    # no token, a wrong token, a token only in the query of an API call
    for url, headers in (
        (f"{base}/", None),
        (f"{base}/?token=wrong", None),
        (f"{base}/api/samples", None),
        (f"{base}/api/samples?token={TOKEN}", None),
        (f"{base}/api/samples/{a_id}", {"Authorization": "Bearer wrong"}),
        (f"{base}/images/{image_id}", None),
        (f"{base}/api/progress", {"Cookie": "visinstruct_token_1=wrong"}),
    ):
        assert status(url, headers) == 401, url
    assert status(f"{base}/?token={TOKEN}") == 200
    # state changes need the CSRF header, a same-origin Origin, a small body and the right Host
    body = {"action": "accept", "version": 0}
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=auth(), json=body).status_code == 403
    evil = post_headers() | {"Origin": "https://evil.example"}
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=evil, json=body).status_code == 403
    big = {"action": "reject", "version": 0, "reason": "x" * 300_000}
    assert httpx.post(f"{base}/api/samples/{a_id}", headers=post_headers(), json=big).status_code == 413
    rebound = auth(Host="attacker.example")
    assert httpx.get(f"{base}/api/progress", headers=rebound).status_code == 400
    page = httpx.get(f"{base}/?token={TOKEN}")
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    cookie_auth = httpx.get(f"{base}/api/progress", cookies=dict(page.cookies))
    assert cookie_auth.status_code == 200


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
        results.append(httpx.post(f"{base}/api/samples/{target.id}", headers=post_headers(), json=body))

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
    assert httpx.post(f"{base}/api/undo", headers=post_headers(), json={"reviewer": loser}).status_code == 404
    r = httpx.post(f"{base}/api/undo", headers=post_headers(), json={"reviewer": winner})
    assert r.status_code == 200
    restored = r.json()
    assert restored["sample"] == original["sample"] and restored["version"] == version + 2
    with RunStore(path) as store:
        row = store.db.execute("SELECT status, data FROM samples WHERE id=?", (target.id,)).fetchone()
    assert row[0] == "accepted" and json.loads(row[1]) == original["sample"]
    progress = httpx.get(f"{base}/api/progress", headers=auth()).json()
    assert winner not in progress["reviewers"]
    # an old version is refused after the undo too, with the current record
    stale = httpx.post(
        f"{base}/api/samples/{target.id}",
        headers=post_headers(),
        json={"action": "accept", "version": version},
    )
    assert stale.status_code == 409 and stale.json()["current"]["version"] == version + 2


def test_status_shows_review_progress(tmp_path):
    import subprocess
    import sys

    from visinstruct.review.db import ReviewDB

    path = tmp_path / "run"
    run(parse_recipe({"seed": 2, "languages": ["en"], "synthetic": {"clocks": 2}}), path, workers=1)
    db = ReviewDB(path)
    try:
        first, second = [item["id"] for item in db.queue(limit=2)["items"]]
        db.act(first, "accept", db.get(first)["version"], "ana")
        db.act(second, "reject", db.get(second)["version"], "bo", reason="blurry")
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
