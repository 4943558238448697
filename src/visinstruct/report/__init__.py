"""A run's report: one self-contained HTML page with statistics, charts and a sample gallery."""

from __future__ import annotations

from visinstruct.report.html import write_report

__all__ = ["write_report"]
