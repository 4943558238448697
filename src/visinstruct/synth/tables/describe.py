"""A table's description from its exact facts: kind, title, headers, every cell, and how it
is drawn (title placement, borders, header and row shading). Templates:
phrasings/tables_describe.yaml."""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer

#: Facts not drawn in the image: the questions asked.
HIDDEN = ("questions",)


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A dense description of the table: every cell, in varied wording."""
    w = Writer("tables", rng, lang)
    f = facts
    rows, cols = f["rows"], f["columns"]
    headers = [f["row_header"]] + [c["header"] for c in cols]
    parts: list[tuple[str, bool]] = [
        (w.say("intro", kind=w.say(f"kind_{f['kind']}"), title=w.quote(f["title"])), False)
    ]
    layout = [
        (
            w.say(
                "shape", rows=len(rows), cols=len(headers), headers=w.listing([w.quote(h) for h in headers])
            ),
            False,
        )
    ]
    if len(cols) == 1 or w.maybe(0.4):
        layout.append((w.say("first_column", header=w.quote(f["row_header"]), rows=w.listing(rows)), True))
    rng.shuffle(layout)
    parts += layout
    body: list[tuple[str, bool]] = []
    if len(cols) == 1:
        c = cols[0]
        form = rng.randrange(4)
        entries = [_fill(w, "cell", form, row=r, cell=v) for r, v in zip(rows, c["cells"], strict=True)]
        body.append((w.say("column_values", header=w.quote(c["header"]), list=w.listing(entries)), False))
    else:
        if w.maybe(0.5):
            body.append((w.say("rows_lead"), True))
        form = rng.randrange(4)
        for i, r in enumerate(rows):
            cells = [_fill(w, "header_cell", form, header=c["header"], cell=c["cells"][i]) for c in cols]
            body.append((w.say("row_cells", row=r, cells=w.listing(cells)), False))
    parts += body
    look: list[tuple[str, bool]] = []
    st = f.get("style") or {}
    if st.get("title") in ("above", "above_left", "row") and w.maybe(0.6):
        look.append((w.say(f"title_{st['title']}"), True))
    if st.get("border") in ("grid", "rows", "outer", "none", "booktabs") and w.maybe(0.7):
        look.append((w.say(f"border_{st['border']}"), True))
    if st.get("header") in ("tint", "solid", "plain") and w.maybe(0.5):
        look.append((w.say(f"header_{st['header']}"), True))
    if st.get("zebra") and w.maybe(0.6):
        look.append((w.say("zebra"), True))
    rng.shuffle(look)
    extra: list[tuple[str, bool]] = []
    for c in cols:
        if c["type"] in ("int", "money") and len(cols) == 1 and w.maybe(0.6):
            vals = c["values"]
            for key, v in (("extreme_max", max(vals)), ("extreme_min", min(vals))):
                if vals.count(v) == 1 and w.maybe(0.7):
                    i = vals.index(v)
                    extra.append(
                        (w.say(key, header=w.quote(c["header"]), cell=c["cells"][i], row=rows[i]), True)
                    )
    return w.finish(parts + look + extra if w.maybe(0.5) else parts + extra + look)


def _fill(w: Writer, key: str, form: int, **values: str) -> str:
    """One entry of a listing in the wording `form` (one wording for the whole listing)."""
    variants = w.phrases[key][w.lang]
    i = form % len(variants)
    w.used.append(f"{w.file}.{key}#{i}")
    text = variants[i]
    for k, v in values.items():
        text = text.replace("{" + k + "}", v)
    return text


def known(facts: dict[str, Any]) -> Known:
    """A table's texts (title, headers, row names, cells) and their numbers, and its counts;
    coverage: the title, every header and every cell with its row."""
    f = facts
    k = Known()
    rows, cols = f["rows"], f["columns"]
    k.add_texts(f["title"], f["row_header"], *rows)
    for c in cols:
        k.add_texts(c["header"], *c["cells"])
    k.words |= set(f.get("singulars") or []) | set(f.get("plurals") or [])
    k.add_numbers(len(rows), len(rows) + 1, len(cols) + 1, 1)
    k.facts.append(Fact("title", {"en": ((f["title"],),), "zh": ((f["title"],),)}))
    for h in [f["row_header"]] + [c["header"] for c in cols]:
        k.facts.append(Fact(f"header:{h}", {"en": ((h,),), "zh": ((h,),)}))
    for c in cols:
        for r, v in zip(rows, c["cells"], strict=True):
            groups = ((r,), (v,))
            k.facts.append(Fact(f"cell:{r}:{c['header']}", {"en": groups, "zh": groups}))
    return k
