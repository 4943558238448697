"""Placeholders out of the model's reach: masked before rewriting, restored after.

A template's protected spans are its `{name}` placeholders and `<slot>` markers (seed
questions' `<object>`, a model's `<image>`). Before a template goes to the model each
distinct span becomes a sentinel `[[A]]`, `[[B]]`, ... that the model is told to keep; the
reply's sentinels are mapped back. Nothing here evaluates text: restoring is a lookup of
the sentinel's letter, and anything that is not a plain `{name}` is reported, never run.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from string import ascii_uppercase

from visinstruct.templates import PLACEHOLDER

PROTECTED = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|<[^<>\s{}\[\]]{1,32}>")
SENTINEL = re.compile(r"\[\[([A-Z]{1,2})\]\]")


class MaskError(ValueError):
    pass


def letters(n: int) -> str:
    """The n-th sentinel letter: A..Z, then AA, AB, ..."""
    return ascii_uppercase[n] if n < 26 else ascii_uppercase[n // 26 - 1] + ascii_uppercase[n % 26]


@dataclass(frozen=True)
class Masked:
    text: str  # the template with sentinels in place of its protected spans
    spans: dict[str, str]  # sentinel letter -> the span it stands for

    @property
    def sentinels(self) -> list[str]:
        return [f"[[{k}]]" for k in self.spans]


def mask(template: str) -> Masked:
    """Replace each distinct protected span by a sentinel, in order of first appearance."""
    if SENTINEL.search(template):
        raise MaskError(f"template {template!r} already contains a [[X]] sentinel")
    by_span: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        span = m.group(0)
        if span not in by_span:
            if len(by_span) >= 26 * 27:
                raise MaskError(f"template {template!r} has too many placeholders")
            by_span[span] = letters(len(by_span))
        return f"[[{by_span[span]}]]"

    text = PROTECTED.sub(sub, template)
    return Masked(text, {v: k for k, v in by_span.items()})


def unmask(text: str, masked: Masked) -> tuple[str, list[str]]:
    """The reply with its sentinels restored, and the sentinels it invented (left as they are)."""
    unknown: list[str] = []

    def sub(m: re.Match[str]) -> str:
        span = masked.spans.get(m.group(1))
        if span is None:
            unknown.append(m.group(0))
            return m.group(0)
        return span

    return SENTINEL.sub(sub, text), unknown


def protected_spans(text: str) -> Counter[str]:
    """How often each placeholder and marker occurs."""
    return Counter(PROTECTED.findall(text))


def brace_problems(text: str) -> list[str]:
    """Every brace expression that is not a plain `{name}` placeholder, as written
    (`{question.__class__}`, `{options[0]}`, `{x!r}`, `{{`, a lone `}`), in order."""
    neutral = PLACEHOLDER.sub(lambda m: "\x00" * len(m.group(0)), text)
    problems: list[str] = []
    i = 0
    while i < len(neutral):
        c = neutral[i]
        if c == "{":
            end = neutral.find("}", i + 1)
            nxt = neutral.find("{", i + 1)
            stop = end + 1 if end != -1 and (nxt == -1 or end < nxt) else i + 1
            problems.append(text[i:stop] if stop - i <= 80 else text[i : i + 77] + "...")
            i = stop
        elif c == "}":
            problems.append("}")
            i += 1
        else:
            i += 1
    return problems
