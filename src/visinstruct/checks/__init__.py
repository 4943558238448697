"""Checks on samples. Nothing is dropped: a failed check marks the sample with its reason.

A check result is a dict stored under `sample.checks[name]`:
    {"pass": bool, "reason": str (when failed), "severity": "reject" | "review", ...extra}
A failed "reject" check rejects the sample; a failed "review" check sends it to review.
A sample a person edited keeps its status whatever the checks say.
"""

from __future__ import annotations

from typing import Any

from visinstruct.checks.rules import check_samples, structure
from visinstruct.records import Sample

REJECT, REVIEW = "reject", "review"


def passed(**extra: Any) -> dict[str, Any]:
    return {"pass": True, **extra}


def failed(reason: str, severity: str = REJECT, **extra: Any) -> dict[str, Any]:
    return {"pass": False, "reason": reason, "severity": severity, **extra}


def decide(sample: Sample) -> str:
    """The status the sample's check results call for (an edited sample stays edited)."""
    if sample.status == "edited":
        return "edited"
    review = sample.checks.get("review")
    if isinstance(review, dict):  # a person's accept or reject outranks every automatic check
        return "accepted" if review.get("pass") else "rejected"
    results = [r for r in sample.checks.values() if isinstance(r, dict) and r.get("pass") is False]
    if any(r.get("severity", REJECT) == REJECT for r in results):
        return "rejected"
    if results:
        return "needs_review"
    return "accepted"


def reasons(sample: Sample) -> list[str]:
    """`check: reason` for every failed check, rejects first."""
    bad = [(n, r) for n, r in sample.checks.items() if isinstance(r, dict) and r.get("pass") is False]
    bad.sort(key=lambda nr: nr[1].get("severity", REJECT) != REJECT)
    return [f"{n}: {r.get('reason', 'failed')}" for n, r in bad]


__all__ = ["REJECT", "REVIEW", "check_samples", "decide", "failed", "passed", "reasons", "structure"]
