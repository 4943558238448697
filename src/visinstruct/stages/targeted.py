"""Targeted questions (the closed loop): new multiple-choice questions of the categories an
evaluated model is weak at, about the run's captioned source images, with the model's
wrong answers of that category as examples.

A dataset stage: it needs the whole captioned pool. Every unit is planned on every run,
in a fixed order, so the bad cases and images drawn for a unit are the same after a restart.
Images like a bad case's are ranked by the recipe's `embed:` model when it has one, else by
perceptual hash (loop/similar.py); a sample's provenance says which (`similar_by`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from visinstruct.errors import VisinstructError
from visinstruct.generate.targeted import targeted_request, targeted_samples
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.stages.base import ModelStage, Result, Subject, Unit, UnitFailed
from visinstruct.stages.context import RunContext
from visinstruct.stages.instructions import TARGETED_SEQ


class TargetedStage(ModelStage):
    name = "targeted"
    version = "2"  # 2: replies read in every common style, answers normalised, explanations kept

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return []
        return self._plan(ctx)

    def _plan(self, ctx: RunContext) -> Iterator[Unit]:
        from visinstruct.loop.results import load_records, normal_category
        from visinstruct.loop.sampler import BadCaseSampler
        from visinstruct.loop.similar import ImagePool, PoolImage

        spec = ctx.recipe.targeted
        langs = ctx.recipe.languages_of(spec)
        pool_caps: dict[str, dict[str, str]] = {}
        images = []
        for _, _, image_id, domain_name in ctx.store.iter_inputs():
            caps = {
                lang: text for lang, (text, _) in ctx.store.contexts_of(image_id, "caption").items() if text
            }
            if caps:
                pool_caps[image_id] = caps
                images.append(PoolImage(image_id, str(ctx.store.image_path(image_id)), domain_name))
        if not images:
            raise VisinstructError("targeted: no captioned source image to write questions about")
        pool = ImagePool(images, ctx.embedder)
        sampler = BadCaseSampler(
            load_records(ctx.path(spec.bad_cases)), seed=ctx.recipe.unit_seed("targeted")
        )
        for n_cat, bench_cat in enumerate(sorted(spec.quotas)):
            target = spec.quotas[bench_cat]
            category = target.category or normal_category(bench_cat)
            domain = ctx.catalog.get(target.domain or "")
            for k in range(0, target.count, spec.per_request):
                key = f"targeted/{category}/{bench_cat}/{k}"
                rng = ctx.recipe.rng(key)
                examples = sampler.pick(bench_cat, spec.examples)
                like = next((e.image for e in examples if e.image), None)
                image, how = pool.choose(rng, target.domain, like, spec.similar)
                lang = langs[(k // spec.per_request) % len(langs)]
                cap_lang = lang if lang in pool_caps[image.id] else next(iter(pool_caps[image.id]))
                yield Unit(
                    key,
                    TARGETED_SEQ + n_cat * 10**6 + k,
                    {
                        "bench_cat": bench_cat,
                        "count": min(spec.per_request, target.count - k),
                        "examples": examples,
                        "image": image,
                        "index": k,
                        "lang": lang,
                        "category": category,
                        "domain": domain,
                        "domain_name": (domain.name if domain else image.domain) or "targeted",
                        "caption": pool_caps[image.id][cap_lang],
                        "caption_language": cap_lang,
                        "how": how,
                        "similar_by": pool.method if how == "similar" else None,
                    },
                )

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        spec, d = ctx.recipe.targeted, unit.data
        return targeted_request(
            ctx.prompt("targeted"),
            category=d["bench_cat"],
            lang=d["lang"],
            domain=d["domain"],
            context=d["caption"],
            examples=d["examples"],
            count=d["count"],
            endpoint=spec.endpoint,
            max_tokens=spec.max_tokens,
            temperature=spec.temperature,
            image=(d["image"].path, d["image"].id) if spec.send_image else None,
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        d = unit.data
        made = list(
            targeted_samples(
                outcome.value,
                category=d["category"],
                image_ids=[d["image"].id],
                domain=d["domain_name"],
                lang=d["lang"],
                index=d["index"],
                prompt=ctx.prompt("targeted"),
                context={"caption": d["caption"], "caption_language": d["caption_language"]},
                provenance={
                    "generator": "llm/targeted",
                    "model": ctx.model(outcome.request.endpoint),
                    "endpoint": outcome.request.endpoint,
                    "request": outcome.key,
                    "unit": unit.key,
                    "benchmark_category": d["bench_cat"],
                    "bad_cases": [e.id for e in d["examples"]],
                    "image_choice": d["how"],
                    **({"similar_by": d["similar_by"]} if d.get("similar_by") else {}),
                },
            )
        )
        if not made:
            raise UnitFailed("the reply holds no usable question")
        for s in made:
            s.round = ctx.recipe.round
        return Result(samples=made).pack(unit.seq, unit.key, ctx.make_checks)
