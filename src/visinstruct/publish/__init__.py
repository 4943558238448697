"""Publishing a run: its dataset card and data files to the Hugging Face Hub."""

from __future__ import annotations

from visinstruct.publish.hub import PushError, PushFailed, plan_upload, push

__all__ = ["PushError", "PushFailed", "plan_upload", "push"]
