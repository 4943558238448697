"""Executors run a stage's CPU work; they are chosen apart from the stages (local by default)."""

from visinstruct.executors.local import LocalExecutor, WorkerDied, make_pool, worker_init

__all__ = ["LocalExecutor", "WorkerDied", "make_pool", "worker_init"]
