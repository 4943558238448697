"""What the instruction stage asks the model to return, one schema per instruction type."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, create_model


class Judgement(BaseModel):
    question: str = Field(description="a yes/no question about the image")
    answer: Literal["yes", "no"]
    reason: str = Field(default="", description="one sentence")


class JudgementSet(BaseModel):
    questions: list[Judgement] = Field(min_length=2)


class Choice(BaseModel):
    question: str
    options: list[str] = Field(min_length=4, max_length=4, description="4 distinct options, without letters")
    answer: Literal["A", "B", "C", "D"]
    explanation: str = ""


class ChoiceSet(BaseModel):
    questions: list[Choice] = Field(min_length=1)


class Short(BaseModel):
    question: str
    answer: str = Field(description="a word, a number or a short phrase")


class ShortSet(BaseModel):
    questions: list[Short] = Field(min_length=1)


class Round(BaseModel):
    question: str
    answer: str = Field(description="several sentences, explaining the reasoning")


class Conversation(BaseModel):
    rounds: list[Round] = Field(min_length=2)


SCHEMAS: dict[str, type[BaseModel]] = {
    "judgement": JudgementSet,
    "multiple_choice": ChoiceSet,
    "short_vqa": ShortSet,
    "long_vqa": Conversation,
}


def domain_choice(names: list[str]) -> type[BaseModel]:
    """A schema whose only field is one of the catalog's domain names (one class per catalog)."""
    return _domain_choice(tuple(names))


@cache
def _domain_choice(names: tuple[str, ...]) -> type[BaseModel]:
    return create_model("DomainChoice", domain=(Literal[names], ...))  # type: ignore[valid-type]
