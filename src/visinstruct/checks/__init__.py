"""Checks on samples: rules, duplicates, verification by a model. See `results.py` for
what a result is; the check stages that run them live in `visinstruct.stages`."""

from visinstruct.checks.results import REJECT, REVIEW, failed, passed, reasons

__all__ = ["REJECT", "REVIEW", "failed", "passed", "reasons"]
