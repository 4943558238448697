"""Instruction stage: context + a few seed questions of the image's domain → instructions.

The same code serves every kind of context: a VLM caption of a user's image, or the
exact facts of a synthetic image. The model's structured reply becomes draft questions,
and drafts become samples exactly as the synthetic domains' do (answer letters placed
for balance, yes/no localised, deterministic ids).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from visinstruct.domains import Domain, SeedQuestion
from visinstruct.drafts import finish_all
from visinstruct.generate.schemas import SCHEMAS
from visinstruct.models import ChatRequest
from visinstruct.prompts import Prompt
from visinstruct.records import LETTERS, Sample
from visinstruct.synth.base import Question

FAMILY = {"judgement": "judgement", "multiple_choice": "choice", "short_vqa": "open", "long_vqa": "open"}


def instruction_request(
    prompt: Prompt,
    *,
    itype: str,
    lang: str,
    domain: Domain,
    context: str,
    knowledge: str | None,
    seeds: list[SeedQuestion],
    count: int,
    endpoint: str,
    max_tokens: int,
    temperature: float,
    meta: object = None,
) -> ChatRequest:
    """One request for `count` instructions of type `itype` about one image's context."""
    seed_lines = "\n".join(f"- {s.text}" for s in seeds) or "-"
    know = prompt.text("knowledge", lang=lang, text=knowledge) if knowledge else ""
    user = prompt.text(
        "context",
        lang=lang,
        domain_title=getattr(domain.title, lang),
        domain_description=getattr(domain.description, lang),
        context=context,
        knowledge=know,
        seeds=seed_lines,
    )
    task = prompt.text("task", itype, lang=lang, count=count)
    return ChatRequest(
        messages=[
            {"role": "system", "content": prompt.text("system", lang=lang)},
            {"role": "user", "content": f"{user}\n\n{task}"},
        ],
        endpoint=endpoint,
        stage=f"instructions:{itype}",
        params={"max_tokens": max_tokens, "temperature": temperature},
        schema=SCHEMAS[itype],
        meta=meta,
    )


def drafts(itype: str, value: BaseModel, category: str) -> list[Question]:
    """The model's structured reply as draft questions."""
    out: list[Question] = []
    if itype == "judgement":
        for j in value.questions:  # type: ignore[attr-defined]
            out.append(Question("judgement", category, [(j.question, "")], truth=j.answer == "yes"))
    elif itype == "multiple_choice":
        for c in value.questions:  # type: ignore[attr-defined]
            i = LETTERS.index(c.answer)
            others = [o for n, o in enumerate(c.options) if n != i]
            out.append(
                Question(
                    "multiple_choice", category, [(c.question, "")], correct=c.options[i], distractors=others
                )
            )
    elif itype == "short_vqa":
        for s in value.questions:  # type: ignore[attr-defined]
            out.append(Question("short_vqa", category, [(s.question, s.answer)], short_answer=s.answer))
    elif itype == "long_vqa":
        out.append(Question("long_vqa", category, [(r.question, r.answer) for r in value.rounds]))  # type: ignore[attr-defined]
    return out


def samples_from(
    itype: str,
    value: BaseModel,
    *,
    image_ids: list[str],
    domain: str,
    lang: str,
    index: int,
    prompt: Prompt,
    provenance: dict[str, Any],
    context: dict[str, Any],
    category: str | None = None,
) -> Iterator[Sample]:
    """Samples from one structured reply. `index` (the image's arrival order) places the
    answer letters so they are balanced over every four images; `category` defaults to the domain.

    What the model said beside each answer is kept in the sample's context (see `said`)."""
    made = finish_all(
        drafts(itype, value, category=category or domain),
        rng=random.Random(f"{image_ids[0]}:{itype}:{lang}:{prompt.ref}"),
        lang=lang,
        domain=domain,
        image_ids=image_ids,
        stream=f"llm:{prompt.ref}/{lang}",
        index=index,
        provenance={**provenance, "prompt": prompt.ref},
        context=context,
    )
    for s, extra in zip(made, said(itype, value), strict=True):
        if extra:
            s.context = {**s.context, **extra}
        yield s


def said(itype: str, value: BaseModel) -> list[dict[str, str]]:
    """Per draft, what the model said beside its answer: `explanation` (a choice's explanation,
    a judgement's reason) and, for multiple choice, `model_letter`, the letter it gave in its
    own option order (the engine places the right option elsewhere; an explanation's "the
    answer is C" speaks of the model's letters)."""
    if itype == "judgement":
        return [_explained(j.reason) for j in value.questions]  # type: ignore[attr-defined]
    if itype == "multiple_choice":
        return [{**_explained(c.explanation), "model_letter": c.answer} for c in value.questions]  # type: ignore[attr-defined]
    if itype == "long_vqa":
        return [{}]
    return [{} for _ in value.questions]  # type: ignore[attr-defined]


def _explained(text: str) -> dict[str, str]:
    text = text.strip()
    return {"explanation": text} if text else {}
