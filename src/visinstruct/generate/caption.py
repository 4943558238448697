"""Caption stage: a VLM writes a detailed caption of each image (en, zh or both)."""

from __future__ import annotations

import re

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


_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry,|i can(not|'t)|i am unable|i'm unable|as an ai"
    r"|抱歉|对不起|我无法|我不能)",
    re.I,
)
_PAIRS = (("{", "}"), ("[", "]"), ("(", ")"), ("“", "”"), ("（", "）"))


def caption_problem(text: str | None, finish_reason: str | None = None) -> str | None:
    """Why a caption reply cannot be stored as the image's caption, or None.

    Empty, cut off at the token limit, a refusal, or broken text (unbalanced brackets or
    quotes, as a reply garbled in transit or by a failing model leaves it)."""
    t = (text or "").strip()
    if not t:
        return "empty caption"
    if finish_reason == "length":
        return "the caption was cut off at the token limit (finish_reason: length)"
    if _REFUSAL.match(t):
        return f"the model refused: {t[:80]!r}"
    for a, b in _PAIRS:
        if t.count(a) != t.count(b):
            return f"broken text: unbalanced {a}{b} in {t[:80]!r}"
    if t.count('"') % 2:
        return f'broken text: an unclosed " in {t[:80]!r}'
    return None
