"""What every export format shares: the summary, atomic output files, image copies, placeholders.

Every output file is written under a temporary name beside its final path and renamed into
place only when complete, so a failed export leaves no partial file (and an older export at
the same path stays as it was). Images are copied (hardlinked when the filesystem allows)
next to the output as `images/<id>.<ext>`, each once, and referred to by that path: relative to
the output file's folder, or absolute with `ExportOptions.absolute_paths` (for trainers that
resolve relative paths against their working directory).

A row whose images carry a license (found by a licensed image search, or named by a manifest)
gets `attribution`: one entry per image, in image order, with the keys of
`records.ATTRIBUTION_KEYS` (None for an image without one). Every format's loader passes over
the extra key (LLaVA, InternVL and MLLM-DataEngine read only the keys they know; LLaMA-Factory
keeps only the columns its `dataset_info.json` maps); Parquet has it as a JSON text column.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from PIL import Image

from visinstruct.errors import ExportError, RunDirError
from visinstruct.records import STATUSES, Sample, attribution
from visinstruct.store import RunStore, temp_name

IMAGE_DIR = "images"
IMAGE_TOKEN = "<image>"
DEFAULT_INCLUDE = ("accepted", "edited")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")
# Characters JSON leaves raw but that `str.splitlines()` treats as line breaks.
_LINE_BREAKS = re.compile("[\u2028\u2029\x85]")
_ESCAPED = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}
RECENT = 4096  # images resolved lately, kept at hand (a unit's samples share theirs, and come together)


@dataclass(frozen=True)
class ExportOptions:
    """How an export writes its rows, beyond which samples: the same for every format."""

    absolute_paths: bool = False  # image paths absolute, so rows open from any working directory
    single_image: bool = False  # llava: one image a row (LLaVA-1.5); the others go to a second file
    shard_size: int | str | None = None  # sharded formats: bytes a shard (256MB, 1GB; export.shards)


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the main file, how many samples, how many distinct images.

    `set_aside` counts the samples kept out of the main file and `files` names the other files
    written beside it (a second data file, a trainer's meta file), so the caller can say so. A
    sharded export's `path` is its index and `shards` its data files, in order.
    """

    format: str
    path: Path
    n_samples: int
    n_images: int
    set_aside: int = 0
    files: tuple[Path, ...] = ()
    shards: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ExportedImage:
    """One image of a sample as an export refers to it."""

    id: str
    src: Path  # the file in the run's image store
    ref: str  # the path the export writes: relative to the output file's folder, or absolute
    name: str  # file name, `<id>.<ext>`
    width: int
    height: int
    attribution: dict[str, Any] | None = None  # license and credit (records.attribution)


def attributions(ims: list[ExportedImage]) -> list[dict[str, Any] | None] | None:
    """A row's `attribution`: one entry per image, or None when no image carries a license."""
    if not any(im.attribution for im in ims):
        return None
    return [im.attribution for im in ims]


def check_include(include: Iterable[str]) -> tuple[str, ...]:
    """The statuses to export, checked against the known ones."""
    statuses = (include,) if isinstance(include, str) else tuple(include)
    if not statuses:
        raise ExportError(f"include names no status; known statuses: {', '.join(STATUSES)}")
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise ExportError(f"unknown status {unknown[0]!r} in include; known statuses: {', '.join(STATUSES)}")
    return statuses


def dumps(obj: Any) -> str:
    """Compact JSON on one line, non-ASCII text kept as is (not escaped)."""
    try:
        text = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson does not write (integers beyond 64 bits)
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if _LINE_BREAKS.search(text):  # rare: a regular-expression search is far cheaper than translate
        text = _LINE_BREAKS.sub(lambda m: _ESCAPED[m.group(0)], text)
    return text


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it only if the block completes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        with open(tmp, "r+b") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_text(path: Path) -> Iterator[IO[str]]:
    """A UTF-8 text file that appears at `path` only once it is completely written."""
    with atomic_path(path) as tmp, open(tmp, "x", encoding="utf-8", newline="\n") as f:
        yield f


class JsonArray:
    """Writes a JSON array one element at a time, one element a line."""

    def __init__(self, f: IO[str]) -> None:
        self.f = f
        self.n = 0
        f.write("[")

    def add(self, obj: Any) -> None:
        self.f.write(("\n" if self.n == 0 else ",\n") + dumps(obj))
        self.n += 1

    def close(self) -> None:
        self.f.write("\n]\n" if self.n else "]\n")


class Images:
    """Resolves sample image ids to files; with `out_dir`, copies each into `<out_dir>/images/` once.

    With `absolute`, each image is referred to by its absolute path in `<out_dir>/images/`.
    """

    def __init__(self, store: RunStore, out_dir: Path | None, absolute: bool = False) -> None:
        self.store = store
        self.out_dir = out_dir
        self.prefix = f"{IMAGE_DIR}/"
        if absolute and out_dir is not None:
            self.prefix = f"{(out_dir / IMAGE_DIR).resolve().as_posix()}/"
        self.seen: set[bytes] = set()  # every image referred to (its id's bytes: compact), copied once
        self.recent: OrderedDict[str, ExportedImage] = OrderedDict()

    @property
    def count(self) -> int:
        """Distinct images referred to so far."""
        return len(self.seen)

    def of(self, sample: Sample) -> list[ExportedImage]:
        return [self._resolve(sample, image_id) for image_id in sample.images]

    def _resolve(self, sample: Sample, image_id: str) -> ExportedImage:
        known = self.recent.get(image_id) if isinstance(image_id, str) else None
        if known is not None:
            self.recent.move_to_end(image_id)
            return known
        if not isinstance(image_id, str) or not _SAFE_ID.fullmatch(image_id):
            raise ExportError(f"sample {sample.id}: image id {image_id!r} is not a valid image id")
        try:
            rec, src = self.store.image_file(image_id)
        except KeyError:
            raise ExportError(f"sample {sample.id}: image {image_id} is not in the run") from None
        except RunDirError as e:
            raise ExportError(f"sample {sample.id}: {e}") from None
        if not src.is_file():
            raise ExportError(f"sample {sample.id}: image file {src} is missing from the run directory")
        ext = src.suffix.lower() or f".{rec.format.lower()}"
        name = f"{image_id}{ext}"
        width, height = rec.width, rec.height
        if not width or not height:
            try:
                with Image.open(src) as im:
                    width, height = im.size
            except OSError as e:
                raise ExportError(f"sample {sample.id}: image file {src} cannot be read ({e})") from None
        key = bytes.fromhex(image_id) if len(image_id) == 64 else image_id.encode()
        if self.out_dir is not None and key not in self.seen:
            place(src, self.out_dir / IMAGE_DIR / name)
        self.seen.add(key)
        im = self.recent[image_id] = ExportedImage(
            image_id, src, self.prefix + name, name, width, height, attribution(rec.provenance)
        )
        if len(self.recent) > RECENT:
            self.recent.popitem(last=False)
        return im


def place(src: Path, dest: Path) -> None:
    """Put `src` at `dest`: a hardlink when possible, else a copy; never a partial file."""
    tmp = temp_name(dest)
    try:
        if dest.is_file() and dest.stat().st_size == src.stat().st_size:
            return  # already there from an earlier export (names are content hashes)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot copy image {src.name} to {dest.parent}: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def image_prefix(n: int, style: str) -> str:
    """The image placeholders that open the first user turn, one per image."""
    if style == "llava":
        return f"{IMAGE_TOKEN}\n" * n
    if style == "sharegpt":
        return IMAGE_TOKEN * n
    if style == "internvl":
        if n == 1:
            return f"{IMAGE_TOKEN}\n"
        return "".join(f"Image-{i}: {IMAGE_TOKEN}\n" for i in range(1, n + 1))
    raise ValueError(f"unknown placeholder style {style!r}")


def prompt_turns(sample: Sample, n_images: int, style: str) -> list[tuple[str, str]]:
    """(question, answer) pairs with every image placeholder at the start of the first question."""
    if not sample.turns:
        raise ExportError(f"sample {sample.id}: has no turns")
    for t in sample.turns:
        if IMAGE_TOKEN in t.question or IMAGE_TOKEN in t.answer:
            raise ExportError(
                f"sample {sample.id}: its text contains the placeholder {IMAGE_TOKEN}, "
                "which would break the image count; edit or reject it"
            )
    pairs = [(t.question, t.answer) for t in sample.turns]
    pairs[0] = (image_prefix(n_images, style) + pairs[0][0], pairs[0][1])
    return pairs


def one_or_list(values: list[Any]) -> Any:
    """A single value for one image, the list for several."""
    return values[0] if len(values) == 1 else values
