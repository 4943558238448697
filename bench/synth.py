#!/usr/bin/env python3
"""Synthetic throughput: images/s through the whole engine, and its overhead.

The engine run draws, encodes, hashes and stores every image, finishes and checks its
instructions, and commits everything to the run's SQLite. The bare run draws and encodes
the same images on the same number of processes and does nothing else. The overhead
ratio is engine time ÷ bare time (targets on a 2-core machine: ≥ 250 images/s using
both cores, overhead ≤ 1.2×).

With `--realism 0.5` half the items are shown as photographs or scans on both sides (target:
≥ 150 images/s).

    python bench/synth.py [--per-domain 150] [--workers 2] [--repeat 3] [--dir runs] [--realism 0.5]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from visinstruct.png import encode_png
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.stages.synthetic import plan
from visinstruct.synth import REGISTRY, get_domain, realism, warm


def cpu_seconds() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def bare_chunk(tasks) -> int:
    """Draw (with the recipe's realism) and encode, nothing else: the floor the engine is
    measured against."""
    n = 0
    for t in tasks:
        domain = get_domain(t.domain)
        item = domain.make(random.Random(t.seed), t.lang)
        if t.realism:
            item, _ = realism.apply(domain, item, random.Random(f"{t.seed}:realism"), t.realism, t.lang)
        for img in item.images:
            if not item.encoded:  # a photographed look comes encoded (JPEG), as the engine stores it
                encode_png(img)
            n += 1
    return n


def bare(tasks, workers: int) -> tuple[float, int, float]:
    size = max(1, min(16, len(tasks) // (workers * 8)))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    c0, t0 = cpu_seconds(), time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        n = sum(pool.map(bare_chunk, chunks))
    return time.perf_counter() - t0, n, cpu_seconds() - c0


def engine(recipe, workers: int, where: str) -> tuple[float, int, float, int]:
    with tempfile.TemporaryDirectory(dir=where) as d:
        c0, t0 = cpu_seconds(), time.perf_counter()
        summary = run(recipe, d, workers=workers)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds() - c0
        n_images = sum(len(files) for _, _, files in os.walk(d + "/images"))
        return wall, n_images, cpu, summary.samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-domain", type=int, default=150)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for each side")
    ap.add_argument("--domains", default=",".join(sorted(REGISTRY)))
    ap.add_argument("--dir", default="runs", help="where the engine's run directories go")
    ap.add_argument("--realism", type=float, default=0.0, help="share of items photographed or scanned")
    ap.add_argument("--target", type=float, default=None, help="images/s wanted (250; 150 with realism)")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    domains = a.domains.split(",")
    recipe = parse_recipe(
        {
            "name": "bench",
            "seed": 0,
            "languages": ["en", "zh"],
            "realism": a.realism,
            "synthetic": {d: a.per_domain for d in domains},
        }
    )
    tasks = list(plan(recipe))
    warm(domains)  # imports and phrasings, loaded before either side forks, as a run does

    best_bare = best_engine = None
    for _ in range(a.repeat):
        b = bare(tasks, a.workers)
        e = engine(recipe, a.workers, a.dir)
        best_bare = b if best_bare is None or b[0] < best_bare[0] else best_bare
        best_engine = e if best_engine is None or e[0] < best_engine[0] else best_engine
    bw, bn, bcpu = best_bare
    ew, en, ecpu, samples = best_engine
    cores = a.workers
    print(
        f"machine: {os.cpu_count()} cores; workers={a.workers}; "
        f"{len(tasks)} items over {len(domains)} domains"
    )
    print(
        f"bare   render+encode : {bn / bw:8.1f} images/s  ({bn} images in {bw:.2f} s, "
        f"CPU use {bcpu / bw / cores:.0%} of {cores} cores, {bcpu / bn * 1000:.2f} ms CPU per image)"
    )
    print(
        f"engine full pipeline : {en / ew:8.1f} images/s  ({en} images, {samples} samples in {ew:.2f} s, "
        f"CPU use {ecpu / ew / cores:.0%} of {cores} cores, {ecpu / en * 1000:.2f} ms CPU per image)"
    )
    ratio = ew / bw
    print(f"overhead ratio (engine time / bare time, same images): {ratio:.2f}x   target <= 1.2x")
    # CPU time does not depend on what else the machine runs as wall time does
    print(f"CPU ratio (engine CPU / bare CPU per image): {ecpu / en / (bcpu / bn):.2f}x")
    target = a.target or (150 if a.realism else 250)
    print(f"throughput vs target: {en / ew / target:.2f}x of {target:g} images/s (realism {a.realism:g})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
