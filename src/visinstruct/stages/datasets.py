"""Open datasets in: each image with every question about it, its samples made from the ground truth.

The flow's subjects are the recipe's `dataset:` sources read in a fixed order (the reader's),
taken `BATCH` records at a time (`DatasetImage`s and `BadRecord`s): one unit per batch, keyed by
its first record and its size, so the runner's cost per unit (planning, a round trip to a worker,
a row in `units`) is spread over many images. In a worker each image is validated and stored
once by content (`sources.ingest_one`), its questions become samples of the four types
(`expand.build`), already-written dialogues samples as they are, and the samples are checked
where they are made. No model is asked anything. An image whose samples cannot be made (an
error in the engine) is recorded as a bad record with the reason, the rest of its batch
imports; a worker that dies on a batch has it made again one image at a time, so the image
that kills it is the one recorded.

What the import made is recorded in the store's `dataset_records`: each stored image with its
number of questions, and each record refused — by the reader (a `BadRecord`, a record of an
image in `DatasetImage.bad`), because the image is unusable (`DatasetImage.error`, or it is not
an image: each of its questions is refused with the reason) — with the dataset, the record id
and the reason. `visinstruct status` shows them.

A source's `limit` counts images (with all their questions). An image's place in its dataset
(`index`) and the answers of the same category met before it (`pool`, the distractors of
questions without choices) depend only on the reader's order, so a re-run skips the units
already committed and makes the rest exactly as an uninterrupted run would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from visinstruct.errors import VisinstructError
from visinstruct.executors.local import WorkerDied
from visinstruct.expand.base import BadRecord, DatasetImage
from visinstruct.stages.base import CpuStage, Result, Subject, Unit
from visinstruct.stages.checks import MakeChecks
from visinstruct.stages.context import RunContext
from visinstruct.stages.ingest import SOURCE_STRIDE
from visinstruct.store import Packed

DATASETS = "dataset"
POOL_SIZE = 32  # answers kept per (dataset, category) as distractors for later questions
MAX_SAMPLES = 1000  # per image: an image's samples are numbered seq·1000 + n
BATCH = 32  # records (images and refused ones) per unit
#: the SourceSpec settings the generic importers take (named datasets ignore them)
_OPTIONS = ("image_column", "question_column", "answer_column", "options_column")


@dataclass
class Job:
    """One image to import."""

    seq: int
    image: DatasetImage
    index: int  # the image's place among its dataset's images: places answer letters
    seed: str
    types: tuple[str, ...]
    domain: str | None
    pool: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _options(spec: Any, ctx: RunContext) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(spec, k) for k in _OPTIONS if getattr(spec, k)}
    if spec.image_root:
        out["image_root"] = ctx.path(spec.image_root)
    return out


def _where(spec: Any, ctx: RunContext) -> Any:
    """The dataset's folder or file, relative to the recipe; for `hf`, a name that is no local
    path and reads as a Hub dataset id ("owner/name") is handed on as the name."""
    local = ctx.path(spec.path)
    if spec.dataset == "hf" and not local.exists():
        from visinstruct.sources.hf import hub_name

        if hub_name(spec.path):
            return spec.path
    return local


def subjects(ctx: RunContext) -> Iterator[Subject]:
    from visinstruct import expand

    recipe = ctx.recipe
    for n, spec in enumerate(recipe.sources):
        if not spec.dataset:
            continue
        taken = 0
        pools: dict[str, deque[str]] = {}
        batch: list[Job | Refused] = []
        for i, got in enumerate(
            expand.read(spec.dataset, _where(spec, ctx), spec.split, **_options(spec, ctx))
        ):
            seq = n * SOURCE_STRIDE + i
            if isinstance(got, BadRecord):
                batch.append(Refused(seq, f"bad/{spec.split}/{got.dataset}/{got.record}", got))
            else:
                if spec.limit is not None and taken >= spec.limit:
                    break  # this source is done; the next one is read
                cats = {t.category for t in got.questions}
                job = Job(
                    seq,
                    got,
                    taken,
                    recipe.unit_seed(got.ref),
                    tuple(recipe.types),
                    spec.domain,
                    {c: tuple(p) for c, p in pools.items() if c in cats},
                )
                taken += 1
                for t in got.questions:
                    if t.kind in ("choice", "text", "list", "range"):
                        p = pools.setdefault(t.category, deque(maxlen=POOL_SIZE))
                        if t.answer not in p:
                            p.append(t.answer)
                batch.append(job)
            if len(batch) >= BATCH:
                yield _subject(batch)
                batch = []
        if batch:
            yield _subject(batch)


@dataclass
class Refused:
    """A record the reader refused, in its place in the dataset."""

    seq: int
    key: str
    bad: BadRecord


def _key(item: Job | Refused) -> str:
    return item.key if isinstance(item, Refused) else item.image.ref


def _subject(batch: list[Job | Refused]) -> Subject:
    return Subject(f"{_key(batch[0])}+{len(batch)}", batch[0].seq, {"batch": batch})


def _bad_image(job: Job, why: str) -> list[tuple]:
    """Bad-record rows for every question and dialogue of a job's image (or the image itself)."""
    img = job.image
    records = [t.qid for t in img.questions] + [d.qid for d in img.dialogues] or [img.ref]
    return [_bad_row(job.seq, img.dataset, r, why) for r in records]


def _bad_row(seq: int, dataset: str, record: str, reason: str) -> tuple:
    return (seq, dataset, record, None, 0, reason)


class ImageImporter:
    """Worker side: store a batch's images, make their samples and check them."""

    def __init__(self, run_dir: str, make_checks: MakeChecks) -> None:
        self.run_dir, self.make_checks = run_dir, make_checks

    def __call__(self, batch: list[Job | Refused]) -> Result:
        """Every record of the batch, in order, as one packed result."""
        out = Packed()
        for item in batch:
            if isinstance(item, Refused):
                b = item.bad
                out.records.append(_bad_row(item.seq, b.dataset, b.record, b.reason))
                continue
            try:
                got = self.one(item)
            except OSError:
                raise  # the disk, not the image: the batch is made again by the next run
            except Exception as e:  # an engine error on this image: recorded, the rest imports
                out.records += _bad_image(item, f"its samples cannot be made ({type(e).__name__}: {e})")
                continue
            assert got.packed is not None
            out.extend(got.packed)
        return Result(packed=out)

    def one(self, job: Job) -> Result:
        from visinstruct.expand import build
        from visinstruct.sources import SourceItem, ingest_one

        img = job.image
        rows = [_bad_row(job.seq, b.dataset, b.record, b.reason) for b in img.bad]
        key = img.ref
        records = [t.qid for t in img.questions] + [d.qid for d in img.dialogues]
        error = img.error
        images = []
        if error is None:
            files = [(img.ref, img.path, img.data)] + [
                (f"{img.ref}#{k + 1}", p, None) for k, p in enumerate(img.more_images)
            ]
            for ref, path, data in files:
                item = SourceItem(ref=ref, path=path, data=data, domain=job.domain or img.domain)
                item.provenance = {"dataset": img.dataset, "split": img.split, **img.provenance}
                got = ingest_one(item, self.run_dir)
                if got.image is None:
                    error = got.error or f"{ref}: not stored"
                    break
                images.append(got.image)
        if error is not None:
            rows += [_bad_row(job.seq, img.dataset, r, error) for r in records or [img.ref]]
            return Result(records=rows).pack(job.seq, key)
        ids = [i.id for i in images]
        domain = job.domain or img.domain
        made = build.samples(
            img, ids, index=job.index, seed=job.seed, pool=job.pool, types=job.types, domain=domain
        )
        made += [build.dialogue_sample(img, d, ids, domain) for d in img.dialogues]
        if len(made) > MAX_SAMPLES:
            kept = {s.provenance.get("qid") for s in made[:MAX_SAMPLES]}
            rows += [
                _bad_row(job.seq, img.dataset, r, f"more than {MAX_SAMPLES} samples on one image")
                for r in records
                if r not in kept
            ]
            made = made[:MAX_SAMPLES]
        rows.append((job.seq, img.dataset, img.ref, ids[0], len(records), None))
        return Result(samples=made, images=images, records=rows).pack(job.seq, key, self.make_checks)


class DatasetStage(CpuStage):
    """Imports the recipe's open datasets (see the module docstring)."""

    name = DATASETS
    version = "1"

    def __init__(self, ctx: RunContext) -> None:
        from visinstruct.expand import READERS

        for spec in ctx.recipe.dataset_sources:
            if spec.dataset not in READERS:
                raise VisinstructError(
                    f"unknown dataset {spec.dataset!r} (known: {', '.join(sorted(READERS))})"
                )
            if spec.domain and spec.domain not in ctx.catalog:
                raise VisinstructError(f"source domain {spec.domain!r} is not in the domain catalog")
        self.importer = ImageImporter(str(ctx.store.dir), ctx.make_checks)

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None:
            return []
        return [Unit(subject.key, subject.seq, subject.info["batch"])]

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        try:
            return await ctx.cpu(self.importer, unit.data)
        except WorkerDied:
            if len(unit.data) == 1:
                raise
        out = Packed()  # a worker died on this batch: each record alone, to find the culprit
        for item in unit.data:
            try:
                got = await ctx.cpu(self.importer, [item])
            except WorkerDied:
                assert isinstance(item, Job)
                out.records += _bad_image(item, "the worker process died while importing this image")
                continue
            assert got.packed is not None
            out.extend(got.packed)
        return Result(packed=out)
