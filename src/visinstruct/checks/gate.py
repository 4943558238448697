"""The quality gate over a whole run: rules, balance, dedup, verification, judge → status.

Per-sample rules run on each sample; balance and dedup need the dataset in order;
verification and the judge go through the model client. Every sample ends with its check
results and a status (accepted, needs_review, rejected; edited ones stay edited), and
nothing is deleted: exports choose by status.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.checks import decide, passed
from visinstruct.recipe import ChecksSpec, Recipe
from visinstruct.store import RunStore


@dataclass
class GateSummary:
    samples: int = 0
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # check name → failures
    rebalanced: int = 0
    verify: dict[str, int] = field(default_factory=dict)
    judged: int = 0


async def run_gate(recipe: Recipe, store: RunStore, base: Path | None = None) -> GateSummary:
    """Check every sample of the run and write back results and statuses."""
    from visinstruct.checks.balance import balance_letters
    from visinstruct.checks.rules import apply_rules

    spec: ChecksSpec = recipe.checks
    samples = list(store.iter_samples())
    summary = GateSummary(samples=len(samples))
    for s in samples:  # results are recomputed from scratch each time; a person's edit is kept
        s.checks = {k: v for k, v in s.checks.items() if k == "balance"}  # the rest is recomputed (cached)
        if s.provenance.get("generator", "").startswith("synth/"):
            s.checks["facts"] = passed(method="drawn from exact facts")
    if spec.rules:
        samples = list(apply_rules(samples, dict(spec.lengths) or None))
    else:
        from visinstruct.checks.rules import check_samples

        samples = list(check_samples(samples))
    if spec.balance:
        summary.rebalanced = balance_letters(samples)
    import importlib.util

    if spec.dedup and importlib.util.find_spec("visinstruct.checks.dedup"):  # TEMP-GUARD
        from visinstruct.checks.dedup import Deduper, ImageDeduper

        texts = Deduper(threshold=spec.near_duplicate_threshold)
        images = ImageDeduper(max_distance=spec.image_distance) if spec.image_dedup else None
        for s in samples:
            s.checks.update(texts.check(s))
            if images is not None and not s.provenance.get("generator", "").startswith("synth/"):
                s.checks.update(images.check(s, store))  # drawn images are distinct by construction
    for s in samples:
        s.status = decide(s)
    if spec.verify is not None or spec.judge is not None:
        await _model_checks(recipe, store, samples, summary, base or Path.cwd())
    for s in samples:
        s.status = decide(s)
        summary.statuses[s.status] += 1
        for name, r in s.checks.items():
            if isinstance(r, dict) and r.get("pass") is False:
                summary.reasons[name] += 1
    store.update_samples(samples)
    return summary


async def _model_checks(
    recipe: Recipe, store: RunStore, samples: list, summary: GateSummary, base: Path
) -> None:
    from visinstruct.checks.verify import score, verify
    from visinstruct.pipeline import Pipeline

    spec = recipe.checks
    live = {s.id: s for s in samples if s.status != "rejected"}  # no point verifying what is already out
    async with Pipeline(recipe, store, base).client() as client:
        if spec.verify is not None:
            v = spec.verify
            summary.verify = await verify(
                live, store, client, endpoint=v.endpoint, judge_endpoint=v.judge_endpoint, types=set(v.types)
            )
        if spec.judge is not None:
            summary.judged = await score(
                live, store, client, endpoint=spec.judge.endpoint, min_score=spec.judge.min_score
            )


def gate_counts(store: RunStore) -> dict[str, Any]:
    """Verification agreement and failures per check, for `status`."""
    agree = disagree = 0
    reasons: Counter = Counter()
    for s in store.iter_samples():
        v = s.checks.get("verify")
        if isinstance(v, dict):
            agree += v.get("pass") is True
            disagree += v.get("pass") is False
        for name, r in s.checks.items():
            if isinstance(r, dict) and r.get("pass") is False:
                reasons[name] += 1
    return {"verify_agree": agree, "verify_disagree": disagree, "reasons": reasons}
