"""Rule checks every sample gets, whatever produced it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from visinstruct.records import LETTERS, Sample
from visinstruct.templates import PLACEHOLDER


def structure(s: Sample) -> str | None:
    """Why the sample is malformed, or None when its shape is right for its type."""
    if not s.images:
        return "no image"
    if not s.turns:
        return "no turns"
    for n, t in enumerate(s.turns, 1):
        if not t.question.strip() or not t.answer.strip():
            return f"turn {n} has an empty question or answer"
        for text in (t.question, t.answer):
            m = PLACEHOLDER.search(text)
            if m:
                return f"turn {n} has an unfilled slot {m.group(0)}"
    if s.type == "multiple_choice":
        if len(s.options) != 4:
            return f"{len(s.options)} options instead of 4"
        if len({o.strip().casefold() for o in s.options}) != 4:
            return "options are not distinct"
        if s.answer_letter is None or s.answer_letter not in LETTERS:
            return f"answer letter {s.answer_letter!r} is not one of A-D"
        if s.short_answer is not None and s.options[LETTERS.index(s.answer_letter)] != s.short_answer:
            return "the answer letter does not point at the right option"
    elif s.type == "judgement":
        if s.short_answer not in ("yes", "no"):
            return f"judgement answer {s.short_answer!r} is not yes or no"
    elif s.type == "long_vqa" and len(s.turns) < 2:
        return "long VQA has fewer than 2 turns"
    return None


def check_samples(samples: Iterable[Sample]) -> Iterator[Sample]:
    """Stage: record the structure check on each sample; a failure rejects it, with the reason."""
    for s in samples:
        reason = structure(s)
        s.checks["structure"] = {"pass": reason is None, **({"reason": reason} if reason else {})}
        if reason is not None:
            s.status = "rejected"
        yield s
