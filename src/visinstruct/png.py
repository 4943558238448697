"""PNG bytes written and verified directly, without Pillow's per-image overhead.

Writing: rows unfiltered, deflated by zlib-ng (`zlib-ng`) at its level 2 where it is installed,
which deflates drawn pictures about three times faster than zlib's level 1 and no larger, else by
zlib at level 1. Both are deterministic: on one installation the same pixels always give the
same bytes, so an image's content id does not depend on the run or the process that drew it.
Another deflate build (another zlib-ng release, another CPU architecture, or zlib where zlib-ng
is missing) may give other bytes for the same pixels, and so other image and sample ids: ids
match between machines (Ray nodes too) that share the build.
Pillow's PNG encoder tries every row filter on every row; for drawn pictures (flat colours,
text) that search costs about twice the deflate itself and saves under 5%. Writing the three
chunks here is about three times faster at the same size, and any PNG reader reads it.

Verifying (`sound_png`): a PNG that is whole and plain — every chunk's CRC right, the pixel
data inflating to exactly the rows its header announces with a valid filter byte on each row,
8 bits or fewer per sample, not interlaced, not animated, no EXIF — can be stored as it is,
and checking that takes a fraction of what opening, decoding and reading EXIF with Pillow
takes (most of a small image's import). Anything else gets `None` and goes the full way
through Pillow, which then says what is wrong or what it converts. The chunk layout, CRCs,
filter bytes and colour types follow the PNG specification (W3C PNG, 3rd edition, sections
5.3, 7.2, 9.2, 11.2.2); what Pillow would read as EXIF or as an animation follows
`src/PIL/PngImagePlugin.py` (python-pillow/Pillow 11: `chunk_eXIf`, `chunk_acTL`,
`chunk_tEXt` storing key "exif", and `Image.getexif` reading "Raw profile type exif").
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

try:  # zlib-ng's deflate and inflate: zlib's stream format, several times faster
    from zlib_ng import zlib_ng as _z

    _FAST = 2  # zlib-ng's level 2: about zlib's level-1 size at a third of its time
except ImportError:  # a platform without its wheels
    _z = zlib  # type: ignore[assignment]
    _FAST = 1

_COLOR = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}  # PNG colour type, bytes per pixel
SIGNATURE = b"\x89PNG\r\n\x1a\n"

# colour type → (samples per pixel, the bit depths stored as they are, their Pillow modes)
_PLAIN = {
    0: (1, {1: "1", 2: "L", 4: "L", 8: "L"}),
    2: (3, {8: "RGB"}),
    3: (1, {1: "P", 2: "P", 4: "P", 8: "P"}),
    4: (2, {8: "LA"}),
    6: (4, {8: "RGBA"}),
}
# chunks that change nothing of how the pixels are read as they are (tEXt: unless it holds EXIF)
_HARMLESS = frozenset(
    {b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"pHYs", b"tIME", b"bKGD", b"sBIT", b"hIST"}
)
_EXIF_KEYS = (b"exif", b"Raw profile type exif")
_PIECE = 1 << 18  # inflated bytes looked at a time: memory stays small for a large image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(img: Image.Image) -> bytes:
    """PNG bytes of `img` (8-bit L, RGB or RGBA written directly; other modes through Pillow)."""
    if img.mode not in _COLOR:
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
    color, bpp = _COLOR[img.mode]
    w, h = img.size
    rows = np.zeros((h, w * bpp + 1), np.uint8)  # a leading 0 per row: filter type None
    rows[:, 1:] = np.frombuffer(img.tobytes(), np.uint8).reshape(h, w * bpp)
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    idat = _z.compress(rows.data, _FAST)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def sound_png(data: bytes, max_pixels: int) -> tuple[int, int, str] | None:
    """(width, height, Pillow mode) of a whole, plain PNG that is stored as it is (see the
    module docstring); None for anything else, including images over `max_pixels`."""
    if not data.startswith(SIGNATURE):
        return None
    view = memoryview(data)
    end, pos = len(data), 8
    header: tuple[int, ...] | None = None
    idat: list[memoryview] = []
    idat_over = palette = False
    while True:
        if pos + 12 > end:
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = pos + 8
        stop = body + length
        if stop + 4 > end or length > 0x7FFFFFFF:
            return None
        if zlib.crc32(view[pos + 4 : stop]) != struct.unpack_from(">I", data, stop)[0]:
            return None
        pos = stop + 4
        if header is None:
            if kind != b"IHDR" or length != 13:
                return None
            header = struct.unpack_from(">IIBBBBB", data, body)
            continue
        if kind == b"IDAT":
            if idat_over:
                return None  # IDAT chunks must follow one another
            idat.append(view[body:stop])
            continue
        if idat:
            idat_over = True
        if kind == b"IEND":
            break
        if kind == b"PLTE":
            palette = 0 < length <= 768 and length % 3 == 0
        elif kind == b"tEXt":
            if bytes(view[body:stop]).split(b"\0", 1)[0] in _EXIF_KEYS:
                return None
        elif kind not in _HARMLESS:
            return None  # eXIf, an animation, compressed text, anything unknown: Pillow decides
    if header is None or not idat:
        return None
    w, h, depth, color, compression, filtering, interlace = header
    plain = _PLAIN.get(color)
    if plain is None or depth not in plain[1] or compression or filtering or interlace:
        return None
    if not 0 < w < 2**31 or not 0 < h < 2**31 or w * h > max_pixels or (color == 3 and not palette):
        return None
    stride = 1 + (w * plain[0] * depth + 7) // 8
    stream = idat[0] if len(idat) == 1 else b"".join(idat)
    return (w, h, plain[1][depth]) if _rows_whole(stream, stride, h * stride) else None


def _rows_whole(stream: bytes | memoryview, stride: int, expected: int) -> bool:
    """Whether the zlib stream inflates to exactly `expected` bytes, each row starting with a
    filter type 0–4, and ends there with nothing after it (zlib checks its own Adler-32)."""
    d = _z.decompressobj()
    got, pending = 0, stream
    while True:
        try:
            out = d.decompress(pending, _PIECE)
        except (zlib.error, _z.error):
            return False
        if got + len(out) > expected:
            return False
        starts = out[(-got) % stride :: stride]  # the bytes of `out` that begin a row
        if starts and max(starts) > 4:
            return False
        got += len(out)
        pending = d.unconsumed_tail
        if d.eof or not (out or pending):
            return d.eof and got == expected and not d.unused_data and not pending
