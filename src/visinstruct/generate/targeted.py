"""Targeted questions for the closed loop: one image's context + some of the evaluated
model's wrong answers of one category → new multiple-choice questions of that category.

As in MLLM-DataEngine, the examples show the LLM what the model gets wrong; unlike it, a
category with no recorded mistakes still gets questions (the prompt says so), and a
malformed reply is a recorded failure of one unit, never the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from visinstruct.domains import Domain
from visinstruct.generate.instruct import samples_from
from visinstruct.generate.schemas import ChoiceSet
from visinstruct.loop.results import EvalRecord
from visinstruct.models import ChatRequest
from visinstruct.prompts import Prompt
from visinstruct.records import LETTERS, Sample


def example_lines(prompt: Prompt, examples: list[EvalRecord], lang: str) -> str:
    """The bad cases as prompt lines: question, options, the right answer, the model's answer."""
    if not examples:
        return prompt.text("no_examples", lang=lang)
    lines = []
    for e in examples:
        opts = "".join(f"\n  {LETTERS[i]}. {o}" for i, o in enumerate(e.options[: len(LETTERS)]))
        pred = (e.prediction or "").strip().replace("\n", " ")[:200] or "(nothing)"
        lines.append(
            prompt.text(
                "example",
                lang=lang,
                question=e.question.strip(),
                options=opts,
                answer=e.answer,
                prediction=pred,
            )
        )
    return "\n".join(lines)


def targeted_request(
    prompt: Prompt,
    *,
    category: str,
    lang: str,
    domain: Domain | None,
    context: str,
    examples: list[EvalRecord],
    count: int,
    endpoint: str,
    max_tokens: int,
    temperature: float,
    image: tuple[str, str] | None = None,
    meta: object = None,
) -> ChatRequest:
    """One request for `count` new questions of `category` about one image.

    `image` (path, sha256) also sends the image itself, for a vision model."""
    dom = prompt.text("domain", lang=lang, title=getattr(domain.title, lang)) if domain else ""
    user = prompt.text(
        "user",
        lang=lang,
        category=category,
        domain=dom,
        context=context,
        examples=example_lines(prompt, examples, lang),
        count=count,
    )
    content: Any = user
    if image is not None:
        content = [{"type": "text", "text": user}, {"type": "image", "image": image[0], "sha256": image[1]}]
    return ChatRequest(
        messages=[
            {"role": "system", "content": prompt.text("system", lang=lang)},
            {"role": "user", "content": content},
        ],
        endpoint=endpoint,
        stage="targeted",
        params={"max_tokens": max_tokens, "temperature": temperature},
        schema=ChoiceSet,
        meta=meta,
    )


def targeted_samples(
    value: ChoiceSet,
    *,
    category: str,
    image_ids: list[str],
    domain: str,
    lang: str,
    index: int,
    prompt: Prompt,
    provenance: dict[str, Any],
    context: dict[str, Any],
) -> Iterator[Sample]:
    """Samples from one reply; the explanation of each question is kept in its context."""
    yield from samples_from(
        "multiple_choice",
        value,
        image_ids=image_ids,
        domain=domain,
        lang=lang,
        index=index,
        prompt=prompt,
        provenance=provenance,
        context=context,
        category=category,
    )
