"""Geometry3K (Inter-GPS): one folder per problem, each a diagram and one multiple-choice question.

Layout, as `data/unzip_data.sh` of lupantech/InterGPS unpacks it and `symbolic_solver/test.py`
and `symbolic_solver/sub_acc.py` read it:

    geometry3k/<split>/<id>/data.json        problem_text, choices, answer (a letter),
                                             precise_value, problem_type_graph/goal, unit, ...
    geometry3k/<split>/<id>/logic_form.json  text and diagram logic forms (optional here)
    geometry3k/<split>/<id>/img_diagram.png  the diagram

The answer letter indexes `choices` (`ord(answer) - 65`, as test.py does); the normalised
answer is that choice's text. The category is the problem's goal type (`problem_type_goal`,
"Other" dropped when it has another, as sub_acc.py does): angle, length, area, ratio, ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, inside, load_json, split_dir
from visinstruct.sources.ingest import SourceError

DATASET = "geometry3k"
LICENSE = "MIT (lupantech/InterGPS)"
IMAGE = "img_diagram.png"


def read(root: Path, split: str = "train", **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every problem of `split`, in the order of its numeric id."""
    base = split_dir(root, split, DATASET)
    folders = [p for p in base.iterdir() if p.is_dir()]
    for folder in sorted(folders, key=lambda p: _id_key(p.name)):
        yield _problem(root, split, folder)


def _id_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _problem(root: Path, split: str, folder: Path) -> DatasetImage | BadRecord:
    pid = folder.name
    try:
        data = load_json(folder / "data.json", DATASET)
    except SourceError as e:
        return BadRecord(DATASET, pid, str(e).removeprefix(f"{DATASET}: "))
    if not isinstance(data, dict):
        return BadRecord(DATASET, pid, "data.json does not hold an object")
    qid = str(data.get("id", pid))
    truth = _truth(qid, data)
    if isinstance(truth, str):
        return BadRecord(DATASET, qid, truth)
    rel = f"{split}/{pid}/{IMAGE}"
    image = inside(root, rel)
    if image is None or not image.is_file():
        return BadRecord(DATASET, qid, f"image {rel} not found")
    logic = folder / "logic_form.json"
    if logic.is_file():
        try:
            forms = load_json(logic, DATASET)
        except SourceError:
            forms = None
        if isinstance(forms, dict):
            kept = ("text_logic_form", "diagram_logic_form")
            truth.facts["logic_form"] = {k: forms[k] for k in kept if isinstance(forms.get(k), list)}
    return DatasetImage(
        dataset=DATASET,
        split=split,
        ref=f"{DATASET}:{split}/{pid}",
        questions=[truth],
        path=str(image),
        license=LICENSE,
        provenance={
            "dataset": DATASET,
            "split": split,
            "file": f"{split}/{pid}/data.json",
            "image_id": pid,
            "source": data.get("source", ""),
        },
    )


def _truth(qid: str, data: dict[str, Any]) -> Truth | str:
    """The problem's Truth, or why it cannot be used."""
    text = data.get("problem_text")
    if not isinstance(text, str) or not text.strip():
        return "no problem_text"
    choices = data.get("choices")
    plain = isinstance(choices, list) and all(isinstance(c, str | int | float) for c in choices)
    if not plain or not choices:
        return "no choices"
    choices = [str(c).strip() for c in choices]
    letter = data.get("answer")
    index = ord(letter.strip().upper()) - 65 if isinstance(letter, str) and len(letter.strip()) == 1 else -1
    if not 0 <= index < len(choices):
        return f"answer {letter!r} is not among the {len(choices)} choices"
    goals = [g for g in data.get("problem_type_goal") or [] if isinstance(g, str)]
    if "Other" in goals and len(goals) > 1:
        goals.remove("Other")
    facts: dict[str, Any] = {
        "problem_type_graph": list(data.get("problem_type_graph") or []),
        "problem_type_goal": goals,
    }
    values = data.get("precise_value")
    if isinstance(values, list) and len(values) == len(choices):
        facts["choice_values"] = values
        facts["value"] = values[index]
    solution = data.get("detailed_solution")
    steps = [s.strip() for s in solution.splitlines() if s.strip()] if isinstance(solution, str) else []
    unit = data.get("unit")
    return Truth(
        qid=qid,
        question=text.strip(),
        answer=choices[index],
        answer_raw=letter,
        kind="choice",
        choices=choices,
        solution=steps,
        category=_snake(goals[0]) if goals else "other",
        lang="en",
        unit=unit.strip() if isinstance(unit, str) and unit.strip() else None,
        facts=facts,
    )


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_") or "other"
