"""Instructions: an image's context + a few seed questions of its domain → the four types.

The same stage serves a VLM caption of a source image and the exact facts of a synthetic
item (`FactsStage`, for the types the recipe sends to the LLM). A unit is one
(image, type, language) request; its reply becomes draft questions and then samples
exactly as the synthetic domains' do (answer letters placed from the image's place in the
source order, yes/no localised, deterministic ids), checked by the rules as they are made.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from visinstruct.generate.instruct import FAMILY, instruction_request, samples_from
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.stages.base import ModelStage, Result, Subject, Unit, UnitFailed, made_info
from visinstruct.stages.caption import known_captions
from visinstruct.stages.context import RunContext
from visinstruct.store import digest

# sample order: synthetic items, then source images, then facts → LLM, then targeted questions
MM_SEQ, FACTS_SEQ, TARGETED_SEQ = 10**14, 2 * 10**14, 3 * 10**14
TYPE_SLOTS = ("judgement", "multiple_choice", "short_vqa", "long_vqa")

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


def mm_span(source_seq: int) -> tuple[int, int]:
    """The places in the dataset of the samples written about one source image."""
    lo = (MM_SEQ + source_seq * 8) * 1000
    return lo, lo + 8 * 1000


def facts_span(task_seq: int) -> tuple[int, int]:
    """The places of the samples an LLM wrote from one synthetic item's facts."""
    lo = (FACTS_SEQ + task_seq * 8) * 1000
    return lo, lo + 8 * 1000


def knowledge(prov: dict) -> str | None:
    """What the source knew about the image (tags, OCR text), for the prompt."""
    parts = []
    if prov.get("tags"):
        parts.append(", ".join(prov["tags"]) if isinstance(prov["tags"], list) else str(prov["tags"]))
    if prov.get("known_text"):
        parts.append(str(prov["known_text"]))
    return "; ".join(parts) or None


def own_knowledge(info: dict, prov: dict | None = None) -> str | None:
    """What this input's source knew (its own tags and text): of the subject's item, since an
    image shown by several inputs is stored once, with the provenance of one of them."""
    item = info.get("item")
    if item is not None:
        return knowledge({"tags": item.tags, "known_text": item.known_text})
    return knowledge(prov or {})


def unit_tail(known: str | None) -> str:
    """The end of an instruction unit's key: inputs of one image with different known text
    are different units (each writes from its own text); without text the key is the image's."""
    return f"/{digest(known)[:8]}" if known else ""


def caption_for(caps: dict, langs: list[str]) -> tuple[str, str | None, dict]:
    """(language, caption, its provenance): the first language of `langs` captioned."""
    for lang in langs:
        hit = caps.get(lang)
        if hit is not None and hit[0]:
            return lang, hit[0], hit[1]
    return (langs[0] if langs else "en"), None, {}


def why_not(what: str, failure: tuple[str, bool] | None) -> tuple[str, bool] | None:
    """(reason, retry) of a unit waiting on the image's failed `what`, or None."""
    if failure is None:
        return None
    error, retry = failure
    return f"not written: the image's {what} failed ({error})", retry


class _Writer(ModelStage):
    """What both instruction stages share: the request and the parse halves."""

    def _unit(self, ctx: RunContext, key: str, seq: int, info: dict[str, Any]) -> Unit:
        spec = ctx.recipe.instructions
        domain = ctx.catalog[info["seed_domain"]]
        seeds = domain.sample_seeds(
            ctx.recipe.rng(key),
            FAMILY[info["itype"]],
            info["lang"],
            spec.seeds_per_prompt,
        )
        info["seeds"] = [s.id for s in seeds]
        info["seed_objs"] = seeds
        slot = TYPE_SLOTS.index(info["itype"]) * 2 + (info["lang"] == "zh")
        return Unit(key, seq + slot, info)

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        spec, info = ctx.recipe.instructions, unit.data
        domain = ctx.catalog[info["seed_domain"]]
        return instruction_request(
            ctx.prompt("instructions"),
            itype=info["itype"],
            lang=info["lang"],
            domain=domain,
            context=info["prompt_context"],
            knowledge=info.get("knowledge"),
            seeds=info["seed_objs"],
            count=spec.per_request.get(info["itype"], 3),
            endpoint=spec.endpoint,
            max_tokens=spec.max_tokens,
            temperature=spec.temperature,
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        info = unit.data
        made = list(
            samples_from(
                info["itype"],
                outcome.value,
                image_ids=info["image_ids"],
                domain=info["domain"],
                lang=info["lang"],
                index=info["index"],
                prompt=ctx.prompt("instructions"),
                context=info["context"],
                provenance={
                    "generator": "llm/instructions",
                    "model": ctx.model(outcome.request.endpoint),
                    "endpoint": outcome.request.endpoint,
                    "seed_questions": info["seeds"],
                    "request": outcome.key,
                    "unit": unit.key,
                    **info["provenance"],
                },
            )
        )
        if not made:
            raise UnitFailed("the reply holds no usable question")
        for s in made:
            s.round = ctx.recipe.round
        res = Result(samples=made).pack(unit.seq, unit.key, ctx.make_checks)
        res.info = made_info(res.packed)  # type: ignore[arg-type]
        return res


class InstructionsStage(_Writer):
    """Instructions about a captioned source image. With per domain × type quotas the
    images are planned one after the other in source order, so the same images get them."""

    name = "instructions"
    version = "2"  # 2: replies read in every common style, answers normalised, explanations kept

    def __init__(self, ctx: RunContext) -> None:
        self.ordered = bool(ctx.recipe.instructions.quotas)  # type: ignore[misc]
        self.planned: dict[tuple[str, str], int] = {}

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        info = subject.info if subject is not None else {}
        image_id, domain = info.get("image_id"), ctx.catalog.get(info.get("domain") or "")
        if subject is None or not image_id:
            return []
        r = ctx.recipe
        types = r.instruction_types
        failed = info.get("failed") or {}
        if domain is None:  # its domain assignment (or the caption it needs) failed: so do these
            assigned = failed.get("domains") or failed.get("zero_shot_domains")
            why = why_not("domain assignment", assigned) or why_not("caption", failed.get("captions"))
            langs = r.languages_of(r.instructions) if why else []
            tail = unit_tail(own_knowledge(info))
            return [self._blocked(subject, image_id, t, lang, why, tail) for lang in langs for t in types]
        caps = known_captions(subject, ctx)
        prov = info.get("provenance")
        if prov is None:
            prov = info["provenance"] = ctx.image(image_id, info).provenance
        known = own_knowledge(info, prov)
        tail = unit_tail(known)
        units = []
        for lang in r.languages_of(r.instructions):
            cap_lang, caption, cap_meta = caption_for(caps, [lang, *r.caption.languages])
            if caption is None:
                why = why_not("caption", failed.get("captions"))
                if why:
                    units += [self._blocked(subject, image_id, itype, lang, why, tail) for itype in types]
                continue
            for itype in types:
                if not self._within_quota(r, domain.name, itype):
                    continue
                data = {
                    "itype": itype,
                    "lang": lang,
                    "seed_domain": domain.name,
                    "domain": domain.name,
                    "index": subject.seq,  # the image's place in the source order: places answer letters
                    "image_ids": [image_id],
                    "prompt_context": caption,
                    "knowledge": known,
                    "context": {"caption": caption, "caption_language": cap_lang},
                    "provenance": {
                        "source": subject.key,
                        "caption_prompt": cap_meta.get("prompt"),
                        "caption_model": cap_meta.get("model"),
                        **({"known": known} if known else {}),
                    },
                }
                key = f"mm/{image_id[:16]}/{itype}/{lang}{tail}"
                units.append(self._unit(ctx, key, MM_SEQ + subject.seq * 8, data))
        return units

    def _blocked(
        self, subject: Subject, image_id: str, itype: str, lang: str, why: tuple, tail: str = ""
    ) -> Unit:
        """A unit that cannot be written because a stage before it failed for this image: it
        fails with that reason (recorded, shown by `status`) and is planned again next run."""
        slot = TYPE_SLOTS.index(itype) * 2 + (lang == "zh")
        key = f"mm/{image_id[:16]}/{itype}/{lang}{tail}"
        return Unit(key, MM_SEQ + subject.seq * 8 + slot, {"blocked": why})

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        if "blocked" in unit.data:
            reason, retry = unit.data["blocked"]
            raise UnitFailed(reason, retry)
        return await super().make(unit, ctx)

    def _within_quota(self, r: Any, domain: str, itype: str) -> bool:
        spec = r.instructions
        expected = 1 if itype == "long_vqa" else spec.per_request.get(itype, 3)
        quota = spec.quotas.get(domain, {}).get(itype)
        if quota is not None and self.planned.get((domain, itype), 0) + expected > quota:
            return False
        self.planned[(domain, itype)] = self.planned.get((domain, itype), 0) + expected
        return True


class FactsStage(_Writer):
    """Conversations an LLM writes from a synthetic item's exact facts (`synthetic: {charts:
    {count: N, llm: [long_vqa]}}`): richer wording that stays correct."""

    name = "facts_llm"
    version = "2"  # 2: replies read in every common style, answers normalised, explanations kept

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None:
            return []
        task = subject.info["task"]
        spec = ctx.recipe.synthetic.get(task.domain)
        if spec is None or not spec.llm:
            return []
        item = subject.info.get("item_facts")
        if item is None:
            made = list(ctx.store.samples_between(task.seq * 1000, (task.seq + 1) * 1000))
            if not made:
                return []
            s = made[0][0]
            item = (s.images, s.context.get("facts", {}))
        images, facts = item
        text = json.dumps(facts, ensure_ascii=False, separators=(",", ":"))
        seed_domain = SYNTH_TO_CATALOG.get(task.domain, "complex_reasoning")
        units = []
        for itype in spec.llm:
            if itype not in TYPE_SLOTS:  # `caption`: the caption rewrite stage's
                continue
            data = {
                "itype": itype,
                "lang": task.lang,
                "seed_domain": seed_domain,
                "domain": task.domain,
                "index": task.seq,
                "image_ids": list(images),
                "prompt_context": ctx.prompt("instructions").text("facts", lang=task.lang, facts=text),
                "context": {"facts": facts},
                "provenance": {"source": f"synthetic:{task.key}", "facts_domain": seed_domain},
            }
            units.append(self._unit(ctx, f"facts/{task.key}/{itype}", FACTS_SEQ + task.seq * 8, data))
        return units
