"""Caption stage: a VLM writes a detailed caption of each image (en, zh or both); an LLM translates one."""

from __future__ import annotations

import re

from visinstruct.checks.captions import opening_refusal
from visinstruct.checks.rules import units
from visinstruct.domains import Domain
from visinstruct.models import ChatRequest, replies
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


# what a chat model says around a caption: "Sure!", "Here is a detailed description:", "以下是…："
_PREAMBLE = (
    re.compile(r"^(?:sure|certainly|of course|absolutely|okay|ok|alright|great)[!.,:]+\s*", re.I),
    re.compile(
        r"^(?:here\s+is|here's|here\s+are|below\s+is|the\s+following\s+is)\b[^\n:]{0,80}?"
        r"(?:description|caption|overview|summary|breakdown|look|translation)\b[^\n:]{0,40}:\s*",
        re.I,
    ),
    re.compile(r"^(?:好的|当然|没问题|可以)[!！,，.。:：]+\s*"),
    re.compile(r"^(?:以下是|下面是|这是)[^\n:：]{0,40}?(?:描述|说明|介绍|翻译|译文)[^\n:：]{0,10}[:：]\s*"),
    re.compile(
        r"^[*#\s]*(?:image description|description|caption|translation|图像描述|图片描述|描述|译文|翻译)"
        r"[*\s]*[:：][*\s]*",
        re.I,
    ),
)
_CLOSING = re.compile(
    r"\s*(?:let me know|i hope this|feel free to|if you (?:need|have|want)"
    r"|希望(?:这|以上)|如(?:果)?(?:您|你)还)[^\n]*$",
    re.I,
)
_PAIRS = (("{", "}"), ("[", "]"), ("(", ")"), ("“", "”"), ("（", "）"))


def clean_caption(text: str | None) -> str:
    """The caption without what is not one: reasoning blocks (a block left open holds no
    caption), greetings and preambles before it, offers of more help after it."""
    body = replies.strip_reasoning(text or "")
    t = "" if body.open_reasoning else body.text
    changed = True
    while changed:
        before = t
        for p in _PREAMBLE:
            t = p.sub("", t, count=1).lstrip()
        t = _CLOSING.sub("", t).rstrip()
        changed = t != before
    return t


def caption_problem(
    text: str | None,
    finish_reason: str | None = None,
    *,
    min_words: int = 0,
    refusal: str | None = None,
) -> str | None:
    """Why a (cleaned) caption reply cannot be stored as the image's caption, or None.

    Refused (in `message.refusal` or in so many words), cut off at the token limit, empty or
    shorter than `min_words`, or broken text (unbalanced brackets or quotes, as a reply garbled
    in transit or by a failing model leaves it)."""
    if refusal:
        return f"the model refused: {refusal[:80]!r}"
    if finish_reason == "length":
        return "the caption was cut off at the token limit (finish_reason: length)"
    t = (text or "").strip()
    if not t:
        return "empty caption"
    if opening_refusal(t):
        return f"the model refused: {t[:80]!r}"
    for a, b in _PAIRS:
        if t.count(a) != t.count(b):
            return f"broken text: unbalanced {a}{b} in {t[:80]!r}"
    if t.count('"') % 2:
        return f'broken text: an unclosed " in {t[:80]!r}'
    if units(t) < min_words:
        return f"the caption is too short ({units(t)} words, at least {min_words} wanted): {t[:80]!r}"
    return None
