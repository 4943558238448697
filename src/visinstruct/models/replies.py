"""Reading a model's reply the way real models write it, before anything is validated.

Real servers wrap the payload: reasoning blocks (`<think>…</think>`, sometimes with the
opening tag already removed, sometimes never closed), chatter ("Sure! Here is…"), code
fences; and the payload itself is often near-JSON: trailing commas, single quotes and
Python literals, unquoted keys, full-width punctuation (：，“”). This module finds the
JSON values a reply holds, most likely first. Model output is untrusted: near-JSON is read
by the `json_repair` library, never evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import json_repair

REASONING_TAGS = "think|thinking|reasoning"
BLOCK = re.compile(rf"<({REASONING_TAGS})\b[^>]*>.*?</\1\s*>", re.S | re.I)
OPENING = re.compile(rf"^\s*<({REASONING_TAGS})\b[^>]*>", re.I)
CLOSING = re.compile(rf"</({REASONING_TAGS})\s*>", re.I)
FENCE = re.compile(r"```[ \t]*(?:json5?|JSON|javascript|js|python|py)?[ \t]*\n?(.*?)```", re.S)
# a reply that declines the task (checked only when the reply holds nothing usable)
REFUSAL = re.compile(
    r"^\W*(?:"
    r"(?:I['’]?m|I am)\s+(?:so\s+|very\s+|really\s+)?sorry|sorry\b|I apologi[sz]e|unfortunately,?\s+I"
    r"|I\s*(?:can(?:no|['’])?t|cannot|won['’]?t|will not|am (?:not able|unable)|['’]m (?:not able|unable))"
    r"\s+(?:to\s+)?(?:help|assist|comply|provide|do|create|generate|answer|fulfil|support|process|describe)"
    r"|as an ai\b"
    r"|(?:很|非常)?抱歉|对不起|不好意思|我(?:无法|不能|没办法)"
    r")",
    re.I,
)
FULL_WIDTH = {"：": ":", "，": ",", "｛": "{", "｝": "}", "［": "[", "］": "]", "\u3000": " "}
OPEN_QUOTES = {"“": "”", "‘": "’", "「": "」"}


@dataclass
class Body:
    """A reply without its reasoning: `text`, and whether a reasoning block was left open
    (then the payload is more likely at the end)."""

    text: str
    open_reasoning: bool = False


def strip_reasoning(text: str) -> Body:
    """The reply without `<think>`-style blocks: closed ones removed, everything up to a
    closing tag whose opening tag the server dropped, the tag of a block never closed."""
    text = BLOCK.sub("", text)
    closings = list(CLOSING.finditer(text))
    if closings:
        text = text[closings[-1].end() :]
    m = OPENING.match(text)
    if m:
        return Body(text[m.end() :].strip(), open_reasoning=True)
    return Body(text.strip())


def normalise_punctuation(text: str) -> str:
    """Full-width JSON punctuation outside strings made ASCII (：→: ，→, “key”→"key"); the
    text of strings is left as written, so a Chinese answer keeps its own commas."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':  # an ASCII string: copied as is, escapes included
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "'":  # a Python-style string: ends at a quote followed by , : } ] or the end
            j = i + 1
            while j < n and not (text[j] == "'" and _ends_value(text, j + 1)):
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c in OPEN_QUOTES:  # “…” used as string quotes: an ASCII string
            close = OPEN_QUOTES[c]
            j = i + 1
            while j < n and text[j] not in (close, '"'):
                j += 1
            inner = text[i + 1 : j].replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{inner}"')
            i = j + 1
        else:
            out.append(FULL_WIDTH.get(c, c))
            i += 1
    return "".join(out)


def _ends_value(text: str, j: int) -> bool:
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    return j >= len(text) or text[j] in ",:}]，：｝］"


def balanced_spans(text: str) -> Iterator[tuple[str, bool]]:
    """Each top-level `{…}` / `[…]` in `text`, first to last, as (span, closed). The scan
    skips brackets inside strings; a bracket that never closes gives the rest of the text
    (closed=False), for the repair library to finish."""
    i, n = 0, len(text)
    while i < n:
        if text[i] not in "{[":
            i += 1
            continue
        end = _match(text, i)
        if end is None:
            yield text[i:], False
            return
        if end < 0:  # a mismatched closer: not JSON from here, try the next bracket
            i += 1
            continue
        yield text[i : end + 1], True
        i = end + 1


def _match(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at `start`; None when it never closes, -1 when
    another bracket closes first."""
    stack: list[str] = []
    i, n = start, len(text)
    pairs = {"{": "}", "[": "]"}
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in OPEN_QUOTES:
            close = OPEN_QUOTES[c]
            i += 1
            while i < n and text[i] not in (close, '"'):
                i += 1
        elif c in pairs:
            stack.append(pairs[c])
        elif c in "}]":
            if not stack or stack.pop() != c:
                return -1
            if not stack:
                return i
        i += 1
    return None


@dataclass
class Found:
    """A JSON value found in a reply; `closed` is False when it came from an unclosed bracket."""

    value: Any
    closed: bool = True


@dataclass
class Search:
    """What `json_values` saw: the first JSON error, to name when nothing is found."""

    error: str | None = None


def json_values(text: str, search: Search | None = None, max_spans: int = 16) -> Iterator[Found]:
    """Every JSON object or array in `text`, most likely first: fenced blocks, the whole
    reply, then each top-level bracketed span (last first when a reasoning block was left
    open); first as written (after full-width punctuation), then repaired."""
    search = search if search is not None else Search()
    body = strip_reasoning(text)
    texts: list[tuple[str, bool]] = [(m.group(1).strip(), True) for m in FENCE.finditer(body.text)]
    texts.append((body.text, True))
    spans = []
    for span in balanced_spans(body.text):
        spans.append(span)
        if len(spans) >= max_spans:
            break
    if body.open_reasoning:
        spans.reverse()
    seen: set[str] = set()
    unique = []
    for t, closed in [*texts, *spans]:
        if t and t not in seen:
            seen.add(t)
            unique.append((t, closed))
    for t, closed in unique:
        if not closed:
            continue
        for variant in dict.fromkeys((t, normalise_punctuation(t))):
            try:
                value = json.loads(variant, strict=False)
            except ValueError as e:
                if search.error is None and t[:1] in "{[":
                    search.error = str(e)
                continue
            if isinstance(value, dict | list):
                yield Found(value)
                break
    for t, closed in unique:
        if t[:1] not in "{[" and not t.startswith("```"):
            continue  # chatter: its spans are tried on their own
        value = repaired(normalise_punctuation(t))
        if isinstance(value, dict | list) and value:
            yield Found(value, closed)
    if search.error is None:
        search.error = "no JSON object or array in the reply"


def repaired(text: str) -> Any:
    """`text` read as JSON by the repair library (None when it cannot make anything of it)."""
    try:
        return json_repair.loads(text)
    except (ValueError, RecursionError, TypeError):
        return None


def is_bare_json(text: str | None) -> bool:
    """The reply (past any reasoning block) is one JSON object or array and nothing else:
    what a server that honours a JSON schema returns."""
    if not text:
        return False
    body = strip_reasoning(text).text
    try:
        return isinstance(json.loads(body, strict=False), dict | list)
    except ValueError:
        return False


def refusal(text: str | None) -> str | None:
    """The refusal a reply opens with ("I'm sorry, I can't help with that.", "抱歉，我无法…"),
    shortened, or None."""
    if not text:
        return None
    body = strip_reasoning(text).text
    if not REFUSAL.match(body):
        return None
    line = body.splitlines()[0].strip() if body.strip() else body
    return line if len(line) <= 120 else line[:117] + "..."
