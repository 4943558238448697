"""Reading an answer as a benchmark counts it: the option letter a free-form prediction
chooses, the gold answer as a letter, and the cells of a results row as text or a verdict."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

NO_LETTER = "no option letter in prediction"
NO_PREDICTION = "missing prediction"

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


# --- cells -----------------------------------------------------------------------------


def cell_text(value: Any) -> str | None:
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


def cell_flag(value: Any) -> bool | None:
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


def lettered_options(row: dict[str, Any]) -> list[str]:
    """Option texts from columns or keys "A", "B", ... (contiguous from A)."""
    out = []
    for letter in "ABCDEFGHIJ":
        t = cell_text(row.get(letter))
        if t is None:
            break
        out.append(t)
    return out
