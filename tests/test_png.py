"""The direct PNG writer: every supported mode reads back pixel for pixel, others go through Pillow.
The verifier: a whole, plain PNG is recognised as Pillow reads it; anything damaged or unusual is
left to Pillow."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from visinstruct.png import SIGNATURE, _chunk, encode_png, sound_png


def picture(mode: str, size=(97, 61)) -> Image.Image:
    rng = random.Random(mode)
    img = Image.new("RGB", size, (250, 248, 240))
    d = ImageDraw.Draw(img)
    for _ in range(20):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        d.ellipse((x, y, x + 15, y + 9), fill=tuple(rng.randrange(256) for _ in range(3)))
    d.text((3, 3), "Ag 12", fill=(0, 0, 0))
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.linear_gradient("L").resize(size))
    return img.convert(mode) if mode != "RGBA" else img


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "1"])
def test_reads_back_identical(mode):
    img = picture(mode)
    data = encode_png(img)
    Image.open(io.BytesIO(data)).verify()  # chunk lengths and CRCs
    back = Image.open(io.BytesIO(data))
    back.load()
    assert back.format == "PNG" and back.size == img.size and back.mode == img.mode
    assert back.tobytes() == img.tobytes()


@pytest.mark.parametrize("backend", ["zlib_ng", "zlib"])
def test_either_deflate_writes_and_verifies_the_same_pixels(backend, monkeypatch):
    """zlib-ng where it is installed, zlib where it is not: both streams read back pixel for
    pixel and pass the verifier, and each verifies the other's."""
    import visinstruct.png as png

    if backend == "zlib_ng":
        zlib_ng = pytest.importorskip("zlib_ng.zlib_ng")
        monkeypatch.setattr(png, "_z", zlib_ng)
        monkeypatch.setattr(png, "_FAST", 2)
    else:
        monkeypatch.setattr(png, "_z", zlib)
        monkeypatch.setattr(png, "_FAST", 1)
    img = picture("RGB", (240, 160))
    data = encode_png(img)
    back = Image.open(io.BytesIO(data))
    back.load()
    assert back.tobytes() == img.tobytes()
    assert sound_png(data, 10**6) == (240, 160, "RGB")
    monkeypatch.setattr(png, "_z", zlib if backend == "zlib_ng" else png._z)
    assert sound_png(data, 10**6) == (240, 160, "RGB")
    broken = data[:-20] + bytes(8) + data[-12:]  # pixel data damaged: refused by either inflate
    assert sound_png(broken, 10**6) is None


def test_as_small_as_pillows_level_1():
    img = picture("RGB", (400, 300))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    assert len(encode_png(img)) <= 1.5 * len(buf.getvalue())


def test_image_files_are_stored_again_after_their_folder_is_removed(tmp_path):
    """The writer remembers which folders it made; a folder removed meanwhile is made again."""
    import shutil

    from visinstruct.store import write_image_file

    data = encode_png(picture("RGB"))
    image_id, rel = write_image_file(tmp_path, data, "png")
    assert (tmp_path / rel).read_bytes() == data
    shutil.rmtree(tmp_path / "images")
    assert write_image_file(tmp_path, data, "png") == (image_id, rel)
    assert (tmp_path / rel).read_bytes() == data and not list((tmp_path / "images").rglob("*.tmp"))


# -- verifying: a whole, plain PNG is stored without Pillow; anything else goes through it --------

LIMIT = 64_000_000


def pillow_png(img: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **options)
    return buf.getvalue()


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def rebuild(parts: list[tuple[bytes, bytes]]) -> bytes:
    """PNG bytes from (kind, data) chunks, every CRC right."""
    return SIGNATURE + b"".join(_chunk(k, d) for k, d in parts)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "1"])
def test_a_plain_png_is_sound_with_pillows_size_and_mode(mode):
    for data in (pillow_png(picture(mode)), encode_png(picture(mode))):
        back = Image.open(io.BytesIO(data))
        assert sound_png(data, LIMIT) == (*back.size, back.mode)


def test_two_and_four_bit_palettes_are_sound():
    img = picture("P").quantize(4)
    data = pillow_png(img, bits=2)
    assert chunks(data)[0][1][8] == 2  # written with 2 bits per pixel
    assert sound_png(data, LIMIT) == (97, 61, "P")


def test_pixel_data_split_over_many_idat_chunks_is_sound():
    parts = chunks(encode_png(picture("RGB")))
    idat = parts[1][1]
    pieces = [(b"IDAT", idat[i : i + 100]) for i in range(0, len(idat), 100)]
    assert sound_png(rebuild([parts[0], *pieces, parts[-1]]), LIMIT) == (97, 61, "RGB")


def test_damaged_or_unusual_pngs_are_left_to_pillow():
    good = encode_png(picture("RGB"))
    parts = chunks(good)
    header, idat = parts[0][1], parts[1][1]
    raw = zlib.decompress(idat)
    stride = 1 + 97 * 3
    bad_filter = bytearray(raw)
    bad_filter[5 * stride] = 7
    cases = {
        "truncated": good[: len(good) // 2],
        "no IEND": good[:-12],
        "a flipped byte (CRC)": good[:60] + bytes([good[60] ^ 1]) + good[61:],
        "corrupt deflate": rebuild([parts[0], (b"IDAT", idat[:20] + b"\xff" * 8 + idat[28:]), parts[-1]]),
        "rows missing": rebuild([parts[0], (b"IDAT", zlib.compress(raw[:-stride])), parts[-1]]),
        "rows too many": rebuild([parts[0], (b"IDAT", zlib.compress(raw + raw[:stride])), parts[-1]]),
        "unknown filter type": rebuild([parts[0], (b"IDAT", zlib.compress(bytes(bad_filter))), parts[-1]]),
        "interlaced": rebuild([(b"IHDR", header[:12] + b"\x01"), *parts[1:]]),
        "16 bits": pillow_png(Image.new("I;16", (40, 30), 1000)),
        "EXIF": pillow_png(picture("RGB"), exif=_exif(6)),
        "EXIF as text": rebuild([parts[0], (b"tEXt", b"Raw profile type exif\0\nexif\n 8\n00"), *parts[1:]]),
        "animated": _apng(),
        "an unknown chunk": rebuild([parts[0], (b"prIv", b"x"), *parts[1:]]),
        "palette without PLTE": rebuild([(b"IHDR", header[:9] + b"\x03" + header[10:]), *parts[1:]]),
        "not a PNG": b"GIF89a" + good[6:],
    }
    for why, data in cases.items():
        assert sound_png(data, LIMIT) is None, why
    assert sound_png(good, 97 * 61 - 1) is None  # over the pixel limit: never inflated


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _apng() -> bytes:
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="PNG", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def test_a_plain_png_is_stored_without_pillow_and_the_rest_as_before(tmp_path, monkeypatch):
    """A plain PNG is never opened by Pillow and keeps its bytes; an EXIF-rotated, a truncated
    and a bad-filter PNG still go through Pillow: rotated, and refused with the reason."""
    from visinstruct.sources import SourceItem, ingest_one

    plain = encode_png(picture("RGB"))
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    got = ingest_one(SourceItem(ref="plain.png", data=plain), tmp_path)
    assert got.error is None and not opened
    assert (got.image.width, got.image.height, got.image.format) == (97, 61, "png")
    assert (tmp_path / got.image.path).read_bytes() == plain

    rotated = ingest_one(SourceItem(ref="r.png", data=pillow_png(picture("RGB"), exif=_exif(6))), tmp_path)
    assert opened and (rotated.image.width, rotated.image.height) == (61, 97)
    assert "EXIF orientation 6 applied" in rotated.image.provenance["normalised"]

    cut = ingest_one(SourceItem(ref="cut.png", data=plain[: len(plain) // 2]), tmp_path)
    assert cut.image is None and cut.error.startswith("cut.png: truncated or corrupt image")
    parts = chunks(plain)
    raw = bytearray(zlib.decompress(parts[1][1]))
    raw[5 * (1 + 97 * 3)] = 9  # the filter byte of row 5
    bad = rebuild([parts[0], (b"IDAT", zlib.compress(bytes(raw))), parts[-1]])
    refused = ingest_one(SourceItem(ref="bad.png", data=bad), tmp_path)
    assert refused.image is None and refused.error.startswith("bad.png: truncated or corrupt image")
