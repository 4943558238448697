"""The pool on disk: what was kept, what was rejected and why, and the figures.

An output folder holds
- `pool.jsonl`: one kept template a line (task, id, text, lang, origin, parent, root,
  directive, temperature, round) — originals first;
- `rejected.jsonl`: one rejected reply a line with its rule and detail (like an exclusion
  writer: nothing the model said is dropped silently);
- `pool.yaml`: the pool as `task -> lang -> [templates]`, the synthetic phrasing shape;
- `summary.json`: per task counts, expansion and diversity before and after.
Files are replaced atomically, so an interrupted write never leaves half a pool.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from visinstruct.augment.diversity import Diversity, diversity
from visinstruct.augment.generate import AugmentResult
from visinstruct.augment.mask import protected_spans
from visinstruct.augment.templates import Template, TemplateFileError, check_template
from visinstruct.errors import VisinstructError


@dataclass
class TaskFigures:
    task: str
    langs: str
    originals: int
    kept: int
    rejected: int
    before: Diversity
    after: Diversity

    @property
    def expansion(self) -> float:
        return self.kept / self.originals if self.originals else 0.0


def figures(result: AugmentResult) -> list[TaskFigures]:
    """Per task: sizes, expansion and diversity of the originals and of the pool."""
    rejected = Counter(r.task for r in result.rejected if r.rule != "surplus")
    out = []
    for task, pool in result.pools.items():
        langs = "+".join(sorted({t.lang for t in pool.originals}))
        out.append(
            TaskFigures(
                task,
                langs,
                len(pool.originals),
                len(pool.kept),
                rejected[task],
                diversity([t.text for t in pool.originals]),
                diversity([t.text for t in pool.kept]),
            )
        )
    return out


def summary(result: AugmentResult, figs: list[TaskFigures]) -> dict[str, Any]:
    return {
        "mode": result.mode,
        "complete": result.complete,
        "requests": result.requests,
        "sent": result.sent,
        "failed": result.failed,
        "cost_usd": round(result.cost_usd, 6),
        "budget_reached": result.budget_reached,
        "rejections": dict(Counter(r.rule for r in result.rejected).most_common()),
        "directives": {d.name: d.text for d in result.directives},
        "tasks": {
            f.task: {
                "languages": f.langs,
                "originals": f.originals,
                "kept": f.kept,
                "expansion": round(f.expansion, 2),
                "rejected": f.rejected,
                "before": _div(f.before),
                "after": _div(f.after),
            }
            for f in figs
        },
    }


def _div(d: Diversity) -> dict[str, float]:
    return {
        "words": d.words,
        "distinct_1": round(d.distinct_1, 4),
        "distinct_2": round(d.distinct_2, 4),
        "rouge_l": round(d.rouge_l, 4),
    }


def write_outputs(result: AugmentResult, out_dir: str | Path) -> list[TaskFigures]:
    """Write the pool, the rejections, the phrasing-shaped pool and the summary."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VisinstructError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    kept = [t for pool in result.pools.values() for t in pool.kept]
    _write_jsonl(out / "pool.jsonl", (t.to_dict() for t in kept))
    _write_jsonl(out / "rejected.jsonl", (r.to_dict() for r in result.rejected))
    shaped: dict[str, dict[str, list[str]]] = {}
    for t in kept:
        shaped.setdefault(t.task, {}).setdefault(t.lang, []).append(t.text)
    _atomic(out / "pool.yaml", yaml.safe_dump(shaped, allow_unicode=True, sort_keys=False, width=1000))
    figs = figures(result)
    _atomic(out / "summary.json", json.dumps(summary(result, figs), ensure_ascii=False, indent=2) + "\n")
    return figs


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    _atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise VisinstructError(f"{path}: cannot write ({e.strerror or e})") from None


FIELDS = {
    "task",
    "text",
    "lang",
    "origin",
    "source",
    "parent",
    "root",
    "directive",
    "temperature",
    "round",
    "id",
}


def read_pool(path: str | Path) -> dict[str, list[Template]]:
    """A `pool.jsonl`, checked again line by line: a hand-edited template with anything but
    plain placeholders, or a rephrasing whose placeholders differ from its original's, is an
    error naming the line."""
    p = Path(path)
    if p.is_dir():
        p = p / "pool.jsonl"
    try:
        lines = p.read_text("utf-8").splitlines()
    except OSError as e:
        raise TemplateFileError(f"{p}: cannot read pool ({e.strerror or e})") from None
    pool: dict[str, list[Template]] = {}
    by_id: dict[str, Template] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TemplateFileError(f"{p}:{n}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("task"), str) or "text" not in row:
            raise TemplateFileError(f"{p}:{n}: a pool line needs task and text")
        why = check_template(row["text"])
        if why:
            raise TemplateFileError(f"{p}:{n}: {why}")
        t = Template(**{k: v for k, v in row.items() if k in FIELDS})
        root = by_id.get(t.root or "")
        if root is not None and protected_spans(root.text) != protected_spans(t.text):
            raise TemplateFileError(f"{p}:{n}: placeholders differ from its original {root.id}")
        by_id[t.id] = t
        pool.setdefault(t.task, []).append(t)
    if not pool:
        raise TemplateFileError(f"{p}: the pool is empty")
    return pool
