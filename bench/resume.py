#!/usr/bin/env python3
"""Resume identity: runs killed with SIGKILL at random points, then run again, against one
uninterrupted run — the same `jsonl` export, byte for byte?

A model-driven recipe (30 source images → captions → domains → four types → verification)
against the loopback server (400 ms a request, so that a run lasts long enough to be
killed anywhere). Each trial starts a fresh run directory,
kills `visinstruct run` (the whole process group) once the server has seen a random number
of its requests, runs the same command again to the end, and compares its export with the
uninterrupted run's. A last trial kills one run directory at every point in turn.

    python bench/resume.py [--points 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from loopback import Loopback, endpoint  # noqa: E402
from test_resume import done_units, thirty_images  # noqa: E402


def export(run_dir: Path, out: Path) -> bytes:
    cmd = [
        sys.executable,
        "-m",
        "visinstruct.cli",
        "export",
        str(run_dir),
        "--format",
        "jsonl",
        "--out",
        str(out),
    ]
    subprocess.run(
        [*cmd, "--include", "needs_review", "--include", "rejected"], check=True, capture_output=True
    )
    return out.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    env = {**os.environ, "VISINSTRUCT_BENCH_KEY": "sk-test"}
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp, Loopback(latency_ms=400) as server:
        root = Path(tmp)
        images = thirty_images(root / "images")
        eps = {"vlm": endpoint(server, "fake-vlm"), "llm": endpoint(server, "fake-model")}
        recipe = root / "r.yaml"
        recipe.write_text(
            yaml.safe_dump(
                {
                    "name": "resume",
                    "seed": 1,
                    "languages": ["en", "zh"],
                    "sources": [{"folder": str(images)}],
                    "endpoints": eps,
                    "caption": {"endpoint": "vlm", "languages": ["en"]},
                    "instructions": {"endpoint": "llm"},
                    "checks": {"verify": {"endpoint": "vlm"}},
                }
            )
        )
        cmd = [sys.executable, "-m", "visinstruct.cli", "run", str(recipe), "--no-export", "--run-dir"]
        server.reset()
        t0 = time.perf_counter()
        subprocess.run([*cmd, str(root / "clean")], check=True, capture_output=True, env=env)
        clean_s = time.perf_counter() - t0
        expected = export(root / "clean", root / "out" / "clean.jsonl")
        total, requests = done_units(root / "clean"), server.stats()["requests"]
        print(
            f"uninterrupted: {total} units, {requests} requests, {len(expected.splitlines())} samples "
            f"in {clean_s:.1f} s",
            flush=True,
        )

        # Kill points are counted in requests the server has seen since the trial began (units
        # are committed in batches, so a count of committed units can jump past the point).
        def kill_at(run_dir: Path, point: int) -> int:
            proc = subprocess.Popen(
                [*cmd, str(run_dir)],
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            while proc.poll() is None and server.stats()["requests"] < point:
                time.sleep(0.01)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return done_units(run_dir)

        points = sorted(rng.sample(range(1, requests), a.points))
        same = 0
        for n, point in enumerate(points):
            run_dir = root / f"trial{n}"
            server.reset()
            at = kill_at(run_dir, point)
            subprocess.run([*cmd, str(run_dir)], check=True, capture_output=True, env=env)
            ok = export(run_dir, root / "out" / f"trial{n}.jsonl") == expected
            same += ok
            print(
                f"  killed after {point:>4}/{requests} requests, {at:>4}/{total} units done → "
                f"rerun: {'identical' if ok else 'DIFFERENT'}",
                flush=True,
            )
        print(f"identical to the uninterrupted run: {same} of {len(points)} runs killed once", flush=True)

        run_dir = root / "many"
        at = []
        for gap in [points[0]] + [max(1, b - a) for a, b in zip(points, points[1:], strict=False)]:
            server.reset()  # each rerun is killed after the next gap's worth of new requests
            at.append(kill_at(run_dir, gap))
        subprocess.run([*cmd, str(run_dir)], check=True, capture_output=True, env=env)
        ok = export(run_dir, root / "out" / "many.jsonl") == expected
        verdict = "identical" if ok else "DIFFERENT"
        print(f"one run killed {len(points)} times (at {', '.join(map(str, at))}): {verdict}")


if __name__ == "__main__":
    main()
