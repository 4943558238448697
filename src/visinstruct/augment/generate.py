"""Rephrase templates with a model until each task's pool reaches its target size.

Per round, each parent template (the originals in round 1; in iterative rounds, what the
previous round kept) is paired with directives and temperatures in a seeded order, and
requests go out in waves: each wave asks only for what a task still needs (with a margin
for rejections), so generation stops near the target expansion instead of spending the
whole grid. Replies are filtered in request order, which makes the pool a pure function of
the config and the model's answers — re-running reads every answer from the client's
cache and rebuilds the same pool without sending anything.

Modes: `temperatures` (one round over the temperature grid), `iterative` (rounds at one
temperature, each rephrasing what the last one kept), `both` (rounds over the grid).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from visinstruct.augment.config import AugmentConfig, Mode
from visinstruct.augment.directives import (
    Directive,
    MetaPrompts,
    parse_proposals,
    propose_messages,
    rewrite_messages,
)
from visinstruct.augment.diversity import SimilarityIndex, tokens
from visinstruct.augment.filters import FilterSettings, check, normalise
from visinstruct.augment.mask import Masked, mask
from visinstruct.augment.templates import Template, TemplateFileError, load_file, load_seeds, load_synth
from visinstruct.models import ChatRequest, ModelClient

STAGE = "augment"
Progress = Callable[[int, int], None]  # (requests answered, requests planned so far)


def load_originals(cfg: AugmentConfig) -> list[Template]:
    """Every source's templates, narrowed to the config's tasks and languages."""
    found: list[Template] = []
    for src in cfg.templates:
        if src.file:
            found += load_file(cfg.path(src.file), src.format)
        elif src.synth:
            found += load_synth(src.synth, src.keys)
        else:
            found += load_seeds(src.seeds or "", src.keys, [str(cfg.path(d)) for d in cfg.domains_dir])
    if cfg.tasks:
        have = {t.task for t in found}
        missing = [t for t in cfg.tasks if t not in have]
        if missing:
            raise TemplateFileError(f"task {missing[0]!r} is in tasks: but in no template source")
        found = [t for t in found if t.task in cfg.tasks]
    if cfg.languages:
        found = [t for t in found if t.lang in cfg.languages]
    seen: set[str] = set()
    unique: list[Template] = []
    for t in found:  # the same template from two sources counts once
        if t.id not in seen:
            seen.add(t.id)
            unique.append(t)
    if not unique:
        raise TemplateFileError("the template sources give no templates (after tasks: and languages:)")
    return unique


@dataclass
class Planned:
    task: str
    parent: Template
    directive: Directive
    temperature: float
    round: int


@dataclass
class Rejection:
    task: str
    rule: str
    detail: str
    text: str | None  # the model's reply as received
    parent: str
    root: str | None
    directive: str
    temperature: float
    round: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TaskPool:
    """One task's originals and the templates kept so far."""

    originals: list[Template]
    kept: list[Template] = field(default_factory=list)
    index: SimilarityIndex = field(default_factory=SimilarityIndex)
    exact: set[str] = field(default_factory=set)
    by_id: dict[str, Template] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t in self.originals:
            self.keep(t)

    def keep(self, t: Template) -> None:
        self.kept.append(t)
        self.index.add(t.id, tokens(t.text))
        self.exact.add(normalise(t.text))
        self.by_id[t.id] = t

    def goal(self, target: float) -> int:
        return math.ceil(target * len(self.originals))

    def need(self, target: float) -> int:
        return self.goal(target) - len(self.kept)


@dataclass
class AugmentResult:
    mode: Mode
    pools: dict[str, TaskPool]
    rejected: list[Rejection] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)
    requests: int = 0  # replies considered (sent or cached)
    sent: int = 0  # requests that reached the server
    failed: int = 0  # requests with no usable reply (retried on the next run)
    cost_usd: float = 0.0
    budget_reached: bool = False
    complete: bool = False  # False when the run stopped on an error


def plan_round(
    task: str,
    parents: list[Template],
    directives: list[Directive],
    temperatures: list[float],
    seed: int,
    rnd: int,
    per_parent: int | None,
) -> list[Planned]:
    """Every (parent, directive, temperature) of one round, in a seeded order that spreads
    directives and temperatures over the early waves and takes parents in turn."""
    combos: list[list[tuple[Directive, float]]] = []
    for p in parents:
        rng = random.Random(f"{seed}:{rnd}:{p.id}")
        usable = [d for d in directives if not d.proposed or p.lang in d.text]
        if per_parent is not None and per_parent < len(usable):
            usable = rng.sample(usable, per_parent)
        pairs = [(d, t) for d in usable for t in temperatures]
        rng.shuffle(pairs)
        combos.append(pairs)
    out: list[Planned] = []
    for j in range(max((len(c) for c in combos), default=0)):
        for p, pairs in zip(parents, combos, strict=True):
            if j < len(pairs):
                d, t = pairs[j]
                out.append(Planned(task, p, d, t, rnd))
    return out


class Augmenter:
    """The state of one augmentation: pools per task, rejections, and the plan cursor."""

    def __init__(
        self,
        cfg: AugmentConfig,
        originals: list[Template],
        meta: MetaPrompts,
        mode: Mode | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.cfg = cfg
        self.gen = cfg.generation
        self.mode: Mode = mode or self.gen.mode
        self.meta = meta
        self.filters: FilterSettings = cfg.filters.settings()
        self.progress = progress or (lambda done, total: None)
        tasks = dict.fromkeys(t.task for t in originals)  # in file order
        pools = {task: TaskPool([t for t in originals if t.task == task]) for task in tasks}
        self.result = AugmentResult(self.mode, pools, directives=list(meta.directives.values()))
        self.endpoint = cfg.endpoint or next(iter(cfg.endpoints))
        self._planned = 0

    def temperatures(self) -> list[float]:
        return (
            self.gen.temperatures
            if self.mode in ("temperatures", "both")
            else [self.gen.iterative_temperature]
        )

    def rounds(self) -> int:
        return 1 if self.mode == "temperatures" else self.gen.rounds

    async def run(self, client: ModelClient) -> AugmentResult:
        """Generate and filter until every task reaches its target or the plan runs out."""
        res = self.result
        if self.cfg.propose_directives:
            await self._propose(client)
        for rnd in range(1, self.rounds() + 1):
            plans: dict[str, list[Planned]] = {}
            for task, pool in res.pools.items():
                if pool.need(self.gen.target) <= 0:
                    continue
                parents = pool.originals if rnd == 1 else [t for t in pool.kept if t.round == rnd - 1]
                plans[task] = plan_round(
                    task,
                    parents,
                    res.directives,
                    self.temperatures(),
                    self.cfg.seed,
                    rnd,
                    self.gen.directives_per_parent,
                )
            cursor = dict.fromkeys(plans, 0)
            while not res.budget_reached:
                wave: list[Planned] = []
                for task, plan in plans.items():
                    need = res.pools[task].need(self.gen.target)
                    if need <= 0 or cursor[task] >= len(plan):
                        continue
                    k = min(len(plan) - cursor[task], math.ceil(need * 1.5) + 2)
                    wave += plan[cursor[task] : cursor[task] + k]
                    cursor[task] += k
                if not wave:
                    break
                await self._wave(client, wave)
        res.complete = True
        return res

    def request(self, p: Planned) -> ChatRequest:
        masked = mask(p.parent.text)
        return ChatRequest(
            rewrite_messages(self.meta, p.directive, masked, p.parent.lang),
            endpoint=self.endpoint,
            stage=STAGE,
            params={"temperature": p.temperature, "max_tokens": self.gen.max_tokens},
            meta=masked,
        )

    async def _wave(self, client: ModelClient, wave: list[Planned]) -> None:
        res = self.result
        self._planned += len(wave)
        reqs = [self.request(p) for p in wave]
        self.progress(res.requests, self._planned)
        if self.cfg.endpoints[self.endpoint].collected():  # Batch API, vllm-offline: run()
            outs = dict(enumerate(await client.run(reqs)))
        else:
            outs = {}
            async for i, o in client.stream(reqs):
                outs[i] = o
                self.progress(res.requests + len(outs), self._planned)
        for p, out in zip(wave, (outs[i] for i in range(len(wave))), strict=True):
            res.requests += 1
            self.consider(p, out.request.meta, out.text if out.ok else None, out.error, out.skipped)
        res.budget_reached = res.budget_reached or client.budget_hit
        self.progress(res.requests, self._planned)

    def consider(
        self, p: Planned, masked: Masked, text: str | None, error: str | None, skipped: bool
    ) -> None:
        """Filter one reply into the task's pool or the rejections."""
        res = self.result
        pool = res.pools[p.task]
        root = pool.by_id.get(p.parent.root or p.parent.id, p.parent)

        def reject(rule: str, detail: str) -> None:
            res.rejected.append(
                Rejection(
                    p.task, rule, detail, text, p.parent.id, root.id, p.directive.name, p.temperature, p.round
                )
            )

        if error is not None:
            if not skipped:
                res.failed += 1
            reject("budget" if skipped else "model_error", error)
            return
        if pool.need(self.gen.target) <= 0:
            reject("surplus", "the task reached its target before this reply was read")
            return
        v = check(text, masked, root.text, root.lang, pool.index, pool.exact, self.filters)
        if not v.ok:
            reject(v.rule or "", v.detail)
            return
        pool.keep(
            Template(
                p.task,
                v.text or "",
                root.lang,
                origin="rephrased",
                parent=p.parent.id,
                root=root.id,
                directive=p.directive.name,
                temperature=p.temperature,
                round=p.round,
            )
        )

    async def _propose(self, client: ModelClient) -> None:
        """Ask the model for new directives, once per language of the templates."""
        res = self.result
        langs = sorted({t.lang for pool in res.pools.values() for t in pool.originals})
        n = self.cfg.propose_directives
        reqs = [
            ChatRequest(
                propose_messages(self.meta, n, lang),
                endpoint=self.endpoint,
                stage=STAGE + "_directives",
                params={"temperature": 1.0, "max_tokens": 60 * n},
                meta=lang,
            )
            for lang in langs
        ]
        existing = {d.name: d for d in res.directives}
        for out in await client.run(reqs):
            if not out.ok:
                res.failed += 1
                continue
            new = parse_proposals(out.text or "", existing, out.request.meta, n)
            for d in new:
                existing[d.name] = d
            res.directives += new
