"""Structured output: a pydantic schema in, a validated object (or a reason) out.

The schema goes to the server as a JSON-schema `response_format` where it supports one,
as JSON mode plus an instruction, or as an instruction alone. Whatever comes back is
untrusted text: it is parsed as JSON (code fences and chatter around the object are
tolerated), validated, and never evaluated.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


@cache
def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


@cache
def schema_text(schema: type[BaseModel]) -> str:
    return json.dumps(json_schema(schema), ensure_ascii=False, sort_keys=True)


def instruction(schema: type[BaseModel]) -> str:
    return "Reply with only a JSON object, no other text, that matches this JSON schema:\n" + schema_text(
        schema
    )


def response_format(schema: type[BaseModel], mode: str) -> dict[str, Any] | None:
    """The `response_format` request field for `mode` (None when the schema goes in the prompt)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": json_schema(schema)},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def with_instruction(messages: list[dict], schema: type[BaseModel]) -> list[dict]:
    """Messages with the schema instruction added as a final system message."""
    return [*messages, {"role": "system", "content": instruction(schema)}]


def extract_json(text: str) -> Any:
    """The JSON object in a model's reply: the whole text, a fenced block, or the outermost {...}."""
    text = text.strip()
    candidates = [text]
    candidates += [m.group(1).strip() for m in FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    err: Exception | None = None
    for c in candidates:
        try:
            return json.loads(c)
        except json.JSONDecodeError as e:
            err = err or e
    raise ValueError(f"not valid JSON ({err})")


def parse(text: str | None, schema: type[BaseModel]) -> tuple[BaseModel | None, str | None]:
    """(object, None) when `text` holds a valid instance of `schema`, else (None, reason)."""
    if text is None or not text.strip():
        return None, "empty reply"
    try:
        data = extract_json(text)
    except ValueError as e:
        return None, str(e)
    try:
        return schema.model_validate(data), None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        return None, f"does not match the schema: {where}: {first['msg']}{more}"


def repair_messages(messages: list[dict], bad: str, reason: str, schema: type[BaseModel]) -> list[dict]:
    """The one re-ask: the conversation so far, the bad reply, and what was wrong with it."""
    return [
        *messages,
        {"role": "assistant", "content": bad},
        {"role": "user", "content": f"That reply cannot be used: {reason}. {instruction(schema)}"},
    ]
