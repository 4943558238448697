"""PNG bytes written directly: rows unfiltered, deflated at level 1.

Pillow's PNG encoder tries every row filter on every row; for drawn pictures (flat colours,
text) that search costs about twice the deflate itself and saves under 5%. Writing the
three chunks here is about three times faster at the same size, and any PNG reader reads it.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

_COLOR = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}  # PNG colour type, bytes per pixel
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(img: Image.Image, level: int = 1) -> bytes:
    """PNG bytes of `img` (8-bit L, RGB or RGBA written directly; other modes through Pillow)."""
    if img.mode not in _COLOR:
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=level)
        return buf.getvalue()
    color, bpp = _COLOR[img.mode]
    w, h = img.size
    rows = np.zeros((h, w * bpp + 1), np.uint8)  # a leading 0 per row: filter type None
    rows[:, 1:] = np.frombuffer(img.tobytes(), np.uint8).reshape(h, w * bpp)
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    idat = zlib.compress(rows.data, level)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
