"""Visual variety for synthetic images: fonts, colours, backgrounds and canvas sizes.

Fonts ship with the package so the same seed draws the same pixels on every machine: the
DejaVu family for English items, and Noto Sans/Serif CJK SC (cut down to the common hanzi,
see scripts/subset_cjk_font.py) for Chinese items, which draw Chinese text. Colour names
come in English and Chinese for questions about colours.
"""

from __future__ import annotations

import random
from functools import cache, lru_cache
from importlib import resources

from PIL import Image, ImageDraw, ImageFont

FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerifCondensed-Italic.ttf",
    "DejaVuSansMono.ttf",
)
# Chinese items draw with these (they hold ASCII too, so numbers and codes read the same)
CJK_FONT_FILES = ("NotoSansSC-Regular.otf", "NotoSansSC-Bold.otf", "NotoSerifSC-Regular.otf")
CJK_BOLD = "NotoSansSC-Bold.otf"
# a regular face -> its bold face, per language
BOLD = {
    "DejaVuSans.ttf": "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf": "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf": "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf": "DejaVuSerif-Bold.ttf",
    "DejaVuSerifCondensed-Italic.ttf": "DejaVuSerif-Bold.ttf",
    "NotoSansSC-Regular.otf": CJK_BOLD,
    "NotoSerifSC-Regular.otf": CJK_BOLD,
}

# name_en, name_zh, rgb: distinct, nameable colours for scenes, bars and legends
COLORS: tuple[tuple[str, str, tuple[int, int, int]], ...] = (
    ("red", "红色", (214, 39, 40)),
    ("blue", "蓝色", (31, 119, 180)),
    ("green", "绿色", (44, 160, 44)),
    ("orange", "橙色", (255, 127, 14)),
    ("purple", "紫色", (148, 103, 189)),
    ("yellow", "黄色", (230, 200, 20)),
    ("brown", "棕色", (140, 86, 75)),
    ("pink", "粉色", (227, 119, 194)),
    ("gray", "灰色", (127, 127, 127)),
    ("cyan", "青色", (23, 190, 207)),
    ("black", "黑色", (20, 20, 20)),
)

BACKGROUNDS = (
    (255, 255, 255),
    (250, 250, 245),
    (245, 248, 252),
    (252, 248, 240),
    (240, 244, 240),
    (248, 244, 252),
    (235, 235, 235),
    (255, 252, 235),
)


@cache
def _font_path(name: str) -> str:
    return str(resources.files("visinstruct").joinpath("fonts").joinpath(name))


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A bundled TrueType font at a pixel size (cached: loading a font costs a millisecond)."""
    return ImageFont.truetype(_font_path(name), size)


@lru_cache(maxsize=16384)
def text_bbox(f: ImageFont.FreeTypeFont, text: str, anchor: str | None = None) -> tuple[int, int, int, int]:
    """`f.getbbox(text, anchor=anchor)`, remembered: layouts measure the same labels over and over,
    and fonts are cached, so a font and a text always measure the same."""
    return f.getbbox(text, anchor=anchor)


@lru_cache(maxsize=16384)
def text_length(f: ImageFont.FreeTypeFont, text: str) -> float:
    """`f.getlength(text)`, remembered like `text_bbox`."""
    return f.getlength(text)


def font_files(lang: str = "en") -> tuple[str, ...]:
    """The bundled fonts text in `lang` is drawn with (Chinese needs the CJK fonts)."""
    return CJK_FONT_FILES if lang == "zh" else FONT_FILES


def bold_fonts(lang: str = "en") -> tuple[str, ...]:
    """The bundled bold fonts for titles and headers in `lang`."""
    return (CJK_BOLD,) if lang == "zh" else ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf")


def mono_font(lang: str = "en") -> str:
    """A fixed-width font for `lang` (Chinese has none bundled: hanzi are of one width anyway)."""
    return "NotoSansSC-Regular.otf" if lang == "zh" else "DejaVuSansMono.ttf"


def pick_font_name(rng: random.Random, lang: str = "en", mono: bool = False) -> str:
    """A random bundled font file for text in `lang`; `mono` for fixed-width text."""
    return mono_font(lang) if mono else rng.choice(font_files(lang))


def pick_font(rng: random.Random, size: int, mono: bool = False, lang: str = "en") -> ImageFont.FreeTypeFont:
    """A random bundled font at `size` for text in `lang`; `mono` for fixed-width text."""
    return font(pick_font_name(rng, lang, mono), size)


def pick_colors(rng: random.Random, k: int, exclude: tuple[str, ...] = ()) -> list[tuple[str, str, tuple]]:
    """`k` distinct named colours, as (name_en, name_zh, rgb)."""
    pool = [c for c in COLORS if c[0] not in exclude]
    return rng.sample(pool, k)


def color_name(color: tuple[str, str, tuple], lang: str) -> str:
    """A colour's name in `lang` (Chinese or English)."""
    return color[1] if lang == "zh" else color[0]


def canvas(
    rng: random.Random, w: int, h: int, plain: bool = False
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A new RGB canvas with a light background: plain, two-tone band or faint grid."""
    bg = rng.choice(BACKGROUNDS)
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    if not plain:
        kind = rng.random()
        if kind < 0.25:  # faint grid paper
            step = rng.choice((16, 20, 24, 32))
            line = tuple(max(0, c - 14) for c in bg)
            for x in range(0, w, step):
                draw.line([(x, 0), (x, h)], fill=line)
            for y in range(0, h, step):
                draw.line([(0, y), (w, y)], fill=line)
        elif kind < 0.45:  # a header band
            band = tuple(max(0, c - rng.randint(8, 24)) for c in bg)
            draw.rectangle([0, 0, w, rng.randint(h // 12, h // 6)], fill=band)
    return img, draw


def canvas_size(rng: random.Random, base: int = 512, spread: float = 0.25) -> tuple[int, int]:
    """A canvas size around `base` pixels, with a random aspect ratio."""
    w = int(base * rng.uniform(1 - spread, 1 + spread))
    h = int(base * rng.uniform(1 - spread, 1 + spread))
    return w - w % 8, h - h % 8


def ink(rng: random.Random) -> tuple[int, int, int]:
    """A dark text colour."""
    return rng.choice(((20, 20, 20), (40, 40, 60), (30, 50, 30), (60, 30, 30), (0, 0, 0)))
