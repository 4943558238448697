"""TQA (Textbook Question Answering): diagram questions with lettered choices, read as published.

Followed: the dataset's README (as shipped in `tqa_train_val_test.zip`, e.g. the copy at
kshitij8076/BTP_BENCHMARK `tqa_train_val_test/README.md`): a split file is a JSON list of
lessons (`globalID`, `lessonName`, `questions` → `diagramQuestions` / `nonDiagramQuestions`,
each a dict from the question's global id to `{beingAsked: {processedText, rawText},
answerChoices: {"a": {idStructural, processedText, rawText}, …}, correctAnswer:
{processedText, rawText}, questionType, questionSubType, imagePath, imageName}`,
`diagramAnnotations` per image name, `instructionalDiagrams`, `topics`), images are paths
relative to the split folder (`question_images/`, `abc_question_images/`, `teaching_images/`,
`textbook_images/`). HuggingFaceM4's data preparation (the TQA block of its fine-tuning
script) opens `<split folder>/<imagePath>` and reads `correctAnswer.processedText` as the letter.

Layout: `<root>/<split>/tqa_v1_<split>.json` (the test file is `tqa_v2_test.json`; the newest
version there is read) with the image folders beside it; `path:` may name the split folder.

What becomes of a question: each diagram question is a choice question about its diagram —
`choices` are the options' `processedText` in letter order and the answer is the option
`correctAnswer` names (by letter, or by its text); the category is `questionSubType` (else
`questionType`) in snake_case; the lesson and the diagram's ground-truth text labels
(`diagramAnnotations`) are facts. Several questions on one diagram stay together.

Non-diagram questions (true/false and multiple choice about the lesson's text, about half
of TQA) are not imported: they ask nothing about an image, and pairing them with a lesson
picture would teach answers the picture does not hold. Each is reported as a skipped record
with that reason, so none is lost without a word. Lesson figures and teaching diagrams come
with descriptions but no questions, and are not imported either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, load_json
from visinstruct.expand.grouping import Grouper, image_file
from visinstruct.sources.ingest import SourceError

LICENSE = "CC BY-NC 3.0"
SKIPPED_NON_DIAGRAM = "skipped: a non-diagram question asks about the lesson text, not an image"


def lessons_file(root: Path, split: str) -> Path:
    """`tqa_v<N>_<split>.json` in `root/split` (or in `root`), the newest version."""
    for folder in (root / split, root):
        found = sorted(folder.glob(f"tqa_v*_{split}.json"), key=lambda p: _version(p.name))
        if found:
            return found[-1]
    raise SourceError(f"tqa: no tqa_v1_{split}.json under {root / split} or {root}")


def _version(name: str) -> int:
    m = re.match(r"tqa_v(\d+)_", name)
    return int(m.group(1)) if m else 0


def read(root: Path, split: str, **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every diagram of TQA's `split` with its diagram questions."""
    path = lessons_file(root, split)
    folder = path.parent
    lessons = load_json(path, "tqa")
    if not isinstance(lessons, list):
        raise SourceError(f"tqa: {path} is not a list of lessons")
    group = Grouper("tqa")
    for pos, lesson in enumerate(lessons):
        if not isinstance(lesson, dict) or not isinstance(lesson.get("questions"), dict):
            group.refuse(f"lesson #{pos}", "lesson is not an object with 'questions'")
            continue
        questions = lesson["questions"]
        for qid in sorted(_dict(questions.get("nonDiagramQuestions"))):
            group.refuse(str(qid), SKIPPED_NON_DIAGRAM)
        labels = _dict(lesson.get("diagramAnnotations"))
        for qid, q in sorted(_dict(questions.get("diagramQuestions")).items()):
            qid = str(qid)
            if not isinstance(q, dict):
                group.refuse(qid, f"question is {type(q).__name__}, not an object")
                continue
            image = q.get("imagePath")
            if not isinstance(image, str) or not image.strip():
                group.refuse(qid, "diagram question without imagePath")
                continue
            truth = _truth(q, qid, lesson, labels)
            if isinstance(truth, str):
                group.refuse(qid, truth, image)
            else:
                group.add(image, truth)

    def build(image: str, truths: list[Truth], bad: list[BadRecord]) -> DatasetImage:
        file, error = image_file(folder, image)
        return DatasetImage(
            dataset="tqa",
            split=split,
            ref=f"tqa:{split}/{image}",
            questions=truths,
            path=file,
            domain="structuralized_imagetext_understanding",
            license=LICENSE,
            provenance={
                "dataset": "tqa",
                "split": split,
                "file": f"{folder.name}/{path.name}",
                "image": image,
            },
            bad=bad,
            error=error,
        )

    return group.images(build)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """`processedText` (else `rawText`) of a TQA text object, whitespace tidied."""
    if isinstance(value, dict):
        value = value.get("processedText") or value.get("rawText")
    return " ".join(value.split()) if isinstance(value, str) else ""


def _truth(q: dict, qid: str, lesson: dict, labels: dict) -> Truth | str:
    text = _text(q.get("beingAsked"))
    if not text:
        return "no question text (beingAsked)"
    options = _dict(q.get("answerChoices"))
    letters = sorted(k for k in options if isinstance(k, str))
    choices = [_text(options[k]) for k in letters]
    if len(choices) < 2 or not all(choices):
        return f"answerChoices {sorted(options)} are not two or more lettered options with text"
    correct = _text(q.get("correctAnswer"))
    key = correct.lower().strip(" .()")
    if key in letters:
        index = letters.index(key)
    else:
        same = [i for i, c in enumerate(choices) if c.lower() == correct.lower()]
        if len(same) != 1:
            return f"answer {correct!r} is not among the choices ({', '.join(letters)})"
        index = same[0]
    kind_of = q.get("questionSubType") or q.get("questionType") or "general"
    facts: dict[str, Any] = {
        "lesson": lesson.get("lessonName"),
        "lesson_id": lesson.get("globalID"),
        "answer_letter": letters[index],
    }
    boxes = labels.get(q.get("imageName")) if isinstance(q.get("imageName"), str) else None
    names = [a.get("text") for a in boxes if isinstance(a, dict)] if isinstance(boxes, list) else []
    if names := [n for n in names if isinstance(n, str) and n.strip()]:
        facts["labels"] = names  # the diagram's text boxes, transcribed by people
    return Truth(
        qid=qid,
        question=text,
        answer=choices[index],
        answer_raw=q.get("correctAnswer"),
        kind="choice",
        choices=choices,
        category=re.sub(r"[^a-z0-9]+", "_", str(kind_of).lower()).strip("_") or "general",
        facts=facts,
    )
