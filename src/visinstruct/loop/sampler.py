"""Bad cases to show a generator, and the order in which a round's category slots are filled.

Generated data is aimed at a weak category by showing the generator a few questions the
model got wrong there. The sampler walks each category's bad cases in a seeded shuffled
order and goes through all of them before showing any again, so successive prompts see
different examples; a category with fewer bad cases than asked for simply yields fewer
(possibly none), so a call always returns.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from visinstruct.loop.results import EvalRecord


class BadCaseSampler:
    """The wrong answers (`correct` is False) of an evaluation, drawn per category.

    Deterministic given `seed`: the same records and seed give the same picks in the same
    order. Each category has its own random stream, so picks in one category do not change
    those in another.
    """

    def __init__(self, records: Iterable[EvalRecord], seed: int | str = 0) -> None:
        self._cases: dict[str, list[EvalRecord]] = {}
        for r in records:
            if not r.correct:
                self._cases.setdefault(r.category, []).append(r)
        self._rngs = {c: random.Random(f"{seed}:{c}") for c in self._cases}
        self._deck: dict[str, list[int]] = {c: [] for c in self._cases}  # indices not yet shown this cycle

    def categories(self) -> list[str]:
        """Categories with at least one bad case, by name."""
        return sorted(self._cases)

    def count(self, category: str) -> int:
        """How many bad cases `category` has (0 for a category with none or unknown)."""
        return len(self._cases.get(category, ()))

    def pick(self, category: str, k: int) -> list[EvalRecord]:
        """Up to `k` distinct bad cases of `category`: fewer when it has fewer than `k`.

        Cases come from the rest of the current shuffled cycle first; when the cycle runs
        out a new one is shuffled, with the cases already taken in this call moved to its
        end so one call never returns a case twice.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        cases = self._cases.get(category, [])
        k = min(k, len(cases))
        deck = self._deck.get(category, [])
        taken: list[int] = []
        while len(taken) < k:
            if not deck:
                fresh = list(range(len(cases)))
                self._rngs[category].shuffle(fresh)
                chosen = set(taken)
                deck.extend([i for i in fresh if i not in chosen] + [i for i in fresh if i in chosen])
            taken.append(deck.pop(0))
        return [cases[i] for i in taken]


def schedule(quotas: Mapping[str, int], seed: int | str = 0) -> list[str]:
    """Each category repeated its quota times, in a seeded random order.

    Interleaving the slots spreads every category over the whole round, so a round cut short
    (budget, interruption) still has roughly the planned mix instead of only the first
    categories. Deterministic given `seed`, whatever the order of `quotas`.
    """
    bad = sorted(c for c, q in quotas.items() if q < 0)
    if bad:
        raise ValueError(f"quotas must be >= 0: {', '.join(bad)}")
    slots = [c for c in sorted(quotas) for _ in range(quotas[c])]
    random.Random(f"schedule:{seed}").shuffle(slots)
    return slots
