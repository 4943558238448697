"""The MMInstruct engine: your images → captions → domains → four instruction types.

Each stage is resumable on its own: images are taken in once (by source reference),
a caption or a chosen domain is stored as the image's context, and each
(image, type, language) request is a unit committed together with its samples. Every
model call goes through the one `ModelClient` (cache, limits, retries, ledger), so a
re-run sends only what is missing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from visinstruct.domains import Domain, load_catalog
from visinstruct.errors import VisinstructError
from visinstruct.generate.caption import caption_request
from visinstruct.generate.instruct import FAMILY, instruction_request, samples_from
from visinstruct.generate.schemas import domain_choice
from visinstruct.generate.targeted import targeted_request, targeted_samples
from visinstruct.loop.results import normal_category
from visinstruct.models import ChatRequest, ModelClient, Outcome
from visinstruct.models.endpoints import expand_env, load_prices
from visinstruct.prompts import load_prompt
from visinstruct.recipe import Recipe, SourceSpec
from visinstruct.records import Sample
from visinstruct.store import RunStore, UnitResult

Progress = Callable[[str, int, int | None], None]

# sample order: synthetic items, then source images, then facts → LLM, then targeted questions
MM_SEQ, FACTS_SEQ, TARGETED_SEQ = 10**12, 2 * 10**12, 3 * 10**12

# the catalog domain whose seed questions steer the LLM when it writes from a synthetic domain's facts
SYNTH_TO_CATALOG = {
    "charts": "structuralized_imagetext_understanding",
    "tables": "structuralized_imagetext_understanding",
    "geometry": "numerical_calculation",
    "scenes": "spatial_relationship",
    "ocr": "ocr",
    "clocks": "numerical_calculation",
    "differences": "image_comparison",
}


@dataclass
class StageCounts:
    done: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class PipelineSummary:
    stages: dict[str, StageCounts] = field(default_factory=dict)
    budget_reached: bool = False


def source_items(spec: SourceSpec, base: Path) -> Iterator:
    """The items of one recipe source, in a stable order."""
    from visinstruct import sources

    def at(p: str) -> Path:
        q = Path(expand_env(p))
        return q if q.is_absolute() else base / q

    if spec.folder:
        items = sources.iter_folder(at(spec.folder))
    elif spec.manifest:
        items = sources.iter_manifest(at(spec.manifest))
    elif spec.hf:
        local = at(spec.hf)
        items = sources.iter_hf(
            str(local) if local.exists() else expand_env(spec.hf),
            split=spec.split,
            image_column=spec.image_column,
            domain_column=spec.domain_column,
            text_column=spec.text_column,
            limit=spec.limit,
        )
    else:
        items = sources.iter_url_list(at(spec.urls))
    taken = 0  # `limit` counts images: entries already refused (a .txt in a folder) do not count
    for item in items:
        if spec.limit is not None and taken >= spec.limit:
            return
        taken += item.error is None
        if spec.domain and not item.domain:
            item.domain = spec.domain
        yield item


class Pipeline:
    """Runs the model-driven stages of a recipe over a run directory."""

    def __init__(
        self,
        recipe: Recipe,
        store: RunStore | None,
        base: Path,
        progress: Progress | None = None,
        run_dir: Path | None = None,
    ) -> None:
        self.recipe = recipe
        self.store = store  # type: ignore[assignment]  # None only for estimates
        self.run_dir = Path(run_dir) if run_dir else (store.dir if store else Path("."))
        self.base = base
        self.progress = progress or (lambda stage, done, total: None)
        self.catalog = load_catalog(
            [str(base / d) if not Path(d).is_absolute() else d for d in recipe.domains_dir]
        )
        self.caption_prompt = load_prompt("caption", recipe.prompts_dir)
        self.assign_prompt = load_prompt("assign_domain", recipe.prompts_dir)
        self.instr_prompt = load_prompt("instructions", recipe.prompts_dir)
        self.targeted_prompt = load_prompt("targeted", recipe.prompts_dir)
        for item in recipe.sources:
            if item.domain and item.domain not in self.catalog:
                raise VisinstructError(f"source domain {item.domain!r} is not in the domain catalog")

    def client(self, read_only: bool = False) -> ModelClient:
        """The run's model client; `read_only` (estimates) writes nothing anywhere."""
        r = self.recipe
        prices = load_prices(str(self.base / r.prices)) if r.prices else None
        cache: Path | None = Path(r.cache) if r.cache else self.run_dir / "cache.db"
        if read_only and not cache.exists():
            cache = None
        db = None if read_only or self.store is None else self.store.db
        return ModelClient(
            r.endpoints, cache=cache, db=db, budget_usd=r.budget_usd, prices=prices, seed=r.seed
        )

    # -- stage 1: images in ------------------------------------------------------------------
    async def ingest(self, workers: int | None = None) -> StageCounts:
        from visinstruct import sources

        counts = StageCounts()
        known = self.store.input_refs()
        items = [
            it for spec in self.recipe.sources for it in source_items(spec, self.base) if it.ref not in known
        ]
        counts.skipped = len(known)
        if any(it.url and it.data is None and not it.error for it in items):
            items = await sources.download(items)  # copies, with bytes or the reason it failed
        rows, images = [], []
        for n, res in enumerate(sources.ingest(items, self.store.dir, workers=workers)):
            domain = res.item.domain if res.item.domain in self.catalog else None
            rows.append((res.item.ref, res.image.id if res.image else None, domain, res.error))
            if res.image is not None:
                images.append(res.image)
            counts.done += res.error is None
            counts.failed += res.error is not None
            if len(rows) >= 64:
                self.store.add_inputs(rows, images)
                rows, images = [], []
            self.progress("images", n + 1, len(items))
        self.store.add_inputs(rows, images)
        return counts

    # -- stage 2: captions -------------------------------------------------------------------
    def caption_requests(self, pending_only: bool = True) -> list[ChatRequest]:
        spec = self.recipe.caption
        have = self.store.contexts("caption") if pending_only else {}
        reqs = []
        for _seq, _ref, image_id, domain in self.store.inputs():
            rec = self.store.image(image_id)
            prov = rec.provenance
            for lang in spec.languages:
                if (image_id, lang) in have:
                    continue
                reqs.append(
                    caption_request(
                        self.caption_prompt,
                        image=str(self.store.dir / rec.path),
                        image_id=image_id,
                        lang=lang,
                        endpoint=spec.endpoint,
                        domain=self.catalog.get(domain) if domain else None,
                        known_text=prov.get("known_text"),
                        max_tokens=spec.max_tokens,
                        temperature=spec.temperature,
                        meta=(image_id, lang),
                    )
                )
        return reqs

    async def captions(self, client: ModelClient) -> StageCounts:
        counts = StageCounts()
        reqs = self.caption_requests()
        rows = []
        async for n, out in _enumerate(client.stream(reqs)):
            image_id, lang = out.request.meta
            if out.ok and out.text and out.text.strip():
                rows.append(
                    (
                        image_id,
                        "caption",
                        lang,
                        out.text.strip(),
                        {
                            "model": client.model.get(out.request.endpoint) or out.request.endpoint,
                            "prompt": self.caption_prompt.ref,
                            "request": out.key,
                        },
                    )
                )
                counts.done += 1
            elif out.skipped:
                counts.skipped += 1
            else:
                counts.failed += 1
            if len(rows) >= 64:
                self.store.put_contexts(rows)
                rows = []
            self.progress("captions", n + 1, len(reqs))
        self.store.put_contexts(rows)
        return counts

    # -- stage 3: domains --------------------------------------------------------------------
    async def assign(self, client: ModelClient) -> StageCounts:
        counts = StageCounts()
        if not self.recipe.assign_domains:
            return counts
        captions = self.store.contexts("caption")
        names = sorted(self.catalog)
        schema = domain_choice(names)
        p = self.assign_prompt
        reqs = []
        for _seq, _ref, image_id, domain in self.store.inputs():
            if domain:
                continue
            lang, text = _caption_for(captions, image_id, self.recipe.caption.languages)
            if text is None:
                continue
            listing = "\n".join(f"- {n}: {getattr(self.catalog[n].description, lang)}" for n in names)
            reqs.append(
                ChatRequest(
                    [
                        {"role": "system", "content": p.text("system", lang=lang)},
                        {"role": "user", "content": p.text("user", lang=lang, caption=text, domains=listing)},
                    ],
                    endpoint=self.recipe.instructions.endpoint,
                    stage="assign_domain",
                    params={"max_tokens": 50, "temperature": 0.0},
                    schema=schema,
                    meta=image_id,
                )
            )
        async for n, out in _enumerate(client.stream(reqs)):
            if out.ok:
                self.store.set_input_domain(out.request.meta, out.value.domain)
                self.store.put_contexts(
                    [
                        (
                            out.request.meta,
                            "domain",
                            "",
                            out.value.domain,
                            {"prompt": p.ref, "request": out.key},
                        )
                    ]
                )
                counts.done += 1
            else:
                counts.failed += 1
            self.progress("domains", n + 1, len(reqs))
        return counts

    # -- stage 4: instructions ---------------------------------------------------------------
    def instruction_units(self, captions: dict | None = None) -> list[tuple[str, ChatRequest, dict]]:
        """(unit key, request, info) for every planned (image, type, language), quotas applied:
        captioned source images, then synthetic items whose facts the recipe sends to the LLM."""
        r = self.recipe
        langs = r.instructions.languages or r.languages
        captions = self.store.contexts("caption") if captions is None else captions
        planned: dict[tuple[str, str], int] = {}
        units = []
        for seq, ref, image_id, domain_name in self.store.inputs():
            domain = self.catalog.get(domain_name or "")
            if domain is None:
                continue
            prov = self.store.image(image_id).provenance
            for lang in langs:
                cap_lang, caption = _caption_for(captions, image_id, [lang, *r.caption.languages])
                if caption is None:
                    continue
                cap_meta = self.store.contexts_data(image_id, "caption", cap_lang)
                for itype in r.types:
                    if not self._within_quota(planned, domain.name, itype):
                        continue
                    info = {
                        "seq": MM_SEQ + seq * 8,  # plan order: after the synthetic items
                        "index": seq,  # arrival order: places answer letters
                        "image_ids": [image_id],
                        "domain": domain.name,
                        "context": {"caption": caption, "caption_language": cap_lang},
                        "provenance": {
                            "source": ref,
                            "caption_prompt": cap_meta.get("prompt"),
                            "caption_model": cap_meta.get("model"),
                        },
                    }
                    units.append(
                        self._unit(
                            f"mm/{image_id[:16]}/{itype}/{lang}",
                            domain,
                            itype,
                            lang,
                            caption,
                            _knowledge(prov),
                            info,
                        )
                    )
        for seq, unit, rec in self.store.synthetic_items():
            spec = r.synthetic.get(rec["domain"])
            if spec is None or not spec.llm:
                continue
            facts = json.dumps(rec["context"].get("facts", {}), ensure_ascii=False, separators=(",", ":"))
            lang = rec["language"]
            domain = self.catalog[SYNTH_TO_CATALOG.get(rec["domain"], "complex_reasoning")]
            for itype in spec.llm:
                info = {
                    "seq": FACTS_SEQ + seq,
                    "index": seq // 1000,
                    "image_ids": rec["images"],
                    "domain": rec["domain"],
                    "context": {"facts": rec["context"].get("facts", {})},
                    "provenance": {"source": f"synthetic:{unit}", "facts_domain": domain.name},
                }
                context = self.instr_prompt.text("facts", lang=lang, facts=facts)
                units.append(self._unit(f"facts/{unit}/{itype}", domain, itype, lang, context, None, info))
        return units

    def _within_quota(self, planned: dict[tuple[str, str], int], domain: str, itype: str) -> bool:
        spec = self.recipe.instructions
        expected = 1 if itype == "long_vqa" else spec.per_request.get(itype, 3)
        quota = spec.quotas.get(domain, {}).get(itype)
        if quota is not None and planned.get((domain, itype), 0) + expected > quota:
            return False
        planned[(domain, itype)] = planned.get((domain, itype), 0) + expected
        return True

    def _unit(
        self, key: str, domain: Domain, itype: str, lang: str, context: str, knowledge: str | None, info: dict
    ) -> tuple[str, ChatRequest, dict]:
        spec = self.recipe.instructions
        seeds = domain.sample_seeds(
            random.Random(f"{self.recipe.seed}:{key}"), FAMILY[itype], lang, spec.seeds_per_prompt
        )
        req = instruction_request(
            self.instr_prompt,
            itype=itype,
            lang=lang,
            domain=domain,
            context=context,
            knowledge=knowledge,
            seeds=seeds,
            count=spec.per_request.get(itype, 3),
            endpoint=spec.endpoint,
            max_tokens=spec.max_tokens,
            temperature=spec.temperature,
            meta=key,
        )
        slot = ("judgement", "multiple_choice", "short_vqa", "long_vqa").index(itype) * 2 + (lang == "zh")
        info = {
            **info,
            "itype": itype,
            "lang": lang,
            "seeds": [s.id for s in seeds],
            "seq": info["seq"] + slot,
        }
        return key, req, info

    async def instructions(self, client: ModelClient) -> StageCounts:
        def samples(out: Outcome, key: str, info: dict) -> Iterator[Sample]:
            return samples_from(
                info["itype"],
                out.value,
                image_ids=info["image_ids"],
                domain=info["domain"],
                lang=info["lang"],
                index=info["index"],
                prompt=self.instr_prompt,
                context=info["context"],
                provenance={
                    "generator": "llm/instructions",
                    "model": client.model.get(out.request.endpoint),
                    "endpoint": out.request.endpoint,
                    "seed_questions": info["seeds"],
                    "request": out.key,
                    "unit": key,
                    **info["provenance"],
                },
            )

        done = self.store.done_units()
        captions = self.store.contexts("caption")
        units = [u for u in self.instruction_units(captions) if u[0] not in done]
        return await self._answer_units(client, "instructions", units, samples)

    async def _answer_units(
        self,
        client: ModelClient,
        stage: str,
        units: list[tuple[str, ChatRequest, dict]],
        samples: Callable[[Outcome, str, dict], Iterator[Sample]],
    ) -> StageCounts:
        """Send each unit's request and commit the unit with its checked samples, or with the
        reason it failed (a malformed reply or a failed call: recorded, retried on a re-run)."""
        from visinstruct.checks import check_samples

        counts = StageCounts()
        infos = {key: info for key, _, info in units}
        pending: list[UnitResult] = []
        async for n, out in _enumerate(client.stream(req for _, req, _ in units)):
            key = out.request.meta
            info = infos[key]
            if out.skipped:
                counts.skipped += 1
            elif not out.ok:
                pending.append(UnitResult(key, info["domain"], info["seq"], error=out.error))
                counts.failed += 1
            else:
                made = list(check_samples(samples(out, key, info)))
                for s in made:
                    s.round = self.recipe.round
                pending.append(UnitResult(key, info["domain"], info["seq"], samples=made))
                counts.done += 1
            if len(pending) >= 64:
                self.store.commit_units(pending)
                pending = []
            self.progress(stage, n + 1, len(units))
        self.store.commit_units(pending)
        return counts

    # -- stage 5: targeted questions (the closed loop) --------------------------------------------
    def targeted_units(self, captions: dict | None = None) -> list[tuple[str, ChatRequest, dict]]:
        """(unit key, request, info) for every planned targeted question request.

        Every unit is planned on every run, in a fixed order, so the bad cases and images
        drawn for a unit are the same after a restart."""
        from visinstruct.loop.results import load_records
        from visinstruct.loop.sampler import BadCaseSampler
        from visinstruct.loop.similar import ImagePool, PoolImage

        spec = self.recipe.targeted
        if spec is None:
            return []
        langs = spec.languages or self.recipe.languages
        captions = self.store.contexts("caption") if captions is None else captions
        pool_caps: dict[str, dict[str, str]] = {}
        images = []
        for _, _, image_id, domain_name in self.store.inputs():
            caps = {lang: text for (iid, lang), (text, _) in captions.items() if iid == image_id and text}
            if caps:
                pool_caps[image_id] = caps
                images.append(PoolImage(image_id, str(self.store.image_path(image_id)), domain_name))
        if not images:
            raise VisinstructError("targeted: no captioned source image to write questions about")
        pool = ImagePool(images)
        bad_path = Path(expand_env(spec.bad_cases))
        records = load_records(bad_path if bad_path.is_absolute() else self.base / bad_path)
        sampler = BadCaseSampler(records, seed=f"{self.recipe.seed}:targeted")
        units = []
        for n_cat, bench_cat in enumerate(sorted(spec.quotas)):
            target = spec.quotas[bench_cat]
            category = target.category or normal_category(bench_cat)
            domain = self.catalog.get(target.domain or "")
            for k in range(0, target.count, spec.per_request):
                key = f"targeted/{category}/{bench_cat}/{k}"
                rng = random.Random(f"{self.recipe.seed}:{key}")
                examples = sampler.pick(bench_cat, spec.examples)
                like = next((e.image for e in examples if e.image), None)
                image, how = pool.choose(rng, target.domain, like, spec.similar)
                lang = langs[(k // spec.per_request) % len(langs)]
                cap_lang = lang if lang in pool_caps[image.id] else next(iter(pool_caps[image.id]))
                req = targeted_request(
                    self.targeted_prompt,
                    category=bench_cat,
                    lang=lang,
                    domain=domain,
                    context=pool_caps[image.id][cap_lang],
                    examples=examples,
                    count=min(spec.per_request, target.count - k),
                    endpoint=spec.endpoint,
                    max_tokens=spec.max_tokens,
                    temperature=spec.temperature,
                    image=(image.path, image.id) if spec.send_image else None,
                    meta=key,
                )
                info = {
                    "seq": TARGETED_SEQ + n_cat * 10**6 + k,
                    "index": k,
                    "lang": lang,
                    "category": category,
                    "image_ids": [image.id],
                    "domain": (domain.name if domain else image.domain) or "targeted",
                    "context": {"caption": pool_caps[image.id][cap_lang], "caption_language": cap_lang},
                    "provenance": {
                        "benchmark_category": bench_cat,
                        "bad_cases": [e.id for e in examples],
                        "image_choice": how,
                    },
                }
                units.append((key, req, info))
        return units

    async def targeted(self, client: ModelClient) -> StageCounts:
        def samples(out: Outcome, key: str, info: dict) -> Iterator[Sample]:
            return targeted_samples(
                out.value,
                category=info["category"],
                image_ids=info["image_ids"],
                domain=info["domain"],
                lang=info["lang"],
                index=info["index"],
                prompt=self.targeted_prompt,
                context=info["context"],
                provenance={
                    "generator": "llm/targeted",
                    "model": client.model.get(out.request.endpoint),
                    "endpoint": out.request.endpoint,
                    "request": out.key,
                    "unit": key,
                    **info["provenance"],
                },
            )

        done = self.store.done_units()
        units = [u for u in self.targeted_units() if u[0] not in done]
        return await self._answer_units(client, "targeted", units, samples)

    # -- all of it -----------------------------------------------------------------------------
    async def run(self, workers: int | None = None) -> PipelineSummary:
        summary = PipelineSummary()
        summary.stages["images"] = await self.ingest(workers)
        async with self.client() as client:
            summary.stages["captions"] = await self.captions(client)
            summary.stages["domains"] = await self.assign(client)
            summary.stages["instructions"] = await self.instructions(client)
            if self.recipe.targeted is not None:
                summary.stages["targeted"] = await self.targeted(client)
            summary.budget_reached = client.budget_hit
        return summary

    async def estimate(self) -> list:
        """Requests, tokens and cost per stage, before anything is sent (nothing is stored)."""
        client = self.client(read_only=True)
        spec, ispec = self.recipe.caption, self.recipe.instructions
        reqs: list[ChatRequest] = []
        for src in self.recipe.sources:
            for item in source_items(src, self.base):
                if item.error:
                    continue
                image = item.data if item.data is not None else item.path
                domain = self.catalog.get(item.domain or "")
                for lang in spec.languages:
                    r = caption_request(
                        self.caption_prompt,
                        image=image or "",
                        image_id="",
                        lang=lang,
                        endpoint=spec.endpoint,
                        domain=domain,
                        known_text=item.known_text,
                        max_tokens=spec.max_tokens,
                        temperature=spec.temperature,
                    )
                    parts = r.messages[1]["content"]
                    if image is None:  # a URL is not downloaded for an estimate
                        parts[1] = {"type": "image_url", "image_url": {"url": item.url}}
                    else:
                        parts[1].pop("sha256")
                    reqs.append(r)
                placeholder = "x" * (spec.max_tokens * 4)  # a caption as long as it may be
                domain = domain or self.catalog[sorted(self.catalog)[0]]
                for lang in ispec.languages or self.recipe.languages:
                    for itype in self.recipe.types:
                        seeds = domain.sample_seeds(
                            random.Random(0), FAMILY[itype], lang, ispec.seeds_per_prompt
                        )
                        reqs.append(
                            instruction_request(
                                self.instr_prompt,
                                itype=itype,
                                lang=lang,
                                domain=domain,
                                context=placeholder,
                                knowledge=item.known_text,
                                seeds=seeds,
                                count=ispec.per_request.get(itype, 3),
                                endpoint=ispec.endpoint,
                                max_tokens=ispec.max_tokens,
                                temperature=ispec.temperature,
                            )
                        )
        reqs.extend(self._targeted_estimate_requests())
        try:
            return await client.estimate(reqs)
        finally:
            client.cache.db.close()  # read-only: nothing buffered to flush

    def _targeted_estimate_requests(self) -> list[ChatRequest]:
        """Targeted requests as long as they may be: a full caption and typical examples."""
        from visinstruct.loop.results import EvalRecord

        spec = self.recipe.targeted
        if spec is None:
            return []
        caption = "x" * (self.recipe.caption.max_tokens * 4)
        example = EvalRecord("x", "x", "x" * 200, "A", "B", False, ["x" * 40] * 4)
        reqs = []
        for bench_cat, target in sorted(spec.quotas.items()):
            for _k in range(0, target.count, spec.per_request):
                reqs.append(
                    targeted_request(
                        self.targeted_prompt,
                        category=bench_cat,
                        lang=(spec.languages or self.recipe.languages)[0],
                        domain=self.catalog.get(target.domain or ""),
                        context=caption,
                        examples=[example] * spec.examples,
                        count=spec.per_request,
                        endpoint=spec.endpoint,
                        max_tokens=spec.max_tokens,
                        temperature=spec.temperature,
                    )
                )
        return reqs


def _caption_for(captions: dict, image_id: str, langs: list[str]) -> tuple[str, str | None]:
    for lang in langs:
        hit = captions.get((image_id, lang))
        if hit is not None and hit[0]:
            return lang, hit[0]
    return (langs[0] if langs else "en"), None


def _knowledge(prov: dict) -> str | None:
    parts = []
    if prov.get("tags"):
        parts.append(", ".join(prov["tags"]) if isinstance(prov["tags"], list) else str(prov["tags"]))
    if prov.get("known_text"):
        parts.append(str(prov["known_text"]))
    return "; ".join(parts) or None


async def _enumerate(stream):
    n = 0
    async for _i, out in stream:
        yield n, out
        n += 1


__all__ = ["Pipeline", "PipelineSummary"]
