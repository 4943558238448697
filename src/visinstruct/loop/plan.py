"""A round's quotas per benchmark category → what to make: synthetic domain quotas and
targeted LLM questions.

A synthetic domain is targeted directly: weak at counting → more counting scenes. How
many items that takes is measured by drawing a few items (milliseconds), so the engine
gets a bound on the items it may make while it fills each category's quota.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import cache

from visinstruct.loop.mapping import Target
from visinstruct.synth import REGISTRY, get_domain

PROBE_ITEMS = 24


@cache
def category_rates(domain: str, types: tuple[str, ...], lang: str = "en") -> dict[str, float]:
    """Questions per item of each category a synthetic domain asks, for the given types."""
    d = get_domain(domain)
    counts: dict[str, int] = {}
    for i in range(PROBE_ITEMS):
        item = d.make(random.Random(f"probe:{domain}:{i}"), lang)
        for q in item.questions:
            if q.type in types:
                counts[q.category] = counts.get(q.category, 0) + 1
    return {c: n / PROBE_ITEMS for c, n in counts.items()}


@dataclass
class RoundPlan:
    """What one round makes."""

    synthetic: dict[str, dict] = field(default_factory=dict)  # domain → recipe SynthSpec fields
    targeted: dict[str, dict] = field(default_factory=dict)  # benchmark category → TargetSpec fields
    dropped: dict[str, str] = field(default_factory=dict)  # benchmark category → why nothing is made


def split(n: int, k: int) -> list[int]:
    """`n` split into `k` near-equal whole parts, the larger ones first."""
    return [n // k + (i < n % k) for i in range(k)]


def plan_round(
    quotas: dict[str, int],
    targets: dict[str, list[Target]],
    *,
    types: list[str],
    languages: list[str],
    llm: bool,
    slack: float = 1.5,
) -> RoundPlan:
    """Share each benchmark category's quota among its targets: synthetic domains get
    category quotas and an item bound; other domains get targeted LLM questions (when the
    base recipe has source images and an endpoint for them, `llm`)."""
    plan = RoundPlan()
    needed: dict[str, float] = {}
    for bench_cat in sorted(quotas):
        n = quotas[bench_cat]
        usable, why = [], ""
        for t in targets.get(bench_cat, []):
            ttypes = tuple(t.types or types)
            if t.domain in REGISTRY:
                rate = category_rates(t.domain, ttypes, languages[0]).get(t.category, 0.0)
                if rate > 0:
                    usable.append((t, ttypes, rate))
                else:
                    why = f"{t.domain} asks no {t.category} question of types {', '.join(ttypes)}"
            elif llm:
                usable.append((t, ttypes, 0.0))
            else:
                why = "its targets need source images and an LLM endpoint in the base recipe"
        if not usable:
            plan.dropped[bench_cat] = why or "no target in the mapping"
            continue
        if n == 0:
            continue
        for (t, ttypes, rate), share in zip(usable, split(n, len(usable)), strict=True):
            if share == 0:
                continue
            if t.domain in REGISTRY:
                spec = plan.synthetic.setdefault(t.domain, {"count": 0, "quotas": {}, "types": []})
                spec["quotas"][t.category] = spec["quotas"].get(t.category, 0) + share
                spec["types"] = sorted(set(spec["types"]) | set(ttypes))
                needed[t.domain] = needed.get(t.domain, 0.0) + share / rate
            else:
                spec = plan.targeted.setdefault(
                    bench_cat, {"count": 0, "category": t.category, "domain": t.domain}
                )
                spec["count"] += share
    for domain, items in needed.items():
        plan.synthetic[domain]["count"] = math.ceil(items * slack) + 16
        plan.synthetic[domain]["languages"] = list(languages)
    return plan
