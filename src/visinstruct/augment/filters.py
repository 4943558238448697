"""Rules a rephrased template must pass before it joins the pool.

Each rule has a name; a rejected candidate keeps the first rule it failed and why, so the
rejections file says exactly what was wrong. In order:

- empty: nothing left after cleaning;
- unsafe_brace: a brace expression other than a plain `{name}` (`{x.__class__}`,
  `{options[0]}`, `{x!r}`, `{x:>10}`, `{__import__('os')...}`) — reported, never evaluated;
- unknown_marker: a `[[X]]` sentinel the original did not have;
- placeholders: the placeholders and markers differ from the original's (each exactly as
  often as in the original);
- meta_text: talk about the rewrite ("Sure!", "Here is the rephrased sentence:", "以下是");
- extra_lines: more lines than the original (commentary after the answer);
- length: outside [min_ratio, max_ratio] × the original's length in tokens;
- language: Chinese-script share does not fit the original's language;
- duplicate / near_duplicate: the same as, or ROUGE-L F1 above the threshold with, a
  template already kept for the task.

Cleaning, before the rules: surrounding whitespace and code fences, quotes wrapping the
whole reply, and a first line that only announces the answer ("Here is the rewrite:").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from visinstruct.augment.diversity import SimilarityIndex, cjk_share, tokens
from visinstruct.augment.mask import Masked, brace_problems, protected_spans, unmask

RULES = (
    "empty",
    "unsafe_brace",
    "unknown_marker",
    "placeholders",
    "meta_text",
    "extra_lines",
    "length",
    "language",
    "duplicate",
    "near_duplicate",
)

META_EN = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|ok|absolutely|great)\b\s*[!,.:]"
    r"|\bhere(?:'s| is| are)\b[^.\n]{0,40}\b(?:rephras|rewrit|paraphras|revis|version|instruction|sentence)"
    r"|\b(?:rephrased|rewritten|paraphrased|revised)\s*(?:version|instruction|sentence|text|prompt)?\s*:"
    r"|^\s*(?:output|answer|result|new instruction)\s*:"
    r"|\bas an ai\b|\bi hope (?:this|that) helps\b|\blet me know\b|^\s*note\s*:|\(note:"
    r"|\bthe (?:original|rephrased|rewritten) (?:instruction|sentence)\b",
    re.IGNORECASE | re.MULTILINE,
)
META_ZH = re.compile(
    r"以下是|如下[：:]|改写后|重写后|改写如下|改写版本|改写的指令|^\s*好的[，,！!。]|^\s*当然[，,！!。]"
    r"|希望(?:这|以上|对你)|^\s*(?:注|注意|说明)[：:]|原句|原指令",
    re.MULTILINE,
)
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』", "«": "»", "`": "`"}
PREAMBLE_END = re.compile(r"[:：]\s*$")
FENCE = re.compile(r"^```(?:[A-Za-z]*\n)?(.*?)\n?```$", re.S)  # a code fence, with or without a language tag


@dataclass
class FilterSettings:
    min_length_ratio: float = 0.5
    max_length_ratio: float = 2.0
    length_slack: int = 8  # tokens of room above the ratio for very short templates
    max_similarity: float = 0.8  # ROUGE-L F1 with a kept template above this is a near-duplicate
    language: bool = True


@dataclass
class Verdict:
    text: str | None  # the restored template when it passed
    rule: str | None = None  # the first rule it failed
    detail: str = ""
    cleaned: bool = False  # quotes or an announcing line were removed

    @property
    def ok(self) -> bool:
        return self.rule is None


def clean(raw: str, original: str) -> tuple[str, bool]:
    """The reply without wrapping quotes, code fences or an announcing first line."""
    text = raw.strip()
    before = text
    fence = FENCE.match(text)
    if fence:
        text = fence.group(1).strip()
    lines = text.split("\n")
    if len(lines) > 1 and PREAMBLE_END.search(lines[0]) and _is_meta(lines[0]):
        text = "\n".join(lines[1:]).strip()
    for _ in range(2):  # e.g. a quoted reply inside a fence
        if len(text) >= 2 and text[0] in QUOTES and text[-1] == QUOTES[text[0]]:
            inner = text[1:-1]
            if text[0] not in inner and QUOTES[text[0]] not in inner and not _wrapped(original):
                text = inner.strip()
    return text, text != before


def _wrapped(original: str) -> bool:
    o = original.strip()
    return len(o) >= 2 and o[0] in QUOTES and o[-1] == QUOTES[o[0]]


def _is_meta(text: str) -> bool:
    return bool(_meta_hits(text))


def _meta_hits(text: str) -> set[str]:
    """The meta-text phrases in a text, normalised for comparison."""
    hits = [m.group(0) for m in META_EN.finditer(text)] + [m.group(0) for m in META_ZH.finditer(text)]
    return {" ".join(h.lower().split()) for h in hits}


def length_in_tokens(text: str) -> int:
    return len(tokens(text))


def check(
    raw: str | None,
    masked: Masked,
    original: str,
    lang: str,
    index: SimilarityIndex,
    exact: set[str],
    settings: FilterSettings,
) -> Verdict:
    """Clean a model's rewrite of `masked`, restore its placeholders and apply every rule.
    `original` is the task's original template this one descends from (lengths and
    placeholders are measured against it); `index` and `exact` hold the task's kept ones."""
    text, cleaned = clean(raw or "", original)

    def no(rule: str, detail: str) -> Verdict:
        return Verdict(None, rule, detail, cleaned)

    if not text:
        return no("empty", "no text after cleaning")
    restored, unknown = unmask(text, masked)
    bad = brace_problems(restored)
    if bad:
        return no("unsafe_brace", f"brace expression {bad[0]} is not a plain {{name}} placeholder")
    if unknown:
        return no("unknown_marker", f"{unknown[0]} is not a marker of the original")
    want, got = protected_spans(original), protected_spans(restored)
    if want != got:
        return no("placeholders", _span_diff(want, got))
    meta = _meta_hits(restored) - _meta_hits(original)  # "Answer:" in the original may stay
    if meta:
        return no("meta_text", f"talks about the rewrite ({sorted(meta)[0]!r}) instead of being one")
    if restored.count("\n") > original.count("\n"):
        return no(
            "extra_lines",
            f"{restored.count(chr(10)) + 1} lines, the original has {original.count(chr(10)) + 1}",
        )
    n, m = length_in_tokens(original), length_in_tokens(restored)
    lo = math.floor(n * settings.min_length_ratio)
    hi = max(math.ceil(n * settings.max_length_ratio), n + settings.length_slack)
    if not lo <= m <= hi:
        return no("length", f"{m} tokens, allowed {lo}..{hi} for an original of {n}")
    if settings.language:
        share = cjk_share(restored)
        if share is not None and (share < 0.5 if lang == "zh" else share > 0.1):
            return no("language", f"expected {lang}, {share:.0%} of the letters are Chinese characters")
    key = normalise(restored)
    if key in exact:
        return no("duplicate", "the same as a template already kept")
    toks = tokens(restored)
    sim, who = index.closest(toks)
    if sim > settings.max_similarity:
        return no("near_duplicate", f"ROUGE-L {sim:.2f} with {who}")
    return Verdict(restored, None, "", cleaned)


def normalise(text: str) -> str:
    """Case, spacing and punctuation do not make a template new."""
    return " ".join(tokens(text))


def _span_diff(want, got) -> str:
    missing = sorted(set(want) - set(got))
    added = sorted(set(got) - set(want))
    if missing:
        return f"missing {missing[0]}" + (f", added {added[0]}" if added else "")
    if added:
        return f"added {added[0]}"
    span = next(s for s in want if want[s] != got[s])
    return f"{span} appears {got[span]} times, the original has it {want[span]} times"
