"""Give each instance of a dataset a template drawn from the pool.

Rows are either visinstruct's jsonl export (they have `turns`; the task is the row's
`type` unless told otherwise, and `{question}` is the first turn's question) or a user's
JSONL with a field per placeholder (`{"task": "vqa", "question": "...", "options": "..."}`).
Each row draws one template of its task — seeded by the build seed and the row's id (or
line), so the same pool, data and seed give the same dataset — among the templates in the
row's language (its `language` or `lang` field) whose placeholders the row can fill.
Rendering is plain `{name}` substitution (`visinstruct.templates.render`); the row records
which template it got.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.augment.templates import Template
from visinstruct.errors import VisinstructError
from visinstruct.templates import PLACEHOLDER, render


class BuildError(VisinstructError):
    """A row cannot be given a template: names the file, the line and why."""


@dataclass
class BuildStats:
    rows: int = 0
    by_task: Counter[str] = field(default_factory=Counter)
    by_origin: Counter[str] = field(default_factory=Counter)
    templates_used: set[str] = field(default_factory=set)


def is_export_row(row: dict) -> bool:
    return isinstance(row.get("turns"), list) and bool(row["turns"]) and isinstance(row["turns"][0], dict)


def row_values(row: dict) -> dict[str, str]:
    """What a row can fill: its text and number fields (lists of text joined by lines);
    for an export row also `question` and `answer` of the first turn and lettered `options`."""
    values: dict[str, str] = {}
    for k, v in row.items():
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, str | int | float):
            values[k] = str(v)
        elif isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            values[k] = "\n".join(v)
    if is_export_row(row):
        first = row["turns"][0]
        values["question"] = str(first.get("question", ""))
        values["answer"] = str(first.get("answer", ""))
        opts = row.get("options")
        if isinstance(opts, list) and opts:
            values["options"] = "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(opts))
    return values


def choose(templates: list[Template], values: dict[str, str], rng: random.Random) -> Template | None:
    """A random template the values can fill."""
    fits = [t for t in templates if set(PLACEHOLDER.findall(t.text)) <= values.keys()]
    return rng.choice(fits) if fits else None


def provenance(t: Template) -> dict[str, Any]:
    return {
        "task": t.task,
        "id": t.id,
        "text": t.text,
        "origin": t.origin,
        "temperature": t.temperature,
        "round": t.round,
        "directive": t.directive,
    }


def build_rows(
    rows: Iterator[tuple[int, dict]],
    pool: dict[str, list[Template]],
    *,
    seed: int = 0,
    task: str | None = None,
    task_field: str | None = None,
    field_name: str = "instruction",
    source: str = "data",
    stats: BuildStats | None = None,
) -> Iterator[dict]:
    """Each (line number, row) with a drawn template rendered in. An export row gets it as
    its first turn's question (the template in `provenance.template`); a user row gets it
    in `field_name` (the template in `template`)."""
    stats = stats if stats is not None else BuildStats()
    for line, row in rows:
        where = f"{source}:{line}"
        export = is_export_row(row)
        name = task or row.get(task_field or ("type" if export else "task"))
        if not isinstance(name, str) or not name:
            raise BuildError(f"{where}: no task (give --task, or a {task_field or 'task'!r} field)")
        templates = pool.get(name)
        if not templates:
            raise BuildError(f"{where}: task {name!r} has no templates in the pool (have: {', '.join(pool)})")
        lang = row.get("language") or row.get("lang")
        if isinstance(lang, str) and lang:
            same = [t for t in templates if t.lang == lang]
            if not same:
                raise BuildError(f"{where}: task {name!r} has no {lang} templates in the pool")
            templates = same
        values = row_values(row)
        t = choose(templates, values, random.Random(f"{seed}:{row.get('id', line)}"))
        if t is None:
            need = sorted({p for x in templates for p in PLACEHOLDER.findall(x.text)} - values.keys())
            raise BuildError(
                f"{where}: no template of task {name!r} can be filled from this row "
                f"(missing: {', '.join(need)})"
            )
        text = render(t.text, values)
        if export:
            out = json.loads(json.dumps(row))  # a deep copy of plain JSON
            prov = dict(out.get("provenance") or {})
            prov["template"] = {**provenance(t), "question_before": out["turns"][0].get("question")}
            out["provenance"] = prov
            out["turns"][0]["question"] = text
        else:
            out = {**row, field_name: text, "template": provenance(t)}
        stats.rows += 1
        stats.by_task[name] += 1
        stats.by_origin[t.origin] += 1
        stats.templates_used.add(t.id)
        yield out


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a JSONL file; a broken line is an error naming it."""
    p = Path(path)
    try:
        f = p.open(encoding="utf-8")
    except OSError as e:
        raise BuildError(f"{p}: cannot read ({e.strerror or e})") from None
    with f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise BuildError(f"{p}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise BuildError(f"{p}:{n}: a row must be a JSON object")
            yield n, row
