"""What every results reader shares: the records-and-problems result, how an answer is
scored as the benchmarks score it, and reading text and JSON lines without losing a line."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.errors import VisinstructError
from visinstruct.loop.results import EvalRecord

UNCATEGORIZED = "uncategorized"
NO_LETTER = "no option letter in prediction"
NO_PREDICTION = "missing prediction"

# SEED-Bench's `question_type_id` → evaluation dimension (SEED-Bench.json "question_type";
# 1-9 are the image dimensions, 10-12 the video ones).
SEED_DIMENSIONS = {
    1: "Scene Understanding",
    2: "Instance Identity",
    3: "Instance Attributes",
    4: "Instance Location",
    5: "Instances Counting",
    6: "Spatial Relation",
    7: "Instance Interaction",
    8: "Visual Reasoning",
    9: "Text Understanding",
    10: "Action Recognition",
    11: "Action Prediction",
    12: "Procedure Understanding",
}


class ResultsError(VisinstructError):
    """A results file cannot be read at all: names the file and what is wrong."""


@dataclass
class Problem:
    """A line or row that was left out or could not be scored, and why."""

    where: str  # "file:line" or "file:row N"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ImportResult:
    """What one results file gave: the records and the problems met on the way."""

    records: list[EvalRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    format: str = ""
    benchmark: str = ""

    def accuracy_by_category(self) -> dict[str, tuple[int, int]]:
        """category → (correct, total), to check an import at a glance."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.records:
            c, n = out.get(r.category, (0, 0))
            out[r.category] = (c + r.correct, n + 1)
        return out


# --- scoring ---------------------------------------------------------------------------

# the words are matched in any case, the letter only in capitals ("The answer is a dog" is no "A")
_ANSWER_PREFIX = re.compile(
    r"^\s*(?i:(?:the\s+)?(?:correct\s+|best\s+|final\s+)?(?:answer|option|choice)(?:\s+is)?)\s*[:：]?\s*"
    r"\(?([A-Z])\)?(?=$|[\s.,:;)。])"
)
_ANSWER_PREFIX_ZH = re.compile(r"^\s*答案(?:是|为)?\s*[:：]?\s*\(?([A-Z])\)?")
_LEADING_LETTER = re.compile(r"^\s*\(?([A-Z])(?:\)|\.|:|：|\s*$)")
_TOKEN_FORMS = ("{}", "{}.", "{},", "{}:", "{})", "({})", "({}).", "{}).")


def _letters(options: Sequence[str], answer: str | None = None) -> str:
    """The option letters in play: one per option, or A-D (and the answer's) when unknown."""
    if options:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(options)]
    last = max("D", answer) if answer and len(answer) == 1 and answer.isupper() else "D"
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: ord(last) - ord("A") + 1]


def _norm(text: str) -> str:
    """Lower case, single spaces, no trailing full stop: how two short answers are compared."""
    return " ".join(text.strip().lower().split()).rstrip(".。!！")


def extract_letter(
    prediction: str | None, options: Sequence[str] = (), *, letters: str | None = None
) -> str | None:
    """The option letter a free-form prediction chooses, or None when it chooses none.

    `letters` are the letters in play when the option texts are unknown (default A-D).
    Accepts a bare letter, "(B)", "B.", "B:", "B) text", "Answer: B", "The answer is (B)",
    a sentence with exactly one standalone letter among the options ("I choose B"), and a
    prediction that is exactly one option's text. Two candidate letters ("A or B") is no
    choice: guessing would credit a model for hedging.
    """
    if prediction is None:
        return None
    text = prediction.strip()
    if not text:
        return None
    letters = _letters(options) if options or letters is None else letters
    for pattern in (_LEADING_LETTER, _ANSWER_PREFIX, _ANSWER_PREFIX_ZH):
        m = pattern.match(text)
        if m and m.group(1) in letters:
            return m.group(1)
    tokens = text.split()
    found = {c for c in letters for form in _TOKEN_FORMS if form.format(c) in tokens}
    # a lone capital "A" in a longer sentence is usually the article, not an option
    if len(found) == 1 and not (found == {"A"} and len(tokens) > 3):
        return found.pop()
    for i, option in enumerate(options):
        if option and _norm(text) == _norm(option):
            return letters[i]
    return None


def answer_letter(answer: str, options: Sequence[str]) -> str | None:
    """The gold answer as a letter: given as a letter, or as the text of one option."""
    a = answer.strip()
    letters = _letters(options, a.upper() if len(a) == 1 else None)
    if len(a) == 1 and a.upper() in letters:
        return a.upper()
    matches = [letters[i] for i, o in enumerate(options) if o is not None and _norm(o) == _norm(a)]
    return matches[0] if len(matches) == 1 else None


def score(prediction: str | None, answer: str, options: Sequence[str] = ()) -> tuple[bool, str | None]:
    """(correct, why unscorable) for one answer, as a benchmark counts it.

    Multiple choice (options given, or a one-letter answer): the prediction's letter must be
    the answer's. Otherwise the two texts must match after normalising case, spaces and a
    final full stop. An unscorable prediction is wrong, with the reason.
    """
    if prediction is None or not prediction.strip():
        return False, NO_PREDICTION
    a = answer.strip()
    if options or (len(a) == 1 and a.isupper()):
        letter = extract_letter(prediction, options, letters=_letters(options, a))
        if letter is None:
            return False, NO_LETTER
        return letter == (answer_letter(a, options) or a), None
    return _norm(prediction) == _norm(a), None


# --- small helpers ---------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A cell or field as text; None for empty, missing and NaN (pandas writes "nan")."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    s = str(value)
    return None if s.strip() == "" or s.strip().lower() == "nan" else s


def _flag(value: Any) -> bool | None:
    """A 0/1 verdict (hit, score, correct) as a bool; None when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "1.0", "true", "yes"):
            return True
        if v in ("0", "0.0", "false", "no"):
            return False
    return None


def _lettered(row: dict[str, Any]) -> list[str]:
    """Option texts from columns or keys "A", "B", ... (contiguous from A)."""
    out = []
    for letter in "ABCDEFGHIJ":
        t = _text(row.get(letter))
        if t is None:
            break
        out.append(t)
    return out


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ResultsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot be read ({e.strerror})") from None


def _json_lines(path: Path, text: str, problems: list[Problem]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) per non-blank line; a line that is not a JSON object is a problem.

    Lines end at "\n" only: JSON written with ensure_ascii=False may hold U+2028 in a string."""
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(where, f"not JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(where, f"a line must be a JSON object, got {type(obj).__name__}"))
            continue
        yield where, obj


def _first_object(text: str) -> dict[str, Any] | None:
    for line in text.split("\n"):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None
