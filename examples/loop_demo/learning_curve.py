"""Accuracy per category against the number of training samples of each category.

Generates the pool and the held-out eval set with visinstruct (the recipes next to this
file), trains `model.py` on the first n samples of every category of the pool for several
n, and prints one row per category. It shows what the loop demonstration relies on: each
category's accuracy grows with its own training data, and categories differ in difficulty.

    python examples/loop_demo/learning_curve.py --work /tmp/loop_demo --sizes 60,150,300,600
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import model  # noqa: E402  (model.py next to this file)


def generate(recipe: Path, run_dir: Path) -> Path:
    """Run a recipe (a finished run is only re-exported) and return its jsonl export."""
    subprocess.run(
        ["visinstruct", "run", str(recipe), "--run-dir", str(run_dir)], check=True, stdout=subprocess.DEVNULL
    )
    exports = sorted((run_dir / "exports").glob("*.jsonl"))
    if len(exports) != 1:
        sys.exit(f"expected one jsonl export in {run_dir / 'exports'}, found {len(exports)}")
    return exports[0]


def load(path: Path, cache: model.BlobCache) -> list[model.Example]:
    examples = model.load_all([path], model.DEFAULT_DOMAINS, model.DEFAULT_TYPES)
    cache.ensure(examples)
    return examples


def shuffled_by_category(examples: list[model.Example], seed: int) -> dict[str, list[model.Example]]:
    """The pool per category in a fixed random order: the first n are "n samples"."""
    by_cat: dict[str, list[model.Example]] = defaultdict(list)
    for ex in examples:
        by_cat[ex.category].append(ex)
    rng = random.Random(seed)
    for cat in sorted(by_cat):
        rng.shuffle(by_cat[cat])
    return dict(sorted(by_cat.items()))


def evaluate(
    examples: list[model.Example], held_out: list[model.Example], cache: model.BlobCache
) -> dict[str, float]:
    """Train on `examples`, return accuracy per category on `held_out`."""
    trained = model.train(examples, cache, model.DEFAULT_DOMAINS, model.DEFAULT_TYPES, model.DEFAULT_C)
    preds = model.predict(trained, held_out, cache)
    results = [model.result_row(ex, p) for ex, p in zip(held_out, preds, strict=True)]
    return {cat: acc for cat, (_, acc) in model.accuracy_by_category(results).items()}


def prepare(work: Path) -> tuple[dict[str, list[model.Example]], list[model.Example], model.BlobCache]:
    t0 = time.perf_counter()
    pool_file = generate(HERE / "pool.yaml", work / "pool")
    eval_file = generate(HERE / "eval.yaml", work / "eval")
    t1 = time.perf_counter()
    cache = model.BlobCache()
    pool = load(pool_file, cache)
    held_out = load(eval_file, cache)
    t2 = time.perf_counter()
    print(f"data: {t1 - t0:.1f} s to generate, {t2 - t1:.1f} s to read and compute image features")
    return shuffled_by_category(pool, 0), held_out, cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/loop_demo", help="where the generated runs go")
    parser.add_argument("--sizes", default="60,150,300,600", help="training samples per category")
    parser.add_argument("--seeds", type=int, default=1, help="repeat with this many pool orders, averaged")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    pool, held_out, cache = prepare(Path(args.work))
    eval_n = defaultdict(int)
    for ex in held_out:
        eval_n[ex.category] += 1
    print("pool per category: " + ", ".join(f"{c} {len(v)}" for c, v in pool.items()))
    acc: dict[int, dict[str, float]] = {n: defaultdict(float) for n in sizes}
    for seed in range(args.seeds):
        ordered = pool if seed == 0 else shuffled_by_category([e for v in pool.values() for e in v], seed)
        for n in sizes:
            t0 = time.perf_counter()
            train_set = [ex for exs in ordered.values() for ex in exs[:n]]
            for cat, a in evaluate(train_set, held_out, cache).items():
                acc[n][cat] += a / args.seeds
            print(
                f"  seed {seed}, {n} per category: {len(train_set)} samples, {time.perf_counter() - t0:.1f} s"
            )
    print(f"\n{'category':<18} {'eval n':>6} " + " ".join(f"{n:>6}" for n in sizes))
    for cat in pool:
        short = " (pool has fewer)" if len(pool[cat]) < max(sizes) else ""
        row = " ".join(f"{acc[n][cat]:6.3f}" for n in sizes)
        print(f"{cat:<18} {eval_n[cat]:>6} {row}{short}")


if __name__ == "__main__":
    main()
