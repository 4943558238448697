"""What the instruction stage asks the model to return, one schema per instruction type.

Answers are read the way models write them before they are validated (`visinstruct.answers`):
option texts lose the letters a model put in front of them, an answer letter may come as
"(B)", "Option B", "选B" or the option's text, yes/no as "Yes.", "是的" or "不对". What cannot
be read for certain ("A or B", "maybe") fails validation, so the reply is repaired or failed.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, field_validator

from visinstruct.answers import answer_letter, unlettered_options, yes_no


def _text_or_empty(value: Any) -> Any:
    """An explanation the model left out as null is an empty one."""
    return "" if value is None else value


class Judgement(BaseModel):
    question: str = Field(description="a yes/no question about the image")
    answer: Literal["yes", "no"]
    reason: str = Field(default="", description="one sentence")

    _answer = field_validator("answer", mode="before")(yes_no)
    _reason = field_validator("reason", mode="before")(_text_or_empty)


class JudgementSet(BaseModel):
    questions: list[Judgement] = Field(min_length=2)


class Choice(BaseModel):
    question: str
    options: list[str] = Field(min_length=4, max_length=4, description="4 distinct options, without letters")
    answer: Literal["A", "B", "C", "D"]
    explanation: str = ""

    _options = field_validator("options", mode="before")(unlettered_options)
    _explanation = field_validator("explanation", mode="before")(_text_or_empty)

    @field_validator("answer", mode="before")
    @classmethod
    def _letter(cls, value: Any, info: ValidationInfo) -> str:
        """The options are validated first, so a text answer is matched against clean texts."""
        return answer_letter(value, info.data.get("options"))


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
