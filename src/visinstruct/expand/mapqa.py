"""MapQA: questions about US choropleth maps, read as published.

Followed: OSU-slatelab/MapQA `README.md` ("Data Content and Format": each subset — MapQA-U,
MapQA-R, MapQA-S — holds `images/`, `metadata/`, `usa_geo.json` and `questions/` with
`train-QA.json`, `dev-QA.json`, `test-QA.json`; a question file is a list of
`{question_id, map_id: "map_0.png", question_type, question_template_id, question, answer,
oracle_delexicalized_question, …}` whose `answer` "can be either one answer or a set of
answers"), and HuggingFaceM4's data preparation (the MapQA block of its fine-tuning script:
`<subset>/questions/train-QA.json`, images at `<subset>/images/<map_id>`, answers that are
ints, strings or lists).

Layout: `path:` names one subset folder, `<root>/questions/<split>-QA.json` and
`<root>/images/<map_id>`; `split: val` reads `dev-QA.json`.

What becomes of an answer: a list of regions is kind "list", its items sorted
(case-insensitively, then as written) and joined with ", " — a stable text whatever order the
file lists them in — with the items in `facts["items"]`; a value range such as
"1,231,000-4,782,400" (a legend class) is kind "range", written as the file writes it, with
`facts["range"] = {"low", "high", "text"}`; "Yes"/"No" are "yes"/"no"; numbers are numbers;
any other text (a state, a legend value) is text. The category is `question_template_id`
(e.g. retrieval_1), else `question_type`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, load_json
from visinstruct.expand.grouping import Grouper, image_file, native_answer
from visinstruct.sources.ingest import SourceError

LICENSE = "CC BY-SA 4.0"
_ALIASES = {"val": "dev", "validation": "dev"}

_BOUND = r"[-+]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?"
_RANGE_RE = re.compile(rf"({_BOUND})\s*[-–]\s*({_BOUND})")


def questions_file(root: Path, split: str) -> Path:
    name = f"{_ALIASES.get(split, split)}-QA.json"
    for path in (root / "questions" / name, root / name):
        if path.is_file():
            return path
    raise SourceError(f"mapqa: no questions/{name} under {root}")


def read(root: Path, split: str, **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every map of MapQA's `split` (in the subset folder `root`) with all its questions."""
    path = questions_file(root, split)
    records = load_json(path, "mapqa")
    if not isinstance(records, list):
        raise SourceError(f"mapqa: {path} is not a list of questions")
    group = Grouper("mapqa")
    for pos, r in enumerate(records):
        qid = _qid(r, pos)
        if not isinstance(r, dict):
            group.refuse(qid, f"record is {type(r).__name__}, not an object")
            continue
        map_id = r.get("map_id")
        if not isinstance(map_id, str) or not map_id.strip():
            group.refuse(qid, f"unknown map_id {map_id!r}")
            continue
        truth = _truth(r, qid)
        if isinstance(truth, str):
            group.refuse(qid, truth, map_id)
        else:
            group.add(map_id, truth)
    subset = root.name

    def build(image: str, truths: list[Truth], bad: list[BadRecord]) -> DatasetImage:
        file, error = image_file(root, f"images/{image}")
        return DatasetImage(
            dataset="mapqa",
            split=split,
            ref=f"mapqa:{subset}/{split}/{Path(image).stem}",
            questions=truths,
            path=file,
            domain="structuralized_imagetext_understanding",
            license=LICENSE,
            provenance={
                "dataset": "mapqa",
                "split": split,
                "file": f"questions/{path.name}",
                "subset": subset,
                "map_id": image,
            },
            bad=bad,
            error=error,
        )

    return group.images(build)


def _qid(r: Any, pos: int) -> str:
    qid = r.get("question_id") if isinstance(r, dict) else None
    if isinstance(qid, int | str) and not isinstance(qid, bool) and str(qid).strip():
        return str(qid).strip()
    return f"#{pos}"


def normalise(answer: Any) -> tuple[str, str, dict] | str:
    """(normalised answer, kind, facts) of a MapQA answer, or why it is unusable."""
    if isinstance(answer, list):
        items = [" ".join(str(a).split()) for a in answer if isinstance(a, str | int | float)]
        if len(items) != len(answer) or not items or not all(items):
            return f"answer list {answer!r} is empty or holds other than names"
        items = sorted(items, key=lambda s: (s.casefold(), s))
        return ", ".join(items), "list", {"items": items}
    if isinstance(answer, str):
        text = " ".join(answer.split())
        m = _RANGE_RE.fullmatch(text)
        if m:
            low, high = (_number(g) for g in m.groups())
            written = f"{m.group(1)}-{m.group(2)}"
            return written, "range", {"range": {"low": low, "high": high, "text": written}}
    got = native_answer(answer)
    if got is None:
        return f"answer {answer!r} is not a single value"
    return got[0], got[1], {}


def _number(bound: str) -> float | int:
    value = float(bound.replace(",", "").replace("$", "").rstrip("%"))
    return int(value) if value.is_integer() else value


def _truth(r: dict, qid: str) -> Truth | str:
    text = r.get("question")
    if isinstance(text, list):  # "the question tokens"
        text = " ".join(str(t) for t in text)
    if not isinstance(text, str) or not text.strip():
        return "no question text"
    got = normalise(r.get("answer"))
    if isinstance(got, str):
        return got
    answer, kind, facts = got
    if isinstance(r.get("question_type"), str):
        facts["question_type"] = r["question_type"]
    category = r.get("question_template_id") or r.get("question_type") or "general"
    return Truth(
        qid=qid,
        question=" ".join(text.split()),
        answer=answer,
        answer_raw=r.get("answer"),
        kind=kind,
        category=re.sub(r"[^a-z0-9]+", "_", str(category).lower()).strip("_") or "general",
        facts=facts,
    )
