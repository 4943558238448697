"""Captions: a VLM writes a detailed caption of each source image, per caption language.

A caption is checked before anything is built on it: a refusal, a reply cut off at the
token limit, an empty or too short one is a failed unit — never cached, never stored, asked
again by the next run — and the image's instructions wait for it. What is not caption
(reasoning blocks, "Sure! Here is a detailed description:") is not stored with it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from visinstruct.generate.caption import caption_problem, caption_request, clean_caption
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.stages.base import ModelStage, Result, Subject, Unit, UnitFailed
from visinstruct.stages.context import RunContext


def known_captions(subject: Subject, ctx: RunContext) -> dict[str, tuple[str, dict]]:
    """language → (caption, its provenance) of the subject's image: this run's, else stored
    ones (a stored caption that would not pass today's checks is made again)."""
    caps = subject.info.setdefault("captions", {})
    if not subject.info.get("captions_loaded") and subject.info.get("image_id"):
        min_words = ctx.recipe.caption.min_words
        for lang, (text, data) in ctx.store.contexts_of(subject.info["image_id"], "caption").items():
            if text and clean_caption(text) == text and caption_problem(text, min_words=min_words) is None:
                caps.setdefault(lang, (text, data))
        subject.info["captions_loaded"] = True
    return caps


class CaptionStage(ModelStage):
    """One caption per image and language. Several inputs may show one image (manifest lines,
    dataset rows asking different questions of it): the first of them to reach this stage in
    a run decides the caption request (its known text and domain), so the others send the
    same request and share its reply instead of captioning the image again."""

    name = "captions"
    version = "2"  # captions are checked and cleaned before they are stored
    SHARED = 65536  # images whose caption request is remembered for the inputs after the first

    def __init__(self) -> None:
        self._first: OrderedDict[str, tuple[object, str | None]] = OrderedDict()

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None or not subject.info.get("image_id"):
            return []
        have = known_captions(subject, ctx)
        image_id = subject.info["image_id"]
        first = self._first.get(image_id)
        if first is None:
            first = self._first[image_id] = (ctx.image(image_id, subject.info), subject.info.get("domain"))
            if len(self._first) > self.SHARED:
                self._first.popitem(last=False)
        rec, domain = first
        return [
            Unit(f"{image_id}/{lang}", subject.seq, (image_id, lang, domain, rec))
            for lang in ctx.recipe.caption.languages
            if lang not in have
        ]

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        image_id, lang, domain, rec = unit.data
        spec = ctx.recipe.caption
        return caption_request(
            ctx.prompt("caption"),
            image=str(ctx.store.dir / rec.path),
            image_id=image_id,
            lang=lang,
            endpoint=spec.endpoint,
            domain=ctx.catalog.get(domain) if domain else None,
            known_text=rec.provenance.get("known_text"),
            max_tokens=spec.max_tokens,
            temperature=spec.temperature,
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        image_id, lang = unit.data[:2]
        spec = ctx.recipe.caption
        choice = ((outcome.response or {}).get("choices") or [{}])[0]
        text = clean_caption(outcome.text)
        reason = caption_problem(
            text,
            _finish_reason(outcome, choice, spec.max_tokens),
            min_words=spec.min_words,
            refusal=(choice.get("message") or {}).get("refusal"),
        )
        if reason is not None:
            raise UnitFailed(reason)
        meta = {
            "model": ctx.model(outcome.request.endpoint),
            "prompt": ctx.prompt("caption").ref,
            "request": outcome.key,
        }
        return Result(
            contexts=[(image_id, "caption", lang, text, meta)], info={"captions": {lang: (text, meta)}}
        )


def _finish_reason(outcome: Outcome, choice: dict, max_tokens: int) -> str | None:
    """Why the reply ended; "length" also when a server that names no reason spent every token."""
    finish = getattr(outcome, "finish_reason", None) or choice.get("finish_reason")
    used = ((outcome.response or {}).get("usage") or {}).get("completion_tokens")
    if finish is None and isinstance(used, int) and used >= max_tokens:
        return "length"
    return finish


class AssignDomainStage(ModelStage):
    """An LLM picks a catalog domain from the caption when the source gives none."""

    name = "domains"
    version = "2"  # 2: replies read in every common style

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        info = subject.info if subject is not None else {}
        image_id = info.get("image_id")
        if subject is None or not image_id or info.get("domain"):
            return []
        stored = ctx.store.contexts_of(image_id, "domain").get("")
        if stored and stored[0] in ctx.catalog:
            info["domain"] = stored[0]
            return []
        caps = known_captions(subject, ctx)
        for lang in ctx.recipe.caption.languages:
            if lang in caps:
                return [Unit(image_id, subject.seq, (image_id, lang, caps[lang][0]))]
        return []

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        from visinstruct.generate.schemas import domain_choice

        image_id, lang, text = unit.data
        names = sorted(ctx.catalog)
        p = ctx.prompt("assign_domain")
        listing = "\n".join(f"- {n}: {getattr(ctx.catalog[n].description, lang)}" for n in names)
        return ChatRequest(
            [
                {"role": "system", "content": p.text("system", lang=lang)},
                {"role": "user", "content": p.text("user", lang=lang, caption=text, domains=listing)},
            ],
            endpoint=ctx.recipe.instructions.endpoint,
            stage="assign_domain",
            params={"max_tokens": 50, "temperature": 0.0},
            schema=domain_choice(names),
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        image_id = unit.data[0]
        domain = outcome.value.domain
        meta = {"prompt": ctx.prompt("assign_domain").ref, "request": outcome.key}
        return Result(
            contexts=[(image_id, "domain", "", domain, meta)],
            domains=[(image_id, domain)],
            info={"domain": domain},
        )
