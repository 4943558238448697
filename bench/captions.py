#!/usr/bin/env python3
"""Caption checks: how fast the per-caption checks and the near-duplicate search over a run's
captions go, and how well the search finds planted near-copies.

Generates N detailed captions deterministically (English ~220 words, Chinese ~330 characters,
half each), each built from sentences of a shared phrase bank (as a VLM's captions share their
phrasing), with 3% planted near-copies of an earlier caption (two sentences changed, or numbers
changed). Prints:

* `caption_checks` (length, talk, language) per caption: captions/s;
* `caption_duplicates` over all N (MinHash over character shingles, `dedup_texts`): captions/s,
  recall of the planted copies, false positives (flagged pairs whose true shingle Jaccard is below
  the threshold), and the mean true Jaccard of unrelated captions (how far below it they sit).

    python bench/captions.py [--n 20000]
"""

from __future__ import annotations

import argparse
import random
import time

from visinstruct.checks.captions import caption_checks, caption_duplicates, caption_units, similarity

EN_SUBJECTS = [
    "a man",
    "a woman",
    "two children",
    "a dog",
    "a red car",
    "an old tram",
    "a cyclist",
    "a vendor",
]
EN_VERBS = ["stands", "walks", "waits", "sits", "leans", "rests", "looks ahead", "turns left"]
EN_PLACES = [
    "near a fountain",
    "under a tree",
    "beside a shop",
    "on a bridge",
    "at a crossing",
    "by the river",
]
EN_DETAILS = [
    "The sky is pale blue with a few thin clouds.",
    "Long shadows fall across the cobblestones.",
    "A sign above the door reads OPEN in white letters.",
    "Several potted plants line the pavement.",
    "The buildings behind have cream walls and tall windows.",
    "The light is warm and soft, as in late afternoon.",
]
ZH_SUBJECTS = ["一名男子", "一位女士", "两个孩子", "一只狗", "一辆红色汽车", "一辆旧电车", "一名骑车人"]
ZH_VERBS = ["站着", "走着", "等待着", "坐着", "靠着", "休息着", "向前看"]
ZH_PLACES = ["在喷泉旁", "在树下", "在商店旁边", "在桥上", "在路口", "在河边"]
ZH_DETAILS = [
    "天空是淡蓝色的，飘着几缕薄云。",
    "长长的影子投在石板路上。",
    "门上方的招牌写着“营业中”。",
    "人行道上摆着几盆植物。",
]


def caption(rng: random.Random, lang: str) -> str:
    out = []
    if lang == "en":
        while sum(len(s.split()) for s in out) < 220:
            if rng.random() < 0.3:
                out.append(rng.choice(EN_DETAILS))
            else:
                n = rng.randint(2, 40)
                out.append(
                    f"{rng.choice(EN_SUBJECTS).capitalize()} {rng.choice(EN_VERBS)} {rng.choice(EN_PLACES)}, "
                    f"about {n} metres from {rng.choice(EN_SUBJECTS)}."
                )
        return " ".join(out)
    while caption_units("".join(out)) < 330:
        if rng.random() < 0.3:
            out.append(rng.choice(ZH_DETAILS))
        else:
            out.append(
                f"{rng.choice(ZH_SUBJECTS)}{rng.choice(ZH_PLACES)}{rng.choice(ZH_VERBS)}，"
                f"离{rng.choice(ZH_SUBJECTS)}大约{rng.randint(2, 40)}米。"
            )
    return "".join(out)


def near_copy(rng: random.Random, text: str, lang: str) -> str:
    """`text` with two of its sentences replaced by new ones."""
    mark = ". " if lang == "en" else "。"
    parts = text.split(mark)
    for _ in range(2):
        parts[rng.randrange(len(parts))] = caption(rng, lang).split(mark)[0]
    return mark.join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--threshold", type=float, default=0.8)
    args = ap.parse_args()
    rng = random.Random(0)
    texts: list[str] = []
    langs: list[str] = []
    planted: dict[int, int] = {}
    for i in range(args.n):
        lang = "en" if i % 2 == 0 else "zh"
        if i > 10 and rng.random() < 0.03:
            j = rng.randrange(i)
            while langs[j] != lang:
                j = rng.randrange(i)
            texts.append(near_copy(rng, texts[j], lang))
            planted[i] = j
        else:
            texts.append(caption(rng, lang))
        langs.append(lang)

    t = time.perf_counter()
    failing = sum(
        any(not r["pass"] for r in caption_checks(x, lang).values())
        for x, lang in zip(texts, langs, strict=True)
    )
    dt = time.perf_counter() - t
    print(f"caption_checks: {args.n / dt:,.0f} captions/s ({failing} of {args.n} fail a check)")

    t = time.perf_counter()
    found = caption_duplicates(texts, args.threshold)
    dt = time.perf_counter() - t
    print(f"caption_duplicates: {args.n / dt:,.0f} captions/s over {args.n:,} captions")
    real = {i for i, j in planted.items() if similarity(texts[i], texts[j]) >= args.threshold}
    hit = {i for i in real if found[i] is not None}
    flagged = [(i, j) for i, j in enumerate(found) if j is not None]
    false = sum(similarity(texts[i], texts[j]) < args.threshold for i, j in flagged)
    print(
        f"recall of planted near-copies at Jaccard >= {args.threshold}: {len(hit)}/{len(real)} "
        f"({len(hit) / max(1, len(real)):.1%}); flagged {len(flagged)}, false positives {false}"
    )
    pairs = [(rng.randrange(args.n), rng.randrange(args.n)) for _ in range(500)]
    pairs = [
        (a, b) for a, b in pairs if a != b and langs[a] == langs[b] and a not in planted and b not in planted
    ]
    mean = sum(similarity(texts[a], texts[b]) for a, b in pairs) / max(1, len(pairs))
    print(f"mean Jaccard of unrelated captions of one language: {mean:.2f}")


if __name__ == "__main__":
    main()
