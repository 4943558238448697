"""Caption stage: a VLM writes a detailed caption of each image (en, zh or both)."""

from __future__ import annotations

from visinstruct.domains import Domain
from visinstruct.models import ChatRequest
from visinstruct.prompts import Prompt


def caption_request(
    prompt: Prompt,
    *,
    image: str,
    image_id: str,
    lang: str,
    endpoint: str,
    domain: Domain | None,
    known_text: str | None,
    max_tokens: int,
    temperature: float,
    meta: object = None,
) -> ChatRequest:
    """The request for one caption. Known text (OCR, tags) and the domain's hints go in the prompt."""
    hints = (
        prompt.text("hints", lang=lang, caption_hints=getattr(domain.caption_hints, lang)) if domain else ""
    )
    known = prompt.text("known_text", lang=lang, text=known_text) if known_text else ""
    user = prompt.text("user", lang=lang, hints=hints, known_text=known)
    return ChatRequest(
        messages=[
            {"role": "system", "content": prompt.text("system", lang=lang)},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": user},
                    {"type": "image", "image": image, "sha256": image_id},
                ],
            },
        ],
        endpoint=endpoint,
        stage="caption",
        params={"max_tokens": max_tokens, "temperature": temperature},
        meta=meta,
    )
