"""Captions: a VLM writes a detailed caption of each source image, per caption language; and
the domain of an image its source names none for (an LLM reading the caption, or zero-shot by
embedding).

A caption is checked before anything is built on it: a refusal, a reply cut off at the
token limit, an empty or too short one is a failed unit — never cached, never stored, asked
again by the next run — and the image's instructions wait for it. What is not caption
(reasoning blocks, "Sure! Here is a detailed description:") is not stored with it."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from visinstruct.generate.caption import caption_problem, caption_request, clean_caption
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.stages.base import ModelStage, Result, Stage, Subject, Unit, UnitFailed
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
            finish_reason(outcome, choice, spec.max_tokens),
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


def finish_reason(outcome: Outcome, choice: dict, max_tokens: int) -> str | None:
    """Why the reply ended; "length" also when a server that names no reason spent every token."""
    finish = getattr(outcome, "finish_reason", None) or choice.get("finish_reason")
    used = ((outcome.response or {}).get("usage") or {}).get("completion_tokens")
    if finish is None and isinstance(used, int) and used >= max_tokens:
        return "length"
    return finish


def candidate_domains(catalog: dict, domains: list[str] | None) -> list[str]:
    """The names an image's domain is chosen from: `domains` (as given) or the whole catalog."""
    return list(domains) if domains else sorted(catalog)


def assign_domain_request(
    prompt: Any, catalog: dict, names: list[str], lang: str, caption: str, endpoint: str, meta: Any = None
) -> ChatRequest:
    """The LLM request choosing one of `names` for an image from its caption."""
    from visinstruct.generate.schemas import domain_choice

    listing = "\n".join(f"- {n}: {getattr(catalog[n].description, lang)}" for n in names)
    return ChatRequest(
        [
            {"role": "system", "content": prompt.text("system", lang=lang)},
            {"role": "user", "content": prompt.text("user", lang=lang, caption=caption, domains=listing)},
        ],
        endpoint=endpoint,
        stage="assign_domain",
        params={"max_tokens": 50, "temperature": 0.0},
        schema=domain_choice(names),
        meta=meta,
    )


def stored_domain(subject: Subject, ctx: RunContext, names: list[str]) -> bool:
    """Whether the subject's image has a domain stored by an earlier run (one of `names`);
    then it is the subject's domain."""
    stored = ctx.store.contexts_of(subject.info["image_id"], "domain").get("")
    if stored and stored[0] in ctx.catalog and stored[0] in names:
        subject.info["domain"] = stored[0]
        return True
    return False


def needs_domain(subject: Subject | None) -> bool:
    info = subject.info if subject is not None else {}
    return subject is not None and bool(info.get("image_id")) and not info.get("domain")


class AssignDomainStage(ModelStage):
    """An LLM picks a catalog domain from the caption when the source gives none."""

    name = "domains"
    version = "2"  # 2: replies read in every common style

    def __init__(self, domains: list[str] | None = None) -> None:
        self.domains = domains

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if not needs_domain(subject):
            return []
        assert subject is not None
        image_id = subject.info["image_id"]
        if stored_domain(subject, ctx, candidate_domains(ctx.catalog, self.domains)):
            return []
        caps = known_captions(subject, ctx)
        for lang in ctx.recipe.caption.languages:
            if lang in caps:
                return [Unit(image_id, subject.seq, (image_id, lang, caps[lang][0]))]
        return []

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        image_id, lang, text = unit.data
        return assign_domain_request(
            ctx.prompt("assign_domain"),
            ctx.catalog,
            candidate_domains(ctx.catalog, self.domains),
            lang,
            text,
            ctx.recipe.instructions.endpoint,
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        image_id = unit.data[0]
        domain = outcome.value.domain
        meta = {"method": "llm", "prompt": ctx.prompt("assign_domain").ref, "request": outcome.key}
        return Result(
            contexts=[(image_id, "domain", "", domain, meta)],
            domains=[(image_id, domain)],
            info={"domain": domain},
        )


class ZeroShotDomainStage(Stage):
    """A catalog domain for an image the source gives none, without a model request: the
    image's embedding (the recipe's `embed:` model) against each candidate domain's text (the
    `zero_shot_domain` prompt: its title and description), the most similar taken. The texts
    are embedded once per run; images are embedded in batches gathered across the images in
    flight (the embedding cache keeps each image's vector for later stages and runs). The
    stored domain records the method, the model, the prompt, the cosine and the runner-up."""

    name = "zero_shot_domains"
    version = "1"
    QUIET = 0.02  # seconds without a new image before a partial batch is embedded

    def __init__(self, domains: list[str] | None = None, language: str = "en") -> None:
        self.domains, self.language = domains, language
        self._texts: tuple[list[str], Any] | None = None  # (names, unit vectors)
        self._queue: list[tuple[str, str, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lock: asyncio.Lock | None = None

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if not needs_domain(subject):
            return []
        assert subject is not None
        if stored_domain(subject, ctx, candidate_domains(ctx.catalog, self.domains)):
            return []
        image_id = subject.info["image_id"]
        return [Unit(image_id, subject.seq, (image_id, ctx.image_path(image_id, subject.info)))]

    def domain_texts(self, ctx: RunContext) -> tuple[list[str], list[str]]:
        """(names, the text embedded for each)."""
        p = ctx.prompt("zero_shot_domain")
        names = candidate_domains(ctx.catalog, self.domains)
        texts = []
        for n in names:
            d = ctx.catalog[n]
            lang = self.language
            texts.append(
                p.text(
                    "text", lang=lang, title=getattr(d.title, lang), description=getattr(d.description, lang)
                )
            )
        return names, texts

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        image_id, path = unit.data
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._queue.append((image_id, path, fut))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        embedder = ctx.embedder
        if embedder is not None and len(self._queue) >= embedder.batch_size:
            asyncio.ensure_future(self._flush(ctx))
        else:
            self._timer = loop.call_later(self.QUIET, lambda: asyncio.ensure_future(self._flush(ctx)))
        domain, meta = await fut
        return Result(
            contexts=[(image_id, "domain", "", domain, meta)],
            domains=[(image_id, domain)],
            info={"domain": domain},
        )

    async def _flush(self, ctx: RunContext) -> None:
        """Embed the queued images (in a thread: the event loop goes on) and answer each."""
        items, self._queue = self._queue, []
        if not items:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one batch at a time through the one embedder
            try:
                answers = await asyncio.to_thread(self._assign, ctx, items)
            except Exception as e:
                for _, _, f in items:
                    if not f.done():
                        f.set_exception(e)
                return
        for (_, _, f), answer in zip(items, answers, strict=True):
            if f.done():
                continue
            if isinstance(answer, str):
                f.set_exception(UnitFailed(answer, retry=False))
            else:
                f.set_result(answer)

    def _assign(self, ctx: RunContext, items: list[tuple[str, str, Any]]) -> list[Any]:
        import numpy as np

        embedder = ctx.embedder
        if embedder is None:
            raise UnitFailed("zero-shot domain assignment needs the recipe's `embed:` model", retry=False)
        if self._texts is None:
            names, texts = self.domain_texts(ctx)
            self._texts = (names, embedder.embed_texts(texts))
        names, text_vectors = self._texts
        prompt = ctx.prompt("zero_shot_domain").ref
        out: list[Any] = []
        results = embedder.iter_images([p for _, p, _ in items], [i for i, _, _ in items])
        for r in results:
            if r.vector is None:
                out.append(f"zero-shot domain: {r.error or 'the image could not be embedded'}")
                continue
            scores = text_vectors @ r.vector
            order = np.argsort(-scores, kind="stable")  # the first of equal scores: catalog order
            best = int(order[0])
            meta = {
                "method": "zero_shot",
                "model": embedder.name,
                "prompt": prompt,
                "language": self.language,
                "score": round(float(scores[best]), 4),
            }
            if len(order) > 1:
                meta["runner_up"] = names[int(order[1])]
                meta["runner_up_score"] = round(float(scores[int(order[1])]), 4)
            out.append((names[best], meta))
        return out
