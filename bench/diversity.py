#!/usr/bin/env python3
"""Diversity of the synthetic domains: what kinds of pictures each draws, and how far apart they are.

Per domain over `--items` items (half English, half Chinese): the layout types drawn (a chart's
type and orientation, a table's kind, a document's layout, a figure, a scene's objects (flat,
dotted or solid), overlaps and shadows, a clock's face, a pair's change kinds), the fonts used,
the renderers, the realism transforms (with `--realism`), and the mean pairwise perceptual-hash
distance between the images (64-bit pHash, the engine's; 0 = the same picture, ~32 =
unrelated). With `--clip DIR` (a CLIP model folder, e.g. the tiny random one the tests build
with `tests/tiny_clip.py`), the mean pairwise cosine distance of image embeddings too.

    python bench/diversity.py [--items 1000] [--realism 0.5] [--clip DIR] [--domains charts,...]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from collections import Counter
from itertools import combinations

import numpy as np

from visinstruct.checks.dedup import ImageDeduper
from visinstruct.synth import REGISTRY, get_domain, realism, style
from visinstruct.synth.charts.describe import chart_type

PAIRS = 20_000  # image pairs sampled for the mean distance


def layout_of(name: str, facts: dict) -> str:
    """The kind of picture an item is, in a word or two."""
    if name == "charts":
        return chart_type(facts)
    if name == "tables":
        return str(facts.get("kind"))
    if name == "ocr":
        return str(facts.get("layout"))
    if name == "geometry":
        return str(facts.get("figure"))
    if name == "scenes":
        objs = facts["objects"]
        kind = facts.get("kind", "flat") + ("+dotted" if any(o.get("look") == "dotted" for o in objs) else "")
        hidden = "overlap" if any(o.get("occluded_by") for o in objs) else "apart"
        lit = "soft shadows" if (facts.get("lighting") or {}).get("soft_shadows") else "plain"
        return f"{kind}, {hidden}, {lit}"
    if name == "differences":
        return "+".join(sorted({c.get("type", "?") for c in facts.get("changes", [])}))
    if name == "clocks":
        return str(facts.get("face", "clock"))
    return str(facts.get("kind") or facts.get("layout") or name)


def watch_fonts() -> Counter:
    """Count the font files the domains ask `style.font` for (its cache would hide repeats)."""
    used: Counter = Counter()
    inner = style.font

    def counted(name: str, size: int):
        used[name] += 1
        return inner(name, size)

    style.font = counted  # type: ignore[assignment]
    return used


def mean_phash_distance(hashes: list[int], rng: random.Random) -> float:
    pairs = list(combinations(range(len(hashes)), 2))
    if len(pairs) > PAIRS:
        pairs = rng.sample(pairs, PAIRS)
    return sum(bin(hashes[a] ^ hashes[b]).count("1") for a, b in pairs) / max(1, len(pairs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--realism", type=float, default=0.0)
    ap.add_argument("--clip", default=None, help="a CLIP model folder: embedding spread too")
    ap.add_argument("--domains", default=",".join(sorted(REGISTRY)))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    fonts = watch_fonts()
    hasher = ImageDeduper()
    embedder = None
    if a.clip:
        from visinstruct.embed.model import load_embedder

        embedder = load_embedder(a.clip)
    rng = random.Random(a.seed)
    extra = f", embeddings: {a.clip}" if a.clip else ""
    print(f"{a.items} items per domain, realism {a.realism:g}{extra}")
    for name in a.domains.split(","):
        domain = get_domain(name)
        fonts.clear()
        layouts: Counter = Counter()
        transforms: Counter = Counter()
        renderers: Counter = Counter()
        hashes: list[int] = []
        images = []
        for i in range(a.items):
            lang = ("en", "zh")[i % 2]
            seed = f"{a.seed}:{name}:{i}"
            item = domain.make(random.Random(seed), lang)
            if a.realism:
                item, steps = realism.apply(domain, item, random.Random(f"{seed}:realism"), a.realism, lang)
                transforms.update(st["kind"] for st in steps)
                transforms["(none)"] += not steps
            layouts[layout_of(name, item.facts)] += 1
            renderers[item.facts.get("renderer", "pil")] += 1
            first = item.images[0].convert("RGB")
            buf = io.BytesIO()
            first.save(buf, format="PNG", compress_level=0)
            hashes.append(hasher.phash(io.BytesIO(buf.getvalue())))
            if embedder is not None:
                images.append(first)
        spread = mean_phash_distance(hashes, rng)
        print(f"\n{name}: {len(layouts)} layout types, {len(fonts)} fonts, pHash distance {spread:.1f} / 64")
        print("  layouts:   " + ", ".join(f"{k} {v}" for k, v in layouts.most_common(24)))
        print("  fonts:     " + ", ".join(f"{k.rsplit('.', 1)[0]} {v}" for k, v in fonts.most_common()))
        print("  renderers: " + ", ".join(f"{k} {v}" for k, v in renderers.most_common()))
        if a.realism:
            print("  realism:   " + ", ".join(f"{k} {v}" for k, v in transforms.most_common()))
        if embedder is not None:
            vecs = embedder.embed_images(images)
            sims = vecs @ vecs.T
            iu = np.triu_indices(len(vecs), 1)
            print(f"  embedding: mean pairwise cosine distance {float(np.mean(1 - sims[iu])):.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
