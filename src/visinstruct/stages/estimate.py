"""Before anything is sent: the requests, tokens and cost a recipe's model stages would take.

Nothing is stored and no run directory is made; answers already in the run's cache are
counted as cached. Captions are assumed as long as they may be (max_tokens), so the
estimate errs on the high side. An image whose source names no domain adds the LLM's domain
assignment request (none with `assign_domains: zero_shot`, which asks no model).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from visinstruct.generate.caption import caption_request
from visinstruct.generate.instruct import FAMILY, instruction_request
from visinstruct.models.client import ChatRequest


def requests(recipe: Any, base: Path) -> list[ChatRequest]:
    from visinstruct.domains import load_catalog
    from visinstruct.prompts import load_prompt
    from visinstruct.stages.caption import assign_domain_request, candidate_domains
    from visinstruct.stages.ingest import source_items

    def path(p: str) -> Path:
        from visinstruct.models.endpoints import expand_env

        q = Path(expand_env(p))
        return q if q.is_absolute() else base / q

    catalog = load_catalog([str(base / d) if not Path(d).is_absolute() else d for d in recipe.domains_dir])
    cap_p, instr_p = (
        load_prompt("caption", recipe.prompts_dir),
        load_prompt("instructions", recipe.prompts_dir),
    )
    spec, ispec = recipe.caption, recipe.instructions
    assignment = recipe.domain_assignment
    llm_domains = assignment if assignment is not None and assignment.method == "llm" else None
    domain_p = load_prompt("assign_domain", recipe.prompts_dir) if llm_domains is not None else None
    reqs: list[ChatRequest] = []
    for src in recipe.image_sources:
        if src.search is not None:  # as many results as the search may bring, none fetched
            from visinstruct.sources.search import planned_items

            items = itertools.islice(planned_items(src.search, catalog, src.domain), src.limit)
        else:
            items = source_items(src, path, catalog)
        for item in items:
            if item.error:
                continue
            image = item.data if item.data is not None else item.path
            domain = catalog.get(item.domain or "")
            for lang in spec.languages:
                r = caption_request(
                    cap_p,
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
            if domain is None and llm_domains is not None:  # zero-shot assignment asks no model
                reqs.append(
                    assign_domain_request(
                        domain_p,
                        catalog,
                        candidate_domains(catalog, llm_domains.domains),
                        spec.languages[0],
                        placeholder,
                        ispec.endpoint,
                    )
                )
            domain = domain or catalog[sorted(catalog)[0]]
            for lang in recipe.caption_samples.translated(recipe.caption_sample_languages):
                reqs.append(translation_request(recipe, lang, placeholder))
            for lang in recipe.languages_of(ispec):
                for itype in recipe.instruction_types:
                    seeds = domain.sample_seeds(random.Random(0), FAMILY[itype], lang, ispec.seeds_per_prompt)
                    reqs.append(
                        instruction_request(
                            instr_p,
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
    reqs.extend(_targeted(recipe, catalog))
    reqs.extend(_coded(recipe, catalog))
    return reqs


def translation_request(recipe: Any, lang: str, caption: str) -> ChatRequest:
    """A caption translation as long as it may be."""
    from visinstruct.prompts import load_prompt
    from visinstruct.stages.caption_samples import translation_request as request

    spec = recipe.caption_samples
    return request(
        load_prompt("translate_caption", recipe.prompts_dir),
        caption=caption,
        source=spec.source,
        lang=lang,
        endpoint=spec.endpoint,
        max_tokens=spec.max_tokens,
        temperature=spec.temperature,
    )


def _coded(recipe: Any, catalog: dict) -> list[ChatRequest]:
    """One request per planned image spec (its reply as long as `max_tokens` allows)."""
    if recipe.coded is None:
        return []
    from visinstruct.prompts import load_prompt
    from visinstruct.stages.coded import plan, spec_request

    prompt = load_prompt("coded", recipe.prompts_dir)
    return [spec_request(prompt, catalog[t.topic], t, recipe.coded) for t in plan(recipe, catalog)]


def _targeted(recipe: Any, catalog: dict) -> list[ChatRequest]:
    """Targeted requests as long as they may be: a full caption and typical examples."""
    from visinstruct.generate.targeted import targeted_request
    from visinstruct.loop.results import EvalRecord
    from visinstruct.prompts import load_prompt

    spec = recipe.targeted
    if spec is None:
        return []
    prompt = load_prompt("targeted", recipe.prompts_dir)
    caption = "x" * (recipe.caption.max_tokens * 4)
    example = EvalRecord("x", "x", "x" * 200, "A", "B", False, ["x" * 40] * 4)
    reqs = []
    for bench_cat, target in sorted(spec.quotas.items()):
        for _k in range(0, target.count, spec.per_request):
            reqs.append(
                targeted_request(
                    prompt,
                    category=bench_cat,
                    lang=recipe.languages_of(spec)[0],
                    domain=catalog.get(target.domain or ""),
                    context=caption,
                    examples=[example] * spec.examples,
                    count=spec.per_request,
                    endpoint=spec.endpoint,
                    max_tokens=spec.max_tokens,
                    temperature=spec.temperature,
                )
            )
    return reqs


async def estimate(recipe: Any, base: Path, run_dir: Path) -> list:
    """`Estimate` rows per endpoint and stage (see `ModelClient.estimate`)."""
    from visinstruct.models.factory import client_for

    client = client_for(recipe, run_dir, None, base, read_only=True)
    try:
        return await client.estimate(requests(recipe, base))
    finally:
        client.cache.db.close()  # read-only: nothing buffered to flush
