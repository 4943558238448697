"""A caption as a training sample: one turn, a drawn caption request → the caption.

Whoever wrote the caption (a VLM looking at a source image, an LLM translating one, a synthetic
domain describing its exact facts), the sample has the same shape: type `caption`, its kind
(`detailed` or `brief`) as its category, the request's id and the caption's makers in its
provenance. The id comes from the image, the language and the kind, so a resumed run makes
the same sample.
"""

from __future__ import annotations

from typing import Any

from visinstruct.captions.requests import CaptionRequest, RequestPool
from visinstruct.records import Sample, Turn, sample_id
from visinstruct.store import digest

VERSION = "1"  # of the sample's shape: a new one makes new ids


def caption_id(image_id: str, lang: str, text: str) -> str:
    """A stored caption's id: its image, language and text (what a translation is made from)."""
    return f"{image_id[:16]}/{lang}/{digest(text)[:12]}"


def draw_request(
    pool: RequestPool, seed: object, image_id: str, lang: str, kind: str = "detailed"
) -> CaptionRequest:
    """The caption request of one image and language: seeded by the recipe's seed and the image,
    so the same run draws the same request, and other images draw others."""
    return pool.draw(f"{seed}:{image_id}", lang, kind)


def caption_sample(
    *,
    image_ids: list[str],
    domain: str,
    lang: str,
    caption: str,
    request: CaptionRequest,
    provenance: dict[str, Any],
    context: dict[str, Any] | None = None,
    stream: str = "",
) -> Sample:
    """One caption sample: `request.text` → `caption`. `provenance` says who wrote the caption
    (generator, model, prompt); the request's id and pool are added. `stream` tells apart two
    caption samples of the same images and language (another writer, another source)."""
    sid = sample_id(*image_ids, domain, "caption", lang, request.kind, VERSION, stream)
    return Sample(
        id=sid,
        images=list(image_ids),
        domain=domain,
        type="caption",
        language=lang,
        turns=[Turn(request.text, caption)],
        category=request.kind,
        provenance={**provenance, "caption_request": request.id},
        context=dict(context or {}),
    )
