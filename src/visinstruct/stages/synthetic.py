"""Synthetic items: a programmatic domain draws the image(s) and knows the exact facts.

A unit is one item. Its key and seed come from the recipe (seed, domain, language,
index), so a re-run plans the same units, skips the ones already committed, and makes the
missing ones exactly as an uninterrupted run would. Items are drawn, stored, finished into
samples and checked in the executor's worker processes; only rows travel back.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from visinstruct import __version__
from visinstruct.drafts import GENERATOR_VERSION, finish_all
from visinstruct.png import encode_png
from visinstruct.records import ImageRecord
from visinstruct.stages.base import CpuStage, Result, Subject, Unit
from visinstruct.stages.checks import MakeChecks
from visinstruct.stages.context import RunContext
from visinstruct.store import write_image_file

SYNTHETIC = "synthetic"
EXTENSION = {"png": "png", "jpeg": "jpg"}  # an image format's file extension in the store


@dataclass(frozen=True)
class Task:
    """One planned item."""

    seq: int  # position in the plan: fixes the dataset's order
    key: str  # e.g. "charts/en/17"
    domain: str
    lang: str
    index: int  # index within the (domain, language) stream: places answer letters
    seed: str
    types: tuple[str, ...]
    categories: tuple[str, ...] | None = None  # keep only questions of these categories
    round: int = 0  # the loop round the samples belong to
    llm: bool = False  # an LLM also writes from the item's facts: they travel back with the result
    realism: float = 0.0  # chance (and strength) of a photographed or scanned look (`synth/realism.py`)


def plan(recipe) -> Iterator[Task]:
    """Every item the recipe asks for, in a fixed order, one at a time (nothing is built
    up front: a recipe may plan millions)."""
    seq = 0
    for domain in sorted(recipe.synthetic):
        spec = recipe.synthetic[domain]
        langs = recipe.languages_of(spec)
        types = tuple(spec.types or recipe.types)
        cats = spec.categories or (list(spec.quotas) if spec.quotas else None)
        categories = tuple(sorted(cats)) if cats else None
        for i in range(spec.count):
            lang = langs[i % len(langs)]
            index = i // len(langs)
            key = f"{domain}/{lang}/{index}"
            yield Task(
                seq,
                key,
                domain,
                lang,
                index,
                recipe.unit_seed(key),
                types,
                categories,
                recipe.round,
                bool(spec.llm),
                recipe.realism if spec.realism is None else spec.realism,
            )
            seq += 1


def subjects(ctx: RunContext) -> Iterator[Subject]:
    for task in plan(ctx.recipe):
        yield Subject(task.key, task.seq, {"task": task})


class ItemMaker:
    """Worker side: draw one item, store its images, finish and check its samples."""

    def __init__(self, run_dir: str, make_checks: MakeChecks) -> None:
        self.run_dir, self.make_checks = run_dir, make_checks

    def __call__(self, task: Task) -> Result:
        from visinstruct.synth import get_domain
        from visinstruct.synth.describe import caption_question, has_description

        domain = get_domain(task.domain)
        item = domain.make(random.Random(task.seed), task.lang)
        look: list[dict] = []
        if task.realism:
            from visinstruct.synth import realism

            rng = random.Random(f"{task.seed}:realism")
            item, look = realism.apply(domain, item, rng, task.realism, task.lang)
        images: list[ImageRecord] = []
        for k, img in enumerate(item.images):
            data, fmt = item.encoded[k] if item.encoded else (encode_png(img), "png")
            image_id, rel = write_image_file(Path(self.run_dir), data, EXTENSION[fmt])
            prov = {"source": "synthetic", "generator": f"synth/{task.domain}", "unit": task.key}
            if look:
                prov["realism"] = look
            images.append(ImageRecord(image_id, rel, img.width, img.height, fmt, prov))
        questions = item.questions
        if "caption" in task.types and has_description(task.domain):
            questions = [
                *questions,
                caption_question(task.domain, item.facts, task.lang, task.seed, task.key, bool(look)),
            ]
        if task.categories is not None:
            questions = [q for q in questions if q.category in task.categories]
        made = list(
            finish_all(
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
                    **({"realism": [st["kind"] for st in look]} if look else {}),
                },
                context={"facts": item.facts},
            )
        )
        for s in made:
            s.round = task.round
        res = Result(samples=made, images=images).pack(task.seq, task.key, self.make_checks)
        if task.llm:
            res.info = {
                "item_facts": ([i.id for i in images], item.facts),
                "treated": bool(look),
                "images": {i.id: i for i in images},
            }
        return res


class SyntheticStage(CpuStage):
    """Draws the recipe's synthetic items. With category quotas (the closed loop) items are
    accepted in plan order and trimmed to the categories still wanted, until every quota is
    met; what is still wanted is counted from the store, so a resumed run ends with the same
    samples as an uninterrupted one."""

    name = SYNTHETIC
    version = "1"

    def __init__(self, ctx: RunContext) -> None:
        self.maker = ItemMaker(str(ctx.store.dir), ctx.make_checks)
        self.left: dict[str, dict[str, int]] = {}
        for domain, spec in ctx.recipe.synthetic.items():
            if spec.quotas:
                have = ctx.store.category_counts(domain)
                self.left[domain] = {c: n - have.get(c, 0) for c, n in spec.quotas.items()}
        self.ordered = bool(self.left)  # type: ignore[misc]

    def _met(self, domain: str) -> bool:
        left = self.left.get(domain)
        return left is not None and all(v <= 0 for v in left.values())

    def wanted(self, subject: Subject, ctx: RunContext) -> bool:
        return not self._met(subject.info["task"].domain)

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None:
            return []
        task: Task = subject.info["task"]
        return [Unit(task.key, task.seq, task)]

    def job(self, unit: Unit, ctx: RunContext):
        return self.maker, unit.data

    def accept(self, unit: Unit, result: Result, ctx: RunContext) -> Result | None:
        task: Task = unit.data
        left = self.left.get(task.domain)
        if left is None:
            return result
        if self._met(task.domain):
            return None  # made before the quota filled: not part of the dataset, not committed
        wanted = {c for c, v in left.items() if v > 0}
        p = result.packed
        assert p is not None
        keep = {row[0] for row in p.samples if row[6] in wanted}
        p.samples = [r for r in p.samples if r[0] in keep]
        p.checks = [r for r in p.checks if r[0] in keep]
        p.failed = [r for r in p.failed if r[0] in keep]
        for row in p.samples:
            if row[7] != "rejected":
                left[row[6]] -= 1
        return result

    def short(self) -> dict[str, dict[str, int]]:
        """Categories whose quota was not met within the planned items: domain → category → missing."""
        out = {d: {c: v for c, v in left.items() if v > 0} for d, left in self.left.items()}
        return {d: m for d, m in out.items() if m}
