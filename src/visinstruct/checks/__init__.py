"""Checks on samples. Nothing is dropped: a failed check marks the sample with its reason."""

from visinstruct.checks.rules import check_samples, structure

__all__ = ["check_samples", "structure"]
