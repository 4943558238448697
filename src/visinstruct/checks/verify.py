"""Verification against hallucination: a VLM answers each question from the image alone.

Multiple-choice and judgement answers are compared exactly (letter, yes/no); short and
long answers are compared by an LLM judge. A disagreement sends the sample to review with
both answers; it is never rejected on one model's word. Everything goes through the model
client, so verification is cached, rate-limited and costed like any other stage.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from visinstruct.checks.results import REVIEW, failed, passed
from visinstruct.models.client import ChatRequest
from visinstruct.records import Sample

LETTER = re.compile(r"(?<![A-Za-z])([ABCD])(?![A-Za-z])")
YES = re.compile(r"^\W*(yes|true|correct|是|对|正确|有)", re.I)
NO = re.compile(r"^\W*(no|not|false|incorrect|否|不|错|没有)", re.I)


class Agreement(BaseModel):
    agree: bool = Field(description="true when the candidate answer means the same as the reference")


class Score(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str = ""


JUDGE_SYSTEM = (
    "You compare answers to a question about an image. Reply with JSON only. "
    "Answers agree when they state the same facts, even in other words or languages."
)
RUBRIC = (
    "Rate this visual instruction sample from 1 (unusable) to 5 (excellent) for: the question is clear "
    "and answerable from an image; the answer is correct, complete and consistent with the question; "
    "the answer reads as if looking at the image (no talk of captions or descriptions); fluent language."
)


def letter_of(reply: str) -> str | None:
    m = LETTER.search(reply.strip()[:40]) or LETTER.search(reply)
    return m.group(1) if m else None


def yes_no_of(reply: str) -> str | None:
    text = reply.strip()
    if YES.match(text):
        return "yes"
    if NO.match(text):
        return "no"
    return None


def verify_request(
    sample: Sample, image_paths: list[str], endpoint: str, max_tokens: int = 256
) -> ChatRequest:
    """The verifier sees the image(s) and the first question, nothing else."""
    parts = [
        {"type": "image", "image": p, "sha256": i} for p, i in zip(image_paths, sample.images, strict=True)
    ]
    return ChatRequest(
        [{"role": "user", "content": [*parts, {"type": "text", "text": sample.turns[0].question}]}],
        endpoint=endpoint,
        stage="verify",
        params={"max_tokens": max_tokens, "temperature": 0.0},
        meta=sample.id,
    )


def compare(sample: Sample, reply: str) -> dict[str, Any] | None:
    """The verification result when it can be decided without a judge, else None."""
    reply = reply.strip()
    if sample.type == "multiple_choice":
        got, want = letter_of(reply), sample.answer_letter
    elif sample.type == "judgement":
        got, want = yes_no_of(reply), sample.short_answer
    else:
        if sample.short_answer and _norm(reply) == _norm(sample.short_answer):
            return passed(method="exact", answer=reply[:200])
        return None
    if got is None:
        return failed(
            f"the verifier's reply gives no clear answer: {reply[:120]!r}",
            REVIEW,
            method="exact",
            answer=reply[:200],
        )
    if got == want:
        return passed(method="exact", answer=got)
    return failed(
        f"the verifier answered {got!r}, the sample says {want!r}", REVIEW, method="exact", answer=got
    )


def judged(agree: bool, reply: str) -> dict[str, Any]:
    if agree:
        return passed(method="judge", answer=reply[:200])
    return failed(
        f"the verifier answered {reply[:120]!r}, which the judge finds different from the sample's answer",
        REVIEW,
        method="judge",
        answer=reply[:200],
    )


def judge_request(sample: Sample, reply: str, endpoint: str) -> ChatRequest:
    q, ref = sample.turns[0].question, sample.turns[0].answer
    user = f"Question: {q}\nReference answer: {ref}\nCandidate answer: {reply}\nDo they agree?"
    return ChatRequest(
        [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}],
        endpoint=endpoint,
        stage="verify:judge",
        params={"max_tokens": 50, "temperature": 0.0},
        schema=Agreement,
        meta=sample.id,
    )


def score_request(sample: Sample, image_paths: list[str], endpoint: str) -> ChatRequest:
    convo = "\n".join(f"Q: {t.question}\nA: {t.answer}" for t in sample.turns)
    parts = [
        {"type": "image", "image": p, "sha256": i} for p, i in zip(image_paths, sample.images, strict=True)
    ]
    content = [*parts, {"type": "text", "text": f"{RUBRIC}\n\n{convo}"}]
    return ChatRequest(
        [{"role": "user", "content": content}],
        endpoint=endpoint,
        stage="judge",
        params={"max_tokens": 120, "temperature": 0.0},
        schema=Score,
        meta=sample.id,
    )


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()
