#!/usr/bin/env python3
"""Memory at scale: peak RSS of `run`, `check`, `report` and `export` as the run grows.

Three runs: synthetic items making about 1,000,000 samples, the same recipe at about
100,000 samples, and a model-driven run (source images → captions → domains → four types
in two languages, against the loopback server) making about 100,000 samples. Every command
runs in a process of its own; its peak RSS is read from the kernel (`getrusage`) for the
command's own process and, separately, for its worker processes. Limits: every figure
≤ 500 MB, and the peak at 1,000,000 samples ≤ 1.3 × the peak at 100,000.

    python bench/scale.py [--large 1000000] [--small 100000] [--model 100000] [--keep DIR]

The large run takes a while on two cores (tens of minutes); `--large 300000` gives a
quicker look.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loopback import Loopback, endpoint  # noqa: E402

DOMAINS = ["charts", "clocks", "differences", "geometry", "ocr", "scenes", "tables"]
EXPORTS = [("jsonl", "data.jsonl"), ("llava", "llava/data.json"), ("parquet", "parquet/data.parquet")]
LIMIT_MB = 500
EVERY_STATUS = ("--include", "needs_review", "--include", "rejected")  # export every sample made

MEASURE = """
import json, resource, sys, time
from visinstruct.cli import main
t0 = time.perf_counter()
try:
    main(sys.argv[1:])
    rc = 0
except SystemExit as e:
    rc = e.code or 0
kb = lambda who: resource.getrusage(who).ru_maxrss / 1024
print("MEASURED " + json.dumps({"rc": rc, "wall": time.perf_counter() - t0,
      "self_mb": kb(resource.RUSAGE_SELF), "workers_mb": kb(resource.RUSAGE_CHILDREN)}))
"""


def measure(*args: str) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    line = next((x for x in p.stdout.splitlines() if x.startswith("MEASURED ")), None)
    if line is None:
        raise SystemExit(f"{' '.join(args)} failed:\n{p.stderr[-2000:]}")
    out = json.loads(line[len("MEASURED ") :])
    if out["rc"] not in (0, None):
        raise SystemExit(f"{' '.join(args)} exited {out['rc']}:\n{p.stderr[-2000:]}")
    return out


def synthetic_recipe(per_domain: int, workers: int) -> dict:
    return {
        "name": "scale",
        "seed": 0,
        "languages": ["en", "zh"],
        "workers": workers,
        "synthetic": {d: per_domain for d in DOMAINS},
        "export": [{"format": f, "out": o} for f, o in EXPORTS],
    }


def samples_per_item(tmp: Path, workers: int) -> float:
    pilot = tmp / "pilot.yaml"
    pilot.write_text(yaml.safe_dump(synthetic_recipe(40, workers)))
    run_dir = tmp / "pilot"
    measure("run", str(pilot), "--run-dir", str(run_dir), "--no-export")
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        n = store.count_samples()
    shutil.rmtree(run_dir)
    return n / (40 * len(DOMAINS))


def make_images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (80, 64), (i * 37 % 256, i * 91 % 256, (i // 7) * 53 % 256))
        ImageDraw.Draw(img).text((4, 24), f"#{i}", fill=(255, 255, 255))
        img.save(folder / f"img{i:06d}.jpg", quality=85)


def steps(recipe: Path, run_dir: Path) -> list[tuple[str, tuple[str, ...]]]:
    out = [
        ("run", ("run", str(recipe), "--run-dir", str(run_dir), "--no-export")),
        ("check", ("check", str(run_dir))),
        ("report", ("report", str(run_dir))),
    ]
    for fmt, name in EXPORTS:
        out.append(
            (
                f"export {fmt}",
                ("export", str(run_dir), "--format", fmt, "--out", str(run_dir / "x" / name), *EVERY_STATUS),
            )
        )
    return out


def run_all(label: str, recipe: Path, run_dir: Path) -> dict[str, dict]:
    from visinstruct.store import RunStore

    results = {}
    for name, args in steps(recipe, run_dir):
        results[name] = measure(*args)
        r = results[name]
        print(
            f"  {label:<22} {name:<15} {r['wall']:8.1f} s   main {r['self_mb']:6.0f} MB   "
            f"workers {r['workers_mb']:6.0f} MB",
            flush=True,
        )
    with RunStore(run_dir, create=False) as store:
        results["samples"] = store.count_samples()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", type=int, default=1_000_000, help="samples of the large synthetic run")
    ap.add_argument("--small", type=int, default=100_000, help="samples of the small synthetic run")
    ap.add_argument("--model", type=int, default=100_000, help="samples of the model-driven run")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the runs in this folder")
    a = ap.parse_args()
    os.environ["VISINSTRUCT_BENCH_KEY"] = "sk-test"  # what the loopback server accepts
    root = a.keep or Path(tempfile.mkdtemp(prefix="visinstruct-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; runs in {root}", flush=True)
    try:
        per_item = samples_per_item(root, a.workers)
        figures: dict[str, dict] = {}
        for label, n in (("synthetic", a.small), ("synthetic", a.large)):
            per_domain = math.ceil(n / per_item / len(DOMAINS))
            recipe = root / f"synthetic-{n}.yaml"
            recipe.write_text(yaml.safe_dump(synthetic_recipe(per_domain, a.workers)))
            figures[f"{label} {n:,}"] = run_all(f"{label} {n:,}", recipe, root / f"synthetic-{n}")
        with Loopback() as server:
            per_image = 14  # the loopback server answers 2 questions a request (1 long), 2 languages
            folder = root / "images"
            make_images(folder, math.ceil(a.model / per_image))
            ep = endpoint(server, "fake-vlm", max_in_flight=64)
            recipe = root / "model.yaml"
            recipe.write_text(
                yaml.safe_dump(
                    {
                        "name": "scale-model",
                        "seed": 0,
                        "languages": ["en", "zh"],
                        "workers": a.workers,
                        "sources": [{"folder": str(folder)}],
                        "endpoints": {"m": ep},
                        "caption": {"endpoint": "m", "languages": ["en"]},
                        "instructions": {"endpoint": "m"},
                        "export": [{"format": f, "out": o} for f, o in EXPORTS],
                    }
                )
            )
            figures[f"model-driven {a.model:,}"] = run_all(
                f"model-driven {a.model:,}", recipe, root / "model"
            )
    finally:
        if a.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    print()
    names = [n for n, _ in steps(Path("r"), Path("d"))]
    print(f"{'peak RSS (MB), main / workers':<32}" + "".join(f"{k:>26}" for k in figures))
    worst = 0.0
    for name in names:
        cells = []
        for f in figures.values():
            r = f[name]
            worst = max(worst, r["self_mb"], r["workers_mb"])
            cells.append(f"{r['self_mb']:.0f} / {r['workers_mb']:.0f} ({r['wall']:.0f} s)")
        print(f"{name:<32}" + "".join(f"{c:>26}" for c in cells))
    print(f"{'samples':<32}" + "".join(f"{f['samples']:>26,}" for f in figures.values()))
    small, large = (figures[k] for k in list(figures)[:2])
    ratios = {
        n: max(large[n]["self_mb"], large[n]["workers_mb"]) / max(small[n]["self_mb"], small[n]["workers_mb"])
        for n in names
    }
    print(
        "peak at the large synthetic run ÷ peak at the small one: "
        + ", ".join(f"{n} {r:.2f}x" for n, r in ratios.items())
        + f"   (target <= 1.3x; worst {max(ratios.values()):.2f}x)"
    )
    verdict = "within" if worst <= LIMIT_MB else "OVER"
    print(f"largest peak of all: {worst:.0f} MB (limit {LIMIT_MB} MB) — {verdict}")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"bench time {time.perf_counter() - t:.0f} s")
