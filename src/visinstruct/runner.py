"""The runner: plans, resumes, batches, commits and reports every stage alike.

A run is a set of *flows* and then the *dataset stages* (`stages.build` makes them from a
recipe). A flow is a stream of subjects — source images, synthetic items — each taken
through the flow's stages as soon as the stage before is done with it: while one image is
being captioned, another's instructions are being written, so the slowest stage sets the
pace. At most `window` subjects are in flight, so memory does not grow with the run. Once
every flow has ended, the dataset stages (dedup, targeted questions, exports, …) run in
order over what the run holds.

For every unit the runner skips what a finished run of the same stage version made,
retries what failed (up to `max_attempts` over all runs; then the unit has given up),
and commits results in batches, each unit whole with everything it made. It knows
nothing about any stage beyond the contract in `stages/base.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from visinstruct.errors import DiskFull
from visinstruct.executors.local import WorkerDied
from visinstruct.stages.base import Flow, NotSent, Plan, Stage, Subject, Unit, UnitFailed
from visinstruct.stages.context import RunContext
from visinstruct.store import UnitEntry

COMMIT_EVERY = 1.0  # seconds between commits (larger ones rewrite fewer index pages per row)
COMMIT_SIZE = 512  # units buffered before a commit regardless


@dataclass
class StageCounts:
    """What happened to a stage's units in one run."""

    planned: int = 0
    done: int = 0
    failed: int = 0  # will be retried by the next run
    gave_up: int = 0  # failed as often as allowed, or in a way a retry cannot mend
    skipped: int = 0  # done by an earlier run
    not_sent: int = 0  # the budget was spent first


Progress = Callable[[str, int, int | None], None]


class _Tickets:
    """Planning and acceptance of an `ordered` stage, one subject after the other."""

    __slots__ = ("plan_prev", "plan_mine", "accept_prev", "accept_mine")

    def __init__(self, prev: _Tickets | None) -> None:
        self.plan_mine, self.accept_mine = asyncio.Event(), asyncio.Event()
        self.plan_prev = prev.plan_mine if prev else None
        self.accept_prev = prev.accept_mine if prev else None


class Runner:
    """Runs a `Plan` in one `RunContext`; see the module docstring."""

    def __init__(
        self,
        plan: Plan,
        ctx: RunContext,
        *,
        max_attempts: int = 3,
        window: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.plan, self.ctx = plan, ctx
        self.max_attempts = max(1, max_attempts)
        self.window = window
        self.progress = progress or (lambda stage, done, total: None)
        self.counts: dict[str, StageCounts] = {s.name: StageCounts() for s in plan.stages}
        self._buffer: list[UnitEntry] = []
        self._last_commit = time.monotonic()
        self._limits = {s.name: asyncio.Semaphore(s.concurrency) for s in plan.stages if s.concurrency}
        self._tickets: dict[str, _Tickets | None] = {}
        self._failed_now: set[tuple[str, str]] = set()  # tried and failed in this run: not again

    # -- the run ---------------------------------------------------------------------------------
    async def run(self) -> dict[str, StageCounts]:
        ticker = asyncio.ensure_future(self._tick())
        try:
            await asyncio.gather(*(self._flow(f) for f in self.plan.flows))
            self.commit()
            for stage in self.plan.dataset:
                await self._dataset(stage)
                self.commit()
        finally:
            ticker.cancel()
            with contextlib.suppress(DiskFull):  # the error that stopped the run is what is reported
                self.commit()
        return self.counts

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(COMMIT_EVERY)
            self.commit()

    def _window(self, flow: Flow) -> int:
        if self.window:
            return self.window
        if self.ctx.recipe.endpoints and any(not _cpu_only(s) for s in flow.stages):
            return max(64, 2 * sum(e.max_in_flight for e in self.ctx.recipe.endpoints.values()))
        return max(32, self.ctx.executor.workers * 64)

    async def _flow(self, flow: Flow) -> None:
        limit = asyncio.Semaphore(self._window(flow))
        tasks: set[asyncio.Task] = set()
        failure: list[BaseException] = []
        ordered = [s for s in flow.stages if s.ordered]

        def finished(t: asyncio.Task) -> None:
            tasks.discard(t)
            limit.release()
            if not t.cancelled() and t.exception() is not None and not failure:
                failure.append(t.exception())  # type: ignore[arg-type]

        try:
            async with contextlib.aclosing(_each(flow.subjects(self.ctx))) as subjects:
                async for subject in subjects:
                    await limit.acquire()
                    if failure:
                        break
                    tickets = {}
                    for s in ordered:
                        tickets[s.name] = self._tickets[s.name] = _Tickets(self._tickets.get(s.name))
                    t = asyncio.ensure_future(self._drive(flow, subject, tickets))
                    tasks.add(t)
                    t.add_done_callback(finished)
            while tasks and not failure:
                await asyncio.wait(set(tasks), return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for t in list(tasks):
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        if failure:
            raise failure[0]

    async def _drive(self, flow: Flow, subject: Subject, tickets: dict[str, _Tickets]) -> None:
        for stage in flow.stages:
            t = tickets.get(stage.name)
            if t is None:
                if stage.wanted(subject, self.ctx):
                    await self._units(stage, list(stage.units(subject, self.ctx)), subject)
                continue
            if t.plan_prev is not None:
                await t.plan_prev.wait()
            try:
                units = list(stage.units(subject, self.ctx)) if stage.wanted(subject, self.ctx) else []
            finally:
                t.plan_mine.set()
            try:
                await self._units(stage, units, subject, t)
            finally:
                t.accept_mine.set()

    async def _dataset(self, stage: Stage) -> None:
        limit = asyncio.Semaphore(stage.concurrency or self._window_for_dataset())
        tasks: set[asyncio.Task] = set()
        batch: list[Unit] = []

        async def one(units: list[Unit]) -> None:
            try:
                await self._units(stage, units, None)
            finally:
                limit.release()

        try:
            for unit in stage.units(None, self.ctx):
                batch.append(unit)
                if len(batch) < 64 and stage.concurrency != 1:
                    continue
                await limit.acquire()
                tasks.add(asyncio.ensure_future(one(batch)))
                batch = []
                done = {t for t in tasks if t.done()}
                for t in done:
                    tasks.discard(t)
                    t.result()
            if batch:
                await limit.acquire()
                tasks.add(asyncio.ensure_future(one(batch)))
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    def _window_for_dataset(self) -> int:
        eps = self.ctx.recipe.endpoints
        return max(4, sum(e.max_in_flight for e in eps.values()) // 32) if eps else 4

    # -- units -------------------------------------------------------------------------------------
    async def _units(
        self, stage: Stage, units: list[Unit], subject: Subject | None, tickets: _Tickets | None = None
    ) -> None:
        counts = self.counts[stage.name]
        attempts: dict[str, int] = {}
        if units and stage.track:
            states = self.ctx.store.unit_states(stage.name, [u.key for u in units])
            todo = []
            for u in units:
                state, n, version = states.get(u.key, ("", 0, None))
                counts.planned += 1
                if state == "done" and version == stage.version:
                    counts.skipped += 1
                elif (stage.name, u.key) in self._failed_now:
                    counts.planned -= 1  # a flow's stage met again over the dataset: once a run is enough
                elif state == "gave_up" or (state == "failed" and n >= self.max_attempts):
                    counts.gave_up += 1
                    _note_failure(subject, stage, f"gave up after {n} attempts", False)
                else:
                    attempts[u.key] = n if state == "failed" else 0
                    todo.append(u)
            units = todo
        else:
            counts.planned += len(units)
        if len(units) == 1:  # most subjects plan one unit per stage: no task around it
            results = [await self._make(stage, units[0])]
        else:
            results = await asyncio.gather(*(self._make(stage, u) for u in units))
        if tickets is not None and tickets.accept_prev is not None:
            await tickets.accept_prev.wait()
        config = stage.config() if hasattr(stage, "config") else ""
        for u, (res, error, retry) in zip(units, results, strict=True):
            if res is NotSent:
                counts.not_sent += 1
                continue
            if error is not None:
                n = attempts.get(u.key, 0) + 1
                gave_up = not retry or n >= self.max_attempts
                counts.gave_up += gave_up
                counts.failed += not gave_up
                if stage.track:
                    self._buffer.append(
                        UnitEntry(stage.name, stage.version, u.key, error=error, attempts=n, gave_up=gave_up)
                    )
                    self._failed_now.add((stage.name, u.key))
                _note_failure(subject, stage, error, not gave_up)
                continue
            if stage.ordered:
                res = stage.accept(u, res, self.ctx)
                if res is None:
                    continue
            counts.done += 1
            if subject is not None and res.info:
                _merge(subject.info, res.info)
            if res.packed is None and (
                stage.track or res.samples or res.images or res.inputs or res.contexts
            ):
                res.pack(u.seq, u.key)
            self._buffer.append(
                UnitEntry(stage.name, stage.version, u.key, stage.track, res.packed, res.checks, config)
            )
        self.progress(
            stage.name, counts.done + counts.skipped + counts.failed + counts.gave_up, counts.planned
        )
        if len(self._buffer) >= COMMIT_SIZE:
            self.commit()

    async def _make(self, stage: Stage, unit: Unit) -> tuple[Any, str | None, bool]:
        """(result, None, _) or (None, why it failed, whether a retry may help)."""
        limit = self._limits.get(stage.name)
        try:
            if limit is not None:
                async with limit:
                    res = await stage.make(unit, self.ctx)
            else:
                res = await stage.make(unit, self.ctx)
            return res, None, True
        except NotSent:
            return NotSent, None, True
        except UnitFailed as e:
            return None, e.reason, e.retry
        except WorkerDied as e:
            return None, str(e), True
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise DiskFull(
                    f"{self.ctx.store.dir}: the disk is full; free some space and run again"
                ) from None
            return None, f"{type(e).__name__}: {e}", True
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as e:
            if _fatal(e):
                raise
            return None, f"{type(e).__name__}: {e}", True

    # -- committing ----------------------------------------------------------------------------------
    def commit(self) -> None:
        """Write what is buffered, in one transaction (see `RunStore.commit`)."""
        buffer, self._buffer = self._buffer, []
        self._last_commit = time.monotonic()
        if not buffer:
            return
        store = self.ctx.store
        try:
            stale = store.commit(buffer)
        except sqlite3.OperationalError as e:
            if "full" in str(e):
                raise DiskFull(f"{store.path}: the disk is full; free some space and run again") from None
            raise
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise DiskFull(f"{store.dir}: the disk is full; free some space and run again") from None
            raise
        for stage, _key in stale:  # checked a sample that changed meanwhile: not done, checked next run
            self.counts[stage].done -= 1


async def _each(items: Any) -> AsyncIterator[Any]:
    """The items of an iterable or an async iterable (a flow whose subjects come from a search),
    closing an async generator left early."""
    if not hasattr(items, "__aiter__"):
        for item in items:
            yield item
        return
    try:
        async for item in items:
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


def _cpu_only(stage: Stage) -> bool:
    from visinstruct.stages.base import CpuStage

    return isinstance(stage, CpuStage)


def _fatal(e: BaseException) -> bool:
    """Errors that stop the whole run: a request no endpoint can serve (bad key, unknown
    model), a full disk. Anything else fails only its unit."""
    if isinstance(e, DiskFull):
        return True
    from visinstruct.models.client import ModelFatalError

    return isinstance(e, ModelFatalError)


def _note_failure(subject: Subject | None, stage: Stage, error: str, retry: bool) -> None:
    """Tell the subject's later stages that a unit of `stage` failed (the first reason): what
    they would have built on it is then a recorded failure too, not silently left out."""
    if subject is not None:
        subject.info.setdefault("failed", {}).setdefault(stage.name, (error, retry))


def _merge(info: dict, new: dict) -> None:
    """What a unit learnt about its subject: dicts merged, lists extended, the rest replaced."""
    for k, v in new.items():
        old = info.get(k)
        if isinstance(old, dict) and isinstance(v, dict):
            old.update(v)
        elif isinstance(old, list) and isinstance(v, list):
            old.extend(v)
        else:
            info[k] = v


# -- running a recipe --------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What a run did, for the CLI, the loop and the Python API."""

    stages: dict[str, StageCounts]
    seconds: float
    samples: int
    statuses: dict[str, int]
    budget_reached: bool = False
    quota_short: dict = field(default_factory=dict)  # domain → category → samples still missing
    exports: list = field(default_factory=list)  # ExportSummary per export written
    failed_checks: list = field(default_factory=list)  # (check name, samples failing it)
    search_failed: int = 0  # search result pages that could not be had (asked again next run)
    card: Any = None  # the dataset card written beside the exports (exports/README.md), if any

    @property
    def failed(self) -> int:
        """Units that failed this run and will be retried by the next."""
        return sum(c.failed for c in self.stages.values())

    @property
    def gave_up(self) -> int:
        return sum(c.gave_up for c in self.stages.values())

    @property
    def complete(self) -> bool:
        return not self.failed and not self.gave_up and not self.budget_reached and not self.search_failed


def preflight(recipe: Any, base: Any) -> None:
    """Everything about a recipe that can be wrong, found before the run directory is touched:
    the domain catalog and the sources' domains, the prompts, the stages it names."""
    from visinstruct.domains import load_catalog
    from visinstruct.errors import RecipeError
    from visinstruct.prompts import load_prompt
    from visinstruct.stages import load_stage

    if recipe.sources or recipe.uses_llm_on_facts() or recipe.domains_dir or recipe.coded is not None:
        dirs = [str(base / d) if not str(d).startswith("/") else d for d in recipe.domains_dir]
        catalog = load_catalog(dirs)
        for n, spec in enumerate(recipe.sources):
            if spec.domain and spec.domain not in catalog:
                raise RecipeError(f"source domain {spec.domain!r} is not in the domain catalog")
            if spec.search is not None:
                from visinstruct.sources.search import SearchError, check

                try:
                    check(spec.search, catalog, spec.domain)
                except SearchError as e:
                    raise RecipeError(f"sources.{n}.search: {e}") from None
        assignment = recipe.domain_assignment
        for name in (assignment.domains or []) if assignment is not None else []:
            if name not in catalog:
                raise RecipeError(f"assign_domains.domains: {name!r} is not in the domain catalog")
        if recipe.coded is not None:
            from visinstruct.coded.setup import check

            check(recipe.coded, catalog, recipe.prompts_dir, tuple(recipe.languages_of(recipe.coded)))
    if recipe.image_sources or recipe.uses_llm_on_facts():
        for name in ("caption", "assign_domain", "instructions"):
            load_prompt(name, recipe.prompts_dir)
        assignment = recipe.domain_assignment
        if assignment is not None and assignment.method == "zero_shot":
            load_prompt("zero_shot_domain", recipe.prompts_dir)
    if recipe.targeted is not None:
        load_prompt("targeted", recipe.prompts_dir)
    for spec in recipe.stages:
        load_stage(spec.use)


def _same_recipe(stored: Any, fingerprint: str) -> bool:
    """Whether the recipe a run directory stored (by an earlier version, before fields were
    added at their defaults) is this one: read again with today's fields, it hashes the same."""
    from visinstruct.recipe import Recipe

    if not isinstance(stored, dict):
        return False
    try:
        return Recipe.model_validate(stored).fingerprint() == fingerprint
    except ValueError:  # a field it had is gone or changed meaning: another recipe
        return False


def claim(store: Any, recipe: Any, force: bool = False) -> None:
    """A run directory belongs to the recipe that made it: another one is refused."""
    from visinstruct.errors import RunDirError

    mine, theirs = recipe.fingerprint(), store.get_meta("recipe_hash")
    if theirs is None and store.count_samples() == 0:
        pass
    elif theirs != mine and not force and not _same_recipe(store.get_meta("recipe"), mine):
        raise RunDirError(
            f"{store.dir} holds the run of another recipe ({store.get_meta('recipe', {}).get('name', '?')}); "
            "use a new run directory, or --force to continue it with this recipe"
        )
    store.set_meta("recipe", recipe.model_dump(mode="json"))
    store.set_meta("recipe_hash", mine)


def run_recipe(
    recipe: Any,
    run_dir: Any,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    base: Any = None,
    force: bool = False,
    exports: bool = True,
    make: bool = True,
    executor_kind: str | None = None,
) -> RunSummary:
    """Make everything `recipe` asks for that `run_dir` does not hold yet, check it, export it.
    `executor_kind` ("local", "ray") overrides the recipe's `executor:`.

    Running again resumes: what is done is skipped, what failed is tried again. `make=False`
    runs only the checks (`visinstruct check`)."""
    import signal
    from pathlib import Path

    from visinstruct.aio import run_async
    from visinstruct.executors import make_executor
    from visinstruct.stages import build, context
    from visinstruct.store import RunStore
    from visinstruct.synth import warm

    t0 = time.perf_counter()
    base = Path(base) if base is not None else Path.cwd()
    preflight(recipe, base)
    store = RunStore(run_dir)
    executor = None
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        store.verify_integrity()
        if make:
            claim(store, recipe, force)
        store.clean_temp_files()
        if make and recipe.synthetic:
            warm(sorted(recipe.synthetic))  # before the workers fork: they share it
        executor = make_executor(recipe, workers, executor_kind)
        ctx = context(recipe, store, base, executor)
        plan = build(ctx, make=make, exports=exports)
        if threading_main():
            signal.signal(signal.SIGTERM, terminate)
        budget = False

        async def go() -> dict[str, StageCounts]:
            nonlocal budget
            try:
                return await Runner(plan, ctx, max_attempts=recipe.max_attempts, progress=progress).run()
            finally:
                if ctx.model_client_open:
                    budget = ctx.client.budget_hit
                await ctx.aclose()

        counts = run_async(go())
        executor.close()
        executor = None
        synth = next((s for s in plan.stages if s.name == "synthetic"), None)
        export_stage = next((s for s in plan.stages if s.name == "export"), None)
        written = export_stage.written if export_stage is not None else []
        return RunSummary(
            counts,
            time.perf_counter() - t0,
            store.count_samples(),
            store.status_counts(),
            budget,
            synth.short() if synth is not None else {},
            written,
            store.failed_check_counts(),
            _search_failed(store) if recipe.image_sources else 0,
            export_stage.card if export_stage is not None else None,
        )
    finally:
        if threading_main():
            signal.signal(signal.SIGTERM, previous)
        if executor is not None:
            executor.close(cancel=True)
        store.close()


def _search_failed(store: Any) -> int:
    from visinstruct.sources.search.cache import search_failures

    return len(search_failures(store.db))


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
