"""DVQA: bar-chart questions, read as published.

Followed: kushalkafle/DVQA_dataset `README.md` (the question-answer download holds one file per
split, `{split}_qa.json`, splits `train`, `val_easy`, `val_hard`; images `bar_{split}_xxxxxxxx.png`
all in one folder) and molmo's loader `olmo/hf_datasets/dv_qa.py` (KempnerInstitute/molmo: the
files as released are JSON lists whose records hold `image`, `question`, `answer` and
`answer_bbox`, images under `images/`). Records also hold `question_id` and `template_id`; the
README calls the latter `question_type` (and `answer_bbox` `bbox_answer`): both spellings are
accepted.

Layout: `<root>/qa/<split>_qa.json` (or `<root>/<split>_qa.json`, as the archive unpacks) and
`<root>/images/<image>`.

What becomes of a record: `question_id` is the question id, `template_id` ("structure",
"data", "reasoning") the category; the answer is "yes"/"no" (kind yes_no), a number written as
digits (kind number), or text — a bar label, or a count the dataset writes as a word ("two"),
kept as written; a non-empty `answer_bbox` (where the answer's text is in the chart) is a fact.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, load_json
from visinstruct.expand.grouping import Grouper, image_file, native_answer
from visinstruct.sources.ingest import SourceError

LICENSE = "CC BY-NC 4.0"


def read(root: Path, split: str, **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every chart of DVQA's `split` with all its questions."""
    path = root / "qa" / f"{split}_qa.json"
    if not path.is_file() and (root / f"{split}_qa.json").is_file():
        path = root / f"{split}_qa.json"
    if not path.is_file():
        raise SourceError(f"dvqa: no qa/{split}_qa.json under {root}")
    records = load_json(path, "dvqa")
    if not isinstance(records, list):
        raise SourceError(f"dvqa: {path} is not a list of question records")
    group = Grouper("dvqa")
    for pos, r in enumerate(records):
        qid = _qid(r, pos)
        if not isinstance(r, dict):
            group.refuse(qid, f"record is {type(r).__name__}, not an object")
            continue
        image = r.get("image")
        if not isinstance(image, str) or not image.strip():
            group.refuse(qid, "no image")
            continue
        truth = _truth(r, qid)
        if isinstance(truth, str):
            group.refuse(qid, truth, image)
        else:
            group.add(image, truth)

    def build(image: str, truths: list[Truth], bad: list[BadRecord]) -> DatasetImage:
        file, error = image_file(root, f"images/{image}")
        return DatasetImage(
            dataset="dvqa",
            split=split,
            ref=f"dvqa:{split}/{Path(image).stem}",
            questions=truths,
            path=file,
            domain="structuralized_imagetext_understanding",
            license=LICENSE,
            provenance={
                "dataset": "dvqa",
                "split": split,
                "file": f"{path.parent.name}/{path.name}",
                "image": image,
            },
            bad=bad,
            error=error,
        )

    return group.images(build)


def _qid(r: object, pos: int) -> str:
    qid = r.get("question_id") if isinstance(r, dict) else None
    if isinstance(qid, int | str) and not isinstance(qid, bool) and str(qid).strip():
        return str(qid).strip()
    return f"#{pos}"


def _truth(r: dict, qid: str) -> Truth | str:
    text = r.get("question")
    if not isinstance(text, str) or not text.strip():
        return "no question text"
    got = native_answer(r.get("answer"))
    if got is None:
        return f"answer {r.get('answer')!r} is not a single value"
    answer, kind = got
    template = r.get("template_id", r.get("question_type"))
    category = str(template).strip().lower().replace(" ", "_") if template else "general"
    facts = {}
    bbox = r.get("answer_bbox", r.get("bbox_answer"))
    if isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox):
        facts["answer_bbox"] = bbox  # [x, y, w, h] of the answer's text in the chart
    return Truth(
        qid=qid,
        question=text.strip(),
        answer=answer,
        answer_raw=r.get("answer"),
        kind=kind,
        category=category,
        facts=facts,
    )
