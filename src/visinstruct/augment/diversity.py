"""Text similarity and diversity of instruction templates: ROUGE-L and distinct-n.

Both the near-duplicate filter and the before/after report use the same tokens: English
words, one token per Chinese character, and each placeholder or marker as one token, so a
template in either language is measured the same way.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(
    r"\{[A-Za-z_][A-Za-z0-9_]*\}"  # a {placeholder}
    r"|<[^<>\s{}\[\]]{1,32}>"  # a <slot> marker
    r"|\[\[[A-Z]{1,2}\]\]"  # a [[A]] sentinel
    rf"|[{CJK}]"  # one Chinese character
    rf"|[^\W_{CJK}]+"  # a word
)


def tokens(text: str) -> list[str]:
    """Lower-cased tokens; punctuation is not a token."""
    return [t.lower() for t in TOKEN.findall(text)]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison–Dix / Hyyrö):
    one big-integer step per token of `b`, so comparing a pool pairwise stays fast."""
    if not a or not b:
        return 0
    return _lcs_masks(_masks(a), len(a), b)


def _masks(a: Sequence[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    return masks


def _lcs_masks(masks: dict[str, int], n: int, b: Sequence[str]) -> int:
    full = (1 << n) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return n - v.bit_count()


def rouge_l(a: Sequence[str], b: Sequence[str]) -> float:
    """ROUGE-L F1 of two token lists (1.0 for two empty lists)."""
    if not a and not b:
        return 1.0
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


@dataclass
class SimilarityIndex:
    """The kept templates of one task, for "is this candidate too close to one we have?"."""

    items: list[tuple[str, list[str]]]

    def __init__(self) -> None:
        self.items = []

    def add(self, ident: str, toks: list[str]) -> None:
        self.items.append((ident, toks))

    def closest(self, toks: list[str]) -> tuple[float, str | None]:
        """The highest ROUGE-L F1 between `toks` and a kept template, and that template's id."""
        if not toks:
            return 0.0, None
        masks, n = _masks(toks), len(toks)
        best, who = 0.0, None
        for ident, other in self.items:
            if not other:
                continue
            lcs = _lcs_masks(masks, n, other)
            if lcs == 0:
                continue
            p, r = lcs / n, lcs / len(other)
            f = 2 * p * r / (p + r)
            if f > best:
                best, who = f, ident
        return best, who


def ngram_counts(texts: Sequence[str], n: int) -> tuple[int, int]:
    """(distinct n-grams, all n-grams) over the texts."""
    total, seen = 0, set()
    for text in texts:
        toks = tokens(text)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen), total


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the texts (0.0 when there are none). The ratio
    falls as a pool grows (more text reuses the same words), so compare pools of one size."""
    distinct, total = ngram_counts(texts, n)
    return distinct / total if total else 0.0


def mean_pairwise_rouge_l(texts: Sequence[str], max_pairs: int = 20000, seed: int = 0) -> float:
    """Mean ROUGE-L F1 over all pairs (a seeded sample of `max_pairs` for large pools);
    lower means more diverse. 0.0 for fewer than two texts."""
    toks = [tokens(t) for t in texts]
    n = len(toks)
    if n < 2:
        return 0.0
    total_pairs = n * (n - 1) // 2
    if total_pairs <= max_pairs:
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    else:
        rng = random.Random(seed)
        pairs = []
        while len(pairs) < max_pairs:
            i, j = rng.randrange(n), rng.randrange(n)
            if i != j:
                pairs.append((min(i, j), max(i, j)))
    return sum(rouge_l(toks[i], toks[j]) for i, j in pairs) / len(pairs)


@dataclass
class Diversity:
    count: int
    distinct_1: float
    distinct_2: float
    rouge_l: float  # mean pairwise ROUGE-L F1
    words: int  # distinct unigrams: the vocabulary the templates use


def diversity(texts: Sequence[str]) -> Diversity:
    """The diversity figures of a set of templates."""
    words, _ = ngram_counts(texts, 1)
    return Diversity(
        len(texts), distinct_n(texts, 1), distinct_n(texts, 2), mean_pairwise_rouge_l(texts), words
    )


def cjk_share(text: str) -> float | None:
    """Share of Chinese characters among letters (placeholders and markers left out);
    None when the text has no letters at all."""
    rest = TOKEN.sub(lambda m: " " if m.group(0)[0] in "{<[" else m.group(0), text)
    cjk = len(re.findall(f"[{CJK}]", rest))
    latin = len(re.findall(r"[A-Za-z]", rest))
    return cjk / (cjk + latin) if cjk + latin else None


def detect_language(text: str) -> str:
    """'zh' when Chinese characters dominate the letters, else 'en'."""
    share = cjk_share(text)
    return "zh" if share is not None and share >= 0.3 else "en"
