"""Executors run a stage's CPU units: worker processes of this machine, or Ray tasks."""

from __future__ import annotations

import os
from typing import Any

from visinstruct.executors.local import LocalExecutor, WorkerDied, make_pool, worker_init

__all__ = ["LocalExecutor", "WorkerDied", "make_executor", "make_pool", "worker_init"]


def make_executor(recipe: Any, workers: int | None, kind: str | None = None) -> LocalExecutor:
    """The run's executor: `kind` ("local", "ray") from the command line, else the recipe's."""
    spec = getattr(recipe.executor, "ray", None)
    use_ray = kind == "ray" or (kind is None and spec is not None)
    if not use_ray:
        n = workers or recipe.workers or os.cpu_count() or 1
        return LocalExecutor(n if recipe.synthetic or recipe.sources else 1).start()
    from visinstruct.executors.ray_tasks import RayExecutor

    return RayExecutor(
        workers or (spec.workers if spec else None) or recipe.workers,
        spec.address if spec else None,
        spec.max_retries if spec else 3,
    ).start()
