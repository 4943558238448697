"""MLLM-DataEngine multiple-choice rows: a JSON array, one object per multiple-choice sample.

`instruction` is the question stem without the option lines (and the answer-format line
after them) when the options can be found in the question text; otherwise the whole
question. Samples of other types are skipped.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from visinstruct.errors import ExportError
from visinstruct.export.common import (
    ExportedImage,
    ExportOptions,
    ExportSummary,
    Images,
    JsonArray,
    atomic_text,
    attributions,
    one_or_list,
)
from visinstruct.records import Sample
from visinstruct.store import RunStore

LETTERS = string.ascii_uppercase
_OPTION_LINE = re.compile(r"\s*[(（]?([A-Z])\s*[.．、:：)）]\s*(.*?)\s*")


def _is_option_line(line: str, letter: str, option: str) -> bool:
    m = _OPTION_LINE.fullmatch(line)
    return bool(m) and m.group(1) == letter and m.group(2) == option.strip()


def split_stem(question: str, options: list[str]) -> str:
    """The question without its option lines and what follows them, if they can be found."""
    lines = question.split("\n")
    n = len(options)
    for i in range(len(lines) - n + 1):
        if all(_is_option_line(lines[i + k], LETTERS[k], options[k]) for k in range(n)):
            stem = "\n".join(lines[:i]).strip()
            return stem or question
    return question


def row(sample: Sample, ims: list[ExportedImage]) -> dict[str, object]:
    letter = sample.answer_letter
    if not sample.turns or len(sample.options) < 2 or letter not in list(LETTERS[: len(sample.options)]):
        raise ExportError(
            f"sample {sample.id}: a multiple-choice sample needs a question, options and an answer letter "
            f"naming one of them (has {len(sample.options)} options, letter {letter!r})"
        )
    correct = sample.options[LETTERS.index(letter)]
    answer = sample.turns[0].answer.strip()
    if answer.rstrip(".").strip() == letter or not answer:
        answer = f"{letter}. {correct}"
    out: dict[str, object] = {
        "id": sample.id,
        "instruction": split_stem(sample.turns[0].question, sample.options),
        "answer": answer,
        "short_answer": correct,
        "options": list(sample.options),
        "choice_answer": letter,
        "image": one_or_list([im.ref for im in ims]),
        "qtype": sample.category or sample.domain,
    }
    credits = attributions(ims)
    if credits is not None:
        out["attribution"] = credits
    return out


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    images = Images(store, out.parent, options.absolute_paths)
    with atomic_text(out) as f:
        rows = JsonArray(f)
        for sample in store.iter_samples(include):
            if sample.type != "multiple_choice":
                continue
            rows.add(row(sample, images.of(sample)))
        rows.close()
    return ExportSummary("dataengine", out, rows.n, images.count)
