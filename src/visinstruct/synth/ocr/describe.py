"""A text image's description from its exact facts: the kind of document, every line as
written, its fields (store, date, total; name, job, contacts; weight, price, date), and how
the text sits. Templates: phrasings/ocr_describe.yaml."""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer

#: Facts not drawn in the image: the questions asked.
HIDDEN = ("queries",)

LAYOUT_NEEDLES = {
    "sign": ({"en": ("sign", "poster"), "zh": ("告示牌", "标牌", "招牌")}),
    "receipt": ({"en": ("receipt",), "zh": ("收据", "小票")}),
    "business_card": ({"en": ("card",), "zh": ("名片",)}),
    "notice": ({"en": ("notice",), "zh": ("通知", "告示")}),
    "label": ({"en": ("label",), "zh": ("标签",)}),
    "paragraph": ({"en": ("paragraph", "text", "passage"), "zh": ("文字", "段落")}),
    "word_grid": ({"en": ("grid", "words"), "zh": ("网格", "方阵", "单词")}),
}


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A dense description of the document: every line, quoted exactly. `treated`: the image
    was photographed or scanned (`synth/realism.py`), which tilts it, so its tilt is not said."""
    w = Writer("ocr", rng, lang)
    f = facts
    lines, layout, fields = f["lines"], f["layout"], f.get("fields") or {}
    parts: list[tuple[str, bool]] = [(w.say("intro", layout=w.say(f"layout_{layout}"), n=len(lines)), False)]
    if f.get("has_title") and fields.get("title") and w.maybe(0.6):
        parts.append((w.say("title", title=w.quote(fields["title"])), True))
    if len(lines) <= 10 and w.maybe(0.4):
        parts += [(w.say("line", i=i, text=w.quote(t)), False) for i, t in enumerate(lines, 1)]
    else:
        sep = "、" if lang == "zh" else ", "
        parts.append((w.say("transcript", lines=sep.join(w.quote(t) for t in lines)), False))
    extra: list[tuple[str, bool]] = []
    if layout == "receipt" and {"store", "date", "total"} <= set(fields):
        extra.append(
            (w.say("receipt", store=fields["store"], date=fields["date"], total=fields["total"]), True)
        )
        items = f.get("items") or []
        if items and w.maybe(0.5):
            form = rng.randrange(3)
            listed = [_item(w, form, i["name"], i["price"]) for i in items]
            extra.append((w.say("receipt_items", k=len(items), items=w.listing(listed)), True))
    elif layout == "business_card" and {"name", "job", "company"} <= set(fields):
        extra.append((w.say("card", name=fields["name"], job=fields["job"], company=fields["company"]), True))
        if {"email", "phone"} <= set(fields):
            extra.append((w.say("card_contact", email=fields["email"], phone=fields["phone"]), True))
    elif layout == "label" and {"weight", "price", "date"} <= set(fields):
        extra.append(
            (w.say("label_fields", weight=fields["weight"], price=fields["price"], date=fields["date"]), True)
        )
    elif layout == "word_grid":
        counts = {len(t.split()) for t in lines}
        if len(counts) == 1:
            extra.append((w.say("grid", rows=len(lines), cols=counts.pop()), True))
    elif layout == "paragraph" and w.maybe(0.5):
        extra.append((w.say("paragraph"), True))
    look: list[tuple[str, bool]] = []
    if w.maybe(0.6) and not treated:
        look.append((w.say("tilted" if abs(f.get("rotation") or 0) >= 1 else "level"), True))
    place = _placement(f)
    if place and w.maybe(0.4):
        look.append((w.say(f"placement_{place}"), True))
    rng.shuffle(look)
    tail = extra + look if w.maybe(0.5) else look + extra
    return w.finish(parts + tail)


def _item(w: Writer, form: int, name: str, price: str) -> str:
    variants = w.phrases["item"][w.lang]
    i = form % len(variants)
    w.used.append(f"{w.file}.item#{i}")
    return variants[i].replace("{name}", name).replace("{price}", price)


def _placement(f: dict[str, Any]) -> str | None:
    """Where the text block sits vertically (None when the boxes do not say clearly)."""
    boxes, size = f.get("boxes") or [], f.get("size") or []
    if not boxes or len(size) != 2 or abs(f.get("rotation") or 0) >= 1:
        return None
    top, bottom = min(b[1] for b in boxes), max(b[3] for b in boxes)
    mid = (top + bottom) / 2 / size[1]
    if 0.4 <= mid <= 0.6:
        return "middle"
    if bottom / size[1] < 0.55:
        return "top"
    if top / size[1] > 0.45:
        return "bottom"
    return None


def known(facts: dict[str, Any]) -> Known:
    """A document's texts (every line, field and item) and their numbers, and its counts;
    coverage: the kind of document and every line."""
    f = facts
    k = Known()
    lines = f["lines"]
    k.add_texts(*lines, *(str(v) for v in (f.get("fields") or {}).values()))
    for it in f.get("items") or []:
        k.add_texts(it["name"], it["price"])
    k.add_numbers(*range(1, len(lines) + 1), len(f.get("items") or []), *(len(t.split()) for t in lines))
    k.facts.append(Fact("layout", {lang: (n,) for lang, n in LAYOUT_NEEDLES[f["layout"]].items()}))
    k.facts += [Fact(f"line:{i}", {"en": ((t,),), "zh": ((t,),)}) for i, t in enumerate(lines, 1)]
    return k
