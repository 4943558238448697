"""A reviewer's work survives a check running at the same time: `visinstruct review` and
`visinstruct check` (verification against the loopback server, 200 ms a request) on one run,
20 edits and rejects posted while the check runs — every decision stays, and the sample's
status, its audit rows and its version agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse

import httpx
import pytest
import yaml
from test_mminstruct import recipe_for
from test_resume import thirty_images
from test_review import start_review

from visinstruct.recipe import parse_recipe
from visinstruct.review.db import ReviewDB
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def test_twenty_decisions_posted_during_a_check_all_survive(fake_openai, tmp_path):
    data = recipe_for(fake_openai, thirty_images(tmp_path / "images"), languages=["en"])
    run_dir = tmp_path / "run"
    assert run_recipe(parse_recipe(data), run_dir, workers=1).complete
    verify = {"endpoint": "vlm", "types": ["judgement", "multiple_choice", "short_vqa"]}
    data["checks"] = {"verify": verify}
    data["endpoints"]["vlm"]["max_in_flight"] = 4
    checked = tmp_path / "checked.yaml"
    checked.write_text(yaml.safe_dump(data))
    with RunStore(run_dir, create=False) as store:
        picked = [s.id for s in store.iter_samples() if s.type in verify["types"]][::5][:20]
        n_verifiable = sum(1 for s in store.iter_samples() if s.type in verify["types"])
    assert len(picked) == 20

    review, url = start_review(run_dir)
    try:
        parts = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        auth = {"Authorization": f"Bearer {token}"}
        page = httpx.get(f"{base}/", headers=auth).text
        post = {
            **auth,
            "X-Visinstruct-CSRF": re.search(r'<meta name="csrf" content="([^"]+)">', page).group(1),
        }
        before = {sid: httpx.get(f"{base}/api/samples/{sid}", headers=auth).json() for sid in picked}

        fake_openai.latency = 0.2
        fake_openai.reset()
        check = subprocess.Popen(
            [sys.executable, "-m", "visinstruct.cli", "check", str(run_dir), "--recipe", str(checked)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "VISINSTRUCT_TEST_KEY": "sk-test"},
        )
        while fake_openai.requests < 8 and check.poll() is None:  # the check is verifying now
            time.sleep(0.02)
        decided = {}
        for n, sid in enumerate(picked):
            rec = before[sid]
            if n % 2:
                body = {
                    "action": "reject",
                    "version": rec["version"],
                    "reviewer": "ana",
                    "reason": f"wrong {n}",
                }
            else:
                turns = [
                    {"question": t["question"], "answer": f"edited answer {n}"}
                    for t in rec["sample"]["turns"]
                ]
                body = {"action": "edit", "version": rec["version"], "reviewer": "ana", "turns": turns}
            r = httpx.post(f"{base}/api/samples/{sid}", headers=post, json=body)
            assert r.status_code == 200, r.text
            decided[sid] = body["action"]
        assert check.poll() is None, "the decisions must be posted while the check runs"
        out, err = check.communicate(timeout=600)
        assert check.returncode == 0, err
        assert fake_openai.requests >= n_verifiable - 20  # the check verified the run meanwhile

        after = {sid: httpx.get(f"{base}/api/samples/{sid}", headers=auth).json() for sid in picked}
    finally:
        review.terminate()
        review.wait(30)

    db = ReviewDB(run_dir)
    try:
        for n, sid in enumerate(picked):
            rec = after[sid]
            audit = db.audit(sid)
            assert [(a["action"], a["reviewer"]) for a in audit] == [(decided[sid], "ana")]
            assert rec["version"] == before[sid]["version"] + 1, "one decision, one new version"
            if decided[sid] == "edit":
                assert rec["sample"]["status"] == "edited"
                assert rec["sample"]["turns"][0]["answer"] == f"edited answer {n}"
            else:
                assert rec["sample"]["status"] == "rejected"
                assert rec["sample"]["checks"]["review"]["reason"] == f"wrong {n}"
    finally:
        db.close()
    with RunStore(run_dir, create=False) as store:
        for sid in picked:
            sample, version, dg = store.sample(sid)
            assert version == after[sid]["version"] and sample.status == after[sid]["sample"]["status"]
            row = store.db.execute(
                "SELECT digest FROM checks WHERE sample_id=? AND stage='verify'", (sid,)
            ).fetchone()
            if decided[sid] == "edit":  # verified as it is now, or not yet: never its old text's result
                assert row is None or row[0] == dg
        verified = store.db.execute("SELECT COUNT(*) FROM checks WHERE stage='verify'").fetchone()[0]
    assert verified >= n_verifiable - 20
