"""What a check result is: `{"pass": bool, "reason": str, "severity": "reject" | "review", ...}`.

A failed `reject` check rejects its sample; a failed `review` check sends it to review.
Nothing is dropped: a failed check marks the sample with its reason.
"""

from __future__ import annotations

from typing import Any

from visinstruct.records import REJECT, REVIEW, Sample


def passed(**extra: Any) -> dict[str, Any]:
    return {"pass": True, **extra} if extra else {"pass": True}


def failed(reason: str, severity: str = REJECT, **extra: Any) -> dict[str, Any]:
    return {"pass": False, "reason": reason, "severity": severity, **extra}


def reasons(sample: Sample) -> list[str]:
    """`check: reason` for every failed check, rejects first."""
    bad = [(n, r) for n, r in sample.checks.items() if isinstance(r, dict) and r.get("pass") is False]
    bad.sort(key=lambda nr: nr[1].get("severity", REJECT) != REJECT)
    return [f"{n}: {r.get('reason', 'failed')}" for n, r in bad]


__all__ = ["REJECT", "REVIEW", "failed", "passed", "reasons"]
