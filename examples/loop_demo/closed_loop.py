"""The closed loop, offline, end to end: does targeted data beat the same amount of uniform data?

1. A held-out evaluation set and a small uniform starting set are drawn by visinstruct
   (object scenes, English multiple choice); `model.py` trains the starting model on CPU.
2. The same `visinstruct loop` runs twice from that model: once with `strategy: targeted`
   (weights from error rates, with a floor) and once with `strategy: uniform`, each round
   making `--per-round` new samples with the synthetic domain targeted by category, then
   running `model.py train` on everything so far and `model.py eval` on the held-out set.
3. Printed: accuracy per category per round for both, and the categories that were
   weakest at the start, compared at the end.

    pip install -e ".[demo]"
    python examples/loop_demo/closed_loop.py --work runs/loop-demo

Running it again continues (every loop step and every item is resumable).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import yaml

from visinstruct.export import export
from visinstruct.loop.runner import Loop, load_loop
from visinstruct.loop.weakness import CategoryStat
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

HERE = Path(__file__).resolve().parent
MODEL = HERE / "model.py"


def make(recipe: dict, run_dir: Path, out: str) -> Path:
    """Run a recipe (resumably) and write its jsonl export."""
    run(parse_recipe(recipe), run_dir)
    with RunStore(run_dir, create=False) as store:
        export(store, "jsonl", store.dir / "exports" / out)
    return run_dir / "exports" / out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/loop-demo"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=600, help="new samples per round")
    ap.add_argument("--initial", type=int, default=60, help="starting samples per category")
    ap.add_argument("--eval-items", type=int, default=2000, help="scenes drawn for the held-out set")
    ap.add_argument("--temperature", type=float, default=0.5, help="targeted weights ∝ error^(1/T)")
    ap.add_argument("--weakest", type=int, default=2, help="how many of the weakest categories to compare")
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    py = shlex.quote(sys.executable)

    scenes = {"languages": ["en"], "types": ["multiple_choice"]}
    eval_data = make(
        {"name": "eval", "seed": 2, **scenes, "synthetic": {"scenes": args.eval_items}},
        work / "eval",
        "eval.jsonl",
    )
    cats = sorted({c for c in _categories(eval_data)})
    initial = make(
        {
            "name": "initial",
            "seed": 3,
            **scenes,
            "synthetic": {"scenes": {"count": 40 * args.initial, "quotas": {c: args.initial for c in cats}}},
        },
        work / "initial",
        "initial.jsonl",
    )
    model0 = work / "model0.pkl"
    if not model0.exists():
        import subprocess

        subprocess.run([sys.executable, str(MODEL), "train", "--out", str(model0), str(initial)], check=True)
    (work / "base.yaml").write_text(
        yaml.safe_dump({"name": "demo", "seed": 10, **scenes, "synthetic": {"scenes": 1}}), "utf-8"
    )
    histories: dict[str, list[tuple[int, list[CategoryStat]]]] = {}
    for strategy in ("targeted", "uniform"):
        spec = {
            "name": f"demo-{strategy}",
            "recipe": "base.yaml",
            "rounds": args.rounds,
            "samples_per_round": args.per_round,
            "strategy": strategy,
            **({"temperature": args.temperature} if strategy == "targeted" else {}),
            "model": str(model0),
            "train_data": [str(initial)],
            "hooks": {
                "train": f"{py} {shlex.quote(str(MODEL))} train --out {{model}} {{all_data}}",
                "eval": f"{py} {shlex.quote(str(MODEL))} eval --model {{model}} "
                f"--data {shlex.quote(str(eval_data))} --out {{results}}",
            },
        }
        loop_file = work / f"{strategy}.yaml"
        loop_file.write_text(yaml.safe_dump(spec, sort_keys=False), "utf-8")
        print(f"-- {strategy} loop ({args.rounds} rounds × {args.per_round} samples)", flush=True)
        loop_spec, base = load_loop(loop_file)
        histories[strategy] = Loop(loop_spec, base, work / f"loop-{strategy}").run()
    report(histories, args.weakest)
    print(f"({time.perf_counter() - t0:.0f} s; loop reports: {work}/loop-*/report.html)")


def _categories(path: Path) -> list[str]:
    import json

    return [json.loads(line)["category"] for line in path.read_text("utf-8").splitlines() if line.strip()]


def report(histories: dict[str, list[tuple[int, list[CategoryStat]]]], weakest: int) -> None:
    acc = {
        (strategy, rnd, s.category): s
        for strategy, history in histories.items()
        for rnd, stats in history
        for s in stats
    }
    start = sorted(histories["targeted"][0][1], key=lambda s: (s.accuracy, s.category))
    rounds = [rnd for rnd, _ in histories["targeted"]]
    head = "category".ljust(18) + "".join(f"   round {r}: targ / unif" for r in rounds)
    print("\naccuracy on the held-out set, per category and round (targeted / uniform)")
    print(head)
    for s in start:
        pairs = [(acc[("targeted", r, s.category)], acc[("uniform", r, s.category)]) for r in rounds]
        cells = "".join(f"   {t.accuracy:>13.1%} / {u.accuracy:.1%}" for t, u in pairs)
        print(s.category.ljust(18) + cells)
    last = rounds[-1]
    weak = [s.category for s in start[:weakest]]
    print(f"\nmean accuracy of the {weakest} weakest at the start ({', '.join(weak)}):")
    for r in rounds[1:]:
        t = sum(acc[("targeted", r, c)].accuracy for c in weak) / len(weak)
        u = sum(acc[("uniform", r, c)].accuracy for c in weak) / len(weak)
        print(f"  after round {r}: targeted {t:.1%}  uniform {u:.1%}  ({100 * (t - u):+.1f} points)")
    t_all = _overall(histories["targeted"][-1][1])
    u_all = _overall(histories["uniform"][-1][1])
    print(f"all categories after round {last}: targeted {t_all:.1%}  uniform {u_all:.1%}")
    wins = sum(acc[("targeted", last, c)].accuracy > acc[("uniform", last, c)].accuracy for c in weak)
    print(f"targeted wins on {wins} of the {weakest} weakest categories")


def _overall(stats: list[CategoryStat]) -> float:
    return sum(s.correct for s in stats) / max(1, sum(s.n for s in stats))


if __name__ == "__main__":
    main()
