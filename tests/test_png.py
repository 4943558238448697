"""The direct PNG writer: every supported mode reads back pixel for pixel, others go through Pillow."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw

from visinstruct.png import encode_png


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
