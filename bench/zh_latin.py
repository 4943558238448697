#!/usr/bin/env python3
"""Chinese samples that still speak English: the share of zh samples whose text carries Latin words.

A Chinese item should draw Chinese labels and quote them, so its questions, answers and
options hold no English word. Some Latin letters belong in Chinese text too, and are allowed:

- geometry vertex names: runs of 1-4 capital letters (A, AB, ABC, ABCD), in geometry only;
- option letters A-D (the multiple-choice layout "A. ..."), in every domain;
- math variables x, y, r, d (coordinates "x = 629", "r = d ÷ 2");
- units: cm, mm, km, m, kg, g, ml, L, kWh, h, min, s (and their squares, cm², m³ ...);
- letters inside a number or a code printed in the picture (12B, Q3, A-12): a run of letters
  glued to digits.

Anything else (a word like "Thursday" or "Cookies") counts the sample as Latin. The target is
below 5% of zh samples.

    python bench/zh_latin.py [--run-dir DIR] [--recipe recipes/quickstart.yaml] [--show 10]

Without --run-dir the recipe is run into a temporary directory first.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNITS = {"cm", "mm", "km", "m", "kg", "g", "ml", "mL", "L", "kWh", "h", "min", "s"}
OPTION_LETTERS = {"A", "B", "C", "D"}
MATH_VARS = {"x", "y", "r", "d"}  # coordinates (x = 629), radius and diameter (r = d ÷ 2)
VERTEX = re.compile(r"[A-Z]{1,4}")
WORD = re.compile(r"[A-Za-z]+")


def latin_words(text: str, domain: str) -> list[str]:
    """The Latin words in `text` that are none of the allowed tokens."""
    out = []
    for m in WORD.finditer(text):
        w = m.group()
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if w in UNITS or w in OPTION_LETTERS or w in MATH_VARS:
            continue
        if domain == "geometry" and VERTEX.fullmatch(w):
            continue
        if before.isdigit() or after.isdigit():  # 12B, Q3: part of a number or code
            continue
        out.append(w)
    return out


def sample_text(r: dict) -> str:
    parts = [t["question"] + "\n" + t["answer"] for t in r["turns"]]
    parts += r.get("options") or []  # short_answer is a copy of the answer (or a canonical yes/no)
    return "\n".join(parts)


def measure(export: Path, show: int) -> float:
    total, latin = Counter(), Counter()
    words: Counter[str] = Counter()
    examples: list[str] = []
    for line in export.read_text("utf-8").splitlines():
        r = json.loads(line)
        if r["language"] != "zh":
            continue
        total[r["domain"]] += 1
        found = latin_words(sample_text(r), r["domain"])
        if found:
            latin[r["domain"]] += 1
            words.update(found)
            if len(examples) < show:
                examples.append(f"  [{r['domain']}] {r['turns'][0]['question'].splitlines()[0]}")
    n, k = sum(total.values()), sum(latin.values())
    print(f"zh samples: {n}; with Latin words: {k} ({100 * k / max(1, n):.1f}%)")
    for d in sorted(total):
        print(f"  {d:12s} {latin[d]:5d} / {total[d]:5d}  ({100 * latin[d] / total[d]:.1f}%)")
    if words:
        print("most frequent Latin words:", ", ".join(f"{w}×{c}" for w, c in words.most_common(15)))
    if examples:
        print("examples:")
        print("\n".join(examples))
    return k / max(1, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, help="an existing run directory (its exports/quickstart.jsonl)")
    ap.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "quickstart.yaml")
    ap.add_argument("--show", type=int, default=8, help="example questions to print")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = a.run_dir
        if run_dir is None:
            run_dir = Path(tmp) / "run"
            cmd = [sys.executable, "-m", "visinstruct.cli", "run", str(a.recipe), "--run-dir", str(run_dir)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                sys.exit(f"zh_latin: running {a.recipe} failed:\n{p.stderr.strip()}")
        exports = sorted((run_dir / "exports").glob("*.jsonl"))
        if not exports:
            sys.exit(f"zh_latin: no JSONL export under {run_dir / 'exports'}")
        measure(exports[0], a.show)


if __name__ == "__main__":
    main()
