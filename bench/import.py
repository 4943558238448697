#!/usr/bin/env python3
"""Dataset import: TabMWP-shaped records with small table images, imported by `visinstruct run`.

Writes `problems_train.json` (records keyed by pid, the published TabMWP layout: free-text
integer and decimal answers, multiple choice with four and with two choices, solutions) and
one small PNG per record under `tables/`, then runs a recipe with that dataset source in a
process of its own: every record's image validated and stored, its samples of the four types
made, checked and committed. Figures: records per second over the whole `run` (its wall time:
start-up, import, the dataset-wide checks), and peak RSS of the main process and of the
worker processes (`getrusage`), at two sizes, and the CPU seconds each side spent. Targets:
≥ 3,000 records/s on 2 cores, and the peak at the large size within 1.3 × the peak at the small one.

The datasets and runs go in `--dir` (default: `bench-import/` under the current directory, where
a user's runs go; it is printed). On some file systems creating a file costs far more right
after many files were deleted nearby (ext4 passes over recently freed inodes), so the folder
is emptied only at the end, and only when the bench made it.

    python bench/import.py [--small 50000] [--large 200000] [--workers 2] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import yaml
from PIL import Image, ImageDraw

TARGET_RPS = 3000
FLAT = 1.3

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
cpu = lambda who: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(who))
print("MEASURED " + json.dumps({"rc": rc, "wall": time.perf_counter() - t0,
      "self_mb": kb(resource.RUSAGE_SELF), "workers_mb": kb(resource.RUSAGE_CHILDREN),
      "self_cpu": cpu(resource.RUSAGE_SELF), "workers_cpu": cpu(resource.RUSAGE_CHILDREN)}))
"""

NAMES = ["Ann", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal"]
TOWNS = ["Rocky Port", "Bay Harbor", "Starfish City", "Foggy Port", "Elm Grove", "Oak Hill"]


def problem(pid: int) -> dict:
    """One TabMWP-shaped problem (the field set of problems_*.json), answer computed from its table."""
    rng = random.Random(pid)
    rows = rng.sample(NAMES, 4)
    values = [rng.randint(1, 99) for _ in rows]
    table = "Name | Score\n" + "\n".join(f"{n} | {v}" for n, v in zip(rows, values, strict=True))
    base = {
        "choices": None,
        "unit": None,
        "table_title": f"Scores {pid}",
        "table": table,
        "table_for_pd": {"Name": rows, "Score": [str(v) for v in values]},
        "row_num": 5,
        "column_num": 2,
        "grade": rng.randint(1, 8),
        "split": "train",
    }
    kind = pid % 4
    if kind == 0:
        total = sum(values[:2])
        base.update(
            question=f"What is the total score of {rows[0]} and {rows[1]}?",
            answer=str(total),
            solution=f"Add the two scores.\n{values[0]} + {values[1]} = {total}\nThe total is {total}.",
            ques_type="free_text",
            ans_type="integer_number",
        )
    elif kind == 1:
        price = values[0] / 4
        base.update(
            question=f"A pen costs a quarter of {rows[0]}'s score in dollars. How much does it cost?",
            answer=f"{price:.2f}",
            unit="$",
            solution=f"Divide the score by 4.\n{values[0]} / 4 = {price:.2f}\nIt costs ${price:.2f}.",
            ques_type="free_text",
            ans_type="decimal_number",
        )
    elif kind == 2:
        best = rows[values.index(max(values))]
        base.update(
            question="Who has the highest score?",
            choices=rows,
            answer=best,
            solution=f"Compare the scores.\nThe highest is {max(values)}.\n{best} has the highest score.",
            ques_type="multi_choice",
            ans_type="extractive_text",
        )
    else:
        town = TOWNS[pid % len(TOWNS)]
        answer = "surplus" if values[0] > values[1] else "shortage"
        base.update(
            question=f"At a price of ${values[2]}, is there a shortage or a surplus in {town}?",
            choices=["shortage", "surplus"],
            answer=answer,
            solution=f"Compare the quantities.\n{values[0]} and {values[1]}.\nThere is a {answer}.",
            ques_type="multi_choice",
            ans_type="boolean_text",
        )
    return base


def table_png(pid: int) -> bytes:
    img = Image.new("RGB", (96, 48), (pid * 37 % 256, pid * 91 % 256, (pid // 7) * 53 % 256))
    ImageDraw.Draw(img).text((4, 16), f"#{pid}", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _write_images(args: tuple[Path, int, int]) -> None:
    folder, lo, hi = args
    for pid in range(lo, hi):
        (folder / f"{pid}.png").write_bytes(table_png(pid))


def make_dataset(root: Path, n: int, workers: int) -> Path:
    base = root / "tabmwp"
    tables = base / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    with open(base / "problems_train.json", "w", encoding="utf-8") as f:
        f.write("{")
        for pid in range(n):
            f.write(("," if pid else "") + f"\n {json.dumps(str(pid))}: " + json.dumps(problem(pid)))
        f.write("\n}")
    step = 2000
    with Pool(workers) as pool:
        pool.map(_write_images, [(tables, lo, min(n, lo + step)) for lo in range(0, n, step)])
    return base


def measure(*args: str) -> dict:
    p = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True)
    line = next((x for x in p.stdout.splitlines() if x.startswith("MEASURED ")), None)
    if line is None or json.loads(line[len("MEASURED ") :])["rc"] not in (0, None):
        raise SystemExit(f"{' '.join(args)} failed:\n{p.stdout[-1500:]}\n{p.stderr[-2000:]}")
    return json.loads(line[len("MEASURED ") :])


def run_size(root: Path, n: int, workers: int) -> dict:
    folder = root / f"n{n}"
    data = make_dataset(folder, n, workers)
    recipe = {
        "name": f"import-{n}",
        "workers": workers,
        "sources": [{"dataset": "tabmwp", "path": str(data), "split": "train"}],
    }
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    run_dir = folder / "run"
    r = measure("run", str(folder / "recipe.yaml"), "--run-dir", str(run_dir), "--no-export")
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        [(_, images, questions, bad, samples)] = store.dataset_counts()
    if (images, questions, bad) != (n, n, 0):
        raise SystemExit(f"{n} records: {images} images, {questions} questions, {bad} bad records")
    r.update(records=n, samples=samples, rps=n / r["wall"])
    print(
        f"  {n:>8,} records  {samples:>9,} samples  {r['wall']:7.1f} s  {r['rps']:7,.0f} records/s   "
        f"main {r['self_mb']:5.0f} MB   workers {r['workers_mb']:5.0f} MB   "
        f"cpu main {r['self_cpu']:5.1f} s workers {r['workers_cpu']:5.1f} s "
        f"({1000 * (r['self_cpu'] + r['workers_cpu']) / n:.2f} ms CPU per record: main "
        f"{1000 * r['self_cpu'] / n:.2f}, workers {1000 * r['workers_cpu'] / n:.2f})",
        flush=True,
    )
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=50_000)
    ap.add_argument("--large", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("bench-import"), help="where datasets and runs go")
    ap.add_argument("--keep", action="store_true", help="keep the datasets and runs afterwards")
    a = ap.parse_args()
    if a.dir.exists() and any(a.dir.iterdir()):
        raise SystemExit(f"{a.dir}: not empty; give an empty or new folder with --dir")
    made = not a.dir.exists()
    root = Path(tempfile.mkdtemp(prefix="run-", dir=a.dir.resolve())) if not made else a.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, {a.workers} workers; runs in {root}", flush=True)
    try:
        small = run_size(root, a.small, a.workers)
        large = run_size(root, a.large, a.workers)
    finally:
        if not a.keep:
            shutil.rmtree(a.dir if made else root, ignore_errors=True)
    ratio = large["self_mb"] / small["self_mb"]
    wratio = large["workers_mb"] / small["workers_mb"]
    ok_rps = min(small["rps"], large["rps"]) >= TARGET_RPS
    ok_flat = ratio <= FLAT and wratio <= FLAT
    print(
        f"records/s: {small['rps']:,.0f} at {a.small:,}, {large['rps']:,.0f} at {a.large:,} "
        f"(target ≥ {TARGET_RPS:,}): {'ok' if ok_rps else 'BELOW'}"
    )
    print(
        f"peak RSS: main {small['self_mb']:.0f} → {large['self_mb']:.0f} MB (× {ratio:.2f}), "
        f"workers {small['workers_mb']:.0f} → {large['workers_mb']:.0f} MB (× {wratio:.2f}) "
        f"(flat: ≤ × {FLAT}): {'ok' if ok_flat else 'NOT FLAT'}"
    )
    sys.exit(0 if ok_rps and ok_flat else 1)


if __name__ == "__main__":
    main()
