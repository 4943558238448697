"""What a dataset reader yields: an image with every question about it, or a bad record.

`Truth` is one question as the dataset publishes it, with its exact answer: `answer` is
normalised (the text of the right choice, a number as a person writes it, "yes"/"no"), and
`answer_raw` is the value from the file, kept verbatim beside it. `solution` holds the
dataset's own working (a solution text split into steps, a program rendered as steps), which
becomes the explanation of long answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.sources.ingest import SourceError

#: What kind of answer a question has; it decides how distractors and statements are made.
KINDS = ("choice", "number", "yes_no", "text", "list", "range")


@dataclass
class Truth:
    """One question of a dataset with its ground truth."""

    qid: str  # the dataset's own question id
    question: str  # as published, without the choices
    answer: str  # normalised answer (see the module docstring)
    answer_raw: Any  # the answer as the file has it, verbatim
    kind: str = "text"  # one of KINDS
    choices: list[str] = field(default_factory=list)  # the dataset's own choices; `answer` is one
    solution: list[str] = field(default_factory=list)  # the dataset's working, as steps
    category: str = "general"  # the question's kind (the closed loop targets these)
    lang: str = "en"  # the language of the question text
    unit: str | None = None  # of a numeric answer, when the dataset gives one
    facts: dict[str, Any] = field(default_factory=dict)  # more exact facts: table, program, range


@dataclass
class Dialogue:
    """An instruction sample already written (a LLaVA or ShareGPT conversation, a row of an
    instruction dataset): imported with its turns as they are, then checked like any other."""

    qid: str  # the record's own id
    turns: list[tuple[str, str]]  # (question, answer), verbatim; `<image>` tags removed
    type: str = "long_vqa"  # an instruction type (records.INSTRUCTION_TYPES)
    category: str = "general"
    lang: str = "en"
    options: list[str] = field(default_factory=list)  # multiple choice, when the record says
    answer_letter: str | None = None
    short_answer: str | None = None


@dataclass
class BadRecord:
    """A record that cannot be used, and why; reported one by one."""

    dataset: str
    record: str  # the dataset's own id of the record (or file:line)
    reason: str

    def __str__(self) -> str:
        return f"{self.dataset} {self.record}: {self.reason}"


@dataclass
class DatasetImage:
    """One image of a dataset and every usable question about it."""

    dataset: str
    split: str
    ref: str  # stable, unique in the dataset: "<dataset>:<split>/<image id>"
    questions: list[Truth]
    dialogues: list[Dialogue] = field(default_factory=list)  # already-written samples (importers)
    path: str | None = None  # the image file (inside the dataset's folder)
    data: bytes | None = None  # or its encoded bytes (images stored inside pickles)
    more_images: list[str] = field(default_factory=list)  # further image files of a multi-image record
    domain: str = "numerical_calculation"  # a catalog domain; the recipe's `domain:` overrides
    license: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # file, image id, anything useful
    bad: list[BadRecord] = field(default_factory=list)  # this image's records that were refused
    error: str | None = None  # the image itself cannot be used (missing file): all questions fail

    def __repr__(self) -> str:  # never dump the bytes
        data = "None" if self.data is None else f"<{len(self.data)} bytes>"
        n = len(self.questions)
        return f"DatasetImage(ref={self.ref!r}, path={self.path!r}, data={data}, questions={n})"


def inside(root: Path, rel: str) -> Path | None:
    """`rel` under `root`, or None when it would leave `root` (after `..` and links)."""
    if not rel or "\x00" in rel:
        return None
    base = root.resolve()
    try:
        full = (base / rel).resolve()
    except (OSError, RuntimeError):
        return None
    return full if full.is_relative_to(base) else None


def load_json(path: Path, dataset: str) -> Any:
    """A dataset's JSON file; a missing or broken file names the dataset, the file and why."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SourceError(f"{dataset}: {path} not found") from None
    except OSError as e:
        raise SourceError(f"{dataset}: cannot read {path} ({e.strerror or e})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SourceError(f"{dataset}: {path} is not valid JSON ({e})") from None


def png_from_array(array: Any) -> bytes:
    """An image held as a numpy array (H×W or H×W×3/4, uint8), encoded as PNG bytes."""
    import numpy as np
    from PIL import Image

    from visinstruct.png import encode_png

    a = np.asarray(array)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    img = Image.fromarray(a)
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGB")
    return encode_png(img)


def fmt_answer(value: Any) -> str:
    """A number as a person writes it (no '.0', at most 4 places); anything else as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value).strip()


def split_dir(root: Path, split: str, dataset: str) -> Path:
    """`root/split`, which must exist."""
    d = root / split
    if not d.is_dir():
        raise SourceError(f"{dataset}: no folder {split!r} under {root}")
    return d
