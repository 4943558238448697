"""The seven document layouts: signs, receipts, business cards, notices, labels, paragraphs
and word grids; each returns the rows to draw, the panel's look and the document's fields.
A Chinese document (`lang` "zh") writes Chinese words in the bundled CJK fonts."""

from __future__ import annotations

import random

from visinstruct.synth import style
from visinstruct.synth.ocr.data import (
    COMMON_WORDS,
    COMPANY_HEADS,
    COMPANY_TAILS,
    DARK_PANELS,
    FIRST_NAMES,
    INK_COLORS,
    JOB_TITLES,
    LABEL_ADJS,
    LABEL_LINES,
    LAST_NAMES,
    LIGHT_TEXT,
    NOTICE_HEADERS,
    NOTICE_LINES,
    PRODUCTS,
    SENTENCES,
    SIGN_LINES,
    SIGN_TITLES,
    TABLE_COLORS,
    ZH,
    address,
    date,
    fill_slots,
    money,
    phone,
    rgb,
    store_name,
    tint,
    unique_lines,
    zh_phone,
)
from visinstruct.synth.ocr.panel import Doc, Panel, Row

EN_TITLE_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSans.ttf")
EN_NAME_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSans.ttf")
ZH_TITLE_FONTS = ("NotoSansSC-Bold.otf", "NotoSansSC-Bold.otf", "NotoSerifSC-Regular.otf")


def title_fonts(lang: str, plain: bool = True) -> tuple[str, ...]:
    """Fonts for a document's title: bold faces (and a plain one when `plain`)."""
    if lang == "zh":
        return ZH_TITLE_FONTS if plain else ZH_TITLE_FONTS[:2]
    return EN_TITLE_FONTS if plain else EN_TITLE_FONTS[:2]


def sign(rng: random.Random, lang: str = "en") -> Doc:
    """A sign: a big title and 3-4 lines, on a light or dark panel."""
    zh = ZH() if lang == "zh" else None
    title = rng.choice(zh.sign_titles if zh else SIGN_TITLES)
    if rng.random() < 0.3:
        title = title.title()
    body = unique_lines(rng, zh.sign_lines if zh else SIGN_LINES, rng.randint(3, 4), [title], lang)
    dark = rng.random() < 0.5
    if dark:
        bg = rgb(rng.choice(DARK_PANELS))
        fg = rng.choice(LIGHT_TEXT)
        title_fg = fg
    else:
        bg = rng.choice(((255, 255, 255), (255, 250, 225), (240, 248, 255), (250, 240, 230)))
        fg = style.ink(rng)
        title_fg = rgb(rng.choice(INK_COLORS)) if rng.random() < 0.6 else fg
    align = rng.choice(("center", "center", "left"))
    tfont = rng.choice(title_fonts(lang))
    bfont = rng.choice(style.font_files(lang))
    tsize, bsize = rng.randint(32, 56), rng.randint(18, 28)
    rows = [Row([title], tfont, tsize, title_fg, align, underline=rng.random() < 0.4)]
    rows += [Row([t], bfont, bsize, fg, align, gap=0.5 if i == 0 else 0.0) for i, t in enumerate(body)]
    w = rng.randint(360, 640)
    panel = Panel(
        rows,
        w,
        min_h=int(w * rng.uniform(0.55, 0.9)),
        pad_x=rng.randint(24, 48),
        pad_y=rng.randint(24, 40),
        spacing=rng.uniform(1.2, 1.5),
        valign=0.5,
    )
    panel.extra = {
        "fill": bg,
        "outline": rgb(rng.choice(INK_COLORS)) if not dark else tint(bg, 0.5),
        "border": rng.randint(0, 6),
        "radius": rng.choice((0, 8, 16)),
        "margin": rng.randint(0, 40),
    }
    return Doc("sign", panel, {"title": title}, has_title=True)


def receipt(rng: random.Random, lang: str = "en") -> Doc:
    """A receipt: store, maybe address and date, items with prices and the total."""
    zh = ZH() if lang == "zh" else None
    cur = "¥" if zh else "$"
    store = store_name(rng, lang)
    if rng.random() < 0.5:
        store = store.upper()
    dollar = rng.random() < 0.6
    names = rng.sample(zh.products if zh else PRODUCTS, rng.randint(3, 6))
    cents = [rng.randint(49, 1999) for _ in names]
    if rng.random() < 0.5:
        cents = [c - c % 10 + 9 for c in cents]
    total = money(sum(cents), dollar, cur)
    mono = rng.random() < 0.7
    fnt = style.pick_font_name(rng, lang, mono)
    bold = style.mono_font(lang) if mono else style.bold_fonts(lang)[0]
    size = rng.randint(14, 20)
    fg = style.ink(rng)
    rows = [Row([store], bold, size + rng.randint(2, 8), fg, "center")]
    fields = {"store": store}
    if rng.random() < 0.6:
        rows.append(Row([address(rng, lang)], fnt, size, fg, "center"))
    if rng.random() < 0.6:
        d = date(rng, lang)
        fields["date"] = d
        rows.append(
            Row([rng.choice(zh.receipt_date if zh else ("Date", "Date:")) + " " + d], fnt, size, fg, "center")
        )
    items = []
    for i, (n, c) in enumerate(zip(names, cents, strict=True)):
        label = n.upper() if mono and rng.random() < 0.3 else n
        p = money(c, dollar, cur)
        items.append({"name": label, "price": p})
        rows.append(Row([label, p], fnt, size, fg, gap=0.8 if i == 0 else 0.0, sep_above=i == 0))
    tlabel = rng.choice(zh.receipt_total if zh else ("TOTAL", "Total", "TOTAL DUE"))
    rows.append(Row([tlabel, total], bold, size + rng.randint(0, 3), fg, gap=0.8, sep_above=True))
    fields["total"] = total
    if rng.random() < 0.5:
        rows.append(
            Row(
                [rng.choice(zh.receipt_thanks if zh else ("THANK YOU", "Thank you", "Please come again"))],
                fnt,
                size,
                fg,
                "center",
                gap=0.6,
            )
        )
    w = rng.randint(280, 400)
    panel = Panel(
        rows,
        w,
        max_w=440,
        pad_x=rng.randint(16, 28),
        pad_y=rng.randint(18, 30),
        spacing=rng.uniform(1.2, 1.45),
    )
    paper = rng.choice(((255, 255, 255), (252, 250, 242), (248, 248, 240)))
    panel.extra = {
        "fill": paper,
        "outline": (190, 190, 190),
        "border": rng.choice((0, 1)),
        "radius": 0,
        "margin": rng.randint(24, 90),
        "table": rng.choice(TABLE_COLORS),
    }
    return Doc("receipt", panel, fields, items=items)


def business_card(rng: random.Random, lang: str = "en") -> Doc:
    """A business card: name, job, company and contact lines."""
    if lang == "zh":
        return business_card_zh(rng)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    name = f"{first} {last}"
    job = rng.choice(JOB_TITLES)
    head, tail = rng.choice(COMPANY_HEADS), rng.choice(COMPANY_TAILS)
    company = f"{head} {tail}"
    ph = phone(rng)
    domain = rng.choice((f"{head}{tail}".lower(), head.lower(), "mail"))
    user = rng.choice((first.lower(), first[0].lower() + last.lower(), first.lower() + "." + last.lower()))
    email = f"{user}@{domain}.com"
    fg = style.ink(rng)
    accent = rgb(rng.choice(INK_COLORS))
    align = rng.choice(("left", "left", "center", "right"))
    nfont = rng.choice(EN_NAME_FONTS)
    bfont = rng.choice(style.FONT_FILES)
    bsize = rng.randint(16, 23)
    rows = [
        Row([name], nfont, rng.randint(26, 40), accent if rng.random() < 0.5 else fg, align),
        Row([job], bfont, bsize + 2, fg, align),
        Row([company], bfont, bsize, fg, align, gap=0.3),
    ]
    contact = [
        rng.choice(("", "Tel: ", "Phone: ", "T: ")) + ph,
        rng.choice(("", "Email: ", "E: ")) + email,
    ]
    if rng.random() < 0.5:
        contact.append(address(rng))
    rng.shuffle(contact)
    rows += [Row([c], bfont, bsize, fg, align, gap=0.6 if i == 0 else 0.0) for i, c in enumerate(contact)]
    w = rng.randint(440, 680)
    panel = Panel(
        rows,
        w,
        min_h=int(w * rng.uniform(0.5, 0.62)),
        pad_x=rng.randint(26, 44),
        pad_y=rng.randint(22, 36),
        spacing=rng.uniform(1.15, 1.4),
        valign=rng.choice((0.0, 0.5)),
    )
    card = rng.choice(((255, 255, 255), (250, 248, 240), (242, 246, 250), (252, 246, 238)))
    panel.extra = {
        "fill": card,
        "outline": (170, 170, 170),
        "border": rng.choice((0, 1, 2)),
        "radius": rng.choice((0, 6, 12)),
        "margin": rng.randint(20, 70),
        "table": rng.choice(TABLE_COLORS),
        "bar": accent if rng.random() < 0.4 else None,
    }
    fields = {"name": name, "job": job, "company": company, "phone": ph, "email": email}
    return Doc("business_card", panel, fields, has_title=False)


def business_card_zh(rng: random.Random) -> Doc:
    """A Chinese business card: name, job, company, phone and address (no Latin email)."""
    w = ZH()
    name = rng.choice(w.surnames) + rng.choice(w.given_names)
    job = rng.choice(w.job_titles)
    company = rng.choice(w.company_heads) + rng.choice(w.company_tails)
    ph = zh_phone(rng)
    fg = style.ink(rng)
    accent = rgb(rng.choice(INK_COLORS))
    align = rng.choice(("left", "left", "center", "right"))
    nfont = rng.choice(title_fonts("zh"))
    bfont = rng.choice(style.font_files("zh"))
    bsize = rng.randint(16, 23)
    rows = [
        Row([name], nfont, rng.randint(26, 40), accent if rng.random() < 0.5 else fg, align),
        Row([job], bfont, bsize + 2, fg, align),
        Row([company], bfont, bsize, fg, align, gap=0.3),
    ]
    city = rng.choice(w.cities)
    contact = [
        rng.choice(w.phone_labels) + ph,
        rng.choice(w.address_label) + f"{city}市{rng.choice(w.districts)}{address(rng, 'zh')}",
    ]
    rng.shuffle(contact)
    rows += [Row([c], bfont, bsize, fg, align, gap=0.6 if i == 0 else 0.0) for i, c in enumerate(contact)]
    w_ = rng.randint(440, 680)
    panel = Panel(
        rows,
        w_,
        min_h=int(w_ * rng.uniform(0.5, 0.62)),
        pad_x=rng.randint(26, 44),
        pad_y=rng.randint(22, 36),
        spacing=rng.uniform(1.15, 1.4),
        valign=rng.choice((0.0, 0.5)),
    )
    panel.extra = {
        "fill": rng.choice(((255, 255, 255), (250, 248, 240), (242, 246, 250), (252, 246, 238))),
        "outline": (170, 170, 170),
        "border": rng.choice((0, 1, 2)),
        "radius": rng.choice((0, 6, 12)),
        "margin": rng.randint(20, 70),
        "table": rng.choice(TABLE_COLORS),
        "bar": accent if rng.random() < 0.4 else None,
    }
    fields = {"name": name, "job": job, "company": company, "phone": ph}
    return Doc("business_card", panel, fields, has_title=False)


def notice(rng: random.Random, lang: str = "en") -> Doc:
    """A notice: a header such as CAUTION and 3-5 lines."""
    zh = ZH() if lang == "zh" else None
    header = rng.choice(zh.notice_headers if zh else NOTICE_HEADERS)
    body = unique_lines(rng, zh.notice_lines if zh else NOTICE_LINES, rng.randint(3, 5), [header], lang)
    if rng.random() < 0.25:
        body = [b.upper() for b in body]
    accent = rgb(rng.choice(("red", "orange", "blue", "green", "black", "purple")))
    fg = style.ink(rng)
    align = rng.choice(("center", "left"))
    tfont = rng.choice(title_fonts(lang, plain=False))
    bfont = rng.choice(style.font_files(lang))
    bsize = rng.randint(17, 26)
    rows = [Row([header], tfont, rng.randint(28, 44), accent, align, underline=rng.random() < 0.35)]
    rows += [Row([b], bfont, bsize, fg, align, gap=0.4 if i == 0 else 0.0) for i, b in enumerate(body)]
    w = rng.randint(360, 620)
    panel = Panel(
        rows,
        w,
        min_h=int(w * rng.uniform(0.5, 0.85)),
        pad_x=rng.randint(26, 44),
        pad_y=rng.randint(26, 40),
        spacing=rng.uniform(1.2, 1.5),
        valign=rng.choice((0.0, 0.5)),
    )
    panel.extra = {
        "fill": rng.choice(((255, 255, 255), (255, 252, 230), (250, 250, 250))),
        "outline": accent,
        "border": rng.randint(2, 8),
        "radius": rng.choice((0, 10)),
        "margin": rng.randint(0, 40),
    }
    return Doc("notice", panel, {"title": header}, has_title=True)


def label(rng: random.Random, lang: str = "en") -> Doc:
    """A product label: name, weight, best-before date, price and a few more lines."""
    zh = ZH() if lang == "zh" else None
    if zh:
        product = rng.choice(zh.label_adjs) + rng.choice(zh.products)
    else:
        product = f"{rng.choice(LABEL_ADJS)} {rng.choice(PRODUCTS)}"
    weight = f"{rng.choice(range(50, 1000, 25))} g"
    best = date(rng, lang)
    price = money(rng.randint(1, 25) * 100 + rng.choice((0, 25, 49, 50, 95, 99)), True, "¥" if zh else "$")
    fields = {"title": product, "weight": weight, "date": best, "price": price}
    body = [
        rng.choice(zh.weight_labels if zh else ("Net weight ", "Net wt ", "Weight ")) + weight,
        rng.choice(zh.date_labels if zh else ("Best before ", "Use by ", "Expires ")) + best,
        rng.choice(zh.price_labels if zh else ("Price ", "Price: ", "Only ")) + price,
    ]
    body += unique_lines(rng, zh.label_lines if zh else LABEL_LINES, rng.randint(0, 2), body, lang)
    rng.shuffle(body)
    accent = rgb(rng.choice(INK_COLORS))
    fg = style.ink(rng)
    align = rng.choice(("center", "left"))
    rows = [
        Row(
            [product],
            rng.choice(title_fonts(lang, plain=False)),
            rng.randint(24, 38),
            accent,
            align,
            underline=rng.random() < 0.3,
        )
    ]
    bfont = rng.choice(style.font_files(lang))
    bsize = rng.randint(15, 22)
    rows += [Row([b], bfont, bsize, fg, align, gap=0.5 if i == 0 else 0.0) for i, b in enumerate(body)]
    w = rng.randint(340, 560)
    panel = Panel(
        rows,
        w,
        min_h=int(w * rng.uniform(0.5, 0.8)),
        pad_x=rng.randint(24, 40),
        pad_y=rng.randint(20, 34),
        spacing=rng.uniform(1.2, 1.45),
        valign=0.5,
    )
    panel.extra = {
        "fill": tint(accent, rng.uniform(0.86, 0.95)),
        "outline": accent,
        "border": rng.randint(1, 4),
        "radius": rng.choice((0, 12, 20)),
        "margin": rng.randint(16, 60),
    }
    return Doc("label", panel, fields, has_title=True)


def wrap(text: str, f, width: float, lang: str) -> list[str]:
    """`text` broken into lines at most `width` wide: at spaces, or between any two characters
    of Chinese (which has no spaces; punctuation never starts a line)."""
    lines, cur = [], ""
    pieces = list(text) if lang == "zh" else text.split()
    join = "" if lang == "zh" else " "
    for wd in pieces:
        cand = f"{cur}{join}{wd}" if cur else wd
        if cur and f.getlength(cand) > width and not (lang == "zh" and wd in "，。、；：！？”）"):
            lines.append(cur)
            cur = wd
        else:
            cur = cand
    lines.append(cur)
    return lines


def paragraph(rng: random.Random, lang: str = "en") -> Doc:
    """A paragraph of sentences wrapped to at least four lines."""
    pool = ZH().sentences if lang == "zh" else SENTENCES
    templates = rng.sample(pool, len(pool))
    k = rng.randint(2, 5)
    sentences = [fill_slots(rng, t, lang) for t in templates[:k]]
    fnt = rng.choice(style.font_files(lang))
    size = rng.randint(16, 24)
    w = rng.randint(380, 720)
    pad = rng.randint(20, 40)
    f = style.font(fnt, size)
    # wrap to at least four lines: narrow the text, or add a sentence once it is narrow enough
    width = w - 2 * pad
    while True:
        lines = wrap(("" if lang == "zh" else " ").join(sentences), f, width, lang)
        if len(lines) >= 4:
            break
        if width * 0.8 >= 240:
            width = int(width * 0.8)
        else:
            sentences.append(fill_slots(rng, templates[len(sentences)], lang))
    fg = style.ink(rng) if rng.random() < 0.8 else rgb(rng.choice(INK_COLORS))
    align = rng.choice(("left", "left", "center"))
    rows = [Row([ln], fnt, size, fg, align) for ln in lines]
    panel = Panel(
        rows,
        width + 2 * pad,
        max_w=width + 2 * pad,
        min_h=rng.randint(200, 320),
        pad_x=pad,
        pad_y=rng.randint(20, 40),
        spacing=rng.uniform(1.2, 1.7),
        valign=rng.choice((0.0, 0.5)),
    )
    panel.extra = {"fill": None, "margin": 0}
    return Doc("paragraph", panel, {}, style={"sentences": len(sentences)})


def word_grid(rng: random.Random, lang: str = "en") -> Doc:
    """A grid of words in rows and columns, words repeating (for counting questions)."""
    nrows, ncols = rng.randint(4, 6), rng.randint(2, 4)
    words = ZH().common_words if lang == "zh" else COMMON_WORDS
    pool = rng.sample(words, max(4, int(nrows * ncols * rng.uniform(0.55, 1.0))))
    case = rng.choice(("lower", "lower", "title", "upper"))
    pool = [getattr(p, case)() for p in pool]
    grid = [[rng.choice(pool) for _ in range(ncols)] for _ in range(nrows)]
    mono = rng.random() < 0.4
    fnt = style.pick_font_name(rng, lang, mono)
    fg = style.ink(rng) if rng.random() < 0.7 else rgb(rng.choice(INK_COLORS))
    size = rng.randint(16, 28)
    boxes = rng.random() < 0.4
    rows = [Row(r, fnt, size, fg, rng.choice(("left", "center")), grid=True) for r in grid]
    align = rows[0].align
    for r in rows:
        r.align = align
    panel = Panel(
        rows,
        rng.randint(340, 560),
        min_h=rng.randint(240, 360),
        pad_x=rng.randint(24, 40),
        pad_y=rng.randint(24, 40),
        spacing=rng.uniform(1.6, 2.0) if boxes else rng.uniform(1.3, 1.8),
        valign=0.5,
        col_gap=rng.randint(28, 56),
        cell_boxes=boxes,
    )
    panel.extra = {"fill": None, "margin": 0, "box_color": tint(fg, 0.5)}
    return Doc("word_grid", panel, {}, style={"rows": nrows, "cols": ncols})


# ------------------------------------------------------------------ drawing


BUILDERS = {
    "sign": sign,
    "receipt": receipt,
    "business_card": business_card,
    "notice": notice,
    "label": label,
    "paragraph": paragraph,
    "word_grid": word_grid,
}
