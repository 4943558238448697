#!/usr/bin/env python3
"""Make the bundled CJK fonts: Noto Sans CJK SC (Regular, Bold), Noto Serif CJK SC, cut down.

Chinese items draw Chinese text, and the package ships the fonts so the same seed draws the
same pixels everywhere. The full fonts are 16+ MB each; this keeps what Chinese items can draw:

- GB2312 level 1 (3,755 common hanzi, bytes 0xB0A1-0xD7F9),
- CJK symbols and punctuation (U+3000-U+303F), full-width forms (U+FF00-U+FFEF),
- ASCII and a few symbols (¥ ° × ÷ ² ³ π ∠ △ — … “ ” ‘ ’ ·),
- every character of the word lists and phrasings (src/visinstruct/synth/words, phrasings).

A one-off developer step, not a runtime dependency (needs fontTools: pip install fonttools):

    apt-get download fonts-noto-cjk && dpkg -x fonts-noto-cjk_*.deb noto
    python scripts/subset_cjk_font.py noto/usr/share/fonts/opentype/noto

Run it again after adding characters to the word lists (tests/test_cjk_font.py says which are missing).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "visinstruct"
OUT = PKG / "fonts"
# source collection, family in it, file shipped
FONTS = (
    ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC", "NotoSansSC-Regular.otf"),
    ("NotoSansCJK-Bold.ttc", "Noto Sans CJK SC", "NotoSansSC-Bold.otf"),
    ("NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC", "NotoSerifSC-Regular.otf"),
)
EXTRA = "¥°×÷²³π∠△—…“”‘’·•√≈≠≤≥±→←↑↓①②③④⑤⑥⑦⑧⑨⑩"


def gb2312_level1() -> str:
    """The 3,755 level-1 hanzi of GB2312, decoded from their byte pairs."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(out)


def characters() -> set[str]:
    chars = set(gb2312_level1())
    chars |= {chr(c) for c in range(0x20, 0x7F)}
    chars |= {chr(c) for c in range(0x3000, 0x3040)}
    chars |= {chr(c) for c in range(0xFF01, 0xFFF0)}
    chars |= set(EXTRA)
    for folder in ("synth/words", "synth/phrasings"):
        for p in sorted((PKG / folder).glob("*.yaml")):
            chars |= set(p.read_text("utf-8"))
    chars |= set((PKG / "synth" / "style.py").read_text("utf-8"))
    return {c for c in chars if c.isprintable() and c != "\ufffd"}


def main() -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = Path(sys.argv[1])
    chars = characters()
    print(f"{len(chars)} characters")
    for ttc, family, out in FONTS:
        coll = TTCollection(str(src / ttc))
        font = next(f for f in coll.fonts if f["name"].getDebugName(1) == family)
        opts = subset.Options()
        opts.layout_features = ["kern", "liga", "vert", "vrt2", "palt"]
        opts.name_IDs = ["*"]
        opts.notdef_outline = True
        opts.hinting = False
        opts.desubroutinize = False
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=[ord(c) for c in chars])
        sub.subset(font)
        font.save(str(OUT / out))
        print(f"{out}: {(OUT / out).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
