"""Verification against hallucination: a VLM answers each question from the image alone.

Multiple-choice and judgement answers are compared exactly (letter, yes/no); short and
long answers are compared by an LLM judge. A disagreement sends the sample to review with
both answers; it is never rejected on one model's word. Everything goes through the model
client, so verification is cached, rate-limited and costed like any other stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from visinstruct.checks import REVIEW, failed, passed
from visinstruct.models import ChatRequest, ModelClient
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


def _image_parts(sample: Sample, store: Any) -> list[dict]:
    return [{"type": "image", "image": str(store.image_path(i)), "sha256": i} for i in sample.images]


def verify_requests(
    samples: Iterable[Sample], store: Any, endpoint: str, types: set[str], max_tokens: int = 256
) -> list[ChatRequest]:
    """One request per sample to verify: its image(s) and its first question, nothing else."""
    reqs = []
    for s in samples:
        if s.type not in types or s.provenance.get("generator", "").startswith("synth/"):
            continue
        content = [*_image_parts(s, store), {"type": "text", "text": s.turns[0].question}]
        reqs.append(
            ChatRequest(
                [{"role": "user", "content": content}],
                endpoint=endpoint,
                stage="verify",
                params={"max_tokens": max_tokens, "temperature": 0.0},
                meta=s.id,
            )
        )
    return reqs


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


def score_request(sample: Sample, store: Any, endpoint: str) -> ChatRequest:
    convo = "\n".join(f"Q: {t.question}\nA: {t.answer}" for t in sample.turns)
    content = [*_image_parts(sample, store), {"type": "text", "text": f"{RUBRIC}\n\n{convo}"}]
    return ChatRequest(
        [{"role": "user", "content": content}],
        endpoint=endpoint,
        stage="judge",
        params={"max_tokens": 120, "temperature": 0.0},
        schema=Score,
        meta=sample.id,
    )


async def verify(
    samples: dict[str, Sample],
    store: Any,
    client: ModelClient,
    *,
    endpoint: str,
    judge_endpoint: str | None,
    types: set[str],
) -> dict[str, int]:
    """Record `checks["verify"]` on every verifiable sample; returns agree/disagree/unsure counts."""
    counts = {"agree": 0, "disagree": 0, "unsure": 0, "failed": 0}
    to_judge: list[tuple[Sample, str]] = []
    async for _, out in client.stream(verify_requests(samples.values(), store, endpoint, types)):
        s = samples[out.request.meta]
        if not out.ok:
            s.checks["verify"] = failed(f"verification request failed: {out.error}", REVIEW, method="vlm")
            counts["failed"] += 1
            continue
        reply = (out.text or "").strip()
        if s.type == "multiple_choice":
            got, want = letter_of(reply), s.answer_letter
        elif s.type == "judgement":
            got, want = yes_no_of(reply), s.short_answer
        else:
            if s.short_answer and _norm(reply) == _norm(s.short_answer):
                s.checks["verify"] = passed(method="exact", answer=reply[:200])
                counts["agree"] += 1
            else:
                to_judge.append((s, reply))
            continue
        if got is None:
            s.checks["verify"] = failed(
                f"the verifier's reply gives no clear answer: {reply[:120]!r}",
                REVIEW,
                method="exact",
                answer=reply[:200],
            )
            counts["unsure"] += 1
        elif got == want:
            s.checks["verify"] = passed(method="exact", answer=got)
            counts["agree"] += 1
        else:
            s.checks["verify"] = failed(
                f"the verifier answered {got!r}, the sample says {want!r}", REVIEW, method="exact", answer=got
            )
            counts["disagree"] += 1
    if to_judge:
        judge = judge_endpoint or endpoint
        replies = {s.id: reply for s, reply in to_judge}
        async for _, out in client.stream(judge_request(s, r, judge) for s, r in to_judge):
            s = samples[out.request.meta]
            reply = replies[s.id]
            if not out.ok:
                s.checks["verify"] = failed(
                    f"the judge failed: {out.error}", REVIEW, method="judge", answer=reply[:200]
                )
                counts["failed"] += 1
            elif out.value.agree:
                s.checks["verify"] = passed(method="judge", answer=reply[:200])
                counts["agree"] += 1
            else:
                s.checks["verify"] = failed(
                    f"the verifier answered {reply[:120]!r}, which the judge finds "
                    "different from the sample's answer",
                    REVIEW,
                    method="judge",
                    answer=reply[:200],
                )
                counts["disagree"] += 1
    return counts


async def score(
    samples: dict[str, Sample], store: Any, client: ModelClient, *, endpoint: str, min_score: int
) -> int:
    """Optional LLM-judge score (1–5) on a rubric; below `min_score` goes to review."""
    n = 0
    reqs = [score_request(s, store, endpoint) for s in samples.values() if s.status != "rejected"]
    async for _, out in client.stream(reqs):
        s = samples[out.request.meta]
        if out.ok:
            sc = out.value.score
            s.checks["judge"] = (
                passed(score=sc)
                if sc >= min_score
                else failed(f"judge score {sc} < {min_score}: {out.value.reason[:160]}", REVIEW, score=sc)
            )
            n += 1
    return n


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()
