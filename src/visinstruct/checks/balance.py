"""Answer balance over a whole dataset.

Multiple choice: a model learns "the answer is usually A" if it can. Samples made by the
engine are balanced already (`drafts.balanced_position`), but a dataset assembled from
several runs, edits or imports may not be. `balance_letters` moves the right option of
multiple-choice samples so each language's answer letters are balanced again.

It only acts on a language whose distribution is off: some letter's share is more than
`TOLERANCE` (2 percentage points) away from 25%. Within that tolerance nothing is touched,
so running it twice, or on engine output, changes nothing. When it acts, the i-th
multiple-choice sample of the language (in the given order) gets its right option at
`balanced_position("rebalance/<lang>", i)`: every block of four consecutive samples uses
each letter once. The distractors keep their relative order.

Judgement: the yes/no share is only reported (`yes_no_share`); turning a "no" statement into
a "yes" one means rewriting what it says, which is not a mechanical edit.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from visinstruct.checks import passed
from visinstruct.checks.rules import normalise, option_lines
from visinstruct.drafts import balanced_position
from visinstruct.records import LETTERS, Sample

log = logging.getLogger(__name__)

TOLERANCE = 0.02  # largest allowed distance of any letter's share from 25%


def letter_shares(samples: list[Sample], language: str | None = None) -> dict[str, float]:
    """Share of each answer letter among multiple-choice samples (of one language, if given)."""
    counts = Counter(
        s.answer_letter
        for s in samples
        if s.type == "multiple_choice"
        and s.answer_letter in LETTERS
        and (language is None or s.language == language)
    )
    total = sum(counts.values())
    return {c: (counts[c] / total if total else 0.0) for c in LETTERS}


def _unbalanced(samples: list[Sample]) -> bool:
    counts = Counter(s.answer_letter for s in samples if s.answer_letter in LETTERS)
    total = sum(counts.values())
    if not total:
        return False
    return any(abs(counts[c] / total - 0.25) > TOLERANCE + 1e-9 for c in LETTERS)  # 27% is within


def _move(s: Sample, target: int) -> str | None:
    """Put the sample's right option at `target`; None when done, else why it cannot be."""
    if len(s.options) != 4 or s.answer_letter is None or s.answer_letter not in LETTERS:
        return "not four options and a letter A-D"
    if not s.turns:
        return "no turns"
    old = LETTERS.index(s.answer_letter)
    question = s.turns[0].question
    found = option_lines(question)
    if found is None:
        return "the question's option lines A. … D. are not there"
    start, lines = found
    if [normalise(text) for _, _, text in lines] != [normalise(o) for o in s.options]:
        return "the question's option lines differ from the options"
    options = list(s.options)
    right = options.pop(old)
    options.insert(target, right)
    new_letter = LETTERS[target]
    text_lines = question.split("\n")
    for i, ((_, sep, _), option) in enumerate(zip(lines, options, strict=True)):
        text_lines[start + i] = f"{LETTERS[i]}{sep}{option}"
    answer = s.turns[0].answer
    stripped = answer.lstrip()
    if stripped.startswith(s.answer_letter):  # "C" or "C. 15": keep whatever follows the letter
        lead = answer[: len(answer) - len(stripped)]
        answer = lead + new_letter + stripped[1:]
    else:
        answer = new_letter
    s.turns[0].question = "\n".join(text_lines)
    s.turns[0].answer = answer
    s.options = options
    s.answer_letter = new_letter
    return None


def balance_letters(samples: list[Sample], stats: dict[str, Any] | None = None) -> int:
    """Rebalance the answer letters of multiple-choice samples, per language; see the module doc.

    Rewrites `options`, `answer_letter`, the first turn's answer and the option lines of the
    question of each moved sample, and records `checks["balance"] = passed(moved_from=old)`.
    A sample whose question does not hold its options as the lines "A. …" … "D. …" is left as
    it is and counted as not fixable. Returns how many samples changed; `stats`, when given,
    receives `{"moved": n, "unfixable": n, "languages": {lang: {"before": shares, "after": shares}}}`.
    """
    by_lang: dict[str, list[Sample]] = {}
    for s in samples:
        if s.type == "multiple_choice":
            by_lang.setdefault(s.language, []).append(s)
    moved = unfixable = 0
    report: dict[str, dict[str, Any]] = {}
    for lang, group in by_lang.items():
        before = letter_shares(group)
        if not _unbalanced(group):
            report[lang] = {"before": before, "after": before, "rebalanced": False}
            continue
        for i, s in enumerate(group):
            target = balanced_position(f"rebalance/{lang}", i)
            old = s.answer_letter
            if old is not None and old in LETTERS and LETTERS.index(old) == target:
                continue
            why = _move(s, target)
            if why is not None:
                unfixable += 1
                log.info("balance: sample %s left as it is: %s", s.id, why)
                continue
            s.checks["balance"] = passed(moved_from=old)
            moved += 1
        report[lang] = {"before": before, "after": letter_shares(group), "rebalanced": True}
    if stats is not None:
        stats.update(moved=moved, unfixable=unfixable, languages=report)
    return moved


def yes_no_share(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    """Per language: judgement samples counted (`count`), how many say yes, and the yes share."""
    counts: dict[str, Counter] = {}
    for s in samples:
        if s.type == "judgement" and s.short_answer in ("yes", "no"):
            counts.setdefault(s.language, Counter())[s.short_answer] += 1
    out: dict[str, dict[str, Any]] = {}
    for lang, c in sorted(counts.items()):
        n = c["yes"] + c["no"]
        out[lang] = {"count": n, "yes": c["yes"], "yes_share": c["yes"] / n if n else 0.0}
    return out
