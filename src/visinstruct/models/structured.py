"""Structured output: a pydantic schema in, a validated object (or a reason) out.

The schema goes to the server as a JSON-schema `response_format` (strict where the server
supports it) where it takes one, as JSON mode plus an instruction, as an instruction alone,
or as MMInstruct's tag format (`tags`). Every instruction names the fields, so a server
that ignores `response_format` is still told what to write. Whatever comes back is
untrusted text read the way models write it (`replies`: reasoning blocks, chatter,
fences, near-JSON; `tags`), fitted to the schema's shape (`shapes`: numbers for text, a bare
list), then validated by the schema itself. Nothing is ever evaluated.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from visinstruct.models import replies, shapes, tags
from visinstruct.prompts import load_prompt

MODES = ("json_schema", "json_object", "prompt", "tags")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@cache
def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


@cache
def schema_text(schema: type[BaseModel]) -> str:
    return json.dumps(json_schema(schema), ensure_ascii=False, sort_keys=True)


@cache
def fields(schema: type[BaseModel]) -> str:
    """The schema's fields named for a prompt ("questions[].question, questions[].answer (…)")."""
    return shapes.field_list(json_schema(schema))


def language(messages: list[dict]) -> str:
    """ "zh" when the request's text is mostly Chinese, else "en": the instruction's language."""
    text = []
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            text.append(c)
        elif isinstance(c, list):
            text += [p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text"]
    joined = "".join(text)
    letters = sum(ch.isalpha() for ch in joined)
    return "zh" if letters and len(CJK.findall(joined)) * 2 >= letters else "en"


def instruction(schema: type[BaseModel], mode: str = "prompt", lang: str = "en") -> str:
    """What the prompt asks for in `mode`: the tag format, a JSON object with its fields
    (json_schema, where the server has the schema), or the fields and the schema."""
    p = load_prompt("reply_format")
    lang = lang if lang in p.data["json"] else "en"
    if mode == "tags":
        text = tags.instruction(schema, lang)
        if text is not None:
            return text
    if mode == "json_schema":
        return p.text("json_schema", lang=lang, fields=fields(schema))
    return p.text("json", lang=lang, fields=fields(schema), schema=schema_text(schema))


def response_format(schema: type[BaseModel], mode: str, strict: bool = False) -> dict[str, Any] | None:
    """The `response_format` request field for `mode` (None when the schema goes in the prompt).
    `strict` sends the schema in the closed form strict decoding needs."""
    if mode == "json_schema":
        spec: dict[str, Any] = {"name": schema.__name__, "schema": json_schema(schema)}
        if strict:
            spec = {"name": schema.__name__, "schema": strict_schema(schema), "strict": True}
        return {"type": "json_schema", "json_schema": spec}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


@cache
def strict_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return shapes.strict(json_schema(schema))


def with_instruction(
    messages: list[dict], schema: type[BaseModel], mode: str = "prompt", lang: str | None = None
) -> list[dict]:
    """Messages with the schema instruction added as a final system message."""
    lang = lang or language(messages)
    return [*messages, {"role": "system", "content": instruction(schema, mode, lang)}]


def parse(
    text: str | None, schema: type[BaseModel], mode: str = "json_schema"
) -> tuple[BaseModel | None, str | None]:
    """(object, None) when `text` holds a valid instance of `schema`, else (None, reason).
    Candidates are the JSON values found in the reply and its tags (tags first in `tags`
    mode, else as the fallback); the first that validates wins, else the clearest reason."""
    if text is None or not text.strip():
        return None, "empty reply"
    root = json_schema(schema)
    try:  # the common case: exactly the JSON asked for
        return schema.model_validate(shapes.coerce(json.loads(text, strict=False), root, root)), None
    except (ValueError, ValidationError):
        pass
    tag_error: str | None = None
    tagged = tags.to_data(text, schema)
    if tagged is not None and mode == "tags":
        value, tag_error = _validate(tagged, schema)
        if value is not None:
            return value, None
    search = replies.Search()
    json_error: str | None = None
    for found in replies.json_values(text, search):
        value, error = _validate(found.value, schema)
        if value is not None:
            return value, None
        if json_error is None and found.closed:
            json_error = error
    if tagged is not None and mode != "tags":
        value, tag_error = _validate(tagged, schema)
        if value is not None:
            return value, None
    in_words = _from_text(text, schema)
    if in_words is not None:
        return in_words, None
    if tag_error is not None and (mode == "tags" or json_error is None):
        return None, tag_error
    if json_error is not None:
        return None, json_error
    if mode == "tags" and tags.fields(schema) is not None:
        return None, f"not in the tag format (no <Q1> tag) and not valid JSON ({search.error})"
    return None, f"not valid JSON ({search.error})"


def _from_text(text: str, schema: type[BaseModel]) -> BaseModel | None:
    """A schema that can be answered in words (a verdict: "yes", "是") reads a reply with no
    JSON in it through its `from_text` classmethod, past any reasoning block."""
    reader = getattr(schema, "from_text", None)
    body = replies.strip_reasoning(text)
    if reader is None or body.open_reasoning or not body.text:
        return None
    data = reader(body.text)
    if data is None:
        return None
    value, _error = _validate(data, schema)
    return value


def _validate(data: Any, schema: type[BaseModel]) -> tuple[BaseModel | None, str | None]:
    root = json_schema(schema)
    try:
        return schema.model_validate(shapes.coerce(data, root, root)), None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        return None, f"does not match the schema: {where}: {first['msg']}{more}"


def reply_form(text: str | None) -> str:
    """How a reply is written: "json" (one JSON value and nothing else, past any reasoning
    block: what a server honouring a JSON schema sends), "tags", or "text"."""
    if replies.is_bare_json(text):
        return "json"
    return "tags" if tags.has_tags(text) else "text"


def repair_messages(
    messages: list[dict], bad: str, reason: str, schema: type[BaseModel], mode: str = "prompt"
) -> list[dict]:
    """The one re-ask: the conversation so far, the bad reply, and what was wrong with it."""
    lang = language(messages)
    p = load_prompt("reply_format")
    again = instruction(schema, "tags" if mode == "tags" else "prompt", lang)  # the whole schema this time
    ask = p.text("repair", lang=lang if lang in p.data["repair"] else "en", reason=reason, instruction=again)
    return [*messages, {"role": "assistant", "content": bad}, {"role": "user", "content": ask}]
