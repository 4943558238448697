"""Turn draft questions into finished samples.

Drafts say what is true; this step decides how it is shown: where the right option goes
(answer letters balanced exactly over each block of four items), the yes/no words of the
sample's language, the instruction suffixes, and the deterministic sample id.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from visinstruct.records import LETTERS, Sample, Turn, sample_id
from visinstruct.synth.base import Question, common

GENERATOR_VERSION = "1"


def balanced_position(key: str, index: int, n: int = 4) -> int:
    """Position of the right answer for the `index`-th item of a stream named `key`.

    Each block of `n` consecutive items uses every position once, in a seeded random
    order, so answers are exactly balanced and still unpredictable from one sample.
    """
    block, offset = divmod(index, n)
    return _block_order(key, block, n)[offset]


@lru_cache(maxsize=4096)
def _block_order(key: str, block: int, n: int) -> tuple[int, ...]:
    """The seeded order of one block (its items are made one after the other: one shuffle each)."""
    order = list(range(n))
    random.Random(f"{key}#{block}").shuffle(order)
    return tuple(order)


def join(lang: str, *parts: str) -> str:
    """Join sentences the way the language does (no spaces between Chinese sentences)."""
    sep = "" if lang == "zh" else " "
    return sep.join(p for p in parts if p)


def finish(
    q: Question,
    *,
    rng: random.Random,
    lang: str,
    domain: str,
    image_ids: list[str],
    stream: str,
    index: int,
    ordinal: int,
    provenance: dict[str, Any],
    context: dict[str, Any],
) -> Sample:
    """One draft → one sample. `stream`/`index`/`ordinal` place the answer letter."""
    turns = [Turn(a, b) for a, b in q.turns]
    options: list[str] = []
    letter = short = None
    if q.type == "multiple_choice":
        if q.correct is None:
            raise ValueError(f"{domain}: a multiple_choice draft has no correct option")
        pos = balanced_position(f"{stream}:mc{ordinal}", index)
        options = list(q.distractors)
        options.insert(pos, q.correct)
        letter, short = LETTERS[pos], q.correct
        lines = "\n".join(
            common(rng, "option_line", lang, letter=LETTERS[i], option=o) for i, o in enumerate(options)
        )
        turns[0] = Turn(f"{turns[0].question}\n{lines}\n{common(rng, 'choice_suffix', lang)}", letter)
    elif q.type == "judgement":
        if q.truth is None:
            raise ValueError(f"{domain}: a judgement draft has no truth value")
        short = "yes" if q.truth else "no"
        turns[0] = Turn(
            join(lang, turns[0].question, common(rng, "judgement_suffix", lang)),
            common(rng, f"answer_{short}", lang),
        )
    elif q.type == "short_vqa":
        short = q.short_answer if q.short_answer is not None else turns[0].answer
        turns[0] = Turn(join(lang, turns[0].question, common(rng, "short_suffix", lang)), turns[0].answer)
    sid = sample_id(*image_ids, domain, q.type, lang, GENERATOR_VERSION, stream, index, ordinal, q.category)
    return Sample(
        id=sid,
        images=list(image_ids),
        domain=domain,
        type=q.type,
        language=lang,
        turns=turns,
        options=options,
        answer_letter=letter,
        short_answer=short,
        category=q.category,
        provenance={**provenance, "phrasing": q.phrasing, **q.provenance},
        context=context,
    )


def finish_all(
    questions: list[Question],
    *,
    types: set[str] | None = None,
    **kw: Any,
) -> Iterator[Sample]:
    """Finish every draft of an item, numbering each type's drafts for letter balance."""
    seen: dict[str, int] = {}
    for q in questions:
        ordinal = seen.get(q.type, 0)
        seen[q.type] = ordinal + 1
        if types is not None and q.type not in types:
            continue
        yield finish(q, ordinal=ordinal, **kw)
