"""Run a recipe: plan units, make them on every core, commit each whole, resume on re-run.

A unit is one synthetic item (one image, or an image set). Its key and seed come from the
recipe (seed, domain, language, index), so a re-run plans the same units, skips the ones
already committed, and makes the missing ones exactly as an uninterrupted run would.
"""

from __future__ import annotations

import io
import os
import random
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from visinstruct import __version__
from visinstruct.checks.gate import check_unit
from visinstruct.drafts import GENERATOR_VERSION, finish_all
from visinstruct.recipe import ChecksSpec, Recipe
from visinstruct.records import ImageRecord
from visinstruct.store import RunStore, UnitResult, write_image_file
from visinstruct.synth import get_domain


@dataclass(frozen=True)
class Task:
    """One planned unit."""

    seq: int  # position in the plan: fixes the dataset's order
    key: str  # e.g. "charts/en/17"
    domain: str
    lang: str
    index: int  # index within the (domain, language) stream: places answer letters
    seed: str
    types: tuple[str, ...]
    checks: ChecksSpec = field(default_factory=ChecksSpec)
    categories: tuple[str, ...] | None = None  # keep only questions of these categories
    round: int = 0  # the loop round the samples belong to


def plan(recipe: Recipe) -> list[Task]:
    """Every unit the recipe asks for, in a fixed order."""
    tasks: list[Task] = []
    for domain in sorted(recipe.synthetic):
        spec = recipe.synthetic[domain]
        langs = spec.languages or recipe.languages
        types = tuple(spec.types or recipe.types)
        cats = spec.categories or (list(spec.quotas) if spec.quotas else None)
        categories = tuple(sorted(cats)) if cats else None
        for i in range(spec.count):
            lang = langs[i % len(langs)]
            index = i // len(langs)
            key = f"{domain}/{lang}/{index}"
            tasks.append(
                Task(
                    len(tasks),
                    key,
                    domain,
                    lang,
                    index,
                    f"{recipe.seed}:{key}",
                    types,
                    recipe.checks,
                    categories,
                    recipe.round,
                )
            )
    return tasks


def encode_png(img: Image.Image) -> bytes:
    """PNG bytes of a synthetic image (fast compression: these images compress well anyway)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def make_unit(task: Task, run_dir: str) -> UnitResult:
    """Worker: draw the item, store its images, finish and check its samples."""
    try:
        domain = get_domain(task.domain)
        rng = random.Random(task.seed)
        item = domain.make(rng, task.lang)
        images: list[ImageRecord] = []
        for img in item.images:
            image_id, rel = write_image_file(Path(run_dir), encode_png(img), "png")
            prov = {"source": "synthetic", "generator": f"synth/{task.domain}", "unit": task.key}
            images.append(ImageRecord(image_id, rel, img.width, img.height, "png", prov))
        questions = item.questions
        if task.categories is not None:
            questions = [q for q in questions if q.category in task.categories]
        samples = finish_all(
            questions,
            types=set(task.types),
            rng=random.Random(f"{task.seed}:text"),
            lang=task.lang,
            domain=task.domain,
            image_ids=[i.id for i in images],
            stream=f"{task.domain}/{task.lang}",
            index=task.index,
            provenance={
                "generator": f"synth/{task.domain}",
                "generator_version": GENERATOR_VERSION,
                "engine": __version__,
                "unit": task.key,
                "seed": task.seed,
            },
            context={"facts": item.facts},
        )
        made = list(samples)
        for s in made:
            s.round = task.round
        return UnitResult(task.key, task.domain, task.seq, images, check_unit(made, task.checks))
    except Exception as e:  # a broken unit is recorded, never fatal to the run
        tb = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{Path(tb.filename).name}:{tb.lineno}"
        return UnitResult(task.key, task.domain, task.seq, error=f"{type(e).__name__}: {e} ({where})")


def _make_chunk(tasks: list[Task], run_dir: str) -> list[UnitResult]:
    return [make_unit(t, run_dir) for t in tasks]


def _chunks(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    chunk: list[Task] = []
    for t in tasks:
        chunk.append(t)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Quotas:
    """Samples still wanted per category, for synthetic domains that set `quotas`.

    Units are trimmed in plan order as they are committed, and what is left is counted
    from the store on a re-run, so an interrupted run ends with the same samples as an
    uninterrupted one. A unit keeps all its questions of a still-wanted category (a
    judgement pair is never split), so a quota can be overshot by less than one item's worth.
    """

    def __init__(self, recipe: Recipe, store: RunStore) -> None:
        self.left: dict[str, dict[str, int]] = {}
        for domain, spec in recipe.synthetic.items():
            if spec.quotas:
                have = store.category_counts(domain)
                self.left[domain] = {c: n - have.get(c, 0) for c, n in spec.quotas.items()}

    def met(self, domain: str) -> bool:
        left = self.left.get(domain)
        return left is not None and all(v <= 0 for v in left.values())

    def take(self, r: UnitResult) -> None:
        """Drop the samples of `r` whose category is no longer wanted; count the rest."""
        left = self.left.get(r.domain)
        if left is None or r.error is not None:
            return
        wanted = {c for c, v in left.items() if v > 0}
        r.keep(lambda row: row[6] in wanted)
        for row in r.rows:
            if row[7] != "rejected":
                left[row[6]] -= 1

    def short(self) -> dict[str, dict[str, int]]:
        """Categories whose quota was not met within the planned items: domain → category → missing."""
        out = {d: {c: v for c, v in left.items() if v > 0} for d, left in self.left.items()}
        return {d: m for d, m in out.items() if m}


@dataclass
class RunSummary:
    planned: int
    skipped: int  # already done before this run
    made: int
    failed: int
    samples: int
    seconds: float
    stages: dict = field(default_factory=dict)  # model-driven stages: name → StageCounts
    budget_reached: bool = False
    gate: Any = None  # checks.gate.GateSummary
    quota_short: dict = field(default_factory=dict)  # domain → category → samples still missing


def run(
    recipe: Recipe,
    run_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_stage: Callable[[str, int, int | None], None] | None = None,
    commit_every: float = 0.5,
) -> RunSummary:
    """Make every unit of `recipe` not yet in `run_dir`; returns what happened."""
    t0 = time.perf_counter()
    store = RunStore(run_dir)
    try:
        store.set_meta("recipe", recipe.model_dump())
        tasks = plan(recipe)
        done = store.done_units()
        todo = [t for t in tasks if t.key not in done]
        n_workers = workers or recipe.workers or os.cpu_count() or 1
        made = failed = 0
        pending: list[UnitResult] = []
        last = time.perf_counter()
        if on_progress:
            on_progress(len(tasks) - len(todo), len(tasks))

        def flush() -> None:
            nonlocal pending, last
            store.commit_units(pending)
            pending, last = [], time.perf_counter()

        quotas = Quotas(recipe, store)
        for r in _results(todo, str(store.dir), n_workers, skip=lambda t: quotas.met(t.domain)):
            if quotas.met(r.domain):
                continue  # made before the quota filled: not part of the dataset, not committed
            quotas.take(r)
            pending.append(r)
            made += r.error is None
            failed += r.error is not None
            if time.perf_counter() - last >= commit_every:
                flush()
                if on_progress:
                    on_progress(len(tasks) - len(todo) + made + failed, len(tasks))
        flush()
        if on_progress:
            on_progress(len(tasks) - len(todo) + made + failed, len(tasks))
        from visinstruct.checks.gate import needs_gate, run_gate
        from visinstruct.models import run_async

        stages, budget = {}, False
        if recipe.sources or recipe.uses_llm_on_facts():
            from visinstruct.pipeline import Pipeline

            result = run_async(Pipeline(recipe, store, Path.cwd(), on_stage).run(workers=n_workers))
            stages, budget = result.stages, result.budget_reached
        gate = run_async(run_gate(recipe, store, Path.cwd())) if needs_gate(recipe) else None
        return RunSummary(
            len(tasks),
            len(tasks) - len(todo),
            made,
            failed,
            store.count_samples(),
            time.perf_counter() - t0,
            stages,
            budget,
            gate,
            quotas.short(),
        )
    finally:
        store.close()


def _results(
    todo: list[Task], run_dir: str, n_workers: int, skip: Callable[[Task], bool] = lambda t: False
) -> Iterator[UnitResult]:
    """Unit results in plan order, made in `n_workers` processes (in-process for one).

    At most a few chunks per worker are in flight, so memory stays flat however many
    units the recipe plans; tasks that `skip` says are no longer needed are not started.
    """
    if n_workers <= 1 or len(todo) < 8:
        for t in todo:
            if not skip(t):
                yield make_unit(t, run_dir)
        return
    size = max(1, min(16, len(todo) // (n_workers * 8)))
    window: deque[Future[list[UnitResult]]] = deque()
    with ProcessPoolExecutor(n_workers) as pool:
        for chunk in _chunks((t for t in todo if not skip(t)), size):
            window.append(pool.submit(_make_chunk, chunk, run_dir))
            if len(window) >= n_workers * 4:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
