"""OCR's questions: read a line, a title or a field, count lines and words, find where a word is,
say whether a word appears, and transcribe everything, as `Fact`s for the shared engine.

Wrong values are misreadings (one letter, hanzi or digit changed), other lines or fields of
the same document, and nearby counts. Each question's parameters are recorded as a query.
A Chinese document's words are the vocabulary words written in it, counted as substrings.
"""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.ask import Asked, Fact, Kinds, Said, Turn, Voice, numeric_distractors
from visinstruct.synth.base import SynthDomain, load_phrasings
from visinstruct.synth.ocr.data import (
    COMMON_WORDS,
    COMPANY_TAILS,
    DAYS,
    FIRST_NAMES,
    JOB_TITLES,
    LAST_NAMES,
    PLACES,
    PLURALS,
    PRODUCTS,
    PUNCT,
    ZH,
    count_cands,
    is_wordy,
    near_misses,
    occurrences,
    occurrences_zh,
    targets,
    targets_zh,
    words_of,
)

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
FIELDS = ("store", "total", "date", "name", "job", "company", "phone", "email", "weight", "price")
# kinds whose wrong values are ordered nearest first: options are the nearest ones
ORDERED = ("read_line", "count_lines", "count_words", "count_word")


class OcrFacts:
    """The facts of one document, worded in one language with the item's random stream."""

    def __init__(self, domain: SynthDomain, rng: random.Random, lang: str, facts: dict[str, Any]):
        self.v = Voice(domain, rng, lang)
        self.say, self.rng, self.facts = self.v.say, rng, facts
        self.phrasings = load_phrasings(domain.name)
        self.lines: list[str] = facts["lines"]
        self.n = len(self.lines)
        self.layout = facts["layout"]
        self.unit = self.say("unit_row" if self.layout == "word_grid" else "unit_line")
        self.units = self.say("units_row" if self.layout == "word_grid" else "units_line")
        self.doc = self.say("doc_" + self.layout)
        self.zh = lang == "zh"
        self.targets = targets_zh(self.lines) if self.zh else targets(self.lines)
        self._occ: dict[str, list[int]] = {}
        self.unique = [w for w in self.targets if sum(c > 0 for c in self.occurrences(w)) == 1]
        self.wordy = [i for i, ln in enumerate(self.lines) if is_wordy(ln) and len(ln.split()) >= 2]
        self.edge = [
            i
            for i, ln in enumerate(self.lines)
            if len(ln.split()) >= 2
            and ln.split()[0].strip(PUNCT).isalpha()
            and ln.split()[-1].strip(PUNCT).isalpha()
        ]
        self.fields = [k for k in FIELDS if k in facts["fields"]]

    def kinds(self) -> Kinds:
        """The kinds this document has (fields and word look-ups weighted up)."""
        b = {"read_line": self.read_line, "count_lines": self.count_lines}
        if self.facts["has_title"]:
            b["read_title"] = self.read_title
        if self.fields:
            b["field"] = self.field
        if self.facts["items"]:
            b["item_price"] = self.item_price
        if self.wordy:
            b["count_words"] = self.count_words
        if self.targets:
            b.update(word_present=self.word_present, count_word=self.count_word)
        if self.unique:
            b["find_line"] = self.find_line
        if self.edge:
            b["edge_word"] = self.edge_word
        return Kinds(self.rng, b, {"field": 2, "find_line": 2})

    def occurrences(self, w: str) -> list[int]:
        """How often `w` occurs on each line (remembered: the same words are counted again)."""
        key = w.lower()
        if key not in self._occ:
            self._occ[key] = occurrences_zh(w, self.lines) if self.zh else occurrences(w, self.lines)
        return self._occ[key]

    # -- wording
    def ordinal(self, n: int) -> str:
        return ORDINALS[n - 1] if n <= len(ORDINALS) else f"{n}th"

    def line_vals(self, i: int) -> dict[str, Any]:
        """The placeholders that name line (or row) `i`."""
        return {"n": i + 1, "ordinal": self.ordinal(i + 1), "unit": self.unit}

    def fact(
        self, key: str, vals: dict[str, Any], ans: str, query: dict[str, Any], cat: str, cands: list[str]
    ) -> Fact:
        """A fact asked with phrasing `key`; claimed with `is_<key>` when there is such a phrasing."""
        claim = None
        if f"is_{key}" in self.phrasings:
            claim = lambda v: self.v.said(f"is_{key}", claim=v, **vals)  # noqa: E731
        kind = query["kind"]
        return Fact(
            kind,
            cat,
            ans,
            cands,
            ask=lambda: self.v.said(key, **vals),
            claim=claim,
            args=query,
            false_from=len(cands),
            choose_from=3 if kind in ORDERED else len(cands),
        )

    # -- kinds
    def read_line(self) -> Fact:
        rng, lines = self.rng, self.lines
        i = rng.randrange(self.n)
        others = [ln for j, ln in enumerate(lines) if j != i]
        rng.shuffle(others)
        cands = others[:2] + near_misses(lines[i], rng, 4, avoid=lines)
        query = {"kind": "read_line", "line": i + 1}
        return self.fact("read_line", self.line_vals(i), lines[i], query, "text_reading", cands)

    def read_title(self) -> Fact:
        lines = self.lines
        cands = near_misses(lines[0], self.rng, 3, avoid=lines, mode="letters") + lines[1:]
        return self.fact(
            "read_title", {"doc": self.doc}, lines[0], {"kind": "read_title"}, "text_reading", cands
        )

    def count_lines(self) -> Fact:
        cands = count_cands(self.n, self.rng)
        return self.fact(
            "count_lines", {"units": self.units}, str(self.n), {"kind": "count_lines"}, "counting", cands
        )

    def field(self) -> Fact:
        f = self.rng.choice(self.fields)
        v = self.facts["fields"][f]
        vals = {"field": self.say("field_" + f), "doc": self.doc}
        return self.fact(
            "ask_field", vals, v, {"kind": "field", "field": f}, "value_lookup", self.field_cands(f, v)
        )

    def item_price(self) -> Fact:
        rng, items = self.rng, self.facts["items"]
        it = rng.choice(items)
        cands = [x["price"] for x in items] + [self.facts["fields"]["total"]]
        cands = [c for c in cands if c != it["price"]]
        rng.shuffle(cands)
        cands = cands[:2] + near_misses(it["price"], rng, 3, mode="digits")
        vals = {"item": it["name"], "doc": self.doc}
        query = {"kind": "item_price", "item": it["name"]}
        return self.fact("ask_item_price", vals, it["price"], query, "value_lookup", cands)

    def count_words(self) -> Fact:
        i = self.rng.choice(self.wordy)
        k = len(self.lines[i].split())
        query = {"kind": "count_words", "line": i + 1}
        return self.fact(
            "count_words", self.line_vals(i), str(k), query, "counting", count_cands(k, self.rng)
        )

    def count_word(self) -> Fact:
        rng = self.rng
        repeated = [w for w in self.targets if sum(self.occurrences(w)) > 1]
        w = rng.choice(repeated) if repeated and rng.random() < 0.7 else rng.choice(self.targets)
        k = sum(self.occurrences(w))
        query = {"kind": "count_word", "word": w}
        return self.fact("count_word", {"word": w}, str(k), query, "counting", numeric_distractors(k, rng))

    def find_line(self) -> Fact:
        w = self.rng.choice(self.unique)
        i = next(j for j, c in enumerate(self.occurrences(w)) if c)
        cands = [str(j) for j in range(1, max(self.n, 4) + 1) if j != i + 1]
        query = {"kind": "find_line", "word": w}
        return self.fact(
            "find_line", {"word": w, "unit": self.unit}, str(i + 1), query, "localization", cands
        )

    def edge_word(self) -> Fact:
        rng = self.rng
        i = rng.choice(self.edge)
        which = rng.choice(("first", "last"))
        toks = words_of(self.lines[i])
        ans = toks[0] if which == "first" else toks[-1]
        cands = [t for t in toks if t != ans] + near_misses(ans, rng, 3, mode="letters")
        query = {"kind": which + "_word", "line": i + 1}
        return self.fact(which + "_word", self.line_vals(i), ans, query, "text_reading", cands)

    def word_present(self) -> Fact:
        """Is a word in the image? A false one is a real word found nowhere, not even inside another."""

        def judge(truth: bool) -> tuple[Said, dict[str, Any]]:
            w = self.rng.choice(self.targets) if truth else self.absent_word()
            return self.v.said("word_present", word=w), {"kind": "word_present", "word": w}

        return Fact("word_present", "word_search", judge=judge, args={"kind": "word_present"})

    def field_cands(self, f: str, v: str) -> list[str]:
        """Plausible wrong values of field `f`: the same kind of thing, then misreadings of `v`."""
        rng = self.rng
        cands: list[str] = []
        if f == "total":
            cands = [x["price"] for x in self.facts["items"]]
            rng.shuffle(cands)
            cands = cands[:2]
        elif f == "job":
            cands = [rng.choice(JOB_TITLES)]
        elif f == "name" and self.zh:  # another surname, another given name
            w = ZH()
            cands = [rng.choice(w.surnames) + v[1:], v[0] + rng.choice(w.given_names)]
        elif f == "company" and self.zh:  # company heads are two hanzi
            cands = [v[:2] + rng.choice(ZH().company_tails)]
        elif f == "job" and self.zh:
            cands = [rng.choice(ZH().job_titles)]
        elif f == "name":
            first, last = v.split(" ", 1)
            cands = [f"{first} {rng.choice(LAST_NAMES)}", f"{rng.choice(FIRST_NAMES)} {last}"]
        elif f == "company":
            head, _ = v.split(" ", 1)
            cands = [f"{head} {rng.choice(COMPANY_TAILS)}"]
        elif f == "weight":
            g = int(v.split()[0])
            cands = [f"{g + d} g" for d in (-50, -25, 25, 50, 100) if g + d > 0]
            rng.shuffle(cands)
            cands = cands[:2]
        cands = [c for c in cands if c != v]
        mode = "letters" if f in ("store", "name", "job", "company", "email") else "digits"
        return cands + near_misses(v, rng, 4, avoid=[v], mode=mode)

    def absent_word(self) -> str:
        """A word of the document's kind that appears nowhere in it."""
        text = " ".join(self.lines).lower()
        if self.zh:
            w = ZH()
            pool = (
                w.products
                if self.layout == "receipt"
                else w.common_words
                if self.layout == "word_grid"
                else w.vocabulary
            )
            flat = "".join(self.lines)  # not even broken across two lines
            return self.rng.choice([p for p in pool if p not in flat])
        if self.layout == "receipt":
            pool = [p for p in PRODUCTS if " " not in p]
        elif self.layout == "business_card":
            pool = list(FIRST_NAMES) + list(LAST_NAMES)
        elif self.layout == "word_grid":
            pool = list(COMMON_WORDS)
            case = next((w for w in self.targets), "a")
            if case.isupper():
                pool = [p.upper() for p in pool]
            elif case[0].isupper():
                pool = [p.title() for p in pool]
        else:
            pool = list(COMMON_WORDS) + list(PLURALS) + list(PLACES) + list(DAYS)
        pool = [p for p in pool if p.lower() not in text and len(p) >= 3]
        return self.rng.choice(pool)

    # -- long
    def transcribe(self) -> Fact:
        """Transcribe everything, then one or two follow-ups answered from the transcription."""
        rng, lines, say = self.rng, self.lines, self.say
        turns: list[Turn] = [
            (say("transcribe", doc=self.doc), say("transcribe_answer", text="\n".join(lines)))
        ]
        follows = ["count_lines"]
        if self.targets:
            follows.append("count_word")
        if self.unique:
            follows.append("find_line")
        if self.wordy:
            follows.append("count_words")
        chosen = rng.sample(follows, min(len(follows), rng.choice((1, 2))))
        sep = say("list_sep")
        query: dict[str, Any] = {"kind": "transcribe", "follow": []}
        for kind in chosen:
            if kind == "count_lines":
                q = say("follow_count_lines", units=self.units)
                a = say("follow_count_lines_answer", units=self.units, k=self.n, last=lines[-1])
                query["follow"].append({"kind": "count_lines", "answer": str(self.n)})
            elif kind == "count_word":
                w = rng.choice(self.targets)
                occ = self.occurrences(w)
                k = sum(occ)
                pieces = sep.join(
                    say("occ_piece", unit=self.unit, n=j + 1, k=c) for j, c in enumerate(occ) if c
                )
                q = say("follow_count_word", word=w)
                a = say("follow_count_word_answer", word=w, pieces=pieces, k=k)
                query["follow"].append({"kind": "count_word", "word": w, "answer": str(k)})
            elif kind == "find_line":
                w = rng.choice(self.unique)
                i = next(j for j, c in enumerate(self.occurrences(w)) if c)
                q = say("follow_find_line", word=w, unit=self.unit)
                a = say("follow_find_line_answer", word=w, text=lines[i], **self.line_vals(i))
                query["follow"].append({"kind": "find_line", "word": w, "answer": str(i + 1)})
            else:
                i = rng.choice(self.wordy)
                toks = lines[i].split()
                q = say("follow_count_words", **self.line_vals(i))
                a = say(
                    "follow_count_words_answer",
                    text=lines[i],
                    words=sep.join(toks),
                    k=len(toks),
                    **self.line_vals(i),
                )
                query["follow"].append({"kind": "count_words", "line": i + 1, "answer": str(len(toks))})
            turns.append((q, a))
        return Fact("transcribe", "transcription", explain=lambda: turns, key="transcribe", args=query)


def record(a: Asked) -> dict[str, Any]:
    """The query a question answers (a judgement's with the value it claims)."""
    if a.type == "judgement":
        return dict(a.stated) if a.fact.judge else dict(a.fact.args, claim=a.shown)
    return dict(a.fact.args)
