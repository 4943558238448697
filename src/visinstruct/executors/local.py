"""The local executor: CPU work in a pool of worker processes on this machine.

Stages hand it one unit at a time (`await executor.run(fn, arg)`); it batches what arrives
together into chunks so that each round trip to a worker carries several units, and
hands each result back to its caller.

Process hygiene: every worker dies with the process that started it — a SIGKILL of the
main process included (Linux `PR_SET_PDEATHSIG`, and everywhere a watchdog thread that
polls the parent) — and ignores Ctrl-C, which the main process handles. A worker that
dies (out of memory, a crash in a C library) fails only the units it was making, each
tried once more alone to find the culprit.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
CHUNK = 16  # most units per round trip to a worker


class WorkerDied(Exception):
    """The worker process making this unit died."""


def _die_with(parent: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:  # the parent died: this process was handed to init
            os._exit(1)


def worker_init(main: int | None = None) -> None:
    """Run first in every worker process: die with the process that started it, leave Ctrl-C
    to the main process, one thread per process for native libraries (the pool is the
    parallelism). `main` is the run's process; a forkserver's workers are the forkserver's
    children, which exits when `main` does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["RAYON_NUM_THREADS"] = "1"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if main is not None:
        try:
            os.kill(main, 0)
        except ProcessLookupError:  # the run is already gone
            os._exit(1)
        except PermissionError:
            pass
    threading.Thread(target=_die_with, args=(os.getppid(),), daemon=True, name="die-with-parent").start()


def pool_context() -> multiprocessing.context.BaseContext:
    """fork where it exists (workers start at once, with the parent's imports), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def make_pool(workers: int, context: Any = None) -> ProcessPoolExecutor:
    """A process pool whose workers follow `worker_init`."""
    return ProcessPoolExecutor(
        workers, mp_context=context or pool_context(), initializer=worker_init, initargs=(os.getpid(),)
    )


def _where(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    if not tb:
        return ""
    last = tb[-1]
    return f" ({Path(last.filename).name}:{last.lineno})"


def _run_chunk(fn: Callable[[Any], Any], args: list[Any]) -> list[tuple[bool, Any]]:
    out: list[tuple[bool, Any]] = []
    for a in args:
        try:
            out.append((True, fn(a)))
        except Exception as e:  # reported to the unit's caller, never fatal to the worker
            out.append((False, _portable(e)))
    return out


def _portable(e: BaseException) -> BaseException:
    """An exception that survives pickling back to the parent, with where it was raised."""
    if getattr(e, "portable", False):
        return e
    if isinstance(e, OSError) and e.errno is not None:
        return OSError(e.errno, f"{e.strerror or e}{_where(e)}")
    return RuntimeError(f"{type(e).__name__}: {e}{_where(e)}")


class LocalExecutor:
    """CPU work in `workers` processes (in a thread of this process for one worker)."""

    chunk = CHUNK  # most units per round trip
    depth = 2  # chunks in flight per worker

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.pool: ProcessPoolExecutor | None = None
        self._pending: dict[Any, list[tuple[Any, asyncio.Future]]] = {}
        self._scheduled: set[Any] = set()
        self.in_flight = 0

    def start(self) -> LocalExecutor:
        """Start the workers now, before the process runs threads of its own (fork-safe)."""
        if self.workers > 1 and self.pool is None:
            self.pool = make_pool(self.workers)
            wait = [self.pool.submit(os.getpid) for _ in range(self.workers)]
            for f in wait:
                f.result()
        return self

    async def run(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """`fn(arg)` in a worker; the exception it raised, if any, is raised here."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._pending.setdefault(fn, []).append((arg, fut))
        if not self._scheduled:
            self._scheduled.add(fn)
            loop.call_soon(self._pump)
        return await fut

    def _pump(self) -> None:
        """Hand pending units to the workers: at most two chunks per worker in flight, so what
        arrives meanwhile waits here and travels in bigger chunks (fewer round trips)."""
        self._scheduled.clear()
        limit = self.depth * self.workers
        while self.in_flight < limit and self._pending:
            fn, items = next(iter(self._pending.items()))
            size = max(1, min(self.chunk, -(-len(items) // max(1, limit - self.in_flight))))
            chunk, rest = items[:size], items[size:]
            if rest:
                self._pending[fn] = rest
            else:
                del self._pending[fn]
            self._submit(fn, chunk)

    def _launch(self, fn: Any, args: list[Any]) -> Future:
        """Start one chunk; a future of `_run_chunk`'s answer."""
        loop = asyncio.get_running_loop()
        if self.workers == 1:
            return loop.run_in_executor(None, _run_chunk, fn, args)  # type: ignore[return-value]
        self.start()
        assert self.pool is not None
        try:
            return asyncio.wrap_future(self.pool.submit(_run_chunk, fn, args))
        except (BrokenProcessPool, RuntimeError):
            self._restart()
            return asyncio.wrap_future(self.pool.submit(_run_chunk, fn, args))

    def _died(self, e: BaseException | None) -> bool:
        """Whether a chunk failed because its worker died (not because of its units)."""
        return isinstance(e, BrokenProcessPool)

    def _submit(self, fn: Any, items: list[tuple[Any, asyncio.Future]], alone: bool = False) -> None:
        cf = self._launch(fn, [a for a, _ in items])
        self.in_flight += 1

        def done(f: asyncio.Future) -> None:
            self.in_flight -= 1
            if self._pending:
                self._pump()
            if f.cancelled():
                for _, fut in items:
                    if not fut.done():
                        fut.cancel()
                return
            e = f.exception()
            if self._died(e):
                self._restart()
                if alone or len(items) == 1:
                    for _, fut in items:
                        if not fut.done():
                            fut.set_exception(WorkerDied("the worker process died while making this unit"))
                else:  # find the unit that kills its worker: each once more, alone
                    for item in items:
                        if not item[1].done():
                            self._submit(fn, [item], alone=True)
                return
            if e is not None:
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(e)
                return
            for (ok, value), (_, fut) in zip(f.result(), items, strict=True):
                if fut.done():
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)

        cf.add_done_callback(done)

    def _restart(self) -> None:
        old, self.pool = self.pool, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        self.pool = make_pool(self.workers)

    def close(self, cancel: bool = False) -> None:
        """Stop the workers; with `cancel`, at once (an interrupted run)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        if cancel:
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.kill()
            for p in procs:
                p.join(5)
        else:
            pool.shutdown(wait=True)
