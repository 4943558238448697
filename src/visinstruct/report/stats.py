"""One streaming pass over a run's samples: counts for every section of the report.

Memory stays flat whatever the run's size: only counters (keyed by domain, type, status,
language, check name, answer length, ...) grow, and the gallery keeps a fixed number of
samples chosen by reservoir sampling with a seeded generator, so the same run and seed
always show the same samples.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from visinstruct.checks.captions import caption_units
from visinstruct.records import INSTRUCTION_TYPES, Sample

# Most distinct reason texts kept; past this the rarest are dropped (their counts are
# approximate then, the common ones stay right). Keeps memory bounded when every reason
# quotes the sample's own text.
MAX_REASONS = 20_000

YES_WORDS = {"yes", "是", "是的", "对"}
NO_WORDS = {"no", "否", "不是", "不"}


def answer_length(sample: Sample) -> int:
    """Length of all the sample's answers: words for English, characters for Chinese."""
    text = " ".join(t.answer for t in sample.turns)
    if sample.language == "zh":
        return sum(1 for ch in text if not ch.isspace())
    return len(text.split())


def yes_no(sample: Sample) -> str | None:
    """ "yes" or "no" for a judgement sample, None when the answer is neither."""
    for value in (sample.short_answer, sample.turns[0].answer if sample.turns else None):
        if not value:
            continue
        word = value.strip().strip(".。!！").lower()
        if word in YES_WORDS:
            return "yes"
        if word in NO_WORDS:
            return "no"
    return None


@dataclass
class Stats:
    """Everything the report draws, filled by `add` one sample at a time."""

    total: int = 0
    by_domain_type: Counter = field(default_factory=Counter)  # (domain, type)
    by_domain_status: Counter = field(default_factory=Counter)  # (domain, status)
    by_status: Counter = field(default_factory=Counter)
    by_language: Counter = field(default_factory=Counter)
    by_language_status: Counter = field(default_factory=Counter)  # (language, status)
    by_cell: Counter = field(default_factory=Counter)  # (domain, type, language, status)
    letters: Counter = field(default_factory=Counter)  # (language, letter) for multiple_choice
    yes_no: Counter = field(default_factory=Counter)  # (language, "yes" | "no" | "other")
    lengths: Counter = field(default_factory=Counter)  # (type, language, length)
    captions: Counter = field(default_factory=Counter)  # (language, length as the caption checks count it)
    turns: Counter = field(default_factory=Counter)  # number of turns of long_vqa
    failed_checks: Counter = field(default_factory=Counter)  # (check name, severity)
    reasons: Counter = field(default_factory=Counter)  # (check name, reason)
    verify_type: Counter = field(default_factory=Counter)  # (type, "agree" | "disagree")
    verify_domain: Counter = field(default_factory=Counter)  # (domain, "agree" | "disagree")
    # caption facts check per (domain, "template" | "rewrite"): [captions, coverage sum, least, flagged]
    caption_facts: dict[tuple[str, str, str], list[float]] = field(
        default_factory=dict
    )  # domain, language, writer

    def add(self, s: Sample) -> None:
        self.total += 1
        self.by_domain_type[s.domain, s.type] += 1
        self.by_domain_status[s.domain, s.status] += 1
        self.by_status[s.status] += 1
        self.by_language[s.language] += 1
        self.by_language_status[s.language, s.status] += 1
        self.by_cell[s.domain, s.type, s.language, s.status] += 1
        if s.type == "multiple_choice" and s.answer_letter:
            self.letters[s.language, s.answer_letter] += 1
        if s.type == "judgement":
            self.yes_no[s.language, yes_no(s) or "other"] += 1
        if s.type == "caption" and s.turns:
            self.captions[s.language, caption_units(s.turns[0].answer)] += 1
        else:
            self.lengths[s.type, s.language, answer_length(s)] += 1
        if s.type == "long_vqa":
            self.turns[len(s.turns)] += 1
        facts = s.checks.get("facts") if s.type == "caption" else None
        if isinstance(facts, dict) and isinstance(facts.get("coverage"), int | float):
            writer = "template" if s.drawn else "rewrite"
            row = self.caption_facts.setdefault((s.domain, s.language, writer), [0, 0.0, 1.0, 0])
            row[0] += 1
            row[1] += facts["coverage"]
            row[2] = min(row[2], facts["coverage"])
            row[3] += facts.get("pass") is False
        for name, result in s.checks.items():
            if not isinstance(result, dict):
                continue
            if result.get("pass") is False:
                self.failed_checks[name, result.get("severity", "reject")] += 1
                self.reasons[name, str(result.get("reason") or "failed")] += 1
            if name == "verify":
                verdict = "disagree" if result.get("pass") is False else "agree"
                self.verify_type[s.type, verdict] += 1
                self.verify_domain[s.domain, verdict] += 1
        if len(self.reasons) > MAX_REASONS:
            self.reasons = Counter(dict(self.reasons.most_common(MAX_REASONS // 2)))

    # -- derived ------------------------------------------------------------------------
    def domains(self) -> list[str]:
        return sorted({d for d, _ in self.by_domain_type})

    def types(self) -> list[str]:
        present = {t for _, t in self.by_domain_type}
        return [t for t in INSTRUCTION_TYPES if t in present] + sorted(present - set(INSTRUCTION_TYPES))

    def languages(self) -> list[str]:
        return sorted(self.by_language, key=lambda lang: (lang != "en", lang != "zh", lang))

    @property
    def usable(self) -> int:
        """Samples an export takes by default: accepted and edited."""
        return self.by_status["accepted"] + self.by_status["edited"]

    @property
    def verified(self) -> int:
        return sum(self.verify_type.values())


class Reservoir:
    """A uniform random sample of fixed size from a stream of unknown length (Algorithm R).

    Keeps (position, item) so the picks can be shown in the run's order.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = max(0, size)
        self.rng = random.Random(seed)
        self.seen = 0
        self.items: list[tuple[int, Sample]] = []

    def offer(self, item: Sample) -> None:
        n = self.seen
        self.seen += 1
        if self.size == 0:
            return
        if n < self.size:
            self.items.append((n, _slim(item)))
        else:
            j = self.rng.randrange(n + 1)
            if j < self.size:
                self.items[j] = (n, _slim(item))

    def picks(self) -> list[Sample]:
        return [s for _, s in sorted(self.items, key=lambda p: p[0])]


def _slim(s: Sample) -> Sample:
    """Drop what the gallery never shows (the exact facts can be large)."""
    s.context = {}
    return s


def collect(samples: Iterable[Sample], gallery: int = 24, seed: int = 0) -> tuple[Stats, list[Sample]]:
    """One pass: the statistics and the gallery's picks (in run order)."""
    stats, pool = Stats(), Reservoir(gallery, seed)
    for s in samples:
        stats.add(s)
        pool.offer(s)
    return stats, pool.picks()
