"""The Ray executor: the same CPU units as the local executor, as tasks on a Ray cluster.

Stages do not change: a unit's function and argument go to a Ray task (several units per
task, as the local executor batches them), its answer comes back to this process, which
commits it to the run's SQLite as it does any unit's. What a task writes itself (image
files) goes to the run directory, so on more than one machine the run directory is a path
every node reaches (NFS, a mounted bucket); model calls stay in this process, under each
endpoint's one rate limit and its one ledger.

Faults: a task whose worker process or node died is run again by Ray (`max_retries`); its
units were not committed, so nothing is made twice. When the retries are spent, each unit
of the task is tried once more alone to find the one that kills its worker, as locally.
Ray is an extra (`pip install "visinstruct[ray]"`), imported when a run asks for it.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Future
from typing import Any

from visinstruct.errors import VisinstructError
from visinstruct.executors.local import LocalExecutor, _run_chunk

OBJECT_STORE_BYTES = 256 * 1024 * 1024  # a local instance's object store: results are small
GCS_GONE_S = 5  # a local instance's processes give up on its dead head after this many seconds


class RayUnavailable(VisinstructError):
    """Ray is not installed, or its cluster cannot be reached."""


def need_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            'the Ray executor needs Ray: pip install "visinstruct[ray]" (or pip install ray)'
        ) from None
    return ray


def _chunk_task(fn: Any, args: list[Any]) -> list[tuple[bool, Any]]:
    """A Ray task's body: the local executor's, so a unit fails or succeeds the same way."""
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    return _run_chunk(fn, args)


class RayExecutor(LocalExecutor):
    """CPU units as Ray tasks of one CPU each; `workers` of them at once (default: the
    cluster's CPUs). `address` None: RAY_ADDRESS, else a Ray instance of this machine with
    `workers` CPUs, stopped when the run ends."""

    chunk = 64  # a task costs more to start than a local round trip: more units per task

    def __init__(self, workers: int | None = None, address: str | None = None, max_retries: int = 3) -> None:
        super().__init__(workers or 1)
        self.requested = workers
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.max_retries = max_retries
        self._ray: Any = None
        self._remote: Any = None
        self._started_here = False
        self._refs: dict[int, tuple[Any, Any]] = {}  # id(fn) → (fn, its ObjectRef): sent once
        self._running: set[Any] = set()
        self._reaper: Any = None  # kills the instance's agents if this process is killed

    def start(self) -> RayExecutor:
        if self._ray is not None:
            return self
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no GPU notice on CPU runs
        ray = need_ray()
        if not ray.is_initialized():
            kw: dict[str, Any] = {"log_to_driver": False, "logging_level": "warning"}
            try:
                if self.address:
                    ray.init(address=self.address, **kw)
                else:  # a Ray of this machine for the run: no dashboard, no metrics agent
                    os.environ.setdefault("RAY_enable_metrics_collection", "0")
                    # its agents outlive a killed run by this long (Ray's default: a minute)
                    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(GCS_GONE_S))
                    ray.init(
                        address="local",  # a new instance, even beside one `ray start` made
                        num_cpus=self.requested or os.cpu_count() or 1,
                        include_dashboard=False,
                        object_store_memory=OBJECT_STORE_BYTES,
                        **kw,
                    )
                    self._started_here = True
                    from visinstruct.executors import ray_reaper

                    self._reaper = ray_reaper.start(os.getpid())
            except ConnectionError as e:
                raise RayUnavailable(f"Ray cluster {self.address!r}: cannot connect ({e})") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise RayUnavailable("the Ray cluster has no CPUs to run units on")
        self.workers = self.requested or cpus
        self._ray = ray
        self._remote = ray.remote(_chunk_task).options(num_cpus=1, max_retries=self.max_retries)
        return self

    def _launch(self, fn: Any, args: list[Any]) -> Future:
        import asyncio

        self.start()
        held = self._refs.get(id(fn))
        if held is None or held[0] is not fn:
            held = self._refs[id(fn)] = (fn, self._ray.put(fn))
        ref = self._remote.remote(held[1], args)
        self._running.add(ref)
        fut = asyncio.wrap_future(ref.future())
        fut.add_done_callback(lambda _f: self._running.discard(ref))
        return fut

    def _died(self, e: BaseException | None) -> bool:
        if e is None or self._ray is None:
            return False
        ex = self._ray.exceptions
        lost = tuple(
            getattr(ex, n)
            for n in ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError")
            if hasattr(ex, n)
        )
        return isinstance(e, lost)

    def _restart(self) -> None:
        """Ray starts new worker processes itself."""

    def close(self, cancel: bool = False) -> None:
        """Cancel what still runs (an interrupted run); stop the Ray instance started here."""
        ray, self._ray = self._ray, None
        if ray is None:
            return
        if cancel:
            for ref in list(self._running):
                with contextlib.suppress(Exception):  # a task already finished or gone
                    ray.cancel(ref, force=True)
        self._running.clear()
        self._refs.clear()
        if self._started_here:
            ray.shutdown()
            self._started_here = False
        if self._reaper is not None:  # the agents stopped with the instance
            self._reaper.kill()
            self._reaper.wait()
            self._reaper = None
