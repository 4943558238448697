"""Images in, model inputs out: read, hash, decode and preprocess, on a pool of threads.

Each image is read once: its bytes give its content hash (sha256, the id a run's image store
gives it, and the embedding cache's key) and are decoded only when the cache lacks it. Decoding
is guarded like ingestion (known formats only, a pixel limit against decompression bombs), EXIF
orientation is applied, and JPEGs are decoded at reduced scale (`draft`) when the model's input
is much smaller than the photo, which is most of the decoding cost. Preprocessing is the
checkpoint's own image processor from `transformers` (resize, crop, rescale, normalise).

Threads, not processes: Pillow's decoders and resampling and numpy's arithmetic release the GIL,
so two threads kept both cores busy (measured on 640x480 JPEGs into CLIP's 224 px input: 187
images/s in one thread, 331 in two threads, 167 in two processes, which pay to pickle each
600 KB input back).
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from visinstruct.files import NotRegularFile, read_regular
from visinstruct.models.images import MAX_PIXELS

#: What `Embedder.embed_images` takes: a file path, encoded image bytes, or a Pillow image.
ImageInput = str | os.PathLike | bytes | Image.Image

DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
MAX_FILE_BYTES = 512 * 1024 * 1024


class PrepareError(Exception):
    """One image cannot be read or decoded; the message names it."""


@dataclass
class Identified:
    """An input with its content hash (None for a Pillow image) and bytes (None until read)."""

    id: str | None
    data: bytes | None
    image: Image.Image | None
    ref: str


def describe(x: Any) -> str:
    if isinstance(x, (bytes, bytearray, memoryview)):
        return f"<{len(x)} bytes>"
    if isinstance(x, Image.Image):
        return f"<{x.mode} image {x.width}x{x.height}>"
    return os.fspath(x)


def identify(x: ImageInput, known_id: str | None = None, read: bool = True) -> Identified:
    """The input's bytes (read from its file) and sha256. With `known_id` and not `read`, nothing
    is read: the caller only needs the id (to look it up in the cache)."""
    if isinstance(x, Image.Image):
        return Identified(known_id, None, x, describe(x))
    if isinstance(x, (bytes, bytearray, memoryview)):
        data = bytes(x)
        return Identified(known_id or hashlib.sha256(data).hexdigest(), data, None, describe(x))
    if not isinstance(x, (str, os.PathLike)):
        raise PrepareError(f"{x!r}: not an image path, image bytes or a PIL image")
    ref = os.fspath(x)
    if known_id is not None and not read:
        return Identified(known_id, None, None, ref)
    try:
        data = read_regular(ref, MAX_FILE_BYTES)
    except NotRegularFile as e:
        raise PrepareError(f"{ref}: {e}") from None
    except OSError as e:
        raise PrepareError(f"{ref}: cannot read ({e.strerror or e})") from None
    return Identified(known_id or hashlib.sha256(data).hexdigest(), data, None, ref)


def decode(item: Identified, side: int) -> Image.Image:
    """The input as an RGB image, at least `side` pixels on its shorter side where it has them."""
    if item.image is not None:
        im = item.image
    else:
        if item.data is None:
            item.data = identify(item.ref).data
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(io.BytesIO(item.data or b""), formats=DECODERS)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise PrepareError(f"{item.ref}: decompression bomb ({w}x{h} pixels, limit {MAX_PIXELS})")
            if im.format in ("JPEG", "MPO") and side:
                im.draft("RGB", (side, side))  # libjpeg scales by 1/2, 1/4, 1/8, never below the size
            im.load()
            im = ImageOps.exif_transpose(im)
        except PrepareError:
            raise
        except Image.UnidentifiedImageError:
            raise PrepareError(f"{item.ref}: not an image (JPEG, PNG, WebP, GIF, BMP or TIFF)") from None
        except Exception as e:
            raise PrepareError(f"{item.ref}: truncated or corrupt image ({type(e).__name__}: {e})") from None
    if im.mode != "RGB":
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            back = Image.new("RGB", im.size, (255, 255, 255))  # transparent parts read as white
            back.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
            im = back
        else:
            im = im.convert("RGB")
    return im


def pixel_values(processor: Any, image: Image.Image) -> np.ndarray:
    """The checkpoint's preprocessing of one image: a float32 array [channels, height, width]."""
    out = processor(images=[image], return_tensors="np")
    return np.asarray(out["pixel_values"][0], dtype=np.float32)


def input_side(processor: Any) -> int:
    """The shorter side the processor resizes to (224 for most CLIP and SigLIP checkpoints)."""
    for attr in ("crop_size", "size"):
        size = getattr(processor, attr, None)
        if size is None:
            continue
        if isinstance(size, int):
            return size
        get = size.get if isinstance(size, dict) else lambda k, s=size: getattr(s, k, None)
        for key in ("shortest_edge", "height", "width"):
            if get(key):
                return int(get(key))
    return 224


def prepare(processor: Any, item: Identified, side: int) -> np.ndarray:
    """Decode and preprocess one identified input (runs in a pool thread)."""
    return pixel_values(processor, decode(item, side))
