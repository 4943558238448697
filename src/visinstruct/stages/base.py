"""The stage contract: every step of a run is a stage, and one runner runs them all.

A stage says three things:
- its `name` and `version` (a new version re-makes what the old one made; results and
  units are stored with the version that made them);
- which units it plans: `units(subject, ctx)`. Stages of a *flow* (source images,
  synthetic items) are given one subject at a time (an image, an item) as soon as the
  stages before it are done with that subject, so the slowest stage, not the sum of
  stages, sets the pace. Stages that need the whole dataset (dedup, exports, the closed
  loop's targeted questions) are given `subject=None` once every flow has ended and plan
  from what the run holds;
- how one unit becomes a `Result`: `make(unit, ctx)`. CPU work goes to the executor with
  `ctx.cpu(fn, arg)`; model calls go through the one model client with `ctx.ask(request)`.
  Model stages keep the prompt/parse split (`ModelStage`: `request` builds the call,
  `parse` turns the reply into a result; a reply that does not parse is never cached).

A unit that raises `UnitFailed` (or any exception) is recorded with its reason and tried
again by the next run, up to the recipe's number of attempts. The runner plans, skips
what is done, batches, commits and reports; it knows nothing else about any stage.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from visinstruct.errors import ReplyError
from visinstruct.records import ImageRecord, Sample
from visinstruct.store import Packed, digest, dumps

if TYPE_CHECKING:
    from visinstruct.models.client import ChatRequest, Outcome
    from visinstruct.stages.context import RunContext


class UnitFailed(ReplyError):
    """This unit could not be made; `retry=False` when running again cannot help."""

    portable = True  # pickles whole (with `retry`) from a worker process

    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(reason, retry)
        self.reason = reason
        self.retry = retry

    def __str__(self) -> str:
        return self.reason


class NotSent(Exception):
    """The unit was not attempted (the budget is spent): neither done nor failed."""


@dataclass
class Unit:
    """One piece of work of one stage. `key` is unique within the stage and the same on
    every run; `seq` orders what the unit makes in the dataset."""

    key: str
    seq: int = 0
    data: Any = None


@dataclass
class Subject:
    """What flows through a flow's stages: a source image, a synthetic item. Stages note
    what they learn about it in `info` (its image id, captions, domain, samples made)."""

    key: str
    seq: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """What one unit made. `packed` is filled where the unit ran (see `pack`)."""

    samples: list[Sample] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)
    inputs: list[tuple] = field(default_factory=list)  # (seq, ref, image_id, domain, error)
    records: list[tuple] = field(default_factory=list)  # (seq, dataset, record, image_id, questions, error)
    contexts: list[tuple[str, str, str, str | None, dict]] = field(default_factory=list)
    domains: list[tuple[str, str]] = field(default_factory=list)  # (image_id, domain)
    checks: list[tuple[str, int, str, dict]] = field(default_factory=list)  # check stages' results
    info: dict[str, Any] = field(default_factory=dict)  # merged into the subject's info
    packed: Packed | None = None
    phashes: list[tuple[str, int]] = field(default_factory=list)  # (image_id, perceptual hash)

    def pack(
        self,
        seq: int,
        unit: str,
        make_checks: Callable[[list[Sample]], list[dict[str, tuple]]] | None = None,
        start: int = 0,
    ) -> Result:
        """Serialise for the store: samples numbered from `seq` (at `seq * 1000 + start` on), their
        make-time check results (`make_checks(samples)` → per sample: check stage → (version,
        config, results))."""
        p = Packed()
        for im in self.images:
            p.add_image(im)
        p.phashes = [(h - (1 << 64) if h >= (1 << 63) else h, i) for i, h in self.phashes]
        p.inputs = list(self.inputs)
        p.records = list(self.records)
        p.contexts = [(i, k, lang, t, dumps(d)) for i, k, lang, t, d in self.contexts]
        p.domains = [(d, i) for i, d in self.domains]
        per_sample = make_checks(self.samples) if make_checks and self.samples else [{}] * len(self.samples)
        for n, (s, results) in enumerate(zip(self.samples, per_sample, strict=True)):
            p.add_sample(s, seq * 1000 + start + n, unit, results)
        self.packed = p
        self.samples = []  # only rows travel on (from a worker, that halves the transfer)
        return self


class Stage:
    """Base of every stage; see the module docstring."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    track: ClassVar[bool] = True  # record each unit done/failed (False: the stage knows what is left)
    concurrency: ClassVar[int | None] = None  # most units in flight (1: in plan order, one at a time)
    ordered: ClassVar[bool] = False  # results accepted in subject order (quotas)

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        raise NotImplementedError

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        raise NotImplementedError

    def accept(self, unit: Unit, result: Result, ctx: RunContext) -> Result | None:
        """Called in subject order for `ordered` stages before a result is committed: trim it,
        or return None to drop it (made after a quota filled)."""
        return result

    def wanted(self, subject: Subject, ctx: RunContext) -> bool:
        """False when a subject no longer needs this stage (a quota is met): nothing is planned."""
        return True

    def describe(self) -> str:
        return f"{self.name}@{self.version}"


class CpuStage(Stage):
    """A stage whose units are pure CPU work, made in the executor's worker processes.
    `process` must be a picklable callable of one argument returning a packed `Result`."""

    def job(self, unit: Unit, ctx: RunContext) -> tuple[Callable[[Any], Result], Any]:
        raise NotImplementedError

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        fn, arg = self.job(unit, ctx)
        return await ctx.cpu(fn, arg)


class ModelStage(Stage):
    """A stage whose units are one model call each: `request` (the prompt half) and `parse`
    (the parse half). `parse` runs on the reply before it is cached: if it raises
    `UnitFailed`, the reply is treated as invalid (one repair re-ask when the request has a
    schema), never cached, and the unit is retried by the next run."""

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        raise NotImplementedError

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        raise NotImplementedError

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        req = self.request(unit, ctx)
        return await ctx.ask(req, lambda out: self.parse(unit, out, ctx))


class SampleCheck(Stage):
    """A check of one sample at a time, run over every sample whose result is missing or
    out of date (another version, another configuration, or the sample changed since).

    Write `check(sample) -> {check name: passed() or failed(reason, severity)}`; the runner
    stores the results under the stage's name and version and derives statuses from them."""

    track = False
    batch: ClassVar[int] = 256
    models_only: ClassVar[bool] = False  # only samples written by a model (drawn ones are exact)

    def __init__(self, **options: Any) -> None:
        self.options = options

    def config(self) -> str:
        """Digest of what, besides the sample, the results depend on."""
        return digest(dumps(self.options))

    def check(self, sample: Sample) -> dict[str, dict]:
        raise NotImplementedError

    def check_many(self, samples: list[Sample]) -> list[dict[str, dict]]:
        return [self.check(s) for s in samples]

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return
        where = "generator NOT LIKE 'synth/%'" if self.models_only else ""
        for batch in ctx.store.stale_for(self.name, self.version, self.config(), where, self.batch):
            yield Unit(f"{self.name}:{batch[0][0]}", data=batch)

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        rows = unit.data
        samples = [Sample.from_dict(json.loads(data)) for _sid, _version, _dg, data in rows]
        results = self.check_many(samples)
        return Result(checks=[(sid, v, dg, res) for (sid, v, dg, _), res in zip(rows, results, strict=True)])


def passes_rules(res: dict | None) -> bool:
    """Whether a sample passes its `rules` results: no failure of severity "reject" (one of
    severity "review" sends it to review, it is still checked further)."""
    return not any(
        isinstance(r, dict) and r.get("pass") is False and r.get("severity", "reject") == "reject"
        for r in (res or {}).values()
    )


def made_info(packed: Packed) -> dict[str, Any]:
    """What later stages of a flow need of the samples a unit made (verification plans from
    it): per sample (id, digest, stored data, passed its make-time rules)."""
    rejected = {
        sid
        for sid, stage, _v, _c, _d, res in packed.checks
        if stage == "rules" and not passes_rules(json.loads(res))
    }
    return {"made": [(row[0], row[9], row[8], row[0] not in rejected) for row in packed.samples]}


@dataclass
class Flow:
    """Subjects in a fixed order and the stages each goes through."""

    name: str
    subjects: Callable[[RunContext], Iterable[Subject] | AsyncIterable[Subject]]
    stages: list[Stage]


@dataclass
class Plan:
    flows: list[Flow] = field(default_factory=list)
    dataset: list[Stage] = field(default_factory=list)  # after every flow, in this order

    @property
    def stages(self) -> list[Stage]:
        return [s for f in self.flows for s in f.stages] + list(self.dataset)
