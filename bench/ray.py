#!/usr/bin/env python3
"""The Ray executor on this machine, against the local executor, in one run.

1. Synthetic throughput: the same recipe (every offline domain) run by the local executor
   and on a local Ray cluster of as many CPUs as workers, best of `--repeat` each; the ratio
   is Ray's throughput ÷ local (target ≥ 0.8 on 2 cores). The cluster is started once, before
   either is timed, as a cluster is running before a job is sent to it.
2. Rate limit: a model-driven run (source images → captions, domains, four types) on Ray with
   `--ray-workers` tasks at once, against a loopback server that answers 429 above `--rpm`
   requests a minute. Printed: the rate reached while requests were sent, as a share of the
   limit (target ≥ 95%), the share of requests answered 429 (target < 1%), and the run's
   ledger against the server's own count.
3. Driver memory: peak RSS of the process running `visinstruct run` on the cluster at two run
   sizes (`--small`, `--large` samples; target: large ≤ 1.3 × small).

    python bench/ray.py [--per-domain 150] [--rpm 6000] [--images 500] [--small 100000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # `import ray`: Ray, not this file
import ray  # noqa: E402

sys.path.insert(0, str(HERE))
from loopback import Loopback, endpoint  # noqa: E402
from pipeline import images  # noqa: E402

from visinstruct.recipe import parse_recipe  # noqa: E402
from visinstruct.runner import run_recipe  # noqa: E402
from visinstruct.synth import REGISTRY  # noqa: E402

SAMPLES_PER_ITEM = 6.4  # what the synthetic domains make per item, on average (en and zh)


def synthetic(per_domain: int, name: str = "bench") -> dict:
    return {
        "name": name,
        "seed": 0,
        "languages": ["en", "zh"],
        "synthetic": {d: per_domain for d in sorted(REGISTRY)},
        "checks": {"dedup": False},
    }


def throughput(per_domain: int, workers: int, repeat: int, where: str) -> tuple[float, float, int]:
    """(local s, Ray s, samples): best of `repeat` each, Ray on the running cluster."""
    recipe = parse_recipe(synthetic(per_domain))
    best = {"local": float("inf"), "ray": float("inf")}
    samples = 0
    for _ in range(repeat):
        for kind in ("local", "ray"):
            with tempfile.TemporaryDirectory(dir=where) as d:
                t0 = time.perf_counter()
                s = run_recipe(recipe, d, workers=workers, exports=False, executor_kind=kind)
                best[kind] = min(best[kind], time.perf_counter() - t0)
                samples = s.samples
    return best["local"], best["ray"], samples


class Watch(threading.Thread):
    """Polls the server's counters: when requests started and stopped arriving."""

    def __init__(self, server: Loopback) -> None:
        super().__init__(daemon=True)
        self.server, self.done = server, threading.Event()
        self.first = self.last = None
        self.seen = 0

    def run(self) -> None:
        while not self.done.is_set():
            n = self.server.stats()["requests"]
            now = time.perf_counter()
            if n and self.first is None:
                self.first = now
            if n != self.seen:
                self.seen, self.last = n, now
            self.done.wait(0.05)


def rate_limited(n_images: int, rpm: float, ray_workers: int, where: str) -> dict:
    with tempfile.TemporaryDirectory(dir=where) as tmp, Loopback(rpm=rpm) as server:
        folder = Path(tmp) / "images"
        images(folder, n_images)
        recipe = parse_recipe(
            {
                "name": "ratelimit",
                "seed": 0,
                "languages": ["en"],
                "sources": [{"folder": str(folder)}],
                "endpoints": {"m": endpoint(server, "fake-vlm", max_in_flight=64, timeout=60)},
                "caption": {"endpoint": "m", "languages": ["en"]},
                "instructions": {"endpoint": "m"},
                "checks": {"dedup": False, "image_dedup": False},
                "executor": {"ray": {"workers": ray_workers}},
            }
        )
        watch = Watch(server)
        watch.start()
        summary = run_recipe(recipe, Path(tmp) / "run", exports=False)
        watch.done.set()
        watch.join()
        stats = server.stats()
        with sqlite3.connect(Path(tmp) / "run" / "run.db") as db:
            sent, retries, failed = db.execute(
                "SELECT SUM(requests), SUM(retries), SUM(failed) FROM ledger"
            ).fetchone()
    ok = stats["ok"]
    limited = int(stats["by_status"].get("429", 0))
    span = (watch.last - watch.first) if watch.first and watch.last else float("nan")
    return {
        "samples": summary.samples,
        "server_requests": stats["requests"],
        "server_ok": ok,
        "server_429": limited,
        "ledger_requests": sent,
        "ledger_retries": retries,
        "ledger_failed": failed,
        "span_s": span,
        "rate_per_min": ok / span * 60 if span else float("nan"),
    }


DRIVER = """
import json, resource, sys
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
recipe = parse_recipe(json.loads(sys.argv[1]))
s = run_recipe(recipe, sys.argv[2], exports=False, executor_kind="ray")
print(json.dumps({"samples": s.samples, "failed": s.failed, "gave_up": s.gave_up, "complete": s.complete,
                  "stages": {k: vars(c) for k, c in s.stages.items()},
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def driver_rss(samples: int, address: str, where: str) -> dict:
    per_domain = max(1, round(samples / SAMPLES_PER_ITEM / len(REGISTRY)))
    with tempfile.TemporaryDirectory(dir=where) as d:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", DRIVER, json.dumps(synthetic(per_domain)), d],
            env={**os.environ, "RAY_ADDRESS": address},
            capture_output=True,
            text=True,
        )
        if out.returncode:
            log = Path(where) / f"driver-{samples}.err"
            log.write_text(out.stderr)
            raise SystemExit(
                f"the {samples:,}-sample driver run failed (exit {out.returncode}; its whole stderr: "
                f"{log}):\n{out.stderr[-3000:]}"
            )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["seconds"] = time.perf_counter() - t0
        return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--per-domain", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=3, help="0: skip the throughput part")
    ap.add_argument("--rpm", type=float, default=6000)
    ap.add_argument(
        "--images",
        type=int,
        default=500,
        help="source images of the rate-limit run, 6 requests each (0: skip)",
    )
    ap.add_argument("--ray-workers", type=int, default=4)
    ap.add_argument(
        "--small", type=int, default=100_000, help="samples of the small driver-memory run (0: skip)"
    )
    ap.add_argument("--large", type=int, default=1_000_000, help="samples of the large driver-memory run")
    ap.add_argument("--dir", default="runs", help="where the run directories go")
    a = ap.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    os.environ["VISINSTRUCT_BENCH_KEY"] = "sk-test"
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    print(f"machine: {os.cpu_count()} cores; local workers={a.workers}; Ray {ray.__version__}")
    if a.repeat or a.images:
        ray.init(
            address="local",
            num_cpus=max(a.workers, a.ray_workers),
            include_dashboard=False,
            log_to_driver=False,
        )
    if a.repeat:
        local, on_ray, samples = throughput(a.per_domain, a.workers, a.repeat, a.dir)
        print(
            f"synthetic {samples} samples: local {samples / local:,.0f} samples/s ({local:.2f} s), "
            f"Ray {samples / on_ray:,.0f} samples/s ({on_ray:.2f} s)"
        )
        print(f"Ray ÷ local throughput: {local / on_ray:.2f}x   target >= 0.8x")
    if a.images:
        r = rate_limited(a.images, a.rpm, a.ray_workers, a.dir)
        share_429 = r["server_429"] / max(1, r["server_requests"])
        print(
            f"rate limit {a.rpm:,.0f}/min, {a.ray_workers} Ray workers: {r['server_ok']} answered "
            f"in {r['span_s']:.1f} s = {r['rate_per_min']:,.0f}/min "
            f"({r['rate_per_min'] / a.rpm:.1%} of the limit, target >= 95%); "
            f"429: {r['server_429']} of {r['server_requests']} ({share_429:.2%}, target < 1%)"
        )
        print(
            f"ledger: {r['ledger_requests']} requests, {r['ledger_retries']} retries, "
            f"{r['ledger_failed']} failed; server: {r['server_requests']} requests ({r['server_ok']} ok)"
        )
    if ray.is_initialized():
        ray.shutdown()
    if not a.small:
        return
    subprocess.run(
        ["ray", "start", "--head", "--port", "6390", f"--num-cpus={a.workers}", "--include-dashboard=false"],
        check=True,
        capture_output=True,
    )
    try:
        small = driver_rss(a.small, "127.0.0.1:6390", a.dir)
        large = driver_rss(a.large, "127.0.0.1:6390", a.dir)
    finally:
        subprocess.run(["ray", "stop", "--force"], capture_output=True)
    for r in (small, large):
        print(f"driver: {r['samples']:,} samples, peak RSS {r['rss_mb']:.0f} MB, {r['seconds']:.0f} s")
    print(f"driver peak RSS large ÷ small: {large['rss_mb'] / small['rss_mb']:.2f}x   target <= 1.3x")


if __name__ == "__main__":
    main()
