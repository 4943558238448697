#!/usr/bin/env python3
"""Sharded exports at scale: shard sizes against the target, rows against JSONL, flat memory.

Builds synthetic runs of about 10,000 and 100,000 samples (or reuses those in --dir), exports
each as parquet-shards, webdataset and jsonl-shards, and the plain jsonl export, every export
in a process of its own whose peak RSS is read from the kernel (`getrusage`). Prints per format
the spread of shard sizes around the target (every shard but the last), whether the shards hold
exactly the JSONL export's rows in its order, and the peak RSS at the large run ÷ at the small
one (target ≤ 1.3×: memory flat in the run's size).

    python bench/shards.py [--small 10000] [--large 100000] [--shard-size 32MB] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import DOMAINS, measure, samples_per_item  # noqa: E402

FORMATS = {"parquet-shards": "parquet", "webdataset": "tar", "jsonl-shards": "jsonl"}


def build(root: Path, n: int, per_item: float, workers: int) -> Path:
    """A synthetic run of about `n` samples at `root/run-<n>`, made once."""
    run_dir = root / f"run-{n}"
    if (run_dir / "run.db").is_file():
        print(f"  reusing {run_dir}", flush=True)
        return run_dir
    per_domain = math.ceil(n / per_item / len(DOMAINS))
    recipe = root / f"run-{n}.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "shards",
                "seed": 0,
                "languages": ["en", "zh"],
                "workers": workers,
                "synthetic": {d: per_domain for d in DOMAINS},
            }
        )
    )
    t = time.perf_counter()
    measure("run", str(recipe), "--run-dir", str(run_dir), "--no-export")
    print(f"  made {run_dir} in {time.perf_counter() - t:.0f} s", flush=True)
    return run_dir


def shard_ids(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet-shards":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=["id"]).column("id").to_pylist()
    if fmt == "jsonl-shards":
        with open(path, encoding="utf-8") as f:
            return [json.loads(line)["id"] for line in f]
    with tarfile.open(path) as tar:
        return [json.load(tar.extractfile(m))["id"] for m in tar if m.name.endswith(".json")]


def export_all(run_dir: Path, shard_size: str) -> dict[str, dict]:
    out = run_dir / "bench-exports"
    shutil.rmtree(out, ignore_errors=True)
    figures = {}
    r = measure("export", str(run_dir), "--format", "jsonl", "--out", str(out / "data.jsonl"))
    with open(out / "data.jsonl", encoding="utf-8") as f:
        jsonl_ids = [json.loads(line)["id"] for line in f]
    figures["jsonl"] = {**r, "rows": len(jsonl_ids)}
    for fmt, ext in FORMATS.items():
        folder = out / fmt
        r = measure("export", str(run_dir), "--format", fmt, "--out", str(folder), "--shard-size", shard_size)
        index = json.loads((folder / f"train.{ext}.shards.json").read_text("utf-8"))
        files = sorted(folder.glob(f"train-*.{ext}"))
        ids = [i for p in files for i in shard_ids(p, fmt)]
        figures[fmt] = {
            **r,
            "target": index["shard_size"],
            "sizes": [p.stat().st_size for p in files],
            "same_rows": ids == jsonl_ids and [s["file"] for s in index["shards"]] == [p.name for p in files],
            "rows": len(ids),
        }
        print(
            f"    {fmt:<15} {len(files):>4} shards  {sum(figures[fmt]['sizes']) / 1e6:9.1f} MB  "
            f"{r['wall']:7.1f} s  peak RSS {r['self_mb']:6.0f} MB",
            flush=True,
        )
    return figures


def spread(sizes: list[int], target: int) -> str:
    whole = sizes[:-1] or sizes
    rel = [s / target for s in whole]
    worst = max(abs(x - 1) for x in rel)
    return (
        f"min {min(rel):.3f}  median {statistics.median(rel):.3f}  max {max(rel):.3f}  "
        f"(worst {worst * 100:.1f}% off; last shard {sizes[-1] / target:.3f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10_000, help="samples of the small run")
    ap.add_argument("--large", type=int, default=100_000, help="samples of the large run")
    ap.add_argument("--shard-size", default="32MB", help="target shard size (default 32MB: several shards)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dir", type=Path, default=None, help="make (or reuse) the runs here, and keep them")
    a = ap.parse_args()
    root = a.dir or Path(tempfile.mkdtemp(prefix="visinstruct-shards-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; runs in {root}", flush=True)
    try:
        per_item = samples_per_item(root, a.workers)
        results = {}
        for n in (a.small, a.large):
            run_dir = build(root, n, per_item, a.workers)
            print(f"  exports of {run_dir.name}:", flush=True)
            results[n] = export_all(run_dir, a.shard_size)
    finally:
        if a.dir is None:
            shutil.rmtree(root, ignore_errors=True)

    small, large = results[a.small], results[a.large]
    print()
    print(f"shard sizes ÷ target ({a.shard_size}), all shards but the last, {large['jsonl']['rows']:,} rows:")
    for fmt in FORMATS:
        f = large[fmt]
        print(f"  {fmt:<15} {len(f['sizes']):>4} shards  {spread(f['sizes'], f['target'])}")
    print("rows across the shards equal to the JSONL export's (same ids, same order):")
    for fmt in FORMATS:
        print(
            f"  {fmt:<15} {'yes' if small[fmt]['same_rows'] and large[fmt]['same_rows'] else 'NO'}  "
            f"({small[fmt]['rows']:,} and {large[fmt]['rows']:,} rows)"
        )
    print(f"peak RSS of the export process, {small['jsonl']['rows']:,} → {large['jsonl']['rows']:,} rows:")
    worst = 0.0
    for fmt in ("jsonl", *FORMATS):
        ratio = large[fmt]["self_mb"] / small[fmt]["self_mb"]
        worst = max(worst, ratio) if fmt in FORMATS else worst  # jsonl: the single-file reference
        over = (
            ""
            if fmt == "jsonl"
            else (
                f"   above the jsonl export: {small[fmt]['self_mb'] - small['jsonl']['self_mb']:+.0f} MB → "
                f"{large[fmt]['self_mb'] - large['jsonl']['self_mb']:+.0f} MB"
            )
        )
        mb = f"{small[fmt]['self_mb']:6.0f} MB → {large[fmt]['self_mb']:6.0f} MB"
        print(f"  {fmt:<15} {mb}   {ratio:.2f}x{over}")
    print(f"worst sharded ratio {worst:.2f}x (target ≤ 1.3x) — {'flat' if worst <= 1.3 else 'GROWS'}")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"bench time {time.perf_counter() - t:.0f} s")
