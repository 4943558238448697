"""Source items and their ingestion: validate each image, normalise it when needed, store it once.

A `SourceItem` is one image as a source describes it (a file in a folder, a manifest line, a dataset
row, a URL), before anything has checked that it is an image. `ingest_one` reads its bytes and
refuses what is not a sound image: empty, not an image, truncated or corrupt, too many pixels
(decompression-bomb guard) or too small. What passes is stored in the run's content-addressed image
folder:

* a JPEG, PNG or WebP in a mode every viewer and model reads (JPEG L/RGB, 8-bit PNG, WebP RGB/RGBA),
  with no EXIF rotation to apply, not animated and not to be downscaled, is stored as its ORIGINAL
  bytes: its id is the sha256 of the file, so the same file under two names is one image;
  a PNG that `png.sound_png` finds whole and plain (every CRC right, the rows inflating exactly,
  no EXIF, no animation) is stored so without Pillow decoding it at all;
* anything else is decoded and re-encoded: EXIF orientation applied, first frame of an animation,
  CMYK and colour profiles converted to sRGB, 16-bit scaled to 8-bit, palette expanded. Images with
  transparency, and lossless sources (PNG, GIF, BMP, TIFF), become PNG; photos (JPEG, WebP sources,
  CMYK) become JPEG at quality 95. Provenance records `normalised` (why) and the original's format,
  mode, size and sha256.

An item that already carries an error (a manifest line that could not be read, a failed download)
is reported as it is. Every error names the item's `ref` and the reason.

`ingest` runs `ingest_one` in a process pool with a bounded window of items in flight and yields the
results in input order.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from visinstruct.errors import VisinstructError
from visinstruct.executors.local import make_pool
from visinstruct.files import NotRegularFile, read_regular
from visinstruct.models import images as _images
from visinstruct.models.images import (
    _TRANSPOSE,
    PNG_COMPRESS_LEVEL,
    ImageError,
    ImageWorkerError,
    _fit,
    _mp_context,
    _orientation,
    _output_mode,
    _reason,
    _working_mode,
    sha256_bytes,
)
from visinstruct.png import sound_png
from visinstruct.records import ImageRecord
from visinstruct.store import write_image_file

#: Images whose shorter side is below this many pixels are refused.
MIN_SIDE = 16

#: JPEG quality of re-encoded photos.
JPEG_QUALITY = 95

#: The decoders tried on source bytes. Others (EPS runs Ghostscript, PSD, ICO, ...) are refused.
DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

# Files stored as they are, by format: the modes every viewer and model reads as they are.
_KEEP_MODES = {
    "JPEG": frozenset({"L", "RGB"}),
    "MPO": frozenset({"L", "RGB"}),  # camera JPEGs with an extra picture appended: still a JPEG file
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
}
_STORED_NAME = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp"}
_EXTENSION = {"jpeg": "jpg", "png": "png", "webp": "webp"}
_LOSSY_SOURCES = frozenset({"JPEG", "MPO", "WEBP"})


class SourceError(VisinstructError):
    """A source cannot be read at all (missing folder or manifest, bad dataset): names it and why."""


@dataclass
class SourceItem:
    """One image to ingest, before validation."""

    ref: str  # stable reference for ids and messages: relative path, manifest path/URL, "hf:<dataset>#<i>"
    data: bytes | None = None  # bytes when already in memory (a dataset row, a download)
    path: str | None = None  # local file path
    url: str | None = None  # remote URL (fetched by `download`)
    domain: str | None = None
    tags: list[str] = field(default_factory=list)
    known_text: str | None = None  # OCR or other known text to give the captioner
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # set when the item is already known to be unusable: reported, not ingested

    def __repr__(self) -> str:  # never dump the bytes
        data = "None" if self.data is None else f"<{len(self.data)} bytes>"
        return (
            f"SourceItem(ref={self.ref!r}, data={data}, path={self.path!r}, url={self.url!r}, "
            f"domain={self.domain!r}, error={self.error!r})"
        )


@dataclass
class Ingested:
    """What became of one item: the stored image, or the reason it was refused."""

    item: SourceItem
    image: ImageRecord | None  # None when refused
    error: str | None  # names the item's ref, e.g. "photos/cat.jpg: truncated or corrupt image (...)"

    @property
    def ok(self) -> bool:
        return self.error is None


def ingest_one(item: SourceItem, run_dir: str | os.PathLike[str], max_side: int | None = None) -> Ingested:
    """Validate one item and store its image in `run_dir` (see the module docstring).

    Pure apart from writing the image file, so it runs in worker processes. Never raises for a bad
    image: the problem is returned in `Ingested.error`.
    """
    image, error = _ingest_checked(item, os.fspath(run_dir), max_side)
    return Ingested(item, image, error)


def _ingest_checked(
    item: SourceItem, run_dir: str, max_side: int | None
) -> tuple[ImageRecord | None, str | None]:
    if item.error is not None:
        return None, item.error
    try:
        return _ingest(item, Path(run_dir), max_side), None
    except ImageError as e:
        return None, str(e)
    except MemoryError:
        return None, f"{item.ref}: out of memory while decoding the image"
    except Exception as e:  # a decoder bug or a full disk: reported for this item, never fatal
        return None, f"{item.ref}: cannot ingest ({type(e).__name__}: {_reason(e)})"


def _read_item(item: SourceItem) -> bytes:
    if item.data is not None:
        return bytes(item.data)
    if item.path is not None:
        try:
            return read_regular(item.path)  # a named pipe or a device is refused, never opened
        except NotRegularFile as e:
            raise ImageError(f"{item.ref}: {e}") from None
        except OSError as e:
            raise ImageError(f"{item.ref}: cannot read ({e.strerror or e})") from None
    if item.url is not None:
        raise ImageError(f"{item.ref}: not downloaded (fetch URL items with sources.download first)")
    raise ImageError(f"{item.ref}: the item has no data, path or url")


def _open(ref: str, data: bytes) -> Image.Image:
    """Open (identify) without decoding, refusing non-images and decompression bombs."""
    limit = _images.MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=DECODERS)
    except Image.DecompressionBombError as e:  # Pillow's own guard fires before ours for huge images
        m = re.search(r"\((\d+) pixels\)", str(e))
        pixels = f"{int(m.group(1))} pixels" if m else "too many pixels"
        raise ImageError(f"{ref}: decompression bomb ({pixels}, limit {limit})") from None
    except Image.UnidentifiedImageError:
        raise ImageError(
            f"{ref}: not an image (cannot identify an image file; readable: JPEG, PNG, WebP, GIF, BMP, TIFF)"
        ) from None
    except Exception as e:
        raise ImageError(f"{ref}: truncated or corrupt image ({_reason(e)})") from None


def _ingest(item: SourceItem, run_dir: Path, max_side: int | None) -> ImageRecord:
    ref = item.ref
    data = _read_item(item)
    if not data:
        raise ImageError(f"{ref}: empty file (0 bytes)")
    prov: dict[str, Any] = {
        **item.provenance,
        "ref": ref,
        "domain": item.domain,
        "tags": list(item.tags),
        "known_text": item.known_text,
    }
    plain = sound_png(data, _images.MAX_PIXELS)
    if plain is not None and min(plain[:2]) >= MIN_SIDE:
        w, h = plain[:2]
        if not max_side or _fit(w, h, max_side) == (w, h):  # whole and plain: stored as it is
            image_id, rel = write_image_file(run_dir, data, "png")
            return ImageRecord(image_id, rel, w, h, "png", prov)
    im = _open(ref, data)
    src_format, src_mode = im.format or "?", im.mode
    w, h = im.size
    limit = _images.MAX_PIXELS
    if w < 1 or h < 1:
        raise ImageError(f"{ref}: image has no pixels ({w}x{h})")
    if w * h > limit:
        raise ImageError(f"{ref}: decompression bomb ({w}x{h} = {w * h} pixels, limit {limit})")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{ref}: too small ({w}x{h}; the shorter side must be at least {MIN_SIDE} px)")
    try:
        animated = src_format != "MPO" and bool(getattr(im, "is_animated", False))
    except Exception as e:
        raise ImageError(f"{ref}: truncated or corrupt image ({_reason(e)})") from None
    target = _fit(w, h, max_side) if max_side else (w, h)
    box = None
    try:
        if target != (w, h) and src_format in ("JPEG", "MPO"):
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale, still at least the target size
            drafted = im.draft(None, target)
            if drafted is not None and im.size != (w, h):
                box = drafted[1]
        im.load()  # decodes the whole (first) frame: a truncated file fails here
    except Exception as e:
        raise ImageError(f"{ref}: truncated or corrupt image ({_reason(e)})") from None
    orientation = _orientation(im)  # after decoding: reading a PNG's EXIF decodes it, errors unseen

    display = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    reasons = []
    if src_format not in _KEEP_MODES:
        reasons.append(f"{src_format} ({src_mode}) re-encoded")
    elif src_mode not in _KEEP_MODES[src_format]:
        reasons.append(f"{src_mode} mode converted")
    elif src_format == "PNG" and data[24:25] == b"\x10":  # IHDR bit depth
        reasons.append("16-bit converted to 8-bit")
    if animated:
        reasons.append("animated: first frame kept")
    if orientation in _TRANSPOSE:
        reasons.append(f"EXIF orientation {orientation} applied")
    if target != (w, h):
        reasons.append(f"downscaled from {display[0]}x{display[1]}")

    if not reasons:
        fmt = _STORED_NAME[src_format]
        image_id, rel = write_image_file(run_dir, data, _EXTENSION[fmt])
        return ImageRecord(image_id, rel, w, h, fmt, prov)

    try:
        out, fmt, icc = _normalise(im, src_format, orientation, target, box)
    except Exception as e:
        raise ImageError(f"{ref}: cannot convert the image ({src_mode} {src_format}: {_reason(e)})") from None
    buf = io.BytesIO()
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        out.save(buf, "JPEG", quality=JPEG_QUALITY, **options)
    else:
        out.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, **options)
    image_id, rel = write_image_file(run_dir, buf.getvalue(), _EXTENSION[fmt])
    prov.update(
        normalised="; ".join(reasons),
        original_format=src_format.lower(),
        original_mode=src_mode,
        original_size=[display[0], display[1]],
        original_sha256=sha256_bytes(data),
    )
    if animated:
        prov["animated"] = True
    return ImageRecord(image_id, rel, out.width, out.height, fmt, prov)


def _normalise(
    im: Image.Image, src_format: str, orientation: int, target: tuple[int, int], box: Any
) -> tuple[Image.Image, str, bytes | None]:
    """The decoded first frame as an 8-bit L, LA, RGB or RGBA image, the format to store it in and
    the colour profile to embed (only when it could not be applied)."""
    icc = im.info.get("icc_profile") or None
    work = _working_mode(im)  # L, LA, RGB, RGBA or CMYK
    if work.size != target:
        work = work.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    if orientation in _TRANSPOSE:
        work = work.transpose(_TRANSPOSE[orientation])
    if work.mode in ("LA", "RGBA") and work.getchannel("A").getextrema()[0] == 255:
        work = work.convert("L" if work.mode == "LA" else "RGB")  # alpha that hides nothing
    transparent = work.mode in ("LA", "RGBA")
    photo = src_format in _LOSSY_SOURCES or work.mode == "CMYK"
    fmt = "png" if transparent or not photo else "jpeg"
    keep_icc = None
    if work.mode in ("L", "LA"):
        out = work  # both formats hold grayscale (LA only goes to PNG)
    else:
        out, keep_icc = _output_mode(work, fmt.upper(), icc)  # sRGB; CMYK to RGB
    out.info = {}  # the encoders fall back on info: write only what is set here
    return out, fmt, keep_icc


def ingest(
    items: Iterable[SourceItem],
    run_dir: str | os.PathLike[str],
    workers: int | None = None,
    max_side: int | None = None,
) -> Iterator[Ingested]:
    """Ingest `items` in `workers` processes (in this process for 0 or 1); results in input order.

    At most `4 * workers` items are in flight, so memory stays flat however many items there are.
    A worker that dies (a decoder crash, out of memory) is replaced; the items it may have been
    working on are retried one at a time, and the one that kills a worker again is reported.
    """
    run_dir = os.fspath(run_dir)
    n = (os.cpu_count() or 1) if workers is None else workers
    if n <= 1:
        for item in items:
            yield ingest_one(item, run_dir, max_side)
        return
    runner = _PoolRunner(n, run_dir, max_side)
    window: deque[list[Any]] = deque()  # [item, Future | (image, error)]
    try:
        for item in items:
            if item.error is not None:
                window.append([item, (None, item.error)])
            else:
                window.append([item, runner.submit(item)])
            if len(window) >= 4 * n:
                yield runner.finish(window)
        while window:
            yield runner.finish(window)
    finally:
        runner.close()


class _PoolRunner:
    def __init__(self, workers: int, run_dir: str, max_side: int | None) -> None:
        self.workers, self.run_dir, self.max_side = workers, run_dir, max_side
        self.pool: ProcessPoolExecutor | None = None
        self.done_in_process = 0

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = make_pool(self.workers, _mp_context())
        return self.pool

    def submit(self, item: SourceItem) -> Future:
        return self._pool().submit(_ingest_checked, item, self.run_dir, self.max_side)

    def finish(self, window: deque[list[Any]]) -> Ingested:
        item, job = window[0]
        if isinstance(job, Future):
            try:
                job = job.result()
                self.done_in_process += 1
            except BrokenProcessPool:
                self._recover(window)
                job = window[0][1]
        window.popleft()
        return Ingested(item, *job)

    def _recover(self, window: deque[list[Any]]) -> None:
        """The pool broke: retry every unfinished item alone in a fresh pool, so an item that
        kills a worker again is the one to blame."""
        self._restart()
        died = 0
        for entry in window:
            job = entry[1]
            if not isinstance(job, Future):
                continue
            if job.done() and not job.cancelled() and job.exception() is None:
                entry[1] = job.result()
                continue
            try:
                entry[1] = self.submit(entry[0]).result()
                self.done_in_process += 1
            except BrokenProcessPool:
                died += 1
                entry[1] = (None, f"{entry[0].ref}: the worker process died while decoding the image")
                self._restart()
        if died > 1 and not self.done_in_process:
            raise ImageWorkerError(
                "the ingest worker processes stop before ingesting any image; "
                "ingest(..., workers=1) runs in this process instead"
            )

    def _restart(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
