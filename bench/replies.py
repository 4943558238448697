#!/usr/bin/env python3
"""Reply styles: model-driven runs against a loopback server that answers the way real
vLLM / Ollama / OpenAI models do, one style at a time and mixed — how many units complete,
and how many samples are accepted although they are not what the model meant?

Each run takes a folder of generated images (every fifth with no domain folder, so the LLM
picks its domain) through captions, domains and the four instruction types, with
verification where the style is about the verifier (and in the mixed run), against
`tests/reply_styles.py` in a process of its own. The server first decides what it means
(questions and their true answers, captions, domains, the verifier's and the judge's true
verdicts) and records it, then writes it in the style. A sample counts as WRONGLY ACCEPTED
when it is accepted (or edited) and differs from what the server meant: another answer
letter or yes/no, options that keep their letters, another short answer or conversation,
another domain, or a caption with a refusal, a cut or a preamble in it.

What the server means where a reply is wrong: when the answer letter or yes/no contradicts
the item's own explanation, the explanation's answer (the true one, which the verifier also
gives); in the verifier styles the generator states half its answers wrongly (with a
matching explanation, so only verification can tell) and the verifier answers the truth.

Every style runs twice: with a model that repeats its style when asked to repair a reply,
and with one that obeys (answers the repair ask with clean JSON); when the first run sent
no repair ask the second would get the same answers and is not run. Refusal styles and the
mixed run are run once more in the same run directory with a model that now answers clean
JSON: the rerun must ask again what failed (refused or not) and leave no wrong sample.

    python bench/replies.py [--styles clean,tags,...] [--images 30] [--repair both|repeat|obey]
        [--structured json_schema|json_object|prompt|tags] [--languages en] [--seed 0] [--why 2] [--list]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from loopback import Loopback, endpoint  # noqa: E402
from reply_styles import MIXED, SCHEMA_KINDS, STYLES, Intents  # noqa: E402
from test_mminstruct import photo  # noqa: E402
from test_resume import DOMAIN_FOLDERS  # noqa: E402

from visinstruct.recipe import parse_recipe  # noqa: E402
from visinstruct.runner import run_recipe  # noqa: E402
from visinstruct.store import RunStore  # noqa: E402

KEPT = ("accepted", "edited")
SHORT = {"captions": "cap", "domains": "dom", "instructions": "instr", "verify": "verify"}
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\d+|\b[A-D]\b")


class StyleLoopback(Loopback):
    """The reply-style server (`tests/reply_styles.py`) as a process of its own."""

    script = "reply_styles.py"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.args = ["--seed", str(seed)]

    def configure(self, style: str, repair: str, seed: int, reset: bool = True) -> dict:
        return self._call("/style", {"style": style, "repair": repair, "seed": seed, "reset": reset})

    def intended(self) -> dict:
        return self._call("/intended")


def images(root: Path, n: int) -> Path:
    """`n` photos laid out as the resume test's thirty: domain folders, every fifth without one."""
    for i in range(n):
        folder = root if i % 5 == 0 else root / DOMAIN_FOLDERS[i % 3]
        photo(folder / f"img{i:02d}.jpg", i + 1, size=(200 + 3 * i, 160))
    return root


@dataclass
class Row:
    style: str
    repair: str
    planned: int = 0  # instruction units
    done: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # stage → units failed or given up
    repair_asks: int = 0
    max_asks: int = 0  # most requests one schema conversation took
    cut: int = 0
    room: int = 0  # asked again with more max_tokens
    statuses: Counter = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)  # why each wrongly accepted sample is wrong
    unsure: int = 0
    misread: int = 0
    failures: Counter = field(default_factory=Counter)  # unit error → count
    rerun: str = ""
    seconds: float = 0.0
    same_as: str = ""


def recipe(server: StyleLoopback, folder: Path, verify: bool, a: argparse.Namespace) -> Any:
    extra: dict[str, Any] = {"max_retries": 0, "timeout": 60}
    if a.structured:
        extra["structured"] = a.structured
    checks: dict[str, Any] = {"dedup": False, "image_dedup": False}
    if verify:
        checks["verify"] = {"endpoint": "vlm"}
    return parse_recipe(
        {
            "name": "replies",
            "seed": 1,
            "languages": a.languages.split(","),
            "sources": [{"folder": str(folder)}],
            "endpoints": {
                "vlm": endpoint(server, "fake-vlm", image_max_side=256, image_detail="low", **extra),
                "llm": endpoint(server, "fake-model", **extra),
            },
            "caption": {"endpoint": "vlm", "languages": ["en"]},
            "instructions": {"endpoint": "llm"},
            "checks": checks,
        }
    )


def measure(row: Row, summary: Any, run_dir: Path, stats: dict, intents: Intents) -> None:
    inst = summary.stages.get("instructions")
    row.planned = inst.planned if inst else 0
    row.done = inst.done + inst.skipped if inst else 0
    row.failed = {name: c.failed + c.gave_up for name, c in summary.stages.items() if c.failed + c.gave_up}
    row.repair_asks = sum(stats["repair_asks"].values())
    row.max_asks = max((v for k, v in stats["max_asks"].items() if k in SCHEMA_KINDS), default=0)
    row.cut = sum(stats["cut"].values())
    row.room = sum(stats["more_room"].values())
    with RunStore(run_dir, create=False) as store:
        for s in store.iter_samples():
            row.statuses[s.status] += 1
            if s.status in KEPT:
                why = intents.wrong(s)
                if why:
                    row.wrong.append(f"{s.type}: {why}")
            seen = intents.misread(s)
            row.unsure += seen == "unsure"
            row.misread += seen == "misread"
        for stage, _key, _state, error, _n in store.failed_units():
            row.failures[f"{stage}: {(error or '?')[:200]}"] += 1


def one_run(server: StyleLoopback, a: argparse.Namespace, style: str, repair: str, tmp: Path) -> Row:
    spec = MIXED if style == "mixed" else STYLES[style]
    server.configure(style, repair, a.seed)
    run_dir = tmp / f"{style}-{repair}"
    rec = recipe(server, tmp / "images", spec.checks, a)
    t0 = time.perf_counter()
    summary = run_recipe(rec, run_dir, exports=False, workers=1)
    row = Row(style, repair, seconds=time.perf_counter() - t0)
    stats = server.stats()["styles"]
    measure(row, summary, run_dir, stats, Intents(server.intended()))
    if spec.rerun:
        asked = stats["requests"]
        server.configure("clean", repair, a.seed, reset=False)  # the model answers now
        again = run_recipe(rec, run_dir, exports=False, workers=1)
        after = server.stats()["styles"]["requests"]
        sent = sum(after.values()) - sum(asked.values())
        inst = again.stages.get("instructions")
        done = (inst.done + inst.skipped) if inst else 0
        planned = inst.planned if inst else 0
        intents = Intents(server.intended())
        with RunStore(run_dir, create=False) as store:
            wrong = sum(1 for s in store.iter_samples(KEPT) if intents.wrong(s))
        row.rerun = f"rerun asked {sent} again → instructions {done}/{planned}, {wrong} wrong"
    return row


def grouped(reasons: list[str], top: int) -> list[tuple[str, int, str]]:
    """The commonest kinds of reason (quoted values left out), each with one example."""
    kinds: Counter = Counter()
    example: dict[str, str] = {}
    for r in reasons:
        k = QUOTED.sub("…", r)
        kinds[k] += 1
        example.setdefault(k, r)
    return [(k, n, example[k]) for k, n in kinds.most_common(top)]


def table(rows: list[Row]) -> str:
    head = (
        f"{'style':<18} {'repair':<6} {'instr done':>10} {'failed units':<28} {'repair':>6} {'max':>3} "
        f"{'cut':>4} {'room':>4} {'accepted':>8} {'review':>6} {'rej':>4} {'WRONG':>5} "
        f"{'unsure':>6} {'misrd':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.same_as:
            lines.append(f"{r.style:<18} {r.repair:<6} {r.same_as}")
            continue
        failed = ", ".join(f"{SHORT.get(k, k)} {v}" for k, v in r.failed.items()) or "-"
        kept = r.statuses["accepted"] + r.statuses["edited"]
        lines.append(
            f"{r.style:<18} {r.repair:<6} {f'{r.done}/{r.planned}':>10} {failed[:28]:<28} "
            f"{r.repair_asks:>6} {r.max_asks:>3} {r.cut:>4} {r.room:>4} {kept:>8} "
            f"{r.statuses['needs_review']:>6} {r.statuses['rejected']:>4} {len(r.wrong):>5} "
            f"{r.unsure:>6} {r.misread:>5}"
        )
        if r.rerun:
            lines.append(f"{'':<25} {r.rerun}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--styles", default="all", help="comma-separated style names, 'mixed', or 'all'")
    ap.add_argument("--images", type=int, default=30)
    ap.add_argument("--repair", choices=["both", "repeat", "obey"], default="both")
    ap.add_argument(
        "--structured", default=None, help="the endpoints' structured: mode (default: provider's)"
    )
    ap.add_argument("--languages", default="en", help="instruction languages, e.g. en,zh")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--why", type=int, default=2, help="reasons shown per run for wrong samples and failures")
    ap.add_argument("--list", action="store_true", help="list the styles and exit")
    a = ap.parse_args()
    if a.list:
        for s in [*STYLES.values(), MIXED]:
            print(f"{s.name:<18} {s.about}")
        return
    names = [*STYLES, "mixed"] if a.styles == "all" else [s.strip() for s in a.styles.split(",") if s.strip()]
    unknown = [n for n in names if n != "mixed" and n not in STYLES]
    if unknown:
        ap.error(f"unknown style(s) {', '.join(unknown)}; see --list")
    modes = ["repeat", "obey"] if a.repair == "both" else [a.repair]
    os.environ["VISINSTRUCT_BENCH_KEY"] = "sk-test"  # what the loopback server accepts
    rows: list[Row] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, StyleLoopback(a.seed) as server:
        root = Path(tmp)
        images(root / "images", a.images)
        for name in names:
            first: Row | None = None
            for repair in modes:
                if first is not None and first.repair_asks == 0:
                    rows.append(Row(name, repair, same_as=f"same answers as {first.repair} (no repair asks)"))
                    continue
                row = one_run(server, a, name, repair, root)
                first = first or row
                rows.append(row)
                print(
                    f"  {name} / {repair}: {row.done}/{row.planned} instruction units, "
                    f"{len(row.wrong)} wrong accepted, {row.seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    wall = time.perf_counter() - t0
    print(
        f"machine: {os.cpu_count()} cores; {a.images} images; "
        f"structured: {a.structured or 'provider default'}; "
        f"{len([r for r in rows if not r.same_as])} runs in {wall:.0f} s"
    )
    print(
        "columns: instruction units done/planned; units failed per stage (cap: captions, dom: domains); "
        "repair asks the server saw; "
        "most requests one schema conversation took; replies cut at max_tokens; requests asked again "
        "with more max_tokens; samples accepted "
        "(or edited), needing review, rejected; WRONG = accepted but not what the server meant; "
        "verifier replies read as no answer (unsure) or as another answer (misrd)"
    )
    print(table(rows))
    total = sum(len(r.wrong) for r in rows)
    print(f"wrongly accepted samples over every run: {total}")
    if a.why:
        print("\nwhy (per run: the commonest wrong samples and unit failures)")
        for r in rows:
            if r.same_as or not (r.wrong or r.failures):
                continue
            print(f"  {r.style} / {r.repair}:")
            for _kind, n, example in grouped(r.wrong, a.why):
                print(f"    wrong  ×{n}: {example[:130]}")
            for _kind, n, example in grouped(list(r.failures.elements()), a.why):
                print(f"    failed ×{n}: {example[:130]}")


if __name__ == "__main__":
    main()
