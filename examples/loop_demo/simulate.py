"""A reference simulation of the closed loop: targeted data against the same amount of other data.

All arms start from the same uniform training set (`--initial` samples per category of the
pool). Each round, an arm evaluates its model on the held-out set, allocates a budget of
`--budget` new samples over the K categories, adds that many samples of each category from
the pool, and retrains:

- T, targeted: w_c = floor + (1 − K·floor) · err_c / Σ err (the loop's rule),
- U, uniform:  w_c = 1 / K,
- N, natural:  w_c = the category's share of the pool (more of what the generator makes).

All arms take samples of a category in the same pool order, so an arm with fewer samples of a
category has a subset of another's. With `--seeds n` this is repeated for n pool orders.
Printed: accuracy per category, round and arm, then targeted minus the others on the
categories that were weakest after round 0, and on all of them.

    python examples/loop_demo/simulate.py --work /tmp/loop_demo --seeds 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import model  # noqa: E402  (model.py next to this file)
from learning_curve import evaluate, prepare, shuffled_by_category  # noqa: E402

ARMS = {"T": "targeted", "U": "uniform", "N": "natural"}


def allocate(acc: dict[str, float], budget: int, weights: dict[str, float]) -> dict[str, int]:
    """Whole samples per category from weights summing to 1 (largest remainder), summing to `budget`."""
    raw = {c: weights[c] * budget for c in acc}
    out = {c: int(r) for c, r in raw.items()}
    by_remainder = sorted(raw, key=lambda c: (out[c] - raw[c], c))
    for c in by_remainder[: budget - sum(out.values())]:
        out[c] += 1
    return out


def weights_of(arm: str, acc: dict[str, float], floor: float, mix: dict[str, float]) -> dict[str, float]:
    """targeted: floor + (1 − K·floor)·err/Σerr; uniform: 1/K; natural: the generator's own category mix."""
    k = len(acc)
    err = {c: 1.0 - a for c, a in acc.items()}
    total = sum(err.values())
    if arm == "T" and total > 0:
        return {c: floor + (1 - k * floor) * e / total for c, e in err.items()}
    if arm == "N":
        return mix
    return {c: 1 / k for c in acc}


def run_arm(
    arm: str,
    pool: dict[str, list[model.Example]],
    held_out: list[model.Example],
    cache: model.BlobCache,
    acc0: dict[str, float],
    args: argparse.Namespace,
) -> tuple[list[dict[str, float]], dict[str, int]]:
    """Accuracy per category after each round (round 0 is the shared start) and the final sample counts."""
    total = sum(len(v) for v in pool.values())
    mix = {c: len(v) / total for c, v in pool.items()}
    counts, acc = {c: args.initial for c in pool}, dict(acc0)
    accs = [acc0]
    for _ in range(args.rounds):
        for cat, n in allocate(acc, args.budget, weights_of(arm, acc, args.floor, mix)).items():
            if counts[cat] + n > len(pool[cat]):
                print(f"    note: the pool has only {len(pool[cat])} samples of {cat}")
            counts[cat] = min(len(pool[cat]), counts[cat] + n)
        acc = evaluate([ex for cat, exs in pool.items() for ex in exs[: counts[cat]]], held_out, cache)
        accs.append(acc)
    return accs, counts


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/loop_demo", help="where the generated runs go")
    parser.add_argument("--initial", type=int, default=60, help="samples per category to start from")
    parser.add_argument("--budget", type=int, default=600, help="new samples per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floor", type=float, default=0.05, help="least share of the budget per category")
    parser.add_argument("--weakest", type=int, default=2, help="how many weakest categories to compare")
    parser.add_argument("--seeds", type=int, default=1, help="repeat with this many pool orders")
    args = parser.parse_args()
    pool0, held_out, cache = prepare(Path(args.work))
    cats = list(pool0)
    history: dict[str, list[list[dict[str, float]]]] = {arm: [] for arm in ARMS}  # per order, per round
    sizes: dict[str, list[dict[str, int]]] = {arm: [] for arm in ARMS}  # final samples per category
    weakest_of: list[list[str]] = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        pool = pool0 if seed == 0 else shuffled_by_category([e for v in pool0.values() for e in v], seed)
        acc0 = evaluate([ex for c in cats for ex in pool[c][: args.initial]], held_out, cache)
        runs = {arm: run_arm(arm, pool, held_out, cache, acc0, args) for arm in ARMS}
        weakest = sorted(cats, key=lambda c: (acc0[c], c))[: args.weakest]
        weakest_of.append(weakest)
        for arm in ARMS:
            history[arm].append(runs[arm][0])
            sizes[arm].append(runs[arm][1])
        print(f"\npool order {seed} ({time.perf_counter() - t0:.0f} s): accuracy per round and arm")
        table({a: [runs[a][0]] for a in ARMS}, {a: [runs[a][1]] for a in ARMS}, [weakest], cats, args)
    if args.seeds > 1:
        print(f"\nmean of {args.seeds} pool orders (weakest: those of each order after round 0)")
        table(history, sizes, weakest_of, cats, args)
    report(history, weakest_of, cats, args)


def table(
    history: dict[str, list[list[dict[str, float]]]],
    sizes: dict[str, list[dict[str, int]]],
    weakest_of: list[list[str]],
    cats: list[str],
    args: argparse.Namespace,
) -> None:
    """Accuracy per category, round and arm, and the final samples per category; means over pool orders."""
    rounds = range(args.rounds + 1)
    orders = range(len(weakest_of))

    def acc(arm: str, r: int, group_of: list[list[str]]) -> float:
        return mean([mean([history[arm][s][r][c] for c in group_of[s]]) for s in orders])

    head = "  ".join(" ".join(f"{arm + str(r):>5}" for arm in ARMS) for r in rounds if r > 0)
    print(f"{'category':<18} {'r0':>5}  {head}  " + " ".join(f"{'n' + arm:>4}" for arm in ARMS))
    groups = [(c, [[c]] * len(weakest_of)) for c in cats]
    groups += [(f"mean weakest {args.weakest}", weakest_of), ("mean all", [cats] * len(weakest_of))]
    for name, group_of in groups:
        cells = "  ".join(" ".join(f"{acc(arm, r, group_of):5.3f}" for arm in ARMS) for r in rounds if r > 0)
        n = (
            " ".join(f"{mean([sizes[arm][s][name] for s in orders]):4.0f}" for arm in ARMS)
            if name in cats
            else ""
        )
        mark = " *" if len(weakest_of) == 1 and name in weakest_of[0] else ""
        print(f"{name:<18} {acc('T', 0, group_of):5.3f}  {cells}  {n}{mark}")


def report(
    history: dict[str, list[list[dict[str, float]]]],
    weakest_of: list[list[str]],
    cats: list[str],
    args: argparse.Namespace,
) -> None:
    """Targeted against the other arms per round: on the weakest categories and on all of them."""

    def gap(other: str, order: int, r: int, group: list[str]) -> float:
        return mean([history["T"][order][r][c] - history[other][order][r][c] for c in group])

    orders = range(len(weakest_of))
    print("\ntargeted − uniform (T−U) and targeted − natural mix (T−N), accuracy after each round")
    head = "  ".join(f"{'T−U r' + str(r):>8} {'T−N r' + str(r):>8}" for r in range(1, args.rounds + 1))
    for name in (f"weakest {args.weakest}", "all"):
        print(f"{name:<12} {head}")
        for s in orders:
            group = weakest_of[s] if name != "all" else cats
            cells = "  ".join(
                f"{gap('U', s, r, group):+8.3f} {gap('N', s, r, group):+8.3f}"
                for r in range(1, args.rounds + 1)
            )
            print(f"  order {s:<4} {cells}")
        if len(weakest_of) > 1:
            cells = "  ".join(
                f"{mean([gap('U', s, r, weakest_of[s] if name != 'all' else cats) for s in orders]):+8.3f} "
                f"{mean([gap('N', s, r, weakest_of[s] if name != 'all' else cats) for s in orders]):+8.3f}"
                for r in range(1, args.rounds + 1)
            )
            print(f"  {'mean':<10} {cells}")
    wins = sum(gap("U", s, args.rounds, weakest_of[s]) > 0 for s in orders)
    n = len(weakest_of)
    print(
        f"after round {args.rounds}, targeted is ahead of uniform on the weakest {args.weakest} "
        f"in {wins} of {n} pool orders"
    )
    print(f"\nafter round {args.rounds}, per category, mean over pool orders:   T−U     T−N")
    for c in cats:
        t_u = mean([gap("U", s, args.rounds, [c]) for s in orders])
        t_n = mean([gap("N", s, args.rounds, [c]) for s in orders])
        print(f"  {c:<18} {'':>30} {t_u:+7.3f} {t_n:+7.3f}")


if __name__ == "__main__":
    main()
