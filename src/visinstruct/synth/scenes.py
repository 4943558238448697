"""CLEVR-like 2D object scenes: count, name colours and shapes, relate and locate objects.

The layout and drawing code here is shared with the `differences` domain: a scene is a
list of object dicts (id, shape, colour, size, centre, bounding box) placed without
overlap, and a `Look` (background, outlines, shadows) that draws any such list the same way.
"""

from __future__ import annotations

import math
import random
from functools import cache

from PIL import Image, ImageDraw

from visinstruct.synth import style
from visinstruct.synth.base import (
    Item,
    Question,
    SynthDomain,
    distinct_distractors,
    numeric_distractors,
)

SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon")
SHAPE_ZH = {
    "circle": "圆形",
    "square": "正方形",
    "triangle": "三角形",
    "star": "五角星",
    "diamond": "菱形",
    "hexagon": "六边形",
}
SIZES = ("small", "large")
SIZE_ZH = {"small": "小", "large": "大"}
COLOR_NAMES = tuple(c[0] for c in style.COLORS)
COLOR_ZH = {c[0]: c[1] for c in style.COLORS}
COLOR_RGB = {c[0]: c[2] for c in style.COLORS}

# five regions asked about directly (only for objects clearly inside one of them)
REGIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")
REGION_ZH = {
    "top-left": "左上角",
    "top-right": "右上角",
    "bottom-left": "左下角",
    "bottom-right": "右下角",
    "center": "中央",
}
# a 3x3 grid of places, used to say roughly where an object is in explanations
AREA_EN = (
    ("in the upper left", "at the top", "in the upper right"),
    ("on the left", "in the center", "on the right"),
    ("in the lower left", "at the bottom", "in the lower right"),
)
AREA_ZH = (("左上方", "上方", "右上方"), ("左侧", "中间", "右侧"), ("左下方", "下方", "右下方"))
REL_EN = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
REL_ZH = {"left": "左边", "right": "右边", "above": "上方", "below": "下方"}
OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}

# a description filter: (size, colour, shape), None where the attribute is not mentioned
Filt = tuple
# which attributes a description uses: (size, colour, shape)
MASKS = ((0, 0, 1), (0, 1, 0), (1, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1))

FLOORS = (
    (232, 226, 214),
    (222, 232, 222),
    (226, 230, 238),
    (236, 236, 236),
    (240, 232, 222),
    (228, 224, 236),
)


# ---------------------------------------------------------------- geometry


@cache
def unit_polygon(shape: str) -> tuple[tuple[float, float], ...]:
    """Vertices of a shape of nominal radius 1, its bounding box centred on the origin."""
    if shape == "square":
        pts = [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]
    elif shape == "triangle":
        pts = [(0.0, -0.87), (1.0, 0.87), (-1.0, 0.87)]
    elif shape == "diamond":
        pts = [(0.0, -1.05), (0.75, 0.0), (0.0, 1.05), (-0.75, 0.0)]
    elif shape == "hexagon":
        pts = [(math.cos(math.radians(60 * k)), math.sin(math.radians(60 * k))) for k in range(6)]
    elif shape == "star":
        pts = []
        for k in range(10):
            r = 1.05 if k % 2 == 0 else 1.05 * 0.45
            a = math.radians(-90 + 36 * k)
            pts.append((r * math.cos(a), r * math.sin(a)))
    else:
        raise ValueError(shape)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    mx, my = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return tuple((x - mx, y - my) for x, y in pts)


def shape_points(shape: str, x: int, y: int, r: int) -> list[tuple[int, int]]:
    return [(int(round(x + ux * r)), int(round(y + uy * r))) for ux, uy in unit_polygon(shape)]


def extent(r: int) -> int:
    """Half-size of the square every shape of nominal radius `r` fits in."""
    return int(math.ceil(r * 1.05))


def norm1000(v: float, total: int) -> int:
    return int(v * 1000 / total + 0.5)


def make_object(oid: int, shape: str, color: str, size: str, x: int, y: int, r: int, w: int, h: int) -> dict:
    """An object dict with its pixel and 0-1000 normalised bounding box."""
    if shape == "circle":
        box = [x - r, y - r, x + r, y + r]
    else:
        pts = shape_points(shape, x, y, r)
        box = [min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts)]
    return {
        "id": oid,
        "shape": shape,
        "color": color,
        "size": size,
        "x": x,
        "y": y,
        "radius": r,
        "bbox": box,
        "bbox_norm": [norm1000(box[0], w), norm1000(box[1], h), norm1000(box[2], w), norm1000(box[3], h)],
    }


def center_norm(o: dict, w: int, h: int) -> tuple[int, int]:
    return norm1000(o["x"], w), norm1000(o["y"], h)


def region5(o: dict, w: int, h: int) -> str | None:
    """The region an object is clearly in, or None when it is near a border between regions."""
    nx, ny = o["x"] / w - 0.5, o["y"] / h - 0.5
    if abs(nx) < 0.1 and abs(ny) < 0.1:
        return "center"
    if abs(nx) >= 0.17 and abs(ny) >= 0.17:
        return ("top-" if ny < 0 else "bottom-") + ("left" if nx < 0 else "right")
    return None


def area9(o: dict, w: int, h: int) -> tuple[int, int]:
    """(row, column) of the object's centre in a 3x3 grid over the image."""
    col = min(2, int(3 * o["x"] / w))
    row = min(2, int(3 * o["y"] / h))
    return row, col


def where(o: dict, w: int, h: int, lang: str) -> str:
    row, col = area9(o, w, h)
    return (AREA_ZH if lang == "zh" else AREA_EN)[row][col]


# ---------------------------------------------------------------- layout


def pick_sizes(rng: random.Random, w: int, h: int, n: int) -> dict[str, int]:
    """Nominal radii of large and small objects for a canvas holding about `n` objects."""
    unit = min(w, h)
    large = unit * (rng.uniform(0.08, 0.105) if n <= 6 else rng.uniform(0.065, 0.085))
    small = max(13, int(large * rng.uniform(0.47, 0.56)))
    return {"large": max(int(large), small * 2 - 4), "small": small}


def free_spot(
    rng: random.Random,
    w: int,
    h: int,
    ext: int,
    taken: list[tuple[int, int, int, int]],
    gap: int,
    margin: int,
    tries: int = 60,
) -> tuple[int, int] | None:
    """A centre whose box (±ext) keeps `gap` pixels from every box in `taken`."""
    lo_x, hi_x, lo_y, hi_y = margin + ext, w - margin - ext, margin + ext, h - margin - ext
    if lo_x > hi_x or lo_y > hi_y:
        return None
    for _ in range(tries):
        x, y = rng.randint(lo_x, hi_x), rng.randint(lo_y, hi_y)
        a0, b0, a1, b1 = x - ext - gap, y - ext - gap, x + ext + gap, y + ext + gap
        if all(a1 <= t[0] or t[2] <= a0 or b1 <= t[1] or t[3] <= b0 for t in taken):
            return x, y
    return None


def collision_box(o: dict) -> tuple[int, int, int, int]:
    e = extent(o["radius"])
    return o["x"] - e, o["y"] - e, o["x"] + e, o["y"] + e


class Look:
    """How a scene is drawn: the background and the outline/shadow treatment of objects."""

    def __init__(self, rng: random.Random, w: int, h: int):
        self.w, self.h = w, h
        self.bg = background(rng, w, h)
        self.outline = rng.choice(("none", "none", "darker", "ink", "light"))
        self.width = rng.choice((1, 2, 2, 3))
        self.ink = style.ink(rng)
        self.shadow: tuple[int, int] | None = None
        if rng.random() < 0.3:
            self.shadow = (rng.randint(2, 5), rng.randint(2, 5))
        base = self.bg.getpixel((w // 2, h - 15))
        self.shadow_rgb = tuple(max(0, c - rng.randint(40, 60)) for c in base)
        self.gap = max(8, min(w, h) // 50) + (max(self.shadow) if self.shadow else 0) + self.width
        self.margin = 10
        self.smooth = rng.random() < 0.6  # anti-aliased edges (drawn at twice the size, then reduced)

    def render(self, objects: list[dict]) -> Image.Image:
        k = 2 if self.smooth else 1
        img = self.bg.resize((self.w * k, self.h * k), Image.Resampling.NEAREST) if k > 1 else self.bg.copy()
        draw = ImageDraw.Draw(img)
        for o in objects:
            rgb = COLOR_RGB[o["color"]]
            if self.shadow is not None:
                dx, dy = self.shadow
                self._shape(draw, o, k, dx, dy, self.shadow_rgb, None)
            if self.outline == "darker":
                line = tuple(int(c * 0.55) for c in rgb)
            elif self.outline == "ink":
                line = self.ink
            elif self.outline == "light":
                line = tuple(c + (255 - c) // 2 for c in rgb)
            else:
                line = None
            self._shape(draw, o, k, 0, 0, rgb, line)
        return img.reduce(k) if k > 1 else img

    def _shape(self, draw: ImageDraw.ImageDraw, o: dict, k: int, dx: int, dy: int, fill, line) -> None:
        x, y, r = (o["x"] + dx) * k, (o["y"] + dy) * k, o["radius"] * k
        width = self.width * k if line is not None else 0
        if o["shape"] == "circle":
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=line, width=width)
        else:
            draw.polygon(shape_points(o["shape"], x, y, r), fill=fill, outline=line, width=width)


def background(rng: random.Random, w: int, h: int) -> Image.Image:
    """A light background: style canvas, a floor below a horizon, or a soft vertical gradient."""
    kind = rng.random()
    if kind < 0.45:
        img, draw = style.canvas(rng, w, h, plain=rng.random() < 0.4)
    elif kind < 0.75:
        bg = rng.choice(style.BACKGROUNDS)
        img = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(img)
        horizon = int(h * rng.uniform(0.22, 0.45))
        draw.rectangle([0, horizon, w, h], fill=rng.choice(FLOORS))
        if rng.random() < 0.5:
            draw.line([(0, horizon), (w, horizon)], fill=(200, 200, 200), width=1)
    else:
        top = rng.choice(style.BACKGROUNDS)
        bottom = rng.choice(FLOORS)
        img = Image.new("RGB", (w, h), top)
        draw = ImageDraw.Draw(img)
        band = 4
        for y in range(0, h, band):
            t = y / h
            c = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
            draw.rectangle([0, y, w, y + band - 1], fill=c)
    if rng.random() < 0.3:
        inset = rng.randint(0, 5)
        draw.rectangle(
            [inset, inset, w - 1 - inset, h - 1 - inset], outline=(150, 150, 150), width=rng.randint(1, 3)
        )
    return img


def canvas_dims(rng: random.Random) -> tuple[int, int]:
    return style.canvas_size(rng, base=rng.choice((448, 512, 576, 640)), spread=0.2)


def random_scene(rng: random.Random, look: Look, n: int, radii: dict[str, int]) -> list[dict]:
    """Up to `n` objects from a small palette of colours and shapes, placed without overlap."""
    w, h = look.w, look.h
    colors = [c[0] for c in style.pick_colors(rng, rng.randint(3, 6))]
    shapes = rng.sample(SHAPES, rng.randint(3, 5))
    objs: list[dict] = []
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(n):
        size = rng.choice(SIZES)
        r = radii[size]
        spot = free_spot(rng, w, h, extent(r), taken, look.gap, look.margin)
        if spot is None and size == "large":
            size, r = "small", radii["small"]
            spot = free_spot(rng, w, h, extent(r), taken, look.gap, look.margin)
        if spot is None:
            continue
        o = make_object(len(objs), rng.choice(shapes), rng.choice(colors), size, spot[0], spot[1], r, w, h)
        objs.append(o)
        taken.append(collision_box(o))
    return objs


# ---------------------------------------------------------------- descriptions


def matches(o: dict, f: Filt) -> bool:
    size, color, shape = f
    return (
        (size is None or o["size"] == size)
        and (color is None or o["color"] == color)
        and (shape is None or o["shape"] == shape)
    )


def count(objs: list[dict], f: Filt) -> int:
    return sum(1 for o in objs if matches(o, f))


def filt_of(o: dict, mask: tuple[int, int, int]) -> Filt:
    return (o["size"] if mask[0] else None, o["color"] if mask[1] else None, o["shape"] if mask[2] else None)


def desc(f: Filt, lang: str, plural: bool = False) -> str:
    """'large red circle' / '红色大圆形'; 'red objects' when the shape is not mentioned."""
    size, color, shape = f
    if lang == "zh":
        return (
            (COLOR_ZH[color] if color else "")
            + (SIZE_ZH[size] if size else "")
            + (SHAPE_ZH[shape] if shape else "物体")
        )
    words = [w for w in (size, color) if w] + [(shape or "object") + ("s" if plural else "")]
    return " ".join(words)


def article(text: str, lang: str) -> str:
    if lang == "zh":
        return text
    return ("an " if text[0] in "aeiou" else "a ") + text


def unique_filter(
    rng: random.Random, o: dict, objs: list[dict], allowed: tuple[int, int, int]
) -> Filt | None:
    """A description using only `allowed` attributes that matches `o` and nothing else."""
    ok = []
    for m in MASKS:
        if any(m[i] and not allowed[i] for i in range(3)):
            continue
        f = filt_of(o, m)
        if count(objs, f) == 1:
            ok.append(f)
    if not ok:
        return None
    if rng.random() < 0.65:
        least = min(sum(x is not None for x in f) for f in ok)
        ok = [f for f in ok if sum(x is not None for x in f) == least]
    return rng.choice(ok)


def ordered_pool(rng: random.Random, preferred: list[str], rest: list[str]) -> list[str]:
    """Distractor candidates: `preferred` (shuffled) first, then `rest` (shuffled)."""
    a, b = list(preferred), [x for x in rest if x not in preferred]
    rng.shuffle(a)
    rng.shuffle(b)
    return a + b


def color_word(c: str, lang: str) -> str:
    return COLOR_ZH[c] if lang == "zh" else c


def shape_word(s: str, lang: str) -> str:
    return SHAPE_ZH[s] if lang == "zh" else s


def region_word(r: str, lang: str) -> str:
    return REGION_ZH[r] if lang == "zh" else r


# ---------------------------------------------------------------- the domain


class Scenes(SynthDomain):
    name = "scenes"
    description = (
        "CLEVR-like 2D scenes of coloured shapes: counting, attributes, spatial relations, grounding."
    )

    def make(self, rng: random.Random, lang: str) -> Item:
        w, h = canvas_dims(rng)
        look = Look(rng, w, h)
        n = rng.randint(3, 10)
        objs = random_scene(rng, look, n, pick_sizes(rng, w, h, n))
        img = look.render(objs)
        qs = QuestionMaker(self, rng, lang, objs, w, h).all()
        facts = {"width": w, "height": h, "bbox_norm_scale": 1000, "objects": objs}
        return Item([img], facts, qs)


class FirstFit:
    """Question makers whose methods return a question, or None when it does not fit the item."""

    used: set[str]

    def first(self, kinds: list[str], fallback: str):
        """The first kind that fits, skipping what this item already asked (the fallback always fits)."""
        for k in [*kinds, fallback]:
            topic = k if k.startswith("j") else k.split("_", 1)[1]  # mc_color and s_color: the same question
            if topic in self.used and k != fallback:
                continue
            out = getattr(self, k)()
            if out is not None:
                self.used.add(topic)
                return out
        raise RuntimeError("no question fits")  # pragma: no cover - the fallback always fits


class QuestionMaker(FirstFit):
    """Builds the questions of one scene; every builder returns None when its kind does not fit."""

    def __init__(self, domain: SynthDomain, rng: random.Random, lang: str, objs: list[dict], w: int, h: int):
        self.d, self.rng, self.lang, self.objs, self.w, self.h = domain, rng, lang, objs, w, h
        self.present_colors = sorted({o["color"] for o in objs}, key=COLOR_NAMES.index)
        self.present_shapes = sorted({o["shape"] for o in objs}, key=SHAPES.index)

    def say(self, key: str, **kw: object) -> str:
        return self.d.say(self.rng, key, self.lang, **kw)

    def all(self) -> list[Question]:
        rng = self.rng
        qs: list[Question] = []
        self.used: set[str] = set()
        for _ in range(rng.choice((1, 2))):
            qs.extend(self.first(rng.sample(JUDGE, len(JUDGE)), "j_count"))
        for kind in rng.sample(MC, rng.choice((1, 2))):
            qs.append(self.first([kind, *rng.sample(MC, len(MC))], "mc_count"))
        for kind in rng.sample(SHORT, rng.choice((1, 2))):
            qs.append(self.first([kind, *rng.sample(SHORT, len(SHORT))], "s_count"))
        qs.append(self.first(rng.sample(LONG, len(LONG)), "l_count"))
        return qs

    # -- helpers

    def text(self, f: Filt, plural: bool = False) -> str:
        return desc(f, self.lang, plural)

    def some_filter(self) -> Filt:
        """A filter matching at least one object (all objects when it mentions nothing)."""
        o = self.rng.choice(self.objs)
        mask = self.rng.choice(
            (
                (0, 0, 0),
                (0, 1, 0),
                (0, 0, 1),
                (0, 1, 1),
                (1, 0, 0),
                (1, 1, 1),
                (1, 1, 0),
                (1, 0, 1),
                (0, 1, 0),
                (0, 0, 1),
            )
        )
        return filt_of(o, mask)

    def uniq(self, allowed=(1, 1, 1), pool: list[dict] | None = None) -> tuple[dict, Filt] | None:
        cands = list(pool if pool is not None else self.objs)
        self.rng.shuffle(cands)
        for o in cands:
            f = unique_filter(self.rng, o, self.objs, allowed)
            if f is not None:
                return o, f
        return None

    def color_pool(self) -> list[str]:
        return [
            color_word(c, self.lang) for c in ordered_pool(self.rng, self.present_colors, list(COLOR_NAMES))
        ]

    def shape_pool(self) -> list[str]:
        return [shape_word(s, self.lang) for s in ordered_pool(self.rng, self.present_shapes, list(SHAPES))]

    def pairs(self, axis: str) -> list[tuple[dict, dict]]:
        """Ordered pairs (a, b) with a clearly left of / above b on `axis` ('x' or 'y')."""
        i0, i1, size = (0, 2, self.w) if axis == "x" else (1, 3, self.h)
        out = []
        for a in self.objs:
            for b in self.objs:
                if a["bbox"][i1] < b["bbox"][i0] and b[axis] - a[axis] >= 0.12 * size:
                    out.append((a, b))
        return out

    def relation(self) -> tuple[dict, Filt, dict, Filt, str] | None:
        """Two uniquely described objects and a relation that clearly holds between them."""
        rng = self.rng
        axes = ["x", "y"]
        rng.shuffle(axes)
        for axis in axes:
            ps = self.pairs(axis)
            rng.shuffle(ps)
            for a, b in ps[:6]:
                fa = unique_filter(rng, a, self.objs, (1, 1, 1))
                fb = unique_filter(rng, b, self.objs, (1, 1, 1))
                if fa is None or fb is None:
                    continue
                if rng.random() < 0.5:
                    return a, fa, b, fb, "left" if axis == "x" else "above"
                return b, fb, a, fa, "right" if axis == "x" else "below"
        return None

    def located(self) -> tuple[dict, Filt, str] | None:
        pool = [o for o in self.objs if region5(o, self.w, self.h) is not None]
        got = self.uniq(pool=pool)
        if got is None:
            return None
        o, f = got
        return o, f, region5(o, self.w, self.h)

    def compared(self, attr: str) -> tuple[str, int, str, int] | None:
        """Two values of `attr` ('color' or 'shape') whose counts differ, larger first."""
        values = self.present_colors if attr == "color" else self.present_shapes
        idx = 1 if attr == "color" else 2
        cnt = {}
        for v in values:
            f = [None, None, None]
            f[idx] = v
            cnt[v] = count(self.objs, tuple(f))
        ps = [(a, b) for a in values for b in values if cnt[a] > cnt[b]]
        if not ps:
            return None
        a, b = self.rng.choice(ps)
        return a, cnt[a], b, cnt[b]

    def group(self, attr: str, v: str) -> Filt:
        return (None, v, None) if attr == "color" else (None, None, v)

    def absent_combos(self) -> list[Filt]:
        out = []
        for c in ordered_pool(self.rng, self.present_colors, list(COLOR_NAMES))[:7]:
            for s in self.present_shapes:
                if count(self.objs, (None, c, s)) == 0:
                    out.append((None, c, s))
        self.rng.shuffle(out)
        return out

    def present_combos(self) -> list[Filt]:
        seen: list[Filt] = []
        for o in self.objs:
            f = (None, o["color"], o["shape"])
            if f not in seen:
                seen.append(f)
        self.rng.shuffle(seen)
        return seen

    def listing(self, f: Filt) -> str:
        items = [
            self.say(
                "list_item",
                obj=desc((o["size"], o["color"], o["shape"]), self.lang),
                where=where(o, self.w, self.h, self.lang),
            )
            for o in sorted(self.objs, key=lambda o: (o["y"], o["x"]))
            if matches(o, f)
        ]
        return self.join(items)

    def join(self, items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        return self.say("join_last", head=self.say("sep").join(items[:-1]), last=items[-1])

    def count_answer(self, f: Filt) -> str:
        n = count(self.objs, f)
        things = self.text(f, plural=True)
        if n == 0:
            return self.say("l_count_none", things=things)
        return self.say("l_count_a", things=things, items=self.listing(f), n=n)

    # -- judgement pairs (one true, one false)

    def j_count(self):
        out = []
        for truth in (True, False):
            f = self.some_filter()
            n = count(self.objs, f)
            shown = n
            if not truth:
                shown = self.rng.choice([v for v in (n - 2, n - 1, n + 1, n + 2) if v >= 1])
            q = self.say("j_count", n=shown, things=self.text(f, plural=True))
            out.append(Question("judgement", "counting", [(q, "")], truth=truth, phrasing="j_count"))
        return out

    def j_color(self):
        got = self.uniq((1, 0, 1))
        if got is None:
            return None
        o, f = got
        wrong = distinct_distractors(
            o["color"],
            ordered_pool(self.rng, self.present_colors, list(COLOR_NAMES)),
            self.rng,
            k=1,
            shuffle=False,
        )[0]
        out = []
        for truth, c in ((True, o["color"]), (False, wrong)):
            q = self.say("j_color", obj=self.text(f), color=color_word(c, self.lang))
            out.append(Question("judgement", "color", [(q, "")], truth=truth, phrasing="j_color"))
        return out

    def j_shape(self):
        got = self.uniq((1, 1, 0))
        if got is None:
            return None
        o, f = got
        wrong = distinct_distractors(
            o["shape"],
            ordered_pool(self.rng, self.present_shapes, list(SHAPES)),
            self.rng,
            k=1,
            shuffle=False,
        )[0]
        out = []
        for truth, s in ((True, o["shape"]), (False, wrong)):
            q = self.say("j_shape", obj=self.text(f), shape=shape_word(s, self.lang))
            out.append(Question("judgement", "shape", [(q, "")], truth=truth, phrasing="j_shape"))
        return out

    def j_spatial(self):
        out = []
        for truth in (True, False):
            got = self.relation()
            if got is None:
                return None
            a, fa, b, fb, rel = got
            shown = rel if truth else OPPOSITE[rel]
            q = self.say(
                "j_spatial",
                a=self.text(fa),
                b=self.text(fb),
                rel=(REL_ZH if self.lang == "zh" else REL_EN)[shown],
            )
            out.append(
                Question("judgement", "spatial_relation", [(q, "")], truth=truth, phrasing="j_spatial")
            )
        return out

    def j_region(self):
        got = self.located()
        if got is None:
            return None
        o, f, reg = got
        near = {
            "top-left": ("top-right", "bottom-left", "center"),
            "top-right": ("top-left", "bottom-right"),
            "bottom-left": ("top-left", "bottom-right"),
            "bottom-right": ("top-right", "bottom-left"),
            "center": ("top-left", "top-right", "bottom-left", "bottom-right"),
        }[reg]
        wrong = self.rng.choice(near)
        out = []
        for truth, r in ((True, reg), (False, wrong)):
            q = self.say("j_region", obj=self.text(f), region=region_word(r, self.lang))
            out.append(Question("judgement", "localization", [(q, "")], truth=truth, phrasing="j_region"))
        return out

    def j_more(self):
        got = self.compared(self.rng.choice(("color", "shape")))
        if got is None:
            got = self.compared("color") or self.compared("shape")
        if got is None:
            return None
        attr = "color" if got[0] in COLOR_NAMES else "shape"
        a, _, b, _ = got
        fa, fb = self.group(attr, a), self.group(attr, b)
        out = []
        for truth, (x, y) in ((True, (fa, fb)), (False, (fb, fa))):
            q = self.say("j_more", a=self.text(x, plural=True), b=self.text(y, plural=True))
            out.append(Question("judgement", "comparison", [(q, "")], truth=truth, phrasing="j_more"))
        return out

    def j_exist(self):
        absent = self.absent_combos()
        if not absent:
            return None
        o = self.rng.choice(self.objs)
        yes = (o["size"] if self.rng.random() < 0.3 else None, o["color"], o["shape"])
        out = []
        for truth, f in ((True, yes), (False, absent[0])):
            q = self.say("j_exist", thing=article(self.text(f), self.lang))
            out.append(Question("judgement", "existence", [(q, "")], truth=truth, phrasing="j_exist"))
        return out

    # -- multiple choice

    def mc_count(self):
        f = self.some_filter()
        n = count(self.objs, f)
        q = self.say("count", things=self.text(f, plural=True))
        return Question(
            "multiple_choice",
            "counting",
            [(q, "")],
            correct=str(n),
            distractors=numeric_distractors(n, self.rng),
            phrasing="count",
        )

    def mc_color(self):
        got = self.uniq((1, 0, 1))
        if got is None:
            return None
        o, f = got
        correct = color_word(o["color"], self.lang)
        q = self.say("color_of", obj=self.text(f))
        return Question(
            "multiple_choice",
            "color",
            [(q, "")],
            correct=correct,
            distractors=distinct_distractors(correct, self.color_pool(), self.rng, shuffle=False),
            phrasing="color_of",
        )

    def mc_shape(self):
        got = self.uniq((1, 1, 0))
        if got is None:
            return None
        o, f = got
        correct = shape_word(o["shape"], self.lang)
        q = self.say("shape_of", obj=self.text(f))
        return Question(
            "multiple_choice",
            "shape",
            [(q, "")],
            correct=correct,
            distractors=distinct_distractors(correct, self.shape_pool(), self.rng, shuffle=False),
            phrasing="shape_of",
        )

    def mc_region(self):
        got = self.located()
        if got is None:
            return None
        o, f, reg = got
        correct = region_word(reg, self.lang)
        q = self.say("region_of", obj=self.text(f))
        others = [region_word(r, self.lang) for r in REGIONS]
        return Question(
            "multiple_choice",
            "localization",
            [(q, "")],
            correct=correct,
            distractors=distinct_distractors(correct, others, self.rng),
            phrasing="region_of",
        )

    def mc_extreme(self):
        rng = self.rng
        direction = rng.choice(("left", "right", "top", "bottom"))
        axis, size = ("x", self.w) if direction in ("left", "right") else ("y", self.h)
        sign = 1 if direction in ("left", "top") else -1
        cands = []
        for o in self.objs:
            f = unique_filter(rng, o, self.objs, (1, 1, 1))
            if f is not None:
                cands.append((o, f))
        if len(cands) < 4:
            return None
        rng.shuffle(cands)
        four = cands[:4]
        four.sort(key=lambda c: sign * c[0][axis])
        best, second = four[0][0], four[1][0]
        i0, i1 = (0, 2) if axis == "x" else (1, 3)
        others = [c[0] for c in four[1:]]
        if sign == 1:  # its edge is also the nearest to that side of the image
            edge_ok = all(best["bbox"][i0] < o["bbox"][i0] for o in others)
        else:
            edge_ok = all(best["bbox"][i1] > o["bbox"][i1] for o in others)
        if sign * (second[axis] - best[axis]) < 0.1 * size or not edge_ok:
            return None
        q = self.say("extreme", side=self.say(f"side_{direction}"))
        opts = [self.text(f) for _, f in four]
        return Question(
            "multiple_choice",
            "spatial_relation",
            [(q, "")],
            correct=opts[0],
            distractors=opts[1:],
            phrasing="extreme",
        )

    def mc_common(self):
        attr = self.rng.choice(("color", "shape"))
        values = self.present_colors if attr == "color" else self.present_shapes
        cnt = sorted(((count(self.objs, self.group(attr, v)), v) for v in values), reverse=True)
        if len(cnt) > 1 and cnt[0][0] == cnt[1][0]:
            return None
        top = cnt[0][1]
        if attr == "color":
            correct = color_word(top, self.lang)
            pool = self.color_pool()
        else:
            correct = shape_word(top, self.lang)
            pool = self.shape_pool()
        key = f"common_{attr}"
        return Question(
            "multiple_choice",
            "comparison",
            [(self.say(key), "")],
            correct=correct,
            distractors=distinct_distractors(correct, pool, self.rng, shuffle=False),
            phrasing=key,
        )

    def mc_exist(self):
        absent, present = self.absent_combos(), self.present_combos()
        if self.rng.random() < 0.5 and len(absent) >= 3 and present:
            correct, wrong, key = present[0], absent[:3], "which_present"
        elif len(present) >= 3 and absent:
            correct, wrong, key = absent[0], present[:3], "which_absent"
        else:
            return None
        return Question(
            "multiple_choice",
            "existence",
            [(self.say(key), "")],
            correct=self.text(correct),
            distractors=[self.text(f) for f in wrong],
            phrasing=key,
        )

    # -- short answer

    def short(self, category: str, key: str, answer: str, **kw: object) -> Question:
        q = self.say(key, **kw)
        return Question("short_vqa", category, [(q, answer)], short_answer=answer, phrasing=key)

    def s_count(self):
        f = self.some_filter()
        return self.short("counting", "count", str(count(self.objs, f)), things=self.text(f, plural=True))

    def s_color(self):
        got = self.uniq((1, 0, 1))
        if got is None:
            return None
        o, f = got
        return self.short("color", "color_of", color_word(o["color"], self.lang), obj=self.text(f))

    def s_shape(self):
        got = self.uniq((1, 1, 0))
        if got is None:
            return None
        o, f = got
        return self.short("shape", "shape_of", shape_word(o["shape"], self.lang), obj=self.text(f))

    def s_region(self):
        got = self.located()
        if got is None:
            return None
        o, f, reg = got
        return self.short("localization", "region_of", region_word(reg, self.lang), obj=self.text(f))

    def s_relation(self):
        got = self.relation()
        if got is None:
            return None
        a, fa, b, fb, rel = got
        key = "left_or_right" if rel in ("left", "right") else "above_or_below"
        return self.short(
            "spatial_relation",
            key,
            REL_ZH[rel] if self.lang == "zh" else rel,
            a=self.text(fa),
            b=self.text(fb),
        )

    def s_more(self):
        got = self.compared("color")
        if got is None:
            return None
        a, _, b, _ = got
        x, y = (a, b) if self.rng.random() < 0.5 else (b, a)
        return self.short(
            "comparison",
            "more_color",
            color_word(a, self.lang),
            a=color_word(x, self.lang),
            b=color_word(y, self.lang),
        )

    # -- long answer

    def l_count(self):
        for _ in range(4):  # prefer a group of two or more to go through
            f = self.some_filter()
            if f == (None, None, None):
                f = (None, self.rng.choice(self.objs)["color"], None)
            if count(self.objs, f) >= 2:
                break
        n, total = count(self.objs, f), len(self.objs)
        things = self.text(f, plural=True)
        turns = [
            (self.say("l_count_q", things=things), self.count_answer(f)),
            (
                self.say("l_total_q", things=things),
                self.say("l_total_a", total=total, n=n, rest=total - n, things=things),
            ),
        ]
        return Question("long_vqa", "counting", turns, phrasing="l_total_q")

    def l_ground(self):
        got = self.uniq()
        if got is None:
            return None
        o, f = got
        obj = self.text(f)
        cx, cy = center_norm(o, self.w, self.h)
        b, nb = o["bbox"], o["bbox_norm"]
        turns = [
            (
                self.say("l_where_q", obj=obj),
                self.say("l_where_a", obj=obj, where=where(o, self.w, self.h, self.lang), cx=cx, cy=cy),
            ),
            (
                self.say("l_bbox_q", obj=obj),
                self.say(
                    "l_bbox_a",
                    obj=obj,
                    w=self.w,
                    h=self.h,
                    px0=b[0],
                    py0=b[1],
                    px1=b[2],
                    py1=b[3],
                    box=f"[{nb[0]}, {nb[1]}, {nb[2]}, {nb[3]}]",
                ),
            ),
        ]
        if self.rng.random() < 0.5:
            turns.reverse()
        return Question("long_vqa", "localization", turns, phrasing="l_bbox_q")

    def l_compare(self):
        attr = self.rng.choice(("color", "shape"))
        got = self.compared(attr)
        if got is None:
            return None
        a, na, b, nb = got
        fa, fb = self.group(attr, a), self.group(attr, b)
        if self.rng.random() < 0.5:
            fa, fb, na, nb = fb, fa, nb, na
        ta, tb = self.text(fa, plural=True), self.text(fb, plural=True)
        key = "l_more_yes" if na > nb else "l_more_no"
        turns = [
            (self.say("l_count_q", things=ta), self.count_answer(fa)),
            (self.say("l_count_q", things=tb), self.count_answer(fb)),
            (self.say("j_more", a=ta, b=tb), self.say(key, a=ta, b=tb, na=na, nb=nb)),
        ]
        return Question("long_vqa", "comparison", turns, phrasing=key)

    def l_spatial(self):
        got = self.relation()
        if got is None:
            return None
        a, fa, b, fb, rel = got
        truth = self.rng.random() < 0.5
        shown = rel if truth else OPPOSITE[rel]
        ta, tb = self.text(fa), self.text(fb)
        axis = "x" if rel in ("left", "right") else "y"
        va = norm1000(a[axis], self.w if axis == "x" else self.h)
        vb = norm1000(b[axis], self.w if axis == "x" else self.h)
        rels = REL_ZH if self.lang == "zh" else REL_EN
        verdict = self.say("verdict_yes" if truth else "verdict_no")
        turns = []
        for o, t in ((a, ta), (b, tb)):
            cx, cy = center_norm(o, self.w, self.h)
            turns.append(
                (
                    self.say("l_where_q", obj=t),
                    self.say("l_where_a", obj=t, where=where(o, self.w, self.h, self.lang), cx=cx, cy=cy),
                )
            )
        turns.append(
            (
                self.say("j_spatial", a=ta, b=tb, rel=rels[shown]),
                self.say(
                    f"l_rel_{axis}",
                    verdict=verdict,
                    a=ta,
                    b=tb,
                    va=va,
                    vb=vb,
                    cmp="<" if va < vb else ">",
                    rel=rels[rel],
                ),
            )
        )
        return Question("long_vqa", "spatial_relation", turns, phrasing=f"l_rel_{axis}")


JUDGE = ["j_count", "j_color", "j_shape", "j_spatial", "j_region", "j_more", "j_exist"]
MC = ["mc_count", "mc_color", "mc_shape", "mc_region", "mc_extreme", "mc_common", "mc_exist"]
SHORT = ["s_count", "s_color", "s_shape", "s_region", "s_relation", "s_more"]
LONG = ["l_count", "l_ground", "l_compare", "l_spatial"]
