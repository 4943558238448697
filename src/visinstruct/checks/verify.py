"""Verification against hallucination: a VLM answers each question from the image alone.

Multiple-choice and judgement answers are compared exactly (letter, yes/no); short and
long answers are compared by an LLM judge. A disagreement sends the sample to review with
both answers; it is never rejected on one model's word. Everything goes through the model
client, so verification is cached, rate-limited and costed like any other stage.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, Field, field_validator

from visinstruct.checks.results import REVIEW, failed, passed
from visinstruct.errors import ReplyError
from visinstruct.models import replies, structured
from visinstruct.models.client import ChatRequest
from visinstruct.records import Sample

# -- reading the verifier's final answer ------------------------------------------------------------
# A verifier reasons, hedges and restates before it answers; the verdict is what it says last,
# outside its reasoning. Explicit statements ("the answer is B", "答案是B") win; else the last
# option letter (or yes/no) it states; "unsure" only when it states none.

_COPULA = r"(?:is|was|would\s+be|should\s+be|must\s+be|will\s+be|seems\s+to\s+be|=|:|-)"
_OPEN = r"[\"'*“(\[]*\s*"
LETTER_STATED = (
    re.compile(
        rf"\b(?:answer|option|choice)\s*{_COPULA}\s*:?\s*{_OPEN}(?:option\s+|choice\s+)?([A-Da-d])",
        re.I,
    ),
    re.compile(r"(?<![A-Za-z0-9])\(?([A-D])\)?\s+is\s+(?:the\s+)?(?:correct|right|best|answer)\b"),
    re.compile(rf"答案\s*(?:是|为|应为|应该是|应是|选)?\s*:?\s*{_OPEN}(?:选项)?\s*\(?([A-Da-d])"),
    re.compile(r"选(?!项)(?:择)?\s*\(?([A-D])"),
    re.compile(r"(?<![A-Za-z0-9])([A-D])\s*(?:选项)?\s*(?:是)?正确"),
)
LETTER = re.compile(r"(?<![A-Za-z0-9])([A-D])(?![A-Za-z0-9'-])")
LONE_LETTER = re.compile(r"^\W*([A-Da-d])\W*$")
NOT_BEFORE = re.compile(
    r"(?:\bnot|n't|rather\s+than|instead\s+of|except|不是|而非|排除)\s*(?:option\s+)?\(?\s*$", re.I
)
WRONG_AFTER = re.compile(
    r"^\)?\s*(?:is|was)\s+(?:wrong|incorrect|not)\b|^\)?\s*(?:是)?(?:错|不对|不正确)", re.I
)
NAMED_BEFORE = re.compile(r"(?:\boption|\bchoice|\banswer|选项)\s*\(?\s*$", re.I)
# words after a capital "A" that make it the option, not the article ("A is right", "A fits")
LETTER_VERBS = {
    "is", "was", "would", "seems", "fits", "matches", "looks", "appears", "should", "must",
    "and", "or", "because", "since", "as",
}  # fmt: skip

YN_STATED = re.compile(
    rf"\b(?:answer|verdict|conclusion|response)\s*{_COPULA}\s*:?\s*{_OPEN}(yes|no|true|false|correct|incorrect)\b",
    re.I,
)
ZH_NO = ("并不是", "不正确", "不是", "不对", "错误", "否定", "没有", "否", "错", "不", "没")
ZH_YES = ("是的", "对的", "正确", "肯定", "确实", "是", "对", "有")
ZH_TOKENS = ZH_NO + ZH_YES
ZH_STATED = re.compile(
    r"答案\s*(?:是|为|应为|应该是)?\s*:?\s*[\"'“”]?\s*("
    + "|".join(t for t in ZH_TOKENS if t not in ("不", "没"))
    + ")"
)
ZH_NOT_ANSWERS = (
    "不清楚",
    "不确定",
    "不知道",
    "无法",
    "没法",
    "不好说",
    "说不准",
    "是否",
    "对不起",
    "不能确定",
)
EN_STRONG = {"yes": "yes", "yeah": "yes", "yep": "yes", "yup": "yes", "no": "no", "nope": "no"}
EN_WEAK = {  # the last word of a short clause: "it is true", "that's correct", "there isn't"
    "true": "yes", "correct": "yes", "false": "no", "incorrect": "no", "not": "no",
    "isn't": "no", "aren't": "no", "doesn't": "no", "don't": "no",
}  # fmt: skip
EN_NOT_ANSWERS = {("no", "doubt"), ("no", "wonder"), ("no", "matter"), ("no", "idea"), ("not", "sure")}
CLAUSE = re.compile(r"[^,.;:!?\n，。；：！？、…()\[\]{}\"“”]+")


def said(reply: str | None) -> str:
    """What the reply says outside its reasoning (a block left open, as a reply cut off while
    thinking leaves it, holds no answer)."""
    body = replies.strip_reasoning(reply or "")
    return "" if body.open_reasoning else body.text


def final_text(reply: str | None) -> str:
    """What the reply says outside its reasoning, full-width forms made plain ("：" → ":")."""
    return unicodedata.normalize("NFKC", said(reply)).replace("’", "'").strip()


def _is_letter(text: str, start: int, end: int) -> bool:
    """Whether the letter at text[start:end] names an option (not the article "A", not "a bit")."""
    letter, word = text[start:end], re.match(r"\s+([a-z]+)", text[end:])
    if word is None or NAMED_BEFORE.search(text[:start]):
        return True
    if letter.islower():
        return False
    return letter != "A" or word.group(1) in LETTER_VERBS


def letter_of(reply: str | None) -> str | None:
    """The option letter the reply settles on, or None."""
    text = final_text(reply)
    lone = LONE_LETTER.match(text)
    if lone:
        return lone.group(1).upper()
    stated = [
        (m.start(1), m.group(1).upper())
        for p in LETTER_STATED
        for m in p.finditer(text)
        if _is_letter(text, m.start(1), m.end(1))
    ]
    if stated:
        return max(stated)[1]
    named = [
        m.group(1)
        for m in LETTER.finditer(text)
        if _is_letter(text, m.start(1), m.end(1))
        and not NOT_BEFORE.search(text[max(0, m.start() - 16) : m.start()])
        and not WRONG_AFTER.match(text[m.end() :])
    ]
    return named[-1] if named else None


def _clause_yes_no(clause: str, first: bool) -> str | None:
    """The yes/no a clause states: the whole clause, its last word (short clauses), or its
    first word ("Yes, …", "No …"; for Chinese, the reply's first clause only)."""
    zh = re.sub(r"[\s'\"*]+", "", clause)
    if zh and not zh.isascii():
        if any(x in zh for x in ZH_NOT_ANSWERS):
            return None
        for t in ZH_TOKENS:  # negatives first: "不是" before "是"
            if zh == t or (len(zh) <= 5 and zh.endswith(t)) or (first and zh.startswith(t)):
                return "no" if t in ZH_NO else "yes"
        return None
    words = re.findall(r"[a-z']+", clause.lower())
    if not words:
        return None
    if len(words) <= 4 and words[-1] in EN_STRONG:
        return EN_STRONG[words[-1]]
    if len(words) <= 3 and words[-1] in EN_WEAK:
        return EN_WEAK[words[-1]]
    if " ".join(words) in ("not really", "not at all"):
        return "no"
    if words[0] in EN_STRONG and tuple(words[:2]) not in EN_NOT_ANSWERS:
        return EN_STRONG[words[0]]
    return None


def yes_no_of(reply: str | None) -> str | None:
    """The yes or no the reply settles on (English or Chinese), or None."""
    text = final_text(reply)
    stated = [(m.start(1), m.group(1).lower()) for m in YN_STATED.finditer(text)]
    stated += [(m.start(1), m.group(1)) for m in ZH_STATED.finditer(text)]
    if stated:
        word = max(stated)[1]
        return "yes" if word in ("yes", "true", "correct") or word in ZH_YES else "no"
    said = None
    for n, m in enumerate(CLAUSE.finditer(text)):
        said = _clause_yes_no(m.group(0), first=n == 0) or said
    return said


def option_of(reply: str | None, options: list[str]) -> str | None:
    """The letter of the one option whose text the reply names, when it names no letter."""
    text = _norm(final_text(reply))
    texts = [_norm(re.sub(r"^\(?[A-D][.):、]\s*", "", o.strip())) for o in options]
    hits = [i for i, t in enumerate(texts) if t and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", text)]
    hits = [i for i in hits if not any(j != i and texts[i] in texts[j] for j in hits)]
    return "ABCD"[hits[0]] if len(hits) == 1 and hits[0] < 4 else None


class Agreement(BaseModel):
    agree: bool = Field(description="true when the candidate answer means the same as the reference")

    @field_validator("agree", mode="before")
    @classmethod
    def _said(cls, v: Any) -> Any:
        """A judge writes its verdict in words too ("yes", "是", "disagree")."""
        if isinstance(v, str):
            said = agreement_in_words(v)
            if said is None:
                raise ValueError(f"neither agree nor disagree: {v[:40]!r}")
            return said
        return v

    @classmethod
    def from_text(cls, text: str) -> dict | None:
        """A verdict written in words instead of JSON ("Yes.", "是", "They disagree.")."""
        said = agreement_in_words(text)
        return None if said is None else {"agree": said}


class Score(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str = ""

    @field_validator("score", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        """A score written as text ("4/5", "4分") is its leading number."""
        if isinstance(v, str):
            m = re.match(r"\s*(\d+)", unicodedata.normalize("NFKC", v))
            return int(m.group(1)) if m else v
        return v


JUDGE_SYSTEM = (
    "You compare answers to a question about an image. Reply with JSON only. "
    "Answers agree when they state the same facts, even in other words or languages."
)
JUDGE_IN_WORDS = (
    "You compare answers to a question about an image. "
    "Answers agree when they state the same facts, even in other words or languages. "
    "Reply with one word: yes if they agree, no if they do not."
)
RUBRIC = (
    "Rate this visual instruction sample from 1 (unusable) to 5 (excellent) for: the question is clear "
    "and answerable from an image; the answer is correct, complete and consistent with the question; "
    "the answer reads as if looking at the image (no talk of captions or descriptions); fluent language."
)


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
    said = final_text(reply)
    if sample.type == "multiple_choice":
        got, want = letter_of(said) or option_of(said, sample.options), sample.answer_letter
    elif sample.type == "judgement":
        got, want = yes_no_of(said), sample.short_answer
    else:
        if sample.short_answer and _norm(said) == _norm(sample.short_answer):
            return passed(method="exact", answer=said[:200])
        return None
    if got is None:
        return failed(
            f"the verifier's reply gives no clear answer: {said[:120]!r}",
            REVIEW,
            method="exact",
            answer=said[:200],
        )
    if got == want:
        return passed(method="exact", answer=got)
    return failed(
        f"the verifier answered {got!r}, the sample says {want!r}", REVIEW, method="exact", answer=got
    )


def judged(agree: bool, reply: str) -> dict[str, Any]:
    said = final_text(reply)
    if agree:
        return passed(method="judge", answer=said[:200])
    return failed(
        f"the verifier answered {said[:120]!r}, which the judge finds different from the sample's answer",
        REVIEW,
        method="judge",
        answer=said[:200],
    )


AGREE = re.compile(r"\b(?:agree|agrees|same|match|matches|consistent)\b|一致|相同|相符", re.I)
DISAGREE = re.compile(
    r"\b(?:disagree|disagrees|differ|differs|different|inconsistent|do\s+not\s+agree|don't\s+agree"
    r"|does\s+not\s+match)\b|不一致|不同|不相同|不符",
    re.I,
)


def agreement_in_words(text: str) -> bool | None:
    """True/False as a verdict in words says it: yes/no (en, zh), else agree/disagree; or None."""
    said = yes_no_of(text)
    if said is not None:
        return said == "yes"
    text = final_text(text)
    if DISAGREE.search(text):
        return False
    return True if AGREE.search(text) else None


def read_agreement(outcome: Any) -> bool:
    """The verdict of a judge asked to reply in words: yes/no, agree/disagree, or the JSON it
    may write all the same (read by the structured reader)."""
    text = final_text(outcome.text)
    value, _why = structured.parse(text, Agreement)
    if value is not None:
        return bool(value.agree)  # type: ignore[attr-defined]
    said = agreement_in_words(text)
    if said is None:
        raise ReplyError(f"the judge's reply says neither agree nor disagree: {text[:120]!r}")
    return said


def judge_request(sample: Sample, reply: str, endpoint: str, in_words: bool = False) -> ChatRequest:
    """The judge's request: for JSON (`Agreement`) first; `in_words` for a judge that will
    not write the JSON asked for (its reply is read by `read_agreement`)."""
    q, ref = sample.turns[0].question, sample.turns[0].answer
    candidate = said(reply)
    user = f"Question: {q}\nReference answer: {ref}\nCandidate answer: {candidate}\nDo they agree?"
    return ChatRequest(
        [
            {"role": "system", "content": JUDGE_IN_WORDS if in_words else JUDGE_SYSTEM},
            {"role": "user", "content": user},
        ],
        endpoint=endpoint,
        stage="verify:judge",
        params={"max_tokens": 50, "temperature": 0.0},
        schema=None if in_words else Agreement,
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
