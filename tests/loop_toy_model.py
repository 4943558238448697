"""A stand-in for a user's training and evaluation commands in loop tests.

`train` counts the training samples per category; `eval` answers a fixed set of
questions per category, right with a probability that grows with that count, so the
loop's mechanics (hooks, ledger, resume) are exercised with results that depend on the data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

CATEGORIES = {"counting": 0.3, "color": 0.8, "shape": 0.5, "spatial_relation": 0.4}
PER_CATEGORY = 40


def train(out: str, files: list[str]) -> None:
    counts: dict[str, int] = {}
    for f in files:
        for line in Path(f).read_text("utf-8").splitlines():
            if line.strip():
                cat = json.loads(line).get("category") or "?"
                counts[cat] = counts.get(cat, 0) + 1
    Path(out).write_text(json.dumps(counts), "utf-8")


def evaluate(model: str, out: str) -> None:
    counts = json.loads(Path(model).read_text("utf-8")) if model and Path(model).is_file() else {}
    with open(out, "w", encoding="utf-8") as f:
        for cat, base in CATEGORIES.items():
            n = counts.get(cat, 0)
            p = base + (1 - base) * n / (n + 200)
            for i in range(PER_CATEGORY):
                u = int(hashlib.sha256(f"{cat}:{i}".encode()).hexdigest()[:8], 16) / 2**32
                right = u < p
                row = {
                    "id": f"{cat}-{i}",
                    "question": f"Question {i} about {cat}?",
                    "options": ["one", "two", "three", "four"],
                    "answer": "A",
                    "prediction": "A" if right else "C",
                    "category": cat,
                }
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    if cmd == "train":
        train(rest[0], rest[1:])
    elif cmd == "eval":
        evaluate(rest[0], rest[1])
    elif cmd == "fail":
        sys.exit(3)
