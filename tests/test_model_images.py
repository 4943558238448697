import asyncio
import base64
import hashlib
import io
import os
import struct
import zlib
from concurrent.futures import ProcessPoolExecutor

import pytest
from PIL import Image

from visinstruct.errors import VisinstructError
from visinstruct.models import images
from visinstruct.models.images import (
    ImageEncoder,
    ImageError,
    ImageSpec,
    PreparedImage,
    image_tokens,
    prepare,
    sha256_bytes,
    sha256_file,
)

BIG = ImageSpec(max_side=10_000)  # no resizing
BIG_PNG = ImageSpec(max_side=10_000, format="PNG")


def save(im: Image.Image, path, **options):
    im.save(path, **options)
    return path


def reopen(result: PreparedImage) -> Image.Image:
    im = Image.open(io.BytesIO(result.data))
    im.load()
    assert (im.width, im.height) == (result.width, result.height)
    assert im.format == {"image/jpeg": "JPEG", "image/png": "PNG"}[result.mime]
    return im


def close_to(pixel, expected, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def png_with_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, made without allocating them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --- resizing and orientation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((3000, 1500), 1024, (1024, 512)),
        ((1500, 3000), 1024, (512, 1024)),
        ((1000, 333), 500, (500, 166)),
        ((200, 100), 1024, (200, 100)),  # never enlarged
        ((1024, 768), 1024, (1024, 768)),
    ],
)
def test_resize_keeps_aspect_and_never_upscales(tmp_path, size, max_side, expected):
    path = save(Image.new("RGB", size, (10, 120, 200)), tmp_path / "a.png")
    result = prepare(path, ImageSpec(max_side=max_side))
    assert (result.width, result.height) == expected
    assert (result.orig_width, result.orig_height) == size
    assert result.mime == "image/jpeg"
    assert close_to(reopen(result).getpixel((0, 0)), (10, 120, 200))


def test_large_jpeg_is_reduced_while_decoding(tmp_path):
    im = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    path = save(im, tmp_path / "big.jpg", quality=90)
    result = prepare(path, ImageSpec(max_side=1024))
    assert (result.width, result.height) == (1024, 768)
    assert (result.orig_width, result.orig_height) == (4000, 3000)
    out = reopen(result).convert("L")
    # the gradient runs top (dark) to bottom (light) and survives the reduced decode
    assert out.getpixel((512, 10)) < 30
    assert out.getpixel((512, 757)) > 225


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (400, 200), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 200, 200))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = save(im, tmp_path / "phone.jpg", exif=exif, quality=95)

    result = prepare(path, BIG)
    assert (result.width, result.height) == (200, 400)
    assert (result.orig_width, result.orig_height) == (200, 400)
    out = reopen(result)
    assert close_to(out.getpixel((100, 50)), (255, 0, 0), 40)  # the left side ends up on top
    assert close_to(out.getpixel((100, 350)), (0, 0, 255), 40)
    assert 0x0112 not in out.getexif()  # not applied twice by whoever reads the output

    small = prepare(path, ImageSpec(max_side=100))
    assert (small.width, small.height) == (50, 100)


# --- colour modes ---------------------------------------------------------------------------


def test_cmyk_jpeg(tmp_path):
    im = Image.new("CMYK", (64, 32), (0, 0, 0, 0))  # white
    im.paste((255, 0, 0, 0), (0, 0, 32, 32))  # cyan
    path = save(im, tmp_path / "print.jpg", quality=95)
    out = reopen(prepare(path, BIG))
    assert out.mode == "RGB"
    assert close_to(out.getpixel((10, 10)), (0, 255, 255), 40)
    assert close_to(out.getpixel((50, 10)), (255, 255, 255))


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    im = Image.new("I;16", (3, 1))
    for x, value in enumerate((0, 32768, 65535)):
        im.putpixel((x, 0), value)
    path = save(im, tmp_path / "depth.png")
    with Image.open(path) as stored:
        assert stored.mode.startswith("I")

    out = reopen(prepare(path, BIG_PNG))
    assert out.mode == "RGB"
    assert [out.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]
    jpeg = reopen(prepare(path, BIG))
    assert close_to(jpeg.getpixel((2, 0)), (255, 255, 255))


def test_32_bit_and_float_images(tmp_path):
    i32 = Image.new("I", (2, 1))
    i32.putpixel((1, 0), 65535)
    out = reopen(prepare(save(i32, tmp_path / "i.tiff"), BIG_PNG))
    assert [out.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), (255, 255, 255)]

    f = Image.new("F", (2, 1))
    f.putpixel((1, 0), 1.0)
    out = reopen(prepare(save(f, tmp_path / "f.tiff"), BIG_PNG))
    assert [out.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), (255, 255, 255)]


def test_rgba_png_to_jpeg_is_composited_on_white(tmp_path):
    im = Image.new("RGBA", (40, 20), (255, 0, 0, 0))  # fully transparent red
    im.paste((0, 0, 255, 255), (20, 0, 40, 20))  # opaque blue
    path = save(im, tmp_path / "logo.png")

    out = reopen(prepare(path, BIG))
    assert out.mode == "RGB"
    assert close_to(out.getpixel((5, 10)), (255, 255, 255))  # white, not red or black
    assert close_to(out.getpixel((35, 10)), (0, 0, 255))

    png = reopen(prepare(path, BIG_PNG))
    assert png.mode == "RGBA"
    assert png.getpixel((5, 10))[3] == 0
    assert png.getpixel((35, 10)) == (0, 0, 255, 255)


def test_opaque_rgba_png_becomes_rgb(tmp_path):
    path = save(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), tmp_path / "opaque.png")
    out = reopen(prepare(path, BIG_PNG))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (1, 2, 3)


def test_palette_png(tmp_path):
    im = Image.new("RGB", (300, 100), (255, 0, 0))
    im.paste((0, 255, 0), (100, 0, 200, 100))
    im.paste((0, 0, 255), (200, 0, 300, 100))
    path = save(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), tmp_path / "pal.png")
    with Image.open(path) as stored:
        assert stored.mode == "P"

    out = reopen(prepare(path, ImageSpec(max_side=150, format="PNG")))  # resized smoothly, not NEAREST
    assert out.mode == "RGB" and out.size == (150, 50)
    assert out.getpixel((20, 25)) == (255, 0, 0)
    assert out.getpixel((75, 25)) == (0, 255, 0)
    assert out.getpixel((130, 25)) == (0, 0, 255)

    transparent = Image.new("P", (10, 10), 0)
    transparent.putpalette([255, 0, 0, 0, 0, 255])
    transparent.paste(1, (5, 0, 10, 10))
    path = save(transparent, tmp_path / "tp.png", transparency=0)
    jpeg = reopen(prepare(path, BIG))
    assert close_to(jpeg.getpixel((1, 5)), (255, 255, 255))
    assert close_to(jpeg.getpixel((8, 5)), (0, 0, 255))


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (30, 20), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as stored:
        assert stored.n_frames == 3

    out = reopen(prepare(path, BIG))
    assert out.size == (30, 20)
    assert close_to(out.getpixel((15, 10)), (255, 0, 0))


def test_grayscale_and_bilevel(tmp_path):
    for mode, value in (("L", 77), ("1", 1), ("LA", (77, 255))):
        path = save(Image.new(mode, (10, 10), value), tmp_path / f"{mode}.png")
        out = reopen(prepare(path, BIG_PNG))
        assert out.mode == "RGB"


def test_embedded_srgb_profile_is_accepted(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save(Image.new("RGB", (16, 16), (200, 100, 50)), tmp_path / "srgb.jpg", icc_profile=icc)
    out = reopen(prepare(path, BIG))
    assert close_to(out.getpixel((8, 8)), (200, 100, 50))


def test_embedded_profile_is_converted_to_srgb_and_not_copied(tmp_path, monkeypatch):
    from PIL import ImageCms

    # an sRGB profile that does not say so is converted like any other RGB profile (colours unchanged)
    monkeypatch.setattr(ImageCms, "getProfileDescription", lambda profile: "Some camera RGB")
    images._srgb_transform.cache_clear()
    try:
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        for mode, color, spec in (("RGB", (200, 100, 50), BIG), ("RGBA", (200, 100, 50, 128), BIG_PNG)):
            path = save(Image.new(mode, (16, 16), color), tmp_path / f"{mode}.png", icc_profile=icc)
            out = reopen(prepare(path, spec))
            assert out.mode == mode
            assert close_to(out.getpixel((8, 8)), color, 3)
            assert "icc_profile" not in out.info  # the pixels are sRGB now
    finally:
        images._srgb_transform.cache_clear()


def test_colour_key_transparency(tmp_path):
    im = Image.new("RGB", (10, 10), (10, 20, 30))
    im.paste((0, 0, 255), (5, 0, 10, 10))
    path = save(im, tmp_path / "key.png", transparency=(10, 20, 30))
    jpeg = reopen(prepare(path, BIG))
    assert close_to(jpeg.getpixel((1, 1)), (255, 255, 255))
    assert close_to(jpeg.getpixel((8, 8)), (0, 0, 255))
    png = reopen(prepare(path, BIG_PNG))
    assert png.mode == "RGBA" and png.getpixel((1, 1))[3] == 0 and png.getpixel((8, 8))[3] == 255


# --- refusing what is not a sound image -----------------------------------------------------


def test_truncated_jpeg(tmp_path):
    good = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(good, "JPEG")
    path = tmp_path / "photo.jpg"
    path.write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    with pytest.raises(ImageError, match=r"photo\.jpg: truncated or corrupt image \(.*truncated"):
        prepare(path, ImageSpec())


def test_truncated_png(tmp_path):
    good = io.BytesIO()
    Image.effect_noise((300, 300), 60).save(good, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    with pytest.raises(ImageError, match=r"cut\.png: truncated or corrupt image"):
        prepare(path, ImageSpec())


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file"):
        prepare(path, ImageSpec())
    with pytest.raises(ImageError, match=r"<bytes>: empty file"):
        prepare(b"", ImageSpec())


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.png: not an image \(cannot identify image file\)"):
        prepare(path, ImageSpec())


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"gone\.jpg: cannot read"):
        prepare(tmp_path / "gone.jpg", ImageSpec())


def test_decompression_bomb(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_with_header_only(20_000, 20_000))
    assert path.stat().st_size < 1000
    with pytest.raises(ImageError, match=r"big\.png: 400000000 pixels exceeds the limit of 64000000"):
        prepare(path, ImageSpec())


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    path = save(Image.new("L", (200, 100)), tmp_path / "wide.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    with pytest.raises(ImageError, match=r"wide\.png: 20000 pixels exceeds the limit of 10000"):
        prepare(path, ImageSpec())
    monkeypatch.setattr(images, "MAX_PIXELS", 20_000)
    assert prepare(path, ImageSpec()).width == 200


def test_image_error_is_a_user_error():
    assert issubclass(ImageError, VisinstructError)


# --- hashes, bytes and data URLs ------------------------------------------------------------


def test_sha256_is_of_the_original_bytes(tmp_path):
    path = save(Image.new("RGB", (2000, 1000), (9, 9, 9)), tmp_path / "a.png")
    original = path.read_bytes()
    expected = hashlib.sha256(original).hexdigest()
    result = prepare(path, ImageSpec(max_side=100))
    assert result.sha256 == expected
    assert result.sha256 != hashlib.sha256(result.data).hexdigest()
    assert prepare(original, ImageSpec(max_side=100)).sha256 == expected
    assert sha256_file(path) == sha256_bytes(original) == expected


def test_sha256_file_streams_large_files(tmp_path):
    data = os.urandom(3 * (1 << 20) + 12345)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == sha256_bytes(data)


def test_bytes_source_and_data_url(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (30, 10), (0, 200, 0)).save(buf, "PNG")
    result = prepare(buf.getvalue(), ImageSpec(format="png"))
    assert result.mime == "image/png"
    url = result.data_url()
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == result.data
    assert "bytes" in repr(result) and len(repr(result)) < 200

    with pytest.raises(ImageError, match=r"<bytes>: not an image"):
        prepare(b"hello", ImageSpec())


def test_image_spec_validation():
    assert ImageSpec(format="jpg").format == "JPEG"
    assert ImageSpec(format="png") == ImageSpec(format="PNG")
    assert hash(ImageSpec()) == hash(ImageSpec())
    for bad in ({"format": "GIF"}, {"max_side": 0}, {"quality": 101}, {"detail": "medium"}):
        with pytest.raises(ValueError):
            ImageSpec(**bad)


# --- ImageEncoder ---------------------------------------------------------------------------


def test_encoder_prepares_the_same_content_once(tmp_path, monkeypatch):
    im = Image.new("RGB", (50, 40), (1, 2, 3))
    a = save(im, tmp_path / "a.png")
    b = tmp_path / "copy-of-a.png"
    b.write_bytes(a.read_bytes())
    c = save(Image.new("RGB", (50, 40), (9, 9, 9)), tmp_path / "c.png")

    calls = []
    real = images.prepare

    def counting(source, spec, **kwargs):
        calls.append(source)
        return real(source, spec, **kwargs)

    monkeypatch.setattr(images, "prepare", counting)
    spec = ImageSpec(max_side=32)

    async def main():
        with ImageEncoder(workers=0) as encoder:
            first = await encoder.prepare(a, spec)
            second = await encoder.prepare(b, spec)
            third = await encoder.prepare(a.read_bytes(), spec)
            other = await encoder.prepare(c, spec)
            as_png = await encoder.prepare(a, ImageSpec(max_side=32, format="PNG"))
            return encoder.stats, first, second, third, other, as_png

    stats, first, second, third, other, as_png = asyncio.run(main())
    assert first is second is third
    assert other.sha256 != first.sha256
    assert as_png.mime == "image/png"
    assert len(calls) == 3  # a (JPEG), c (JPEG), a (PNG)
    assert stats == {"hits": 2, "misses": 3, "shared": 0}


def test_encoder_shares_in_flight_work(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (64, 64), (5, 6, 7)), tmp_path / "a.png")
    calls = []
    real = images.prepare

    def slow(source, spec, **kwargs):
        calls.append(source)
        import time

        time.sleep(0.2)
        return real(source, spec, **kwargs)

    monkeypatch.setattr(images, "prepare", slow)
    data = path.read_bytes()
    sha = sha256_bytes(data)

    async def main():
        encoder = ImageEncoder(workers=0)
        results = await asyncio.gather(*(encoder.prepare(data, ImageSpec()) for _ in range(5)))
        again = await encoder.prepare(path, ImageSpec(), sha256=sha)
        encoder.close()
        return encoder.stats, results, again

    stats, results, again = asyncio.run(main())
    assert len(calls) == 1
    assert all(r is results[0] for r in results) and again is results[0]
    assert stats == {"hits": 1, "misses": 1, "shared": 4}


def test_encoder_errors_reach_every_waiter(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")

    async def main():
        async with ImageEncoder(workers=0) as encoder:
            return await asyncio.gather(
                *(encoder.prepare(path, ImageSpec()) for _ in range(3)), return_exceptions=True
            )

    errors = asyncio.run(main())
    assert all(isinstance(e, ImageError) and "notes.png: not an image" in str(e) for e in errors)

    async def missing():
        async with ImageEncoder(workers=0) as encoder:
            await encoder.prepare(tmp_path / "gone.png", ImageSpec())

    with pytest.raises(ImageError, match=r"gone\.png: cannot read"):
        asyncio.run(missing())


def test_encoder_cache_is_bounded(tmp_path):
    paths = [save(Image.new("L", (8, 8), v), tmp_path / f"{v}.png") for v in (10, 20, 30)]

    async def main():
        async with ImageEncoder(workers=0, cache_size=2) as encoder:
            for p in paths:
                await encoder.prepare(p, ImageSpec())
            await encoder.prepare(paths[0], ImageSpec())  # evicted: prepared again
            await encoder.prepare(paths[2], ImageSpec())  # still cached
            return dict(encoder.stats), len(encoder._cache)

    stats, size = asyncio.run(main())
    assert stats == {"hits": 1, "misses": 4, "shared": 0}
    assert size == 2


def test_encoder_uses_a_process_pool(tmp_path):
    path = save(Image.new("RGB", (2000, 1000), (30, 60, 90)), tmp_path / "a.jpg")
    data = path.read_bytes()

    async def main():
        async with ImageEncoder(workers=1) as encoder:
            results = await asyncio.gather(
                encoder.prepare(path, ImageSpec(max_side=500)),
                encoder.prepare(data, ImageSpec(max_side=500)),
                encoder.prepare(path, ImageSpec(max_side=250, format="PNG")),
            )
            executor = encoder._executor
            assert isinstance(executor, ProcessPoolExecutor)
            worker_pid = await asyncio.get_running_loop().run_in_executor(executor, os.getpid)
            return results, worker_pid, encoder.stats

    (jpeg, same, png), worker_pid, stats = asyncio.run(main())
    assert worker_pid != os.getpid()
    assert jpeg is same
    assert (jpeg.width, jpeg.height) == (500, 250)
    assert (png.width, png.height, png.mime) == (250, 125, "image/png")
    assert jpeg.sha256 == sha256_bytes(data)
    assert close_to(reopen(jpeg).getpixel((10, 10)), (30, 60, 90))
    assert stats["misses"] == 2


def test_encoder_process_pool_reports_image_errors(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")

    async def main():
        async with ImageEncoder(workers=1) as encoder:
            await encoder.prepare(path, ImageSpec())

    with pytest.raises(ImageError, match=r"empty\.jpg: empty file"):
        asyncio.run(main())


def test_encoder_recovers_when_a_worker_dies(tmp_path):
    import signal

    first = save(Image.new("RGB", (20, 20), (1, 1, 1)), tmp_path / "first.png")
    second = save(Image.new("RGB", (20, 20), (2, 2, 2)), tmp_path / "second.png")

    async def main():
        async with ImageEncoder(workers=1) as encoder:
            await encoder.prepare(first, ImageSpec())
            broken = encoder._executor
            for pid in list(broken._processes):
                os.kill(pid, signal.SIGKILL)
            for _ in range(100):  # until the pool notices
                if broken._broken:
                    break
                await asyncio.sleep(0.05)
            result = await encoder.prepare(second, ImageSpec())
            assert encoder._executor is not broken
            return result

    assert asyncio.run(main()).sha256 == sha256_file(second)


def test_encoder_reports_workers_that_cannot_run(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("no worker could start")

        def shutdown(self, *args, **kwargs):
            pass

    monkeypatch.setattr(ImageEncoder, "_get_executor", lambda self: Broken())
    path = save(Image.new("RGB", (20, 20)), tmp_path / "a.png")

    async def main():
        await ImageEncoder(workers=1).prepare(path, ImageSpec())

    with pytest.raises(images.ImageWorkerError, match="workers=0"):
        asyncio.run(main())


def test_encoder_default_workers():
    encoder = ImageEncoder()
    assert encoder.workers == max(1, (os.cpu_count() or 1) - 1)
    encoder.close()
    with pytest.raises(RuntimeError):
        asyncio.run(encoder.prepare(b"x", ImageSpec()))


# --- token estimate -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "detail", "tokens"),
    [
        (1024, 1024, "low", 85),
        (4096, 4096, "low", 85),
        (1024, 1024, "high", 765),
        (2048, 4096, "high", 1105),
        (2048, 4096, "auto", 1105),
        (512, 512, "high", 255),
        (100, 100, "high", 255),
        (768, 768, "high", 765),
        (1920, 1080, "high", 1105),
    ],
)
def test_image_tokens(width, height, detail, tokens):
    assert image_tokens(width, height, detail) == tokens


def test_image_tokens_rejects_bad_input():
    with pytest.raises(ValueError):
        image_tokens(100, 100, "medium")
    with pytest.raises(ValueError):
        image_tokens(0, 100, "high")


def test_a_jpeg_that_already_fits_is_sent_as_it_is(tmp_path):
    p = tmp_path / "small.jpg"
    Image.new("RGB", (640, 480), (10, 120, 200)).save(p, quality=70)
    out = prepare(p, ImageSpec(max_side=1024, format="JPEG"))
    assert out.data == p.read_bytes() and (out.width, out.height) == (640, 480)
    # too big, another format, or rotated by EXIF: re-encoded
    assert prepare(p, ImageSpec(max_side=320)).data != p.read_bytes()
    assert prepare(p, ImageSpec(max_side=1024, format="PNG")).mime == "image/png"
    exif = Image.Exif()
    exif[0x0112] = 6
    r = tmp_path / "rotated.jpg"
    Image.new("RGB", (640, 480), "red").save(r, exif=exif)
    turned = prepare(r, ImageSpec(max_side=1024))
    assert (turned.width, turned.height) == (480, 640)


def test_data_url_is_built_once():
    img = PreparedImage("0" * 64, "image/jpeg", b"\xff\xd8abc", 1, 1, 1, 1)
    assert img.data_url() is img.data_url() and img.data_url().startswith("data:image/jpeg;base64,")
