"""Image preprocessing for model requests: decode safely, orient, convert, resize, encode once.

`prepare` is a pure function, safe to run in worker processes. It reads the bytes (from a path or
given directly), refuses what is not a sound image (empty, not an image, truncated, too many pixels),
applies the EXIF orientation, keeps the first frame of an animation, converts the colour mode to what
the output format can hold, shrinks the image so its longest side fits `ImageSpec.max_side` (never
enlarging it) and encodes it once. JPEGs much larger than the target are decoded at reduced size by
the JPEG decoder itself (`Image.draft`), which is several times faster than a full decode.

`ImageEncoder` runs `prepare` off the event loop, in a process pool by default, and prepares each
(content, spec) pair once: the same image under two names, or asked for twice at the same time, is
decoded once.

`image_tokens` estimates what an image costs in OpenAI's tile-based vision accounting.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import math
import multiprocessing
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from PIL import Image

from visinstruct.errors import VisinstructError
from visinstruct.executors.local import make_pool

try:  # colour management is optional in Pillow builds
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on how Pillow was built
    ImageCms = None  # type: ignore[assignment]

Source = str | os.PathLike[str] | bytes

#: Images with more pixels than this are refused before they are decoded (decompression-bomb guard).
#: Read at call time, so it can be changed at run time (in the process that runs `prepare`).
MAX_PIXELS = 64_000_000

#: zlib level for PNG output: 6 is Pillow's default, a fair balance of size and speed.
PNG_COMPRESS_LEVEL = 6

_BLOCK = 1 << 20
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
_FORMAT_ALIASES = {"JPG": "JPEG"}
_DETAILS = ("low", "high", "auto")
_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Resizing: LANCZOS for modest reductions (at most this factor per side); beyond it BICUBIC, which
# is visually the same when shrinking that much and about a third faster.
_LANCZOS_MAX_FACTOR = 1.5
# resize() first shrinks by an integer factor with reduce() while the image stays at least this many
# times larger than the target, then resamples: much faster on huge images (those that are not
# JPEGs, which the decoder already reduces), and indistinguishable from a full resample.
_REDUCING_GAP = 3.0


class ImageError(VisinstructError):
    """An image cannot be used: the message names the source and what is wrong with it."""


class ImageWorkerError(VisinstructError):
    """The worker processes cannot run at all: not a problem with any one image."""


@dataclass(frozen=True)
class ImageSpec:
    """How to prepare an image for a request; hashable, so it is part of the cache key."""

    max_side: int = 1024  # longest side after resizing (images are never enlarged)
    format: str = "JPEG"  # "JPEG" or "PNG" (PNG keeps transparency and sharp text)
    quality: int = 90  # JPEG quality
    detail: str = "auto"  # "low" | "high" | "auto": sent as image_url.detail

    def __post_init__(self) -> None:
        fmt = str(self.format).upper()
        fmt = _FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in _FORMATS:
            raise ValueError(f"ImageSpec.format must be JPEG or PNG, not {self.format!r}")
        object.__setattr__(self, "format", fmt)
        if not isinstance(self.max_side, int) or self.max_side < 1:
            raise ValueError(f"ImageSpec.max_side must be a positive integer, not {self.max_side!r}")
        if not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            raise ValueError(f"ImageSpec.quality must be an integer from 1 to 100, not {self.quality!r}")
        if self.detail not in _DETAILS:
            raise ValueError(f"ImageSpec.detail must be one of {', '.join(_DETAILS)}, not {self.detail!r}")

    @property
    def mime(self) -> str:
        return _FORMATS[self.format]


@dataclass(frozen=True)
class PreparedImage:
    """An encoded image ready to send. `sha256` is the hash of the original (source) bytes;
    `width`/`height` are after resizing, `orig_width`/`orig_height` before it (both as displayed,
    i.e. after the EXIF orientation is applied)."""

    sha256: str
    mime: str
    data: bytes
    width: int
    height: int
    orig_width: int
    orig_height: int

    def data_url(self) -> str:
        """The base64 data URL, built once per prepared image (the encoder re-uses it for
        every request that sends the same image)."""
        url = self.__dict__.get("_data_url")
        if url is None:
            url = f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"
            object.__setattr__(self, "_data_url", url)
        return url

    def __repr__(self) -> str:  # never dump the encoded bytes
        return (
            f"PreparedImage(sha256={self.sha256[:12]}…, mime={self.mime!r}, {len(self.data)} bytes, "
            f"{self.width}x{self.height} from {self.orig_width}x{self.orig_height})"
        )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def _source_name(source: Source) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return os.fspath(source)


def _read(source: Source) -> tuple[str, bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>", bytes(source)
    name = os.fspath(source)
    try:
        with open(name, "rb") as f:
            return name, f.read()
    except OSError as e:
        raise ImageError(f"{name}: cannot read ({e.strerror or e})") from e


def _reason(e: BaseException) -> str:
    return str(e) or type(e).__name__


def prepare(source: Source, spec: ImageSpec, *, sha256: str | None = None) -> PreparedImage:
    """Decode, check, orient, convert, resize and encode one image (see the module docstring).

    `sha256`, when the caller already knows the hash of the source bytes, saves hashing them again.
    Raises ImageError, naming the source, for anything that is not a sound image.
    """
    name, data = _read(source)
    if not data:
        raise ImageError(f"{name}: empty file")
    digest = sha256 or sha256_bytes(data)
    limit = MAX_PIXELS

    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:  # Pillow's own guard fires before ours for huge images
        m = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(m.group(1)) if m else None
        if pixels is not None and pixels > limit:
            raise ImageError(f"{name}: {pixels} pixels exceeds the limit of {limit}") from None
        raise ImageError(f"{name}: too many pixels ({_reason(e)})") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (cannot identify image file)") from None
    except Exception as e:
        raise ImageError(f"{name}: truncated or corrupt image ({_reason(e)})") from None

    stored_w, stored_h = im.size
    if stored_w < 1 or stored_h < 1:
        raise ImageError(f"{name}: image has no pixels ({stored_w}x{stored_h})")
    if stored_w * stored_h > limit:
        raise ImageError(f"{name}: {stored_w * stored_h} pixels exceeds the limit of {limit}")
    orientation = _orientation(im)
    target = _fit(stored_w, stored_h, spec.max_side)
    box = None
    try:
        if target != (stored_w, stored_h) and im.format in ("JPEG", "MPO"):
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale, still at least the target size; the box is
            # the area of the reduced image that maps onto the original
            drafted = im.draft(None, target)
            if drafted is not None and im.size != (stored_w, stored_h):
                box = drafted[1]
        im.load()  # decodes the whole (first) frame: a truncated file fails here
    except Exception as e:
        raise ImageError(f"{name}: truncated or corrupt image ({_reason(e)})") from None
    icc = im.info.get("icc_profile") or None
    if (
        im.format == spec.format == "JPEG"
        and im.mode in ("RGB", "L")
        and target == (stored_w, stored_h)
        and orientation == 1
        and not icc
    ):
        # already a plain JPEG of the right size: send its own bytes (re-encoding only adds bytes and loss)
        return PreparedImage(digest, spec.mime, data, stored_w, stored_h, stored_w, stored_h)
    try:
        work = _working_mode(im)
    except Exception as e:
        raise ImageError(f"{name}: unsupported image mode {im.mode} ({_reason(e)})") from None

    if work.size != target:
        factor = work.width / target[0]
        resample = Image.Resampling.LANCZOS if factor <= _LANCZOS_MAX_FACTOR else Image.Resampling.BICUBIC
        work = work.resize(target, resample, box=box, reducing_gap=_REDUCING_GAP)
    if orientation in _TRANSPOSE:
        work = work.transpose(_TRANSPOSE[orientation])

    out, keep_icc = _output_mode(work, spec.format, icc)
    out.info = {}  # the encoders fall back on info: write only what is set here (no stale profile)
    buf = io.BytesIO()
    options: dict = {"icc_profile": keep_icc} if keep_icc else {}
    if spec.format == "JPEG":
        out.save(buf, "JPEG", quality=spec.quality, **options)
    else:
        out.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, **options)

    swapped = orientation in (5, 6, 7, 8)
    return PreparedImage(
        sha256=digest,
        mime=spec.mime,
        data=buf.getvalue(),
        width=out.width,
        height=out.height,
        orig_width=stored_h if swapped else stored_w,
        orig_height=stored_w if swapped else stored_h,
    )


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
        return int(value) if value in _TRANSPOSE else 1
    except Exception:  # unreadable EXIF is no reason to refuse the pixels
        return 1


def _working_mode(im: Image.Image) -> Image.Image:
    """Convert to a mode that resizes well and carries everything needed later:
    L, LA, RGB, RGBA, or CMYK (kept so an embedded CMYK profile can be applied after resizing)."""
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:  # a colour key marks transparent pixels
        return im.convert("LA" if mode == "L" else "RGBA")
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode in ("P", "PA"):
        return im.convert("RGBA" if mode == "PA" or im.has_transparency_data else "RGB")
    if mode.startswith("I;16"):
        return _scale_to_l(im.convert("I"), 65535)
    if mode in ("I", "F"):
        # the bit depth is not recorded: take the smallest usual range that holds the values
        lo, hi = im.getextrema()
        if lo >= 0:
            for full_scale in ((1.0,) if mode == "F" else ()) + (255, 65535):
                if hi <= full_scale:
                    return _scale_to_l(im, full_scale)
        return _scale_to_l(im, hi - lo or 1, lo)  # anything else: stretch min..max to 0..255
    if mode == "La":
        return im.convert("LA")
    if mode == "RGBa":
        return im.convert("RGBA")
    return im.convert("RGBA" if im.has_transparency_data else "RGB")  # YCbCr, LAB, HSV, RGBX, ...


def _scale_to_l(im: Image.Image, full_scale: float, offset: float = 0) -> Image.Image:
    """Map [offset, offset + full_scale] linearly onto 0..255 (rounded), for I and F images."""
    k = 255 / full_scale
    return im.point(lambda v: v * k + (0.5 - offset * k)).convert("L")


def _output_mode(im: Image.Image, fmt: str, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Final conversion: RGB for JPEG (alpha composited on white); RGBA for PNG when some pixel is
    not opaque, else RGB. An embedded colour profile is applied (the output is sRGB); when it cannot
    be, an RGB profile is carried over instead."""
    keep_icc = None
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        converted = _to_srgb(im, icc)
        if converted is not None:
            im = converted
        elif im.mode != "CMYK":
            keep_icc = icc
    if im.mode == "CMYK":
        im = im.convert("RGB")
    if im.mode in ("LA", "RGBA"):
        alpha = im.getchannel("A")
        if alpha.getextrema()[0] == 255:
            im = im.convert("RGB")
        elif fmt == "JPEG":
            background = Image.new("RGB", im.size, (255, 255, 255))
            background.paste(im.convert("RGBA"), mask=alpha)
            im = background
        elif im.mode == "LA":
            im = im.convert("RGBA")
    if im.mode == "L":
        im = im.convert("RGB")
    return im, keep_icc


def _to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
    transform = _srgb_transform(icc, im.mode, out_mode)
    if transform is _IS_SRGB:
        return im
    if transform is None:
        return None
    try:
        return ImageCms.applyTransform(im, transform)
    except Exception:
        return None


_IS_SRGB = object()


@functools.lru_cache(maxsize=32)
def _srgb_transform(icc: bytes, in_mode: str, out_mode: str):
    """A cached transform from the embedded profile to sRGB; _IS_SRGB when the profile already is
    sRGB; None when colour management is unavailable or fails (the caller then falls back)."""
    if ImageCms is None:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if in_mode != "CMYK" and "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return _IS_SRGB
        return ImageCms.buildTransform(
            profile, ImageCms.createProfile("sRGB"), in_mode, out_mode, ImageCms.Intent.PERCEPTUAL
        )
    except Exception:
        return None


def image_tokens(width: int, height: int, detail: str) -> int:
    """OpenAI's tile-based vision token estimate (GPT-4o-style models).

    low: 85. high/auto (counted as high, the upper bound): fit within 2048x2048, then shrink so the
    shortest side is at most 768, then 170 per 512-pixel tile plus 85.
    """
    if detail not in _DETAILS:
        raise ValueError(f"detail must be one of {', '.join(_DETAILS)}, not {detail!r}")
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, not {width}x{height}")
    if detail == "low":
        return 85
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(round(w, 6) / 512) * math.ceil(round(h, 6) / 512)
    return 170 * tiles + 85


def _default_workers() -> int:
    return max(1, (os.cpu_count() or 1) - 1)


def _mp_context():
    # forkserver (or spawn) rather than fork: forking a process that runs an event loop and threads
    # can deadlock the child.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ImageEncoder:
    """Prepares images off the event loop in a process pool, once per (content, spec).

    Results are kept in an LRU cache of `cache_size` entries keyed on (sha256 of the content, spec),
    so the same image under two file names is prepared once, and concurrent requests for the same key
    share one in-flight job. `stats` counts cache `hits`, `misses` (jobs actually run) and `shared`
    (requests that joined a job already in flight). `workers=0` runs `prepare` in a thread instead;
    `submit` (an async `submit(fn, arg)`, such as a run's executor) runs it there instead of a pool
    of the encoder's own.
    """

    def __init__(
        self,
        workers: int | None = None,
        cache_size: int = 512,
        submit: Callable[[Callable[[Any], Any], Any], Awaitable[Any]] | None = None,
    ):
        self.submit = submit
        self.workers = _default_workers() if workers is None else workers
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, not {workers}")
        self.cache_size = max(0, cache_size)
        self.stats = {"hits": 0, "misses": 0, "shared": 0}
        self._cache: OrderedDict[tuple[str, ImageSpec], PreparedImage] = OrderedDict()
        self._inflight: dict[tuple[str, ImageSpec], asyncio.Future[PreparedImage]] = {}
        self._executor: Executor | None = None
        self._closed = False
        self._done_in_process = 0  # jobs a worker process finished: tells a broken image from a broken pool

    async def prepare(self, source: Source, spec: ImageSpec, sha256: str | None = None) -> PreparedImage:
        if self._closed:
            raise RuntimeError("ImageEncoder is closed")
        if isinstance(source, (bytearray, memoryview)):
            source = bytes(source)
        elif not isinstance(source, bytes):
            source = os.fspath(source)
        if sha256 is None:
            sha256 = await _hash_source(source)
        key = (sha256, spec)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.stats["hits"] += 1
            return cached
        job = self._inflight.get(key)
        if job is None:
            self.stats["misses"] += 1
            job = asyncio.ensure_future(self._run(key, source, spec))
            self._inflight[key] = job
            job.add_done_callback(functools.partial(self._finished, key))
        else:
            self.stats["shared"] += 1
        # shield: one caller being cancelled must not cancel the job the others wait on
        return await asyncio.shield(job)

    def _finished(self, key: tuple[str, ImageSpec], job: asyncio.Future[PreparedImage]) -> None:
        if self._inflight.get(key) is job:
            del self._inflight[key]
        if not job.cancelled():
            job.exception()  # retrieved, so an error nobody awaits anymore is not logged as lost

    async def _run(self, key: tuple[str, ImageSpec], source: Source, spec: ImageSpec) -> PreparedImage:
        if self.submit is not None:
            result = await self.submit(prepare_job, (source, spec, key[0]))
        elif self.workers == 0:
            result = await asyncio.to_thread(prepare, source, spec, sha256=key[0])
        else:
            result = await self._in_process(source, spec, key[0])
        if self.cache_size:
            self._cache[key] = result
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return result

    async def _in_process(self, source: Source, spec: ImageSpec, sha256: str) -> PreparedImage:
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._get_executor()
            try:
                # a path is sent as a string, so the worker reads the file instead of us pickling it
                job = functools.partial(prepare, source, spec, sha256=sha256)
                result = await loop.run_in_executor(executor, job)
                self._done_in_process += 1
                return result
            except BrokenProcessPool:
                # a worker died (killed, out of memory, crashed in a decoder): start a new pool and
                # retry once; a second death is blamed on this image, unless no worker ever finished
                # a job, in which case the workers cannot run here at all
                if self._executor is executor:
                    self._executor = None
                    executor.shutdown(wait=False, cancel_futures=True)
                if attempt == 1 and not self._closed:
                    continue
                if not self._done_in_process:
                    raise ImageWorkerError(
                        "the image worker processes stopped before preparing any image (see the errors "
                        "above); ImageEncoder(workers=0) prepares images in threads instead"
                    ) from None
                raise ImageError(
                    f"{_source_name(source)}: the image worker process died while preparing it"
                ) from None
        raise AssertionError("unreachable")

    def _get_executor(self) -> Executor:
        if self._closed:
            raise RuntimeError("ImageEncoder is closed")
        if self._executor is None:
            self._executor = make_pool(self.workers, _mp_context())
        return self._executor

    def cache_clear(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        """Stop the worker processes (waiting for running jobs); the cache is dropped."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self._cache.clear()

    def __enter__(self) -> ImageEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ImageEncoder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)  # shutting the pool down blocks: keep the loop free


def prepare_job(job: tuple[Source, ImageSpec, str]) -> PreparedImage:
    """`prepare` with its arguments in one tuple (what an executor hands a worker)."""
    source, spec, sha256 = job
    return prepare(source, spec, sha256=sha256)


async def _hash_source(source: str | bytes) -> str:
    if isinstance(source, bytes):
        if len(source) <= _BLOCK:
            return sha256_bytes(source)
        return await asyncio.to_thread(sha256_bytes, source)
    try:
        return await asyncio.to_thread(sha256_file, source)
    except OSError as e:
        raise ImageError(f"{source}: cannot read ({e.strerror or e})") from e
