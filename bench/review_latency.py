"""Latency of the review server's queue and sample loads over a 100,000-sample run.

    python bench/review_latency.py [--n 100000] [--requests 200]

Builds a small real run with the engine, then inserts synthetic rows (copies of one real
sample's record with new ids, domains, types, statuses and failed checks) straight into
SQLite, and times requests through the app in-process (TestClient: includes routing,
the auth middleware and JSON encoding, but not a socket).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from visinstruct.recipe import parse_recipe
from visinstruct.records import Sample
from visinstruct.review import create_app
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

DOMAINS = ["clocks", "scenes", "charts", "tables", "documents", "geometry", "ocr", "differences"]
TYPES = ["judgement", "multiple_choice", "short_vqa", "long_vqa", "caption"]
STATUSES = ["accepted"] * 80 + ["needs_review"] * 10 + ["rejected"] * 6 + ["edited"] * 4
TOKEN = "bench-token"


def build(run_dir: Path, n: int, seed: int = 0) -> float:
    t0 = time.perf_counter()
    run(parse_recipe({"seed": 1, "languages": ["en"], "synthetic": {"clocks": 2}}), run_dir, workers=1)
    rng = random.Random(seed)
    by_status = {
        "accepted": {},
        "needs_review": {"planted": {"pass": False, "reason": "to review", "severity": "review"}},
        "rejected": {"planted": {"pass": False, "reason": "planted", "severity": "reject"}},
        "edited": {"review": {"pass": True, "action": "edit", "reviewer": "bench"}},
    }
    with RunStore(run_dir) as store:
        template = next(store.iter_samples()).to_dict()
        batch: list[Sample] = []
        for i in range(n):
            d = dict(template)
            d["id"] = f"bench{i:015d}"
            d["domain"], d["type"], status = rng.choice(DOMAINS), rng.choice(TYPES), rng.choice(STATUSES)
            checks = dict(by_status[status])
            if rng.random() < 0.08:
                checks["verify"] = {"pass": False, "reason": "the verifier disagreed", "severity": "review"}
            elif rng.random() < 0.5:
                checks["verify"] = {"pass": True, "model_answer": "12:10"}
            d["checks"] = checks
            word = "zebra" if rng.random() < 0.01 else "clock"
            d["turns"] = [
                {"question": f"What does this {word} show? (#{i})", "answer": f"{i % 12}:{i % 60:02d}"}
            ]
            batch.append(Sample.from_dict(d))
            if len(batch) == 1000 or i == n - 1:
                store.add_samples(f"bench/{i // 1000}", 10_000 + i // 1000, batch)
                batch = []
    return time.perf_counter() - t0


def timed(client: TestClient, urls: list[str]) -> list[float]:
    out = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for url in urls:
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        built = build(run_dir, args.n)
        t = time.perf_counter()
        app = create_app(run_dir, TOKEN)
        opened = time.perf_counter() - t
        print(f"built {args.n:,} samples in {built:.1f}s; app ready (indexes) in {opened:.2f}s")
        k = args.requests
        # the app lives under its random prefix: the client puts it before every URL below
        with TestClient(app, base_url=f"http://127.0.0.1{app.state.prefix}/") as client:
            first = client.get("/api/samples?limit=50", headers={"Authorization": f"Bearer {TOKEN}"}).json()
            cursors = [first["next"]]
            for _ in range(20):  # walk some pages to get real cursors deep into the queue
                page = client.get(
                    f"/api/samples?limit=50&after={cursors[-1]}", headers={"Authorization": f"Bearer {TOKEN}"}
                ).json()
                cursors.append(page["next"])
            ids = [f"bench{rng.randrange(args.n):015d}" for _ in range(k)]
            cases = {
                "queue (no filter)": ["/api/samples?limit=50"] * k,
                "queue next pages": [f"/api/samples?limit=50&after={rng.choice(cursors)}" for _ in range(k)],
                "queue status": [
                    f"/api/samples?status={rng.choice(['accepted', 'rejected'])}" for _ in range(k)
                ],
                "queue domain+type": [
                    f"/api/samples?domain={rng.choice(DOMAINS)}&type={rng.choice(TYPES)}" for _ in range(k)
                ],
                "queue status+domain+type": [
                    f"/api/samples?status=needs_review&domain={rng.choice(DOMAINS)}&type={rng.choice(TYPES)}"
                    for _ in range(k)
                ],
                "queue failed check": ["/api/samples?check=verify"] * k,
                "queue search (common)": ["/api/samples?q=clock"] * k,
                "queue search (1% rare)": ["/api/samples?q=zebra"] * k,
                "queue search (no match)": ["/api/samples?q=nothing-matches-this"] * (k // 4),
                "queue check (never fails)": ["/api/samples?check=duplicate"] * (k // 4),
                "queue domain only": [f"/api/samples?domain={rng.choice(DOMAINS)}" for _ in range(k)],
                "sample load": [f"/api/samples/{i}" for i in ids],
                "progress": ["/api/progress"] * (k // 4),
            }
            print(f"{'request':28s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
            worst = 0.0
            for name, urls in cases.items():
                timed(client, urls[:5])  # warm up
                ms = timed(client, urls)
                p95 = pct(ms, 95)
                if name != "progress":
                    worst = max(worst, p95)
                print(f"{name:28s} {len(ms):5d} {statistics.median(ms):8.2f} {p95:8.2f} {max(ms):8.2f}")
            print(f"worst p95 over queue pages and sample loads: {worst:.2f} ms (target <= 50 ms)")
        app.state.review.close()


if __name__ == "__main__":
    main()
