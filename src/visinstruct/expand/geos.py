"""GEOS: SAT geometry questions, each a JSON file beside its diagram.

Layout, as `save_questions` in `geosolver/database/run_database.py` of seominjoon/geosolver
writes the released question sets (aaai, practice, official):

    <split>/<NNN>.json   {"key": ..., "text": ..., "choices": {"1": ..., "5": ...}, "answer": "3"}
    <split>/<NNN>.png    the diagram

`choices` maps the choice number to its text (`geoserver_interface.download_questions` keys
them by int; JSON makes the keys strings) and `answer` is the number of the right choice.
A list of choices is read the same way, numbered from 1. A question without choices keeps
its answer as a number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, fmt_answer, inside, load_json, split_dir
from visinstruct.sources.ingest import SourceError

DATASET = "geos"
LICENSE = "research use; see http://geometry.allenai.org"


def read(root: Path, split: str = "official", **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every question of `split` (a folder of the release), in file-name order."""
    base = split_dir(root, split, DATASET)
    for path in sorted(base.glob("*.json"), key=lambda p: _id_key(p.stem)):
        yield _question(root, split, path)


def _id_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _question(root: Path, split: str, path: Path) -> DatasetImage | BadRecord:
    stem = path.stem
    try:
        data = load_json(path, DATASET)
    except SourceError as e:
        return BadRecord(DATASET, stem, str(e).removeprefix(f"{DATASET}: "))
    if not isinstance(data, dict):
        return BadRecord(DATASET, stem, f"{path.name} does not hold an object")
    qid = str(data.get("key", stem))
    truth = _truth(qid, data)
    if isinstance(truth, str):
        return BadRecord(DATASET, qid, truth)
    rel = f"{split}/{stem}.png"
    image = inside(root, rel)
    if image is None or not image.is_file():
        return BadRecord(DATASET, qid, f"image {rel} not found")
    return DatasetImage(
        dataset=DATASET,
        split=split,
        ref=f"{DATASET}:{split}/{stem}",
        questions=[truth],
        path=str(image),
        license=LICENSE,
        provenance={"dataset": DATASET, "split": split, "file": f"{split}/{path.name}", "image_id": stem},
    )


def _choices(raw: Any) -> dict[int, str] | str:
    """Choice number -> text, or why the choices cannot be read."""
    if raw is None or raw == {} or raw == []:
        return {}
    if isinstance(raw, list):
        return {i: str(c).strip() for i, c in enumerate(raw, 1)}
    if isinstance(raw, dict):
        try:
            return {int(k): str(v).strip() for k, v in sorted(raw.items(), key=lambda kv: int(kv[0]))}
        except (TypeError, ValueError):
            return "choice numbers are not numbers"
    return "choices are neither a list nor an object"


def _truth(qid: str, data: dict[str, Any]) -> Truth | str:
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return "no question text"
    choices = _choices(data.get("choices"))
    if isinstance(choices, str):
        return choices
    answer = data.get("answer")
    if not choices:  # a question without choices: the answer is the value itself
        try:
            value = float(str(answer))
        except ValueError:
            return f"answer {answer!r} is not a number and there are no choices"
        return Truth(qid, text.strip(), fmt_answer(value), answer, kind="number", category="geometry")
    try:
        number = int(str(answer).strip())
    except ValueError:
        number = None
    if number not in choices:
        return f"answer {answer!r} is not among the {len(choices)} choices"
    return Truth(
        qid=qid,
        question=text.strip(),
        answer=choices[number],
        answer_raw=answer,
        kind="choice",
        choices=list(choices.values()),
        category="geometry",
        lang="en",
        facts={"choice_number": number},
    )
