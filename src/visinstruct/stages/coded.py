"""Code-guided synthesis: an LLM writes a declarative spec of an image, the engine draws it.

A unit is one image: its key (`coded/<kind>/<lang>/<index>`) and its topic (a catalog domain,
drawn from the key's seed) come from the recipe, so a re-run plans the same units and skips
the ones done. The request half asks the LLM for a spec of the unit's kind about its topic;
the parse half validates it (`coded.validate`): a reply that is not a safe, drawable spec
fails the unit with the reason and is never cached. The spec is then drawn and measured in a
worker (`coded.render`), and its facts become samples exactly as a synthetic domain's do
(`drafts.finish_all`), checked as they are made.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visinstruct import __version__
from visinstruct.drafts import GENERATOR_VERSION, finish_all
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.png import encode_png
from visinstruct.records import ImageRecord
from visinstruct.stages.base import ModelStage, Result, Subject, Unit, UnitFailed, made_info
from visinstruct.stages.checks import MakeChecks
from visinstruct.stages.context import RunContext
from visinstruct.store import write_image_file

CODED = "coded"
CODED_SEQ = 4 * 10**14  # after synthetic items, source images, facts → LLM and targeted questions


@dataclass(frozen=True)
class CodedTask:
    """One planned image."""

    seq: int
    key: str  # coded/<kind>/<lang>/<index>
    kind: str
    lang: str
    index: int  # within the (kind, language) stream: places answer letters
    topic: str  # a catalog domain: the samples' domain
    seed: str
    types: tuple[str, ...]
    round: int = 0


def plan(recipe: Any, catalog: dict[str, Any]) -> Iterator[CodedTask]:
    """Every image the recipe's `coded:` asks for, in a fixed order: kinds in turn, then
    languages, each (kind, language) stream numbered on its own."""
    spec = recipe.coded
    if spec is None:
        return
    names = list(spec.topics) if spec.topics else sorted(catalog)
    langs = recipe.languages_of(spec)
    types = tuple(spec.types or recipe.types)
    k = len(spec.kinds)
    for i in range(spec.count):
        kind = spec.kinds[i % k]
        lang = langs[(i // k) % len(langs)]
        index = i // (k * len(langs))
        key = f"coded/{kind}/{lang}/{index}"
        seed = recipe.unit_seed(key)
        topic = random.Random(f"{seed}:topic").choice(names)
        yield CodedTask(CODED_SEQ + i, key, kind, lang, index, topic, seed, types, recipe.round)


def spec_request(prompt: Any, domain: Any, task: CodedTask, spec: Any) -> ChatRequest:
    """The request for one unit's spec, in the unit's language (a Chinese spec's texts are
    Chinese): the topic, the kind's rules, the unit as a variant."""
    lang = task.lang
    rules = prompt.text("rules", task.kind, lang="en")
    if lang != "en":
        rules += "\n" + prompt.text("text_rules", task.kind, lang=lang)
    values = {
        "kind": task.kind,
        "title": getattr(domain.title, lang),
        "description": getattr(domain.description, lang),
        "rules": rules,
        "variant": task.key,
    }
    return ChatRequest(
        [
            {"role": "system", "content": prompt.text("system", lang=lang, **values)},
            {"role": "user", "content": prompt.text("user", lang=lang, **values)},
        ],
        endpoint=spec.endpoint,
        stage=CODED,
        params={"max_tokens": spec.max_tokens, "temperature": spec.temperature},
        meta=task.key,
    )


def subjects(ctx: RunContext) -> Iterator[Subject]:
    for task in plan(ctx.recipe, ctx.catalog):
        yield Subject(task.key, task.seq, {"task": task})


class Drawer:
    """Worker side: draw a validated spec, store the image, finish and check its samples."""

    def __init__(self, run_dir: str, make_checks: MakeChecks, timeout: float) -> None:
        self.run_dir, self.make_checks, self.timeout = run_dir, make_checks, timeout

    def __call__(self, job: tuple[CodedTask, Any, dict[str, Any]]) -> Result:
        from visinstruct.coded.questions import drafts, measured
        from visinstruct.coded.render import RenderError, render
        from visinstruct.coded.validate import SpecError

        task, spec, provenance = job
        try:
            drawn = render(spec, self.timeout)
        except SpecError as e:
            raise UnitFailed(f"{task.kind} spec: {e.reason}", retry=False) from None
        except RenderError as e:
            raise UnitFailed(f"{task.kind} spec could not be drawn: {e}") from None
        facts = measured(spec.kind, spec.facts, drawn.seen)
        facts = {"kind": spec.kind, "topic": task.topic, **facts, "spec": spec.source}
        if drawn.blocked:
            facts["blocked_requests"] = drawn.blocked
        img = drawn.image
        image_id, rel = write_image_file(Path(self.run_dir), encode_png(img), "png")
        prov = {"source": CODED, "generator": f"coded/{task.kind}", "unit": task.key, "topic": task.topic}
        image = ImageRecord(image_id, rel, img.width, img.height, "png", prov)
        asked = drafts(spec.kind, facts, random.Random(f"{task.seed}:questions"), task.lang)
        facts["questions"] = [a.record() for a in asked]  # what each question asks, in sample order
        made = list(
            finish_all(
                [a.question for a in asked],
                types=set(task.types),
                rng=random.Random(f"{task.seed}:text"),
                lang=task.lang,
                domain=task.topic,
                image_ids=[image_id],
                stream=f"coded/{task.kind}/{task.lang}",
                index=task.index,
                provenance={
                    "generator": f"coded/{task.kind}",
                    "generator_version": GENERATOR_VERSION,
                    "engine": __version__,
                    "seed": task.seed,
                    **provenance,
                },
                context={"facts": facts},
            )
        )
        if not made:
            raise UnitFailed(f"{task.kind} spec: nothing in the drawing can be asked about", retry=False)
        for s in made:
            s.round = task.round
        res = Result(samples=made, images=[image]).pack(task.seq, task.key, self.make_checks)
        res.info = made_info(res.packed)  # type: ignore[arg-type]
        return res


class CodedStage(ModelStage):
    """Asks the LLM for one spec per unit, validates it, draws it and asks about it."""

    name = CODED
    version = "1"

    def __init__(self, ctx: RunContext) -> None:
        spec = ctx.recipe.coded
        assert spec is not None
        self.spec = spec
        self.drawer = Drawer(str(ctx.store.dir), ctx.make_checks, spec.render_timeout)

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None:
            return []
        task: CodedTask = subject.info["task"]
        return [Unit(task.key, task.seq, task)]

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        task: CodedTask = unit.data
        return spec_request(ctx.prompt("coded"), ctx.catalog[task.topic], task, self.spec)

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Any:
        """The reply's spec, validated: an unsafe or undrawable one fails here, uncached."""
        from visinstruct.coded.validate import SpecError, validate

        task: CodedTask = unit.data
        try:
            return validate(task.kind, outcome.text, task.lang)
        except SpecError as e:
            raise UnitFailed(f"{task.kind} spec refused: {e.reason}") from None

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        task: CodedTask = unit.data
        holder: dict[str, Any] = {}

        def parse(out: Outcome) -> Any:
            holder["outcome"] = out
            return self.parse(unit, out, ctx)

        spec = await ctx.ask(self.request(unit, ctx), parse)
        out: Outcome = holder["outcome"]
        provenance = {
            "model": ctx.model(out.request.endpoint),
            "endpoint": out.request.endpoint,
            "prompt": ctx.prompt("coded").ref,
            "request": out.key,
            "unit": task.key,
            "topic": task.topic,
            "spec_kind": task.kind,
        }
        return await ctx.cpu(self.drawer, (task, spec, provenance))
