"""Caption samples: each source image's caption becomes a training sample (`caption` in the
recipe's `types`), one per image and language of `caption_samples.languages`.

The instruction is a caption request drawn from a pool (`captions/requests.yaml`, or the file
`caption_samples.pool` names), seeded by the recipe's seed and the image, so a resumed run draws
the same one; the answer is the caption. A language said `direct` takes the VLM's own caption in
it (the caption stage is asked for every such language); one said `translate` takes the LLM's
translation of the `source` language's caption, stored beside the captions (context kind
`caption_translation`) and recorded in the sample's provenance: model, prompt, the id of the
caption it was made from. A translation that is refused, cut off or empty fails its unit (never
cached, asked again by the next run); what a translation or a caption gets wrong in content
(length, talk as a model, language, a near-copy of another image's caption) is for the checks,
which send the sample to review.

A caption sample's domain is its image's (`image_description` when the recipe assigns none and
the source names none). Several inputs may show one image: the first of them to reach this stage
in a run makes the image's caption samples.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import Any

from visinstruct.captions.requests import BUNDLED, CaptionRequestError, RequestPool, load_pool
from visinstruct.captions.samples import caption_id, caption_sample, draw_request
from visinstruct.generate.caption import caption_problem, clean_caption
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.stages.base import ModelStage, Result, Subject, Unit, UnitFailed, made_info
from visinstruct.stages.caption import finish_reason, known_captions
from visinstruct.stages.context import RunContext
from visinstruct.stages.instructions import MM_SEQ, why_not

#: Where an image's caption samples go among its samples: after its long VQA of the same
#: language (slots 6 and 7 of `mm_span`), numbered from 900 (a unit makes at most 50).
SLOT = {"en": 6, "zh": 7}
START = 900
KIND = "caption_translation"  # context kind of a stored translation
UNSORTED = "image_description"  # the domain of an image's caption samples when it has none


def translation_request(
    prompt: Any,
    *,
    caption: str,
    source: str,
    lang: str,
    endpoint: str,
    max_tokens: int,
    temperature: float,
    meta: object = None,
) -> ChatRequest:
    """The LLM request translating one caption from `source` into `lang`."""
    name = prompt.text("language", source, lang=lang)
    return ChatRequest(
        [
            {"role": "system", "content": prompt.text("system", lang=lang)},
            {"role": "user", "content": prompt.text("user", lang=lang, source=name, caption=caption)},
        ],
        endpoint=endpoint,
        stage="translate_caption",
        params={"max_tokens": max_tokens, "temperature": temperature},
        meta=meta,
    )


def pool_for(ctx: RunContext) -> RequestPool:
    """The recipe's caption request pool, checked to hold its kind in every caption language."""
    spec = ctx.recipe.caption_samples
    pool = load_pool(None if spec.pool == BUNDLED else ctx.path(spec.pool))
    for lang in ctx.recipe.caption_sample_languages:
        if not pool.templates.get((spec.kind, lang)):
            raise CaptionRequestError(
                f"{pool.source}: no {spec.kind} caption requests in language {lang!r} "
                "(caption_samples.languages asks for it)"
            )
    return pool


class CaptionSamplesStage(ModelStage):
    """One caption sample per source image and language; see the module docstring."""

    name = "caption_samples"
    version = "1"
    SEEN = 65536  # images whose caption samples this run planned (another input of one is skipped)

    def __init__(self, ctx: RunContext) -> None:
        self.pool = pool_for(ctx)
        self.langs = ctx.recipe.caption_sample_languages
        self.ordered = bool(ctx.recipe.caption_samples.quotas)  # type: ignore[misc]
        self.planned: Counter[str] = Counter()
        self._seen: OrderedDict[str, None] = OrderedDict()

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        info = subject.info if subject is not None else {}
        image_id = info.get("image_id")
        if subject is None or not image_id or image_id in self._seen:
            return []
        self._seen[image_id] = None
        if len(self._seen) > self.SEEN:
            self._seen.popitem(last=False)
        spec, failed = ctx.recipe.caption_samples, info.get("failed") or {}
        domain = ctx.catalog.get(info.get("domain") or "")
        if domain is None and ctx.recipe.domain_assignment is None:  # none is coming: a caption's own
            domain = ctx.catalog.get(UNSORTED)
        units = []
        for lang in self.langs:
            key = f"caption/{image_id[:16]}/{lang}"
            seq = MM_SEQ + subject.seq * 8 + SLOT.get(lang, 7)
            if domain is None:  # its domain assignment (or the caption it needs) failed: so does this
                assigned = failed.get("domains") or failed.get("zero_shot_domains")
                why = why_not("domain assignment", assigned) or why_not("caption", failed.get("captions"))
                if why:
                    units.append(Unit(key, seq, {"blocked": why}))
                continue
            translate = spec.mode(lang) == "translate"
            src = spec.source if translate else lang
            hit = known_captions(subject, ctx).get(src)
            if hit is None or not hit[0]:
                why = why_not("caption", failed.get("captions"))
                if why:
                    units.append(Unit(key, seq, {"blocked": why}))
                continue
            quota = spec.quotas.get(lang)  # type: ignore[call-overload]
            if quota is not None and self.planned[lang] >= quota:
                continue
            self.planned[lang] += 1
            text, meta = hit
            data = {
                "image_id": image_id,
                "lang": lang,
                "source_lang": src,
                "caption": text,
                "caption_meta": meta,
                "domain": domain.name,
                "source": subject.key,
                "translate": translate,
            }
            units.append(Unit(key, seq, data))
        return units

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        d = unit.data
        if "blocked" in d:
            reason, retry = d["blocked"]
            raise UnitFailed(reason, retry)
        if d["translate"]:
            return await super().make(unit, ctx)  # request → the LLM → parse
        return self._result(unit, ctx, d["caption"])

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        d, spec = unit.data, ctx.recipe.caption_samples
        return translation_request(
            ctx.prompt("translate_caption"),
            caption=d["caption"],
            source=d["source_lang"],
            lang=d["lang"],
            endpoint=spec.endpoint,
            max_tokens=spec.max_tokens,
            temperature=spec.temperature,
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        d, spec = unit.data, ctx.recipe.caption_samples
        choice = ((outcome.response or {}).get("choices") or [{}])[0]
        text = clean_caption(outcome.text)
        reason = caption_problem(
            text,
            finish_reason(outcome, choice, spec.max_tokens),
            min_words=ctx.recipe.caption.min_words,
            refusal=(choice.get("message") or {}).get("refusal"),
        )
        if reason is not None:
            raise UnitFailed(f"translation: {reason}")
        translation = {
            "model": ctx.model(outcome.request.endpoint),
            "endpoint": outcome.request.endpoint,
            "prompt": ctx.prompt("translate_caption").ref,
            "request": outcome.key,
            "from": d["source_lang"],
            "source_caption": caption_id(d["image_id"], d["source_lang"], d["caption"]),
        }
        return self._result(unit, ctx, text, translation)

    def _result(self, unit: Unit, ctx: RunContext, text: str, translation: dict | None = None) -> Result:
        d, spec = unit.data, ctx.recipe.caption_samples
        image_id, lang, meta = d["image_id"], d["lang"], d["caption_meta"] or {}
        request = draw_request(self.pool, ctx.recipe.seed, image_id, lang, spec.kind)
        provenance: dict[str, Any] = {
            "generator": "llm/caption_translation" if translation else "vlm/caption",
            "source": d["source"],
            "unit": unit.key,
            "caption_model": meta.get("model"),
            "caption_prompt": meta.get("prompt"),
            "caption_id": caption_id(image_id, d["source_lang"], d["caption"]),
            "caption_request_pool": spec.pool,
        }
        context: dict[str, Any] = {"caption_language": d["source_lang"]}
        contexts = []
        if translation is not None:
            provenance["translation"] = translation
            context["source_caption"] = d["caption"]
            contexts.append((image_id, KIND, lang, text, translation))
        s = caption_sample(
            image_ids=[image_id],
            domain=d["domain"],
            lang=lang,
            caption=text,
            request=request,
            provenance=provenance,
            context=context,
        )
        s.round = ctx.recipe.round
        res = Result(samples=[s], contexts=contexts).pack(unit.seq, unit.key, ctx.make_checks, START)
        res.info = made_info(res.packed)  # type: ignore[arg-type]
        return res
