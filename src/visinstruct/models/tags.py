"""MMInstruct's tag format as a reply format, in English and Chinese:

    <Q1> question </Q1> <C1> A. red B. blue C. green D. grey </C1> <A1> B </A1> <E1> why </E1>

one numbered group per item; `<C>` (the options, on one line or several) only for multiple
choice, `<E>` or `<R>` (explanation, reason) optional. The tags are mapped onto any schema
of the right shape (an object with one list of items that have a question and an answer),
found from its JSON schema, so the schema's own validation runs on what they say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from visinstruct.models import shapes
from visinstruct.prompts import load_prompt

TAG = re.compile(r"[<＜]\s*(/?)\s*([QCAERqcaer])\s*(\d{1,4})\s*[>＞]")
FIRST = re.compile(r"[<＜]\s*[Qq]\s*0*1\s*[>＞]")
LETTERS = "ABCDEFGH"
FULL_LETTERS = "ＡＢＣＤＥＦＧＨ"


@dataclass(frozen=True)
class Fields:
    """Which field of a schema each tag fills."""

    items: str  # the list of items ("questions", "rounds")
    question: str
    answer: str
    options: str | None = None
    note: str | None = None  # explanation or reason
    note_tag: str = "E"
    option_count: int | None = None
    answers: tuple[str, ...] = ()  # the answer's allowed values, if the schema lists them


@cache
def fields(schema: type[BaseModel]) -> Fields | None:
    """How the tags map onto `schema`, or None when the schema has not the shape for them."""
    root = schema.model_json_schema()
    found = shapes.list_field(root)
    if found is None:
        return None
    name, item = found
    props = {k: shapes.resolve(v, root) for k, v in (item.get("properties") or {}).items()}
    required = item.get("required") or []
    strings = [k for k, v in props.items() if shapes.kinds(v, root) == {"string"}]
    question = "question" if "question" in strings else next(iter(strings), None)
    others = [k for k in strings if k != question]
    answer = "answer" if "answer" in others else next((k for k in others if k in required), None)
    if question is None or answer is None:
        return None
    lists = [
        k
        for k, v in props.items()
        if "array" in shapes.kinds(v, root)
        and shapes.kinds(shapes.resolve(v.get("items", {}), root), root) == {"string"}
    ]
    options = "options" if "options" in lists else next(iter(lists), None)
    note = next((k for k in ("explanation", "reason", "rationale") if k in props), None)
    count = None
    if options is not None:
        lo, hi = props[options].get("minItems"), props[options].get("maxItems")
        count = lo if lo is not None and lo == hi else None
    return Fields(
        items=name,
        question=question,
        answer=answer,
        options=options,
        note=note,
        note_tag="R" if note == "reason" else "E",
        option_count=count,
        answers=tuple(str(v) for v in props[answer].get("enum") or ()),
    )


def has_tags(text: str | None) -> bool:
    """The reply is written in the tag format (it has a first question tag)."""
    return bool(text) and FIRST.search(text) is not None


def read(text: str) -> dict[int, dict[str, str]]:
    """{item number: {tag letter: text}}; a tag runs to its closing tag or the next tag."""
    marks = list(TAG.finditer(text))
    items: dict[int, dict[str, str]] = {}
    for i, m in enumerate(marks):
        if m.group(1):
            continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        letter, n = m.group(2).upper(), int(m.group(3))
        items.setdefault(n, {}).setdefault(letter, text[m.end() : end].strip())
    return items


def split_options(block: str) -> list[str]:
    """The options of a `<C>` tag without their letters: "A. red B. blue …" on one line or
    several ("(A) red", "A) red", "A、红色", "Ａ．红色" alike); else one option per line. The
    letters after A are looked for in A's own style first, so "A) Dr. B. Smith B) …" keeps
    its "B."."""
    starts: list[tuple[int, int]] = []
    pos, style = 0, None
    for k, letter in enumerate(LETTERS):
        ch = f"[{letter}{FULL_LETTERS[k]}]"
        m = None
        if style is not None:
            m = re.compile(r"(?:(?<=\s)|^)" + re.escape(style).replace("X", ch) + r"\s*").search(block, pos)
        if m is None:
            m = _marker(ch).search(block, pos)
        if m is None or (k == 0 and block[: m.start()].strip()):
            break
        if k == 0:
            style = re.sub(r"\s+", "", m.group(0)).replace(m.group(1) or m.group(2), "X")
        starts.append((m.start(), m.end()))
        pos = m.end()
    if len(starts) >= 2:
        bounds = [*(s for s, _ in starts[1:]), len(block)]
        return [block[e:b].strip() for (_, e), b in zip(starts, bounds, strict=True)]
    return [line.strip() for line in block.splitlines() if line.strip()]


@cache
def _marker(ch: str) -> re.Pattern[str]:
    """An option letter (`ch`, a character class) as "(A)", "A)", "A.", "A、", "A：" …"""
    return re.compile(rf"(?:(?<=\s)|^)(?:[(（]\s*({ch})\s*[)）]|({ch})\s*[.．、:：)）])\s*")


def to_data(text: str, schema: type[BaseModel]) -> dict[str, Any] | None:
    """The tags in `text` as data for `schema` (None when either has no tags)."""
    f = fields(schema)
    if f is None or not has_tags(text):
        return None
    out = []
    for _, tags in sorted(read(text).items()):
        item: dict[str, Any] = {}
        if "Q" in tags:
            item[f.question] = tags["Q"]
        if "A" in tags:
            item[f.answer] = tags["A"]
        if f.options is not None and "C" in tags:
            item[f.options] = split_options(tags["C"])
        note = tags.get(f.note_tag) or tags.get("E") or tags.get("R")
        if f.note is not None and note:
            item[f.note] = note
        if item:
            out.append(item)
    return {f.items: out}


def instruction(schema: type[BaseModel], lang: str) -> str | None:
    """What to ask for in the tag format, from the prompt file (None: the schema has no
    tag form, and JSON is asked for instead)."""
    f = fields(schema)
    if f is None:
        return None
    p = load_prompt("reply_format")
    lang = lang if lang in p.data["tags"] else "en"
    parts = [p.text("tag", "question", lang=lang, n=1)]
    if f.options is not None:
        parts.append(p.text("tag", "options", lang=lang, n=1))
    if f.answers:
        values = list(f.answers)
        joined = ", ".join(values[:-1]) + p.text("tag", "or", lang=lang) + values[-1]
        parts.append(
            p.text("tag", "answer_from", lang=lang, n=1, values=joined if len(values) > 1 else values[0])
        )
    else:
        parts.append(p.text("tag", "answer", lang=lang, n=1))
    if f.note is not None:
        parts.append(p.text("tag", "reason" if f.note_tag == "R" else "explanation", lang=lang, n=1))
    return p.text("tags", lang=lang, parts="\n".join(parts))
