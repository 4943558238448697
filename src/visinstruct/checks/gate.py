"""The quality gate over a whole run: rules, balance, dedup, verification, judge → status.

Per-sample rules run on each sample; balance and dedup need the dataset in order;
verification and the judge go through the model client. Every sample ends with its check
results and a status (accepted, needs_review, rejected; edited ones stay edited), and
nothing is deleted: exports choose by status.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.checks import REVIEW, decide, failed, passed
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


def check_unit(samples: list, spec: ChecksSpec) -> list:
    """The checks one synthetic item's samples get where they are made (a worker process):
    rules, exact facts, duplicates among them, and the status. Everything the gate would
    find in drawn samples is found here, so a synthetic-only run needs no dataset pass."""
    from visinstruct.checks.rules import apply_rules, check_samples

    for s in samples:
        s.checks["facts"] = passed(method="drawn from exact facts")
    samples = list(apply_rules(samples, dict(spec.lengths) or None) if spec.rules else check_samples(samples))
    if spec.dedup:
        duplicate_checks(samples, spec.near_duplicate_threshold)
    for s in samples:
        s.status = decide(s)
    return samples


def needs_gate(recipe: Recipe) -> bool:
    """Model-made samples and model checks need the dataset pass; drawn ones are checked as made."""
    c = recipe.checks
    return bool(recipe.sources or recipe.uses_llm_on_facts() or c.verify is not None or c.judge is not None)


async def run_gate(recipe: Recipe, store: RunStore, base: Path | None = None) -> GateSummary:
    """Check every sample of the run and write back results and statuses."""
    from visinstruct.checks.balance import balance_letters
    from visinstruct.checks.rules import apply_rules

    spec: ChecksSpec = recipe.checks
    samples = list(store.iter_samples())
    summary = GateSummary(samples=len(samples))
    for s in samples:  # results are recomputed from scratch each time; a person's edit is kept
        # a person's decision and past rebalancing are kept; the rest is recomputed (model answers are cached)
        s.checks = {k: v for k, v in s.checks.items() if k in ("balance", "review")}
        if s.provenance.get("generator", "").startswith("synth/"):
            s.checks["facts"] = passed(method="drawn from exact facts")
    if spec.rules:
        samples = list(apply_rules(samples, dict(spec.lengths) or None))
    else:
        from visinstruct.checks.rules import check_samples

        samples = list(check_samples(samples))
    if spec.balance:
        summary.rebalanced = balance_letters(samples)
    if spec.dedup:
        from visinstruct.checks.dedup import ImageDeduper

        duplicate_checks(samples, spec.near_duplicate_threshold)
        images = ImageDeduper(max_distance=spec.image_distance) if spec.image_dedup else None
        for s in samples:
            if images is not None and not _synthetic(s):
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


def _synthetic(s: Any) -> bool:
    return s.provenance.get("generator", "").startswith("synth/")


_PUNCT = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Casefolded, punctuation and extra spaces gone (letters, digits and CJK kept)."""
    return _PUNCT.sub(" ", text.casefold()).strip()


def _answer_size(s: Any) -> int:
    """Answer length in words, or in characters / 2 for Chinese."""
    text = " ".join(t.answer for t in s.turns)
    return len(text) // 2 if s.language == "zh" else len(text.split())


def _grams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(max(1, len(text) - 2))}


def duplicate_checks(samples: list, threshold: float) -> None:
    """Duplicates among samples, the first kept and later ones marked:
    - same image(s) and type, same answer, same or near-identical question → `duplicate`
      (reject). A near-identical question with a *different* answer is a contrastive pair
      (a true and a false statement), not a duplicate;
    - a whole sample (question and answers) nearly copied onto another image → `near_copy`
      (review): a model repeating itself. Drawn images are exempt (their templated
      questions repeat across images by design).
    """
    groups: dict[tuple, list[tuple[str, set[str], Any]]] = {}
    for s in samples:
        q = normalise(" ".join(t.question for t in s.turns))
        a = normalise(" ".join(t.answer for t in s.turns))
        seen = groups.setdefault((tuple(s.images), s.type, a), [])
        grams = _grams(q)
        for q0, g0, first in seen:
            sim = 1.0 if q == q0 else len(grams & g0) / max(1, len(grams | g0))
            if sim >= threshold:
                what = "same" if sim == 1.0 else f"near-identical (similarity {sim:.2f})"
                s.checks["duplicate"] = failed(
                    f"{what} question and answer as sample {first.id} on the same image"
                )
                break
        else:
            seen.append((q, grams, s))
            s.checks["duplicate"] = passed()
    # short answers repeat legitimately across images ("Red", "3:15"): only long ones count as copies
    model_made = [
        s for s in samples if not _synthetic(s) and s.checks["duplicate"]["pass"] and _answer_size(s) >= 8
    ]
    if not model_made:
        return
    from visinstruct.checks.dedup import dedup_texts

    texts = [normalise(" ".join(f"{t.question} {t.answer}" for t in s.turns)) for s in model_made]
    for s, match in zip(model_made, dedup_texts(texts, threshold=threshold), strict=True):
        if match is not None and model_made[match].images != s.images:
            s.checks["near_copy"] = failed(
                f"nearly the same question and answer as sample {model_made[match].id} on another image",
                REVIEW,
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
