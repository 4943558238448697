"""Gathering a question file's records by image, in one pass, for readers whose files list
questions one by one (CLEVR, DVQA, FigureQA, TQA, MapQA) while we import images with all
their questions.

A `Grouper` holds a dict of lists keyed by image id, so grouping is linear in the records
however many questions an image has. It also keeps the refused records: one about a known
image travels with that image (`DatasetImage.bad`); one whose image cannot be told is yielded
on its own. The shared answer reading (`native_answer`) turns the values these files hold —
JSON bools, numbers, "yes"/"no" strings — into our normalised answer and its kind.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, fmt_answer, inside

_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")


def natural(key: str) -> tuple[int, int, str]:
    """Sort key: ids that are whole numbers in numeric order, then the rest as text."""
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def native_answer(value: Any) -> tuple[str, str] | None:
    """(normalised answer, kind) of an answer as a JSON file holds it, or None when it is not
    one value (null, a list, an object, an empty string). Bools and "yes"/"no" are kind
    yes_no; numbers, and strings that are just a number, are kind number; other text is text."""
    if isinstance(value, bool):
        return ("yes" if value else "no"), "yes_no"
    if isinstance(value, int):
        return str(value), "number"
    if isinstance(value, float):
        return (fmt_answer(value), "number") if value == value and abs(value) != float("inf") else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    if text.lower() in ("yes", "no"):
        return text.lower(), "yes_no"
    if _NUMBER_RE.fullmatch(text):
        return fmt_answer(float(text)), "number"
    return text, "text"


def image_file(root: Path, rel: str) -> tuple[str | None, str | None]:
    """(path of the image file `rel` under `root`, None) or (None, why it cannot be used)."""
    full = inside(root, rel)
    if full is None:
        return None, f"image path {rel!r} leaves the dataset folder"
    if not full.is_file():
        return None, f"image file {rel} not found"
    return str(full), None


class Grouper:
    """Questions of one file gathered by image; refused records kept beside them."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.truths: dict[str, list[Truth]] = defaultdict(list)
        self.bad: dict[str, list[BadRecord]] = defaultdict(list)
        self.loose: list[BadRecord] = []
        self._seen: dict[str, str] = {}  # qid -> image, to refuse a repeated question id

    def add(self, image: str, truth: Truth) -> None:
        """`truth` is a question about `image`; a question id seen before is refused."""
        if truth.qid in self._seen:
            self.refuse(truth.qid, f"question id repeated (first about image {self._seen[truth.qid]})", image)
            return
        self._seen[truth.qid] = image
        self.truths[image].append(truth)

    def refuse(self, record: str, reason: str, image: str | None = None) -> None:
        """Record `record` cannot be used; with its image when that is known."""
        bad = BadRecord(self.dataset, record, reason)
        if image is None:
            self.loose.append(bad)
        else:
            self.bad[image].append(bad)

    def images(
        self, build: Callable[[str, list[Truth], list[BadRecord]], DatasetImage]
    ) -> Iterator[DatasetImage | BadRecord]:
        """The refused records without an image, then each image (in id order) built by
        `build(image id, its questions in id order, its refused records)`. An image none of
        whose questions can be used is not yielded; its refused records are."""
        yield from sorted(self.loose, key=lambda b: natural(b.record))
        for key in sorted(set(self.truths) | set(self.bad), key=natural):
            truths = sorted(self.truths.get(key, []), key=lambda t: natural(t.qid))
            bad = self.bad.get(key, [])
            if not truths:
                yield from bad
                continue
            yield build(key, truths, bad)
