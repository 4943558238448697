"""A model's reply → a validated, re-serialised spec, or `SpecError` naming what is wrong.

The reply is data from an untrusted writer. It is read with data parsers only (json,
defusedxml, html.parser), checked against an allow-list and limits, and what passed is
serialised again by this module: the renderer only ever sees that serialisation, so nothing
the parsers did not understand (a comment, a processing instruction, an unknown attribute)
reaches it. Every refusal names its reason in one line ("script element", "event handler
attribute onload", "external URL http://…", "100000 elements > 5000", "canvas 100000x100000
> 4096x4096").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from html import escape
from html.parser import HTMLParser
from typing import Any
from xml.sax.saxutils import quoteattr

MAX_CHARS = 1_000_000  # the longest reply read at all
MAX_ELEMENTS = 5000  # elements of an SVG or HTML spec
MAX_DEPTH = 40  # nesting of elements
MAX_SIDE = 4096  # the largest declared canvas side, px
MIN_SIDE = 32
MAX_TEXT = 500  # characters of one text node
MAX_ALL_TEXT = 20_000  # characters of all text together
MAX_POINTS = 300  # data points of a chart
MAX_ROWS, MAX_COLUMNS = 40, 10  # of a table
MAX_CSS = 20_000  # characters of CSS
HTML_CANVAS = (800, 600)  # an HTML page that declares no viewport


class SpecError(ValueError):
    """The spec cannot be drawn safely or exactly: `reason` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Spec:
    """A validated spec: what is drawn (`source`, our serialisation), on what canvas, and the
    facts the spec states (the exact context of the image)."""

    kind: str
    width: int
    height: int
    source: Any  # vega-lite / table: a JSON object; svg / html: markup
    facts: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"  # the language of its text: decides the fonts it is drawn with


# ---------------------------------------------------------------------------------------------
# the reply


FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```", re.S)


def extract(reply: str | None) -> str:
    """The spec in a reply: the first fenced block if there is one, else the whole reply."""
    if not reply or not reply.strip():
        raise SpecError("the reply is empty")
    if len(reply) > MAX_CHARS:
        raise SpecError(f"the reply has {len(reply):,} characters > {MAX_CHARS:,}")
    m = FENCE.search(reply)
    return (m.group(1) if m else reply).strip()


def validate(kind: str, reply: str | None, lang: str = "en") -> Spec:
    """The reply's spec of `kind` with text in `lang`, validated; raises SpecError with the
    reason. Every character must be one the fonts of `lang` draw (`FONTS`)."""
    if lang not in FONTS:
        raise SpecError(f"no fonts for language {lang!r}")
    text = extract(reply)
    if kind == "vega-lite":
        spec = vega_lite(_json(text), lang)
    elif kind == "table":
        spec = table(_json(text), lang)
    elif kind == "svg":
        spec = svg(text, lang)
    elif kind == "html":
        spec = html(text, lang)
    else:
        raise SpecError(f"unknown spec kind {kind!r}")
    spec.lang = lang
    return spec


def _json(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise SpecError(f"duplicate key {k!r}")
            out[k] = v
        return out

    def no_constant(name: str) -> Any:
        raise SpecError(f"{name} is not a JSON number")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except RecursionError:
        raise SpecError("JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise SpecError(f"not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None


# ---------------------------------------------------------------------------------------------
# what every kind shares: URLs, canvas, text


URL_FUNC = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):")
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")


def check_url(url: str, where: str, data_images: bool = False) -> None:
    """Only `#id` references (and, where allowed, inline `data:` images) are links a spec may hold."""
    u = url.strip()
    if u.startswith("#") and re.fullmatch(r"#[A-Za-z_][\w.-]*", u):
        return
    if data_images and DATA_IMAGE.match(u):
        return
    low = re.sub(r"[\s\x00-\x1f]", "", u).lower()
    if low.startswith("file:"):
        raise SpecError(f"file:// URL {u[:80]} ({where})")
    if low.startswith("javascript:"):
        raise SpecError(f"javascript: URL ({where})")
    if low.startswith("data:"):
        raise SpecError(f"data: URL that is not an inline image ({where})")
    raise SpecError(f"external URL {u[:80]} ({where})")


def check_css(css: str, where: str, data_images: bool = False) -> None:
    """CSS that loads nothing and hides no behaviour: no @import, no url() but #id or data:
    images, no expression() or bindings."""
    if len(css) > MAX_CSS:
        raise SpecError(f"{len(css):,} characters of CSS > {MAX_CSS:,} ({where})")
    if "<" in css:
        raise SpecError(f"markup in CSS ({where})")
    flat = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    if "\\" in flat:
        raise SpecError(f"escape sequence in CSS ({where})")
    low = flat.lower()
    for bad, why in (
        ("@import", "@import in CSS"),
        ("@font-face", "@font-face in CSS"),
        ("@namespace", "@namespace in CSS"),
        ("expression(", "expression() in CSS"),
        ("-moz-binding", "-moz-binding in CSS"),
        ("behavior:", "behavior in CSS"),
        ("image-set(", "image-set() in CSS"),
        ("src(", "src() in CSS"),
    ):
        if bad in low:
            raise SpecError(f"{why} ({where})")
    for m in URL_FUNC.finditer(flat):
        check_url(m.group(2), where, data_images)
    if re.search(r"url\s*\(", low) and not URL_FUNC.search(flat):
        raise SpecError(f"unreadable url() in CSS ({where})")


def check_canvas(width: float, height: float, what: str = "canvas") -> tuple[int, int]:
    """A declared canvas within MIN_SIDE..MAX_SIDE, as whole pixels."""
    if not (math.isfinite(width) and math.isfinite(height)):
        raise SpecError(f"{what} size is not a finite number")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise SpecError(f"{what} {_n(width)}x{_n(height)} > {MAX_SIDE}x{MAX_SIDE}")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise SpecError(f"{what} {_n(width)}x{_n(height)} < {MIN_SIDE}x{MIN_SIDE}")
    return round(width), round(height)


def _n(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


# the bundled fonts a spec's text is drawn with, per language: every character must be in
# each of them (English: DejaVu, as the renderers' own default; Chinese: the Noto CJK SC cut,
# which has ASCII too, drawn by every renderer of a Chinese spec)
FONTS = {"en": ("DejaVuSans.ttf",), "zh": ("NotoSansSC-Regular.otf", "NotoSansSC-Bold.otf")}
FONT_NAMES = {"en": "DejaVu Sans", "zh": "Noto Sans CJK SC"}


@cache
def _glyphs(name: str) -> tuple[Any, bytes]:
    from visinstruct.synth.style import font

    f = font(name, 24)
    return f, bytes(f.getmask("\U0010fffd"))  # the font's "no glyph" box


@cache
def _drawable(ch: str, lang: str = "en") -> bool:
    if ch.isspace() or " " <= ch <= "~":
        return True
    for name in FONTS[lang]:
        f, notdef = _glyphs(name)
        if bytes(f.getmask(ch)) == notdef:
            return False
    return True


def check_text(text: str, where: str, limit: int = MAX_TEXT, lang: str = "en") -> str:
    """A text node: at most `limit` characters, each one the fonts of `lang` can draw (a text
    the image cannot show cannot be asked about)."""
    if len(text) > limit:
        raise SpecError(f"text of {len(text):,} characters > {limit:,} ({where})")
    for ch in dict.fromkeys(text):
        if ord(ch) < 32 and ch not in "\t\n\r":
            raise SpecError(f"control character U+{ord(ch):04X} in text ({where})")
        if not _drawable(ch, lang):
            raise SpecError(
                f"character U+{ord(ch):04X} {ch!r} ({_char_name(ch)}) has no glyph in "
                f"{FONT_NAMES[lang]}, the font of {lang} specs ({where})"
            )
    return text


def _char_name(ch: str) -> str:
    import unicodedata

    return unicodedata.name(ch, "unnamed character")


# Chinese text is drawn in Chromium with the bundled CJK font, which the engine adds to the page
# under this family; every font list of a Chinese spec names it first (it covers only what is
# not Latin-1, so Latin text keeps the spec's own font)
CJK_FAMILY = "visinstruct CJK"
_FONT_FAMILY = re.compile(r"(?<![\w-])(font-family\s*:\s*)", re.I)
_FONT_SHORTHAND = re.compile(
    r"(?<![\w-])(font\s*:[^;{}]*?\d(?:\.\d+)?(?:px|pt|pc|em|rem|ex|ch|%|vw|vh|mm|cm|in)"
    r"(?:\s*/\s*[\w.%]+)?\s+)",
    re.I,
)


def cjk_first(css: str) -> str:
    """CSS with the CJK family put first in every font list it sets (`font-family`, `font`)."""
    css = _FONT_FAMILY.sub(lambda m: f"{m.group(1)}'{CJK_FAMILY}', ", css)
    return _FONT_SHORTHAND.sub(lambda m: f"{m.group(1)}'{CJK_FAMILY}', ", css)


def squash(text: str) -> str:
    """Text as a reader sees it: runs of whitespace as one space."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Vega-Lite (a subset, rebuilt)


VL_TOP = {"$schema", "title", "description", "width", "height", "data", "mark", "encoding", "background"}
VL_MARKS = {"bar", "line", "point", "area", "arc"}
VL_MARK_PROPS = {"type", "color", "point", "strokeWidth", "innerRadius", "cornerRadius", "size"}
VL_CHANNELS = {"x", "y", "color", "theta"}
VL_FIELD_DEF = {"field", "type", "title", "axis", "legend"}
VL_FORBIDDEN = {
    "transform": "transform",
    "params": "params",
    "signal": "signal",
    "expr": "expression",
    "url": "data URL",
    "selection": "selection",
    "repeat": "repeat",
    "layer": "layer",
    "facet": "facet",
    "concat": "concat",
    "hconcat": "hconcat",
    "vconcat": "vconcat",
    "config": "config",
    "datasets": "datasets",
    "usermeta": "usermeta",
}
FIELD_NAME = re.compile(
    r"^[A-Za-z_\u3400-\u4dbf\u4e00-\u9fff][A-Za-z0-9_ ()%\u3400-\u4dbf\u4e00-\u9fff-]{0,39}$"
)
COLOUR_VALUE = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]{3,20})$")


def _forbidden(node: Any, path: str = "") -> None:
    """A key that makes Vega fetch, compute or react (anywhere in the spec) is refused by name."""
    stack = [(node, path)]
    while stack:
        n, p = stack.pop()
        if isinstance(n, dict):
            for k, v in n.items():
                if k in VL_FORBIDDEN:
                    if k == "url" and isinstance(v, str):
                        check_url(v, f"{p}{k}")
                    raise SpecError(f"vega-lite: `{p}{k}` ({VL_FORBIDDEN[k]}) is not allowed")
                stack.append((v, f"{p}{k}."))
        elif isinstance(n, list):
            stack += [(v, f"{p}{i}.") for i, v in enumerate(n)]


def _title(v: Any, where: str, lang: str = "en") -> str | None:
    if v is None:
        return None
    if isinstance(v, dict) and set(v) <= {"text"} and isinstance(v.get("text"), str):
        v = v["text"]
    if not isinstance(v, str):
        raise SpecError(f"vega-lite: {where} must be a string")
    return check_text(squash(v), where, 120, lang) or None


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise SpecError(f"{where} must be a finite number, got {json.dumps(v)[:40]}")
    return float(v)


def vega_lite(spec: Any, lang: str = "en") -> Spec:
    """The supported Vega-Lite subset: one mark (bar, line, point, area, arc) over inline
    `data.values`, a category channel, a value channel and an optional series colour."""
    if not isinstance(spec, dict):
        raise SpecError("vega-lite: the spec must be a JSON object")
    _forbidden(spec)
    extra = set(spec) - VL_TOP
    if extra:
        raise SpecError(f"vega-lite: `{sorted(extra)[0]}` is not supported")
    width = _number(spec.get("width", 400), "vega-lite: width")
    height = _number(spec.get("height", 300), "vega-lite: height")
    w, h = check_canvas(width, height)
    if "$schema" in spec and not (
        isinstance(spec["$schema"], str)
        and re.fullmatch(r"https://vega\.github\.io/schema/vega-lite/v\d+(\.\d+)*\.json", spec["$schema"])
    ):
        raise SpecError("vega-lite: $schema is not a Vega-Lite schema URL")
    mark = spec.get("mark")
    props: dict[str, Any] = {}
    if isinstance(mark, dict):
        bad = set(mark) - VL_MARK_PROPS
        if bad:
            raise SpecError(f"vega-lite: mark.{sorted(bad)[0]} is not supported")
        props = {k: v for k, v in mark.items() if k != "type"}
        mark = mark.get("type")
    if mark not in VL_MARKS:
        raise SpecError(
            f"vega-lite: mark {json.dumps(mark)[:30]} is not one of {', '.join(sorted(VL_MARKS))}"
        )
    for k, v in props.items():
        if k == "color" and not (isinstance(v, str) and COLOUR_VALUE.match(v)):
            raise SpecError("vega-lite: mark.color must be a colour name or #hex")
        if k == "point" and not isinstance(v, bool):
            raise SpecError("vega-lite: mark.point must be true or false")
        if k in ("strokeWidth", "innerRadius", "cornerRadius", "size"):
            x = _number(v, f"vega-lite: mark.{k}")
            if not 0 <= x <= 200:
                raise SpecError(f"vega-lite: mark.{k} {x:g} is outside 0..200")
    data = spec.get("data")
    if not isinstance(data, dict) or set(data) != {"values"}:
        raise SpecError('vega-lite: data must be {"values": [...]} (inline rows only)')
    rows = data["values"]
    if not isinstance(rows, list) or not rows:
        raise SpecError("vega-lite: data.values must be a non-empty list of rows")
    if len(rows) > MAX_POINTS:
        raise SpecError(f"vega-lite: {len(rows)} data rows > {MAX_POINTS}")
    fields: set[str] = set()
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not r:
            raise SpecError(f"vega-lite: data.values[{i}] must be an object of fields")
        for k, v in r.items():
            if k not in fields:
                if not FIELD_NAME.match(k):
                    raise SpecError(f"vega-lite: field name {k[:40]!r} (letters, digits, spaces, _ only)")
                check_text(k, f"field name {k!r}", 40, lang)
            if isinstance(v, str):
                check_text(v, f"data.values[{i}].{k}", 60, lang)
            elif isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise SpecError(f"vega-lite: data.values[{i}].{k} must be a string or a finite number")
            fields.add(k)
    enc = spec.get("encoding")
    if not isinstance(enc, dict):
        raise SpecError("vega-lite: encoding must be an object")
    bad = set(enc) - VL_CHANNELS
    if bad:
        raise SpecError(f"vega-lite: encoding channel `{sorted(bad)[0]}` is not supported")
    chans: dict[str, dict[str, Any]] = {}
    for ch, d in enc.items():
        if not isinstance(d, dict):
            raise SpecError(f"vega-lite: encoding.{ch} must be an object")
        extra = set(d) - VL_FIELD_DEF
        if extra:
            raise SpecError(f"vega-lite: encoding.{ch}.{sorted(extra)[0]} is not supported")
        f, t = d.get("field"), d.get("type")
        if f not in fields:
            raise SpecError(f"vega-lite: encoding.{ch}.field {json.dumps(f)[:40]} is not a field of the data")
        if t not in ("nominal", "ordinal", "quantitative"):
            raise SpecError(f"vega-lite: encoding.{ch}.type must be nominal, ordinal or quantitative")
        for part in ("axis", "legend"):
            if part in d:
                v = d[part]
                if not isinstance(v, dict) or set(v) - {"title", "labelAngle"}:
                    raise SpecError(f"vega-lite: encoding.{ch}.{part} may only set title and labelAngle")
                if "labelAngle" in v:
                    _number(v["labelAngle"], f"vega-lite: encoding.{ch}.{part}.labelAngle")
                _title(v.get("title"), f"encoding.{ch}.{part}.title", lang)
        chans[ch] = {"field": f, "type": t, "title": _title(d.get("title"), f"encoding.{ch}.title", lang)}
        chans[ch]["raw"] = d
    quant = [c for c in ("x", "y", "theta") if c in chans and chans[c]["type"] == "quantitative"]
    if mark == "arc":
        if "theta" not in chans or chans["theta"]["type"] != "quantitative" or "color" not in chans:
            raise SpecError("vega-lite: an arc chart needs a quantitative theta and a colour field")
        if set(chans) - {"theta", "color"}:
            raise SpecError("vega-lite: an arc chart takes only theta and color")
        value_ch, cat_ch, series_ch = "theta", "color", None
    else:
        if "theta" in chans:
            raise SpecError(f"vega-lite: theta is for arc charts, not {mark}")
        if len(quant) != 1 or not {"x", "y"} <= set(chans):
            raise SpecError("vega-lite: give x and y, one of them quantitative and the other nominal")
        value_ch = quant[0]
        cat_ch = "y" if value_ch == "x" else "x"
        series_ch = "color" if "color" in chans else None
        if series_ch and chans["color"]["type"] == "quantitative":
            raise SpecError("vega-lite: the colour field must be nominal (a series)")
        if series_ch and mark == "area":
            raise SpecError("vega-lite: an area chart takes one series (stacked areas hide values)")
    if chans[cat_ch]["type"] == "quantitative":
        raise SpecError("vega-lite: the category field must be nominal or ordinal")
    vf, cf = chans[value_ch]["field"], chans[cat_ch]["field"]
    sf = chans[series_ch]["field"] if series_ch else None
    if len({vf, cf, sf} - {None}) != (3 if sf else 2):
        raise SpecError("vega-lite: category, value and series must be different fields")
    points, seen = [], set()
    for i, r in enumerate(rows):
        if cf not in r or vf not in r or (sf and sf not in r):
            raise SpecError(f"vega-lite: data.values[{i}] lacks a field the encoding uses")
        v = r[vf]
        if isinstance(v, str):
            raise SpecError(f"vega-lite: data.values[{i}].{vf} must be a number")
        if abs(v) > 1e12:
            raise SpecError(f"vega-lite: data.values[{i}].{vf} {v:g} is too large")
        cat = squash(str(r[cf]))
        ser = squash(str(r[sf])) if sf else None
        if not cat or (sf and not ser):
            raise SpecError(f"vega-lite: data.values[{i}] has an empty label")
        if (cat, ser) in seen:
            raise SpecError(
                f"vega-lite: two data rows for {cat!r}"
                + (f" in {ser!r}" if ser else "")
                + " (they would be stacked)"
            )
        seen.add((cat, ser))
        v = round(float(v), 2)
        if mark == "arc" and v <= 0:
            raise SpecError(f"vega-lite: a pie slice must be positive ({cat!r} is {v:g})")
        points.append({"category": cat, "series": ser, "value": int(v) if v.is_integer() else v})
    cats = list(dict.fromkeys(p["category"] for p in points))
    series = list(dict.fromkeys(p["series"] for p in points if p["series"] is not None))
    if not 2 <= len(cats) <= 30:
        raise SpecError(f"vega-lite: {len(cats)} categories (2 to 30 are drawn legibly)")
    if len(series) > 6:
        raise SpecError(f"vega-lite: {len(series)} series > 6")
    title = _title(spec.get("title"), "title", lang)
    facts = {
        "chart": mark,
        "title": title,
        "category_field": chans[cat_ch]["title"] or cf,
        "value_field": chans[value_ch]["title"] or vf,
        "series_field": (chans[series_ch]["title"] or sf) if series_ch else None,
        "horizontal": cat_ch == "y",
        "categories": cats,
        "series": series,
        "points": points,
    }
    source = _vl_source(
        spec, mark, props, chans, cat_ch, value_ch, series_ch, points, cf, vf, sf, w, h, title
    )
    if lang != "en":  # every text of the chart in the language's font (the renderer has it)
        source["config"] = {"font": FONT_NAMES[lang]}
    return Spec("vega-lite", w, h, source, facts)


def _vl_source(
    spec: dict, mark: str, props: dict, chans: dict, cat_ch: str, value_ch: str, series_ch: str | None,
    points: list[dict], cf: str, vf: str, sf: str | None, w: int, h: int, title: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The Vega-Lite spec that is drawn: built from the validated parts only, with every value
    labelled (a value that is asked about must be readable)."""

    def channel(ch: str, field: str, **more: Any) -> dict[str, Any]:
        c = chans[ch]
        out: dict[str, Any] = {"field": field, "type": c["type"], **more}
        if c["title"]:
            out["title"] = c["title"]
        for part in ("axis", "legend"):
            if part in c["raw"]:
                out[part] = dict(c["raw"][part])
        return out

    values = [{cf: p["category"], vf: p["value"], **({sf: p["series"]} if sf else {})} for p in points]
    cat_order = list(dict.fromkeys(p["category"] for p in points))
    out: dict[str, Any] = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": w,
        "height": h,
        "data": {"values": values},
        "background": bg
        if isinstance(bg := spec.get("background"), str) and COLOUR_VALUE.match(bg)
        else "white",
    }
    if title:
        out["title"] = title
    m = {"type": mark, **props}
    if mark == "arc":
        radius = max(20, min(w, h) // 2 - 30)
        m["outerRadius"] = radius
        m.pop("innerRadius", None) if props.get("innerRadius", 0) >= radius else None
        enc = {
            "theta": channel("theta", vf, stack=True),
            "color": channel("color", cf, sort=cat_order),
        }
        out["layer"] = [
            {"mark": m, "encoding": enc},
            {
                "mark": {"type": "text", "radius": radius + 16, "fontSize": 12},
                "encoding": {**enc, "text": {"field": vf, "type": "quantitative", "format": ".2~f"}},
            },
        ]
        return out
    enc = {
        cat_ch: channel(cat_ch, cf, sort=cat_order),
        value_ch: channel(value_ch, vf, **({"stack": None} if mark == "bar" else {})),
    }
    if series_ch:
        enc["color"] = channel("color", sf)  # type: ignore[arg-type]
        if mark == "bar":
            enc[f"{cat_ch}Offset"] = {"field": sf, "type": "nominal"}
    horizontal = cat_ch == "y"
    label = {"type": "text", "fontSize": 11, **({"dx": 4, "align": "left"} if horizontal else {"dy": -7})}
    text_enc = {
        **{k: v for k, v in enc.items() if k != "color"},
        "text": {"field": vf, "type": "quantitative", "format": ".2~f"},
    }
    if series_ch and mark != "bar":
        text_enc["color"] = enc["color"]
    out["layer"] = [{"mark": m, "encoding": enc}, {"mark": label, "encoding": text_enc}]
    return out


# ---------------------------------------------------------------------------------------------
# our table JSON


def table(spec: Any, lang: str = "en") -> Spec:
    """`{"title": str, "columns": [str, ...], "rows": [[cell, ...], ...]}`: the first column
    names each row; a cell is a short string or a number."""
    if not isinstance(spec, dict):
        raise SpecError("table: the spec must be a JSON object")
    extra = set(spec) - {"title", "columns", "rows"}
    if extra:
        raise SpecError(f"table: `{sorted(extra)[0]}` is not a table field (title, columns, rows)")
    title = spec.get("title")
    if title is not None and not isinstance(title, str):
        raise SpecError("table: title must be a string")
    title = check_text(squash(title or ""), "table title", 120, lang) or None
    cols, rows = spec.get("columns"), spec.get("rows")
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise SpecError("table: columns must be a list of strings")
    if not 2 <= len(cols) <= MAX_COLUMNS:
        raise SpecError(f"table: {len(cols)} columns (2 to {MAX_COLUMNS})")
    cols = [check_text(squash(c), "table column", 40, lang) for c in cols]
    if len(set(c.casefold() for c in cols)) != len(cols) or not all(cols):
        raise SpecError("table: column headers must be distinct and non-empty")
    if not isinstance(rows, list) or not 2 <= len(rows) <= MAX_ROWS:
        raise SpecError(f"table: rows must be a list of 2 to {MAX_ROWS} rows")
    out_rows: list[list[Any]] = []
    for i, r in enumerate(rows):
        if not isinstance(r, list) or len(r) != len(cols):
            raise SpecError(f"table: row {i} must have {len(cols)} cells")
        cells: list[Any] = []
        for j, c in enumerate(r):
            if isinstance(c, str):
                cells.append(check_text(squash(c), f"table cell {i},{j}", 40, lang))
            elif (
                isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) and abs(c) < 1e12
            ):
                v = round(float(c), 2)
                cells.append(int(v) if v.is_integer() else v)
            else:
                raise SpecError(f"table: cell {i},{j} must be a short string or a finite number")
        if isinstance(cells[0], str) and not cells[0]:
            raise SpecError(f"table: row {i} has no label")
        out_rows.append(cells)
    labels = [str(r[0]).casefold() for r in out_rows]
    if len(set(labels)) != len(labels):
        raise SpecError("table: row labels (the first column) must be distinct")
    facts = {"title": title, "columns": cols, "rows": out_rows}
    source = {"title": title, "columns": cols, "rows": out_rows}
    # the canvas is what the drawing needs; it is measured when drawn (bounded by the limits above)
    return Spec("table", 0, 0, source, facts)


# ---------------------------------------------------------------------------------------------
# SVG (an allow-list, re-serialised)


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SVG_SHAPES = {"rect", "circle", "ellipse", "line", "polyline", "polygon", "path"}
SVG_ELEMENTS = SVG_SHAPES | {
    "svg", "g", "text", "tspan", "title", "desc", "defs", "linearGradient", "radialGradient", "stop",
}  # fmt: skip
SVG_NOT_RENDERED = {"title", "desc"}
SVG_ATTRS = {
    "id", "class", "style", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
    "stroke-dasharray", "stroke-linecap", "stroke-linejoin", "opacity", "font-family", "font-size",
    "font-weight", "font-style", "text-anchor", "dominant-baseline", "letter-spacing", "transform",
    "x", "y", "dx", "dy", "width", "height", "cx", "cy", "r", "rx", "ry", "fx", "fy", "x1", "y1", "x2", "y2",
    "points", "d", "viewBox", "preserveAspectRatio", "offset", "stop-color", "stop-opacity",
    "gradientUnits", "gradientTransform", "version",
}  # fmt: skip
REFUSED_ELEMENTS = {
    "script": "script element",
    "foreignobject": "foreignObject element",
    "iframe": "iframe element",
    "object": "object element",
    "embed": "embed element",
    "link": "link element",
    "image": "image element (external pictures)",
    "use": "use element",
    "a": "a element (links)",
    "style": "style element",
    "animate": "animate element",
    "set": "set element",
    "handler": "handler element",
    "listener": "listener element",
}
TRANSFORM = re.compile(
    r"^\s*((translate|scale|rotate|skewX|skewY|matrix)\s*\(\s*-?[\d.eE+-]+(\s*[,\s]\s*-?[\d.eE+-]+){0,5}\s*\)\s*)*$"
)
LENGTH = re.compile(r"^\s*(-?\d+(\.\d+)?|-?\.\d+)\s*(px)?\s*$")


def _attr_value(name: str, value: str, where: str) -> None:
    """One attribute's value: no link but `#id`, no script, CSS that loads nothing."""
    if len(value) > 20_000:
        raise SpecError(f"attribute {name} of {len(value):,} characters ({where})")
    low = value.lower()
    if "javascript:" in re.sub(r"[\s\x00-\x1f]", "", low):
        raise SpecError(f"javascript: URL in {name} ({where})")
    if name == "style":
        check_css(value, f"style of {where}")
    elif "url(" in low:
        for m in URL_FUNC.finditer(value):
            check_url(m.group(2), f"{name} of {where}")
    if name in ("transform", "gradientTransform") and not TRANSFORM.match(value):
        raise SpecError(f"{name} {value[:40]!r} is not a list of transform functions ({where})")


def _length(v: str | None, what: str) -> float | None:
    if v is None:
        return None
    m = LENGTH.match(v)
    if not m:
        raise SpecError(f"svg: {what} {v[:30]!r} must be a number of pixels")
    return float(m.group(1))


def svg(text: str, lang: str = "en") -> Spec:
    """An SVG drawing: the allow-listed elements and attributes, a declared canvas."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    _count_tags(text)
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise SpecError(f"svg: {type(e).__name__} (DTDs and entities are refused)") from None
    except SafeET.ParseError as e:
        raise SpecError(f"svg: not well-formed XML ({e})") from None
    if _local(root.tag) != "svg":
        raise SpecError(f"svg: the root element is <{_local(root.tag)}>, not <svg>")
    w = _length(root.get("width"), "width")
    h = _length(root.get("height"), "height")
    vb = root.get("viewBox")
    if vb is not None:
        parts = re.split(r"[\s,]+", vb.strip())
        try:
            box = [float(p) for p in parts]
        except ValueError:
            raise SpecError(f"svg: viewBox {vb[:40]!r} is not four numbers") from None
        if len(box) != 4 or not all(math.isfinite(b) for b in box):
            raise SpecError(f"svg: viewBox {vb[:40]!r} is not four numbers")
        check_canvas(box[2], box[3], "viewBox")
        if w is None and h is None:
            w, h = box[2], box[3]
        elif w is None or h is None:
            ratio = box[2] / box[3]
            w, h = (w, w / ratio) if h is None else (h * ratio, h)  # type: ignore[operator]
    if w is None or h is None:
        raise SpecError("svg: no canvas size (give width and height, or a viewBox)")
    width, height = check_canvas(w, h)
    shapes: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    ids: set[str] = set()
    total_text = 0

    def walk(el: Any, depth: int, text_parent: bool) -> str:
        nonlocal total_text
        if depth > MAX_DEPTH:
            raise SpecError(f"svg: elements nested deeper than {MAX_DEPTH}")
        ns, tag = _ns(el.tag)
        if ns not in (None, SVG_NS):
            raise SpecError(f"svg: element {tag} of namespace {ns} is not allowed")
        if tag.lower() in REFUSED_ELEMENTS:
            raise SpecError(f"svg: {REFUSED_ELEMENTS[tag.lower()]}")
        if tag not in SVG_ELEMENTS:
            raise SpecError(f"svg: <{tag}> element is not allowed")
        if tag == "tspan" and not text_parent:
            raise SpecError("svg: <tspan> outside <text>")
        attrs: list[tuple[str, str]] = []
        for name, value in el.attrib.items():
            ans, aname = _ns(name)
            if aname.lower().startswith("on"):
                raise SpecError(f"svg: event handler attribute {aname} on <{tag}>")
            if ans == XLINK_NS or aname == "href":
                check_url(value, f"href of <{tag}>")
                raise SpecError(f"svg: href on <{tag}> is not allowed")
            if ans is not None:
                raise SpecError(f"svg: attribute {aname} of namespace {ans} is not allowed")
            if aname not in SVG_ATTRS:
                raise SpecError(f"svg: attribute {aname} on <{tag}> is not allowed")
            _attr_value(aname, value, f"<{tag}>")
            if lang != "en" and aname == "font-family":
                value = f"'{CJK_FAMILY}', {value}"
            elif lang != "en" and aname == "style":
                value = cjk_first(value)
            if aname == "id":
                if value in ids:
                    raise SpecError(f"svg: id {value[:40]!r} is used twice")
                ids.add(value)
            attrs.append((aname, value))
        inner = ""
        if el.text:
            total_text += len(el.text)
            inner += escape(check_text(el.text, f"<{tag}>", lang=lang), quote=False)
        in_text = text_parent or tag == "text"
        for child in el:
            inner += walk(child, depth + 1, in_text)
            if child.tail:
                total_text += len(child.tail)
                inner += escape(check_text(child.tail, f"<{tag}>", lang=lang), quote=False)
        if total_text > MAX_ALL_TEXT:
            raise SpecError(f"svg: {total_text:,} characters of text > {MAX_ALL_TEXT:,}")
        if tag not in ("text", "tspan", "title", "desc") and inner.strip() and not any(True for _ in el):
            raise SpecError(f"svg: text directly inside <{tag}> (text goes in <text>)")
        mark = ""
        if tag in SVG_SHAPES:
            mark = f' data-vi="s{len(shapes)}"'
            shapes.append({"id": f"s{len(shapes)}", "shape": tag})
        elif tag == "text":
            mark = f' data-vi="t{len(texts)}"'
            texts.append({"id": f"t{len(texts)}", "text": squash("".join(el.itertext()))})
        if tag == "svg" and depth == 0:
            attrs = [(k, v) for k, v in attrs if k not in ("width", "height")]
            attrs += [("width", str(width)), ("height", str(height))]
        at = "".join(f" {k}={quoteattr(v)}" for k, v in attrs)
        xmlns = f' xmlns="{SVG_NS}"' if depth == 0 else ""
        return f"<{tag}{xmlns}{at}{mark}>{inner}</{tag}>"

    source = walk(root, 0, False)
    texts = [t for t in texts if t["text"]]
    if not shapes and not texts:
        raise SpecError("svg: the drawing has no shapes and no text")
    facts = {"canvas": [width, height], "shapes": shapes, "texts": texts}
    return Spec("svg", width, height, source, facts)


def _ns(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _local(tag: str) -> str:
    return _ns(tag)[1]


TAG = re.compile(r"<[A-Za-z]")


def _count_tags(text: str) -> None:
    """Elements counted before anything is parsed: a spec of a hundred thousand is refused at once."""
    n = len(TAG.findall(text))
    if n > MAX_ELEMENTS:
        raise SpecError(f"{n} elements > {MAX_ELEMENTS}")


# ---------------------------------------------------------------------------------------------
# HTML (an allow-list, re-serialised)


HTML_ELEMENTS = {
    "html", "head", "body", "title", "style", "meta", "div", "span", "p", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "ul", "ol", "li",
    "dl", "dt", "dd", "strong", "em", "b", "i", "u", "s", "small", "sub", "sup", "mark", "code", "pre",
    "blockquote", "br", "hr", "header", "footer", "section", "article", "main", "aside", "figure",
    "figcaption", "img", "abbr", "time", "address", "label",
}  # fmt: skip
HTML_VOID = {"meta", "br", "hr", "img", "col"}
HTML_REFUSED = {
    "script": "script element",
    "noscript": "noscript element",
    "iframe": "iframe element",
    "frame": "frame element",
    "frameset": "frameset element",
    "object": "object element",
    "embed": "embed element",
    "applet": "applet element",
    "link": "link element",
    "base": "base element",
    "form": "form element",
    "input": "input element",
    "button": "button element",
    "select": "select element",
    "textarea": "textarea element",
    "audio": "audio element",
    "video": "video element",
    "source": "source element",
    "track": "track element",
    "picture": "picture element",
    "svg": "svg element inside HTML (use the svg kind)",
    "math": "math element",
    "template": "template element",
    "portal": "portal element",
    "a": "a element (links)",
    "area": "area element",
    "map": "map element",
    "canvas": "canvas element",
    "dialog": "dialog element",
    "slot": "slot element",
}
HTML_ATTRS = {
    "class", "id", "style", "colspan", "rowspan", "lang", "dir", "title", "alt", "width", "height",
    "align", "valign", "scope", "span", "datetime",
}  # fmt: skip
HTML_TEXT_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "li",
    "caption",
    "figcaption",
    "dt",
    "dd",
    "blockquote",
}
VIEWPORT = re.compile(r"^\s*width\s*=\s*(\d+(\.\d+)?)\s*[,;]\s*height\s*=\s*(\d+(\.\d+)?)\s*$")


@dataclass
class _Node:
    tag: str
    attrs: list[tuple[str, str]] = field(default_factory=list)
    children: list[Any] = field(default_factory=list)  # _Node or str
    parent: _Node | None = None


class _Reader(HTMLParser):
    """html.parser into a small tree, refusing what is not allowed as it is met."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.root = _Node("#root")
        self.cur = self.root
        self.count = 0
        self.canvas: tuple[float, float] | None = None
        self.css: list[str] = []
        self.raw_text = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise SpecError(f"more than {MAX_ELEMENTS} elements")
        if tag in HTML_REFUSED:
            raise SpecError(f"html: {HTML_REFUSED[tag]}")
        if tag not in HTML_ELEMENTS:
            raise SpecError(f"html: <{tag}> element is not allowed")
        kept: list[tuple[str, str]] = []
        for name, value in attrs:
            v = value or ""
            if name.startswith("on"):
                raise SpecError(f"html: event handler attribute {name} on <{tag}>")
            if tag == "meta":
                if name == "http-equiv":
                    raise SpecError("html: meta http-equiv element")
                if name not in ("charset", "name", "content"):
                    raise SpecError(f"html: attribute {name} on <meta> is not allowed")
                continue
            if name in (
                "href",
                "src",
                "srcset",
                "action",
                "formaction",
                "poster",
                "background",
                "data",
                "xlink:href",
            ):
                if tag == "img" and name == "src":
                    check_url(v, "src of <img>", data_images=True)
                    if not DATA_IMAGE.match(v.strip()):
                        raise SpecError("html: <img> src must be an inline data: image")
                    if len(v) > 200_000:
                        raise SpecError("html: an inline image of more than 200,000 characters")
                    kept.append((name, v.strip()))
                    continue
                check_url(v, f"{name} of <{tag}>")
                raise SpecError(f"html: attribute {name} on <{tag}> is not allowed")
            if name not in HTML_ATTRS:
                raise SpecError(f"html: attribute {name} on <{tag}> is not allowed")
            if name == "style":
                check_css(v, f"style of <{tag}>", data_images=True)
                if self.lang != "en":
                    v = cjk_first(v)
            elif "javascript:" in re.sub(r"[\s\x00-\x1f]", "", v.lower()):
                raise SpecError(f"html: javascript: URL in {name} of <{tag}>")
            kept.append((name, v))
        if tag == "meta":
            d = {k: (v or "") for k, v in attrs}
            if d.get("name") == "viewport":
                m = VIEWPORT.match(d.get("content", ""))
                if not m:
                    raise SpecError('html: meta viewport must read content="width=W, height=H"')
                self.canvas = (float(m.group(1)), float(m.group(3)))
            return
        if tag == "img" and not any(k == "src" for k, _ in kept):
            raise SpecError("html: <img> without an inline src")
        node = _Node(tag, kept, parent=self.cur)
        depth, p = 0, self.cur
        while p is not None:
            depth, p = depth + 1, p.parent
        if depth > MAX_DEPTH:
            raise SpecError(f"html: elements nested deeper than {MAX_DEPTH}")
        self.cur.children.append(node)
        if tag not in HTML_VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in HTML_VOID and self.cur.tag == tag:
            self.cur = self.cur.parent or self.root

    def handle_endtag(self, tag: str) -> None:
        p: _Node | None = self.cur
        while p is not None and p.tag != tag:
            p = p.parent
        if p is not None and p.parent is not None:
            self.cur = p.parent

    def handle_data(self, data: str) -> None:
        if self.cur.tag == "style":
            check_css(data, "<style>", data_images=True)
            self.css.append(cjk_first(data) if self.lang != "en" else data)
            return
        self.raw_text += len(data)
        if self.raw_text > MAX_ALL_TEXT:
            raise SpecError(f"html: more than {MAX_ALL_TEXT:,} characters of text")
        if data.strip():
            check_text(squash(data), f"<{self.cur.tag}>", MAX_TEXT, self.lang)
        self.cur.children.append(data)

    def handle_pi(self, data: str) -> None:
        raise SpecError("html: processing instruction")

    def unknown_decl(self, data: str) -> None:
        raise SpecError("html: unknown declaration")


def html(text: str, lang: str = "en") -> Spec:
    """An HTML+CSS page: the allow-listed elements and attributes, CSS that loads nothing."""
    _count_tags(text)
    r = _Reader(lang)
    try:
        r.feed(text)
        r.close()
    except SpecError:
        raise
    except Exception as e:  # html.parser is lenient; anything it raises is a malformed page
        raise SpecError(f"html: unreadable ({type(e).__name__})") from None
    w, h = r.canvas or HTML_CANVAS
    width, height = check_canvas(w, h)
    counter = {"t": 0, "c": 0}
    texts: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []

    def text_of(n: _Node) -> str:
        return squash("".join(c if isinstance(c, str) else text_of(c) for c in n.children if c is not None))

    def body_nodes(n: _Node) -> list[Any]:
        out: list[Any] = []
        for c in n.children:
            if isinstance(c, _Node) and c.tag in ("html", "body"):
                out += body_nodes(c)
            elif isinstance(c, _Node) and c.tag in ("head", "title", "style"):
                continue
            else:
                out.append(c)
        return out

    def ser(n: Any) -> str:
        if isinstance(n, str):
            return escape(n, quote=False)
        mark = ""
        if n.tag in HTML_TEXT_TAGS:
            t = text_of(n)
            if t:
                mark = f' data-vi="t{counter["t"]}"'
                texts.append({"id": f"t{counter['t']}", "tag": n.tag, "text": t})
                counter["t"] += 1
        elif n.tag in ("td", "th"):
            mark = f' data-vi="c{counter["c"]}"'
            n.cell_id = f"c{counter['c']}"  # type: ignore[attr-defined]
            counter["c"] += 1
        at = "".join(f" {k}={quoteattr(v)}" for k, v in n.attrs)
        if n.tag in HTML_VOID:
            return f"<{n.tag}{at}{mark}>"
        return f"<{n.tag}{at}{mark}>{''.join(ser(c) for c in n.children)}</{n.tag}>"

    body = "".join(ser(c) for c in body_nodes(r.root))

    def collect_tables(n: _Node) -> None:
        for c in n.children:
            if not isinstance(c, _Node):
                continue
            if c.tag == "table":
                t = _table_of(c, text_of)
                if t is not None:
                    tables.append(t)
            else:
                collect_tables(c)

    collect_tables(r.root)
    if not texts and not tables:
        raise SpecError("html: the page has no text to read")
    css = "\n".join(r.css)
    source = {"css": css, "body": body}
    facts = {"canvas": [width, height], "texts": texts, "tables": tables}
    return Spec("html", width, height, source, facts)


def _table_of(t: _Node, text_of: Any) -> dict[str, Any] | None:
    """A simple table's header and rows (None when it has spans, ragged rows or no header)."""
    rows: list[list[_Node]] = []

    def find_rows(n: _Node) -> None:
        for c in n.children:
            if isinstance(c, _Node):
                if c.tag == "tr":
                    rows.append([x for x in c.children if isinstance(x, _Node) and x.tag in ("td", "th")])
                elif c.tag in ("thead", "tbody", "tfoot"):
                    find_rows(c)

    find_rows(t)
    if len(rows) < 3:
        return None
    if any(k in ("colspan", "rowspan") for r in rows for c in r for k, _ in c.attrs):
        return None
    n = len(rows[0])
    if n < 2 or any(len(r) != n for r in rows):
        return None
    header = [text_of(c) for c in rows[0]]
    if len(set(h.casefold() for h in header)) != n or not all(header):
        return None
    body = [[text_of(c) for c in r] for r in rows[1:]]
    labels = [r[0].casefold() for r in body]
    if len(set(labels)) != len(labels) or not all(labels):
        return None
    caption = next((text_of(c) for c in t.children if isinstance(c, _Node) and c.tag == "caption"), None)
    return {
        "title": caption or None,
        "columns": header,
        "rows": [[_cell(v) for v in r] for r in body],
        "cells": [[getattr(c, "cell_id", None) for c in r] for r in rows],
    }


def _cell(v: str) -> Any:
    """A cell as it reads: a plain whole number as a number, anything else as written."""
    return int(v) if re.fullmatch(r"-?(0|[1-9]\d{0,11})", v) else v
