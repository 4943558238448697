"""TabMWP (Lu et al., ICLR 2023): tabular math word problems, each over one table image.

Layout, as published in github.com/lupantech/PromptPG (`data/tabmwp/`, commit 7cf61b1), and
read as its own loader does (`run_gpt3/run_gpt3.py: load_data`, `normalize_answer`):

    problems_<split>.json   {pid: problem} for split train, dev, test, dev1k, test1k
    tables/<pid>.png        the table of problem <pid>, as an image

A problem holds `question`, `choices` (a list for `ques_type` "multi_choice", else null),
`answer` (a string: the right choice's text, or a number as "8.20", "1,000", "5/18"), `unit`
("$", "pounds" or null), `table_title`, `table` (the table as text), `table_for_pd` (column →
cells), `row_num`, `column_num`, `solution` (the worked solution, one step a line),
`ques_type`, `ans_type` (integer_number, decimal_number, extractive_text, boolean_text,
other_text), `grade` and `split`.

What becomes of it: one `DatasetImage` per problem (its table image), one `Truth`: the answer
of a choice question is the choice's text (kind "choice", the choices kept); a numeric answer
is normalised like the loader's `normalize_answer` does (no "$", no thousands commas, no
trailing zeros: "8.20" → "8.2"), except that a fraction stays a fraction ("5/18", exact) —
kind "number"; any other free text is kept (kind "text"). The solution's lines are the steps,
`ans_type` the category, and the table (as text: `table_for_pd` holds the same cells), its
title, `ques_type` and `grade` the facts.

Bad records, reported one by one: a problem that is not an object or lacks a question or an
answer, a choice answer not among its choices, an unknown `ques_type`, a missing table image.
The file is read as a stream (a 200,000-problem file never sits in memory whole), in the
file's own order.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, fmt_answer, inside
from visinstruct.sources.ingest import SourceError

DATASET = "tabmwp"
LICENSE = "CC BY-NC-SA 4.0"
QUES_TYPES = ("free_text", "multi_choice")
_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+")
_FRACTION = re.compile(r"[-+]?\d+/\d+")
_CHUNK = 1 << 20
_PLAIN = re.compile(r"[\w-]+")  # a pid that names a file of its own, no separator, no ".."


def folder(root: Path, split: str) -> Path:
    """The folder holding problems_<split>.json: `root` itself, or `root/tabmwp`, or
    `root/data/tabmwp` (the repository's layout)."""
    for d in (root, root / "tabmwp", root / "data" / "tabmwp"):
        if (d / f"problems_{split}.json").is_file():
            return d
    raise SourceError(f"{DATASET}: no problems_{split}.json under {root}")


def iter_object(path: Path) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs of a JSON file holding one object, streamed: values are decoded
    one at a time from a buffer of about a megabyte. A broken file raises SourceError naming
    it and the offset."""
    decoder = json.JSONDecoder()
    ws = " \t\r\n"
    try:
        f = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed by the `with` below
    except OSError as e:
        raise SourceError(f"{DATASET}: cannot read {path} ({e.strerror or e})") from None
    with f:
        buf, pos, done, offset = "", 0, False, 0

        def more() -> bool:
            nonlocal buf, pos, done, offset
            if done:
                return False
            chunk = f.read(_CHUNK)
            if not chunk:
                done = True
                return False
            offset += pos
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in ws:
                    pos += 1
                if pos < len(buf):
                    return buf[pos]
                if not more():
                    return ""

        def value() -> Any:
            nonlocal pos
            while True:
                try:
                    v, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as e:
                    if more():
                        continue
                    raise SourceError(
                        f"{path} is not valid JSON at offset {offset + e.pos} ({e.msg})"
                    ) from None
                if end == len(buf) and not done and more():  # a number may go on in the next chunk
                    continue
                pos = end
                return v

        try:
            if skip() != "{":
                raise SourceError(f"{path}: not a JSON object of problems keyed by pid")
            pos += 1
            if skip() == "}":
                return
            while True:
                key = value()
                if not isinstance(key, str) or skip() != ":":
                    raise SourceError(f"{path} is not valid JSON at offset {offset + pos} (expected a key)")
                pos += 1
                skip()
                yield key, value()
                c = skip()
                pos += 1
                if c == "}":
                    return
                if c != ",":
                    raise SourceError(
                        f"{path} is not valid JSON at offset {offset + pos - 1} (expected , or }})"
                    )
                skip()
        except UnicodeDecodeError as e:
            raise SourceError(f"{path}: not UTF-8 text ({e.reason})") from None


def normalise_number(text: str) -> str | None:
    """A numeric answer as the loader normalises it ("$1,000.50" → "1000.5"), a fraction kept
    ("5/18"); None when `text` is not a number."""
    t = text.strip().removeprefix("$")
    if _FRACTION.fullmatch(t):
        return t.lstrip("+")
    if not _NUMBER.fullmatch(t):
        return None
    t = t.replace(",", "")
    return fmt_answer(float(t)) if "." in t else str(int(t))


def truth(pid: str, p: dict[str, Any]) -> Truth:
    """One problem's Truth; ValueError says why the problem cannot be used."""
    question, answer, qtype = p.get("question"), p.get("answer"), p.get("ques_type")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question")
    if not isinstance(answer, str | int | float) or isinstance(answer, bool) or not str(answer).strip():
        raise ValueError("no answer")
    if qtype not in QUES_TYPES:
        raise ValueError(f"unknown ques_type {qtype!r} (known: {', '.join(QUES_TYPES)})")
    raw, answer = answer, str(answer).strip()
    choices: list[str] = []
    unit = p.get("unit") if isinstance(p.get("unit"), str) and p.get("unit") else None
    if qtype == "multi_choice":
        given = p.get("choices")
        if not isinstance(given, list) or len(given) < 2:
            raise ValueError(f"multi_choice problem with choices {given!r}")
        choices = [str(c).strip() for c in given]
        if answer not in choices:
            raise ValueError(f"answer {answer!r} is not among the choices {choices}")
        kind = "choice"
    else:
        number = normalise_number(answer)
        kind = "number" if number is not None else "text"
        answer = number if number is not None else answer
    solution = p.get("solution")
    steps = [s.strip() for s in solution.split("\n") if s.strip()] if isinstance(solution, str) else []
    facts = {
        k: p[k] for k in ("table_title", "table", "ques_type", "ans_type", "grade") if p.get(k) is not None
    }
    category = p.get("ans_type") if isinstance(p.get("ans_type"), str) else qtype
    return Truth(
        qid=pid,
        question=question.strip(),
        answer=answer,
        answer_raw=raw,
        kind=kind,
        choices=choices,
        solution=steps,
        category=category,
        lang="en",
        unit=unit,
        facts=facts,
    )


def _table(base: Path, tables: Path | None, pid: str, rel: str) -> str | None:
    """The table image of `pid` when it is a regular file inside the dataset's folder; one
    `lstat` for a plain file (most of a large import's reading), a full resolve for a link."""
    if tables is None or not _PLAIN.fullmatch(pid):
        return None
    path = os.path.join(tables, f"{pid}.png")
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        target = inside(base, rel)  # a link must not lead out of the dataset's folder
        return str(target) if target is not None and target.is_file() else None
    return path if stat.S_ISREG(mode) else None


def read(root: Path, split: str = "train", **options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every problem of `split` as a DatasetImage (its table image, its one question), in the
    file's order; unusable problems as BadRecords."""
    base = folder(root, split)
    name = f"problems_{split}.json"
    tables = inside(base, "tables")  # resolved once: a pid is one plain file name inside it
    for pid, p in iter_object(base / name):
        if not isinstance(p, dict):
            yield BadRecord(DATASET, pid, f"the problem is a {type(p).__name__}, not an object")
            continue
        try:
            t = truth(pid, p)
        except ValueError as e:
            yield BadRecord(DATASET, pid, str(e))
            continue
        rel = f"tables/{pid}.png"
        path = _table(base, tables, pid, rel)
        if path is None:
            yield BadRecord(DATASET, pid, f"table image {rel} is missing")
            continue
        yield DatasetImage(
            dataset=DATASET,
            split=split,
            ref=f"{DATASET}:{split}/{pid}",
            questions=[t],
            path=path,
            domain="numerical_calculation",
            license=LICENSE,
            provenance={"dataset": DATASET, "split": split, "file": name, "image": rel, "pid": pid},
        )
