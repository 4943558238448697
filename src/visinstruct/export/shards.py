"""Sharded exports: a run split into files of about `shard_size` bytes, for data too large for one.

Three formats write into a folder (`out`), each shard as `train-00000.<ext>`, `train-00001.<ext>`,
... (the glob `train-*.<ext>` is what the Hugging Face Hub's `data_files` takes), and an index
`train.<ext>.shards.json` beside them:

- `parquet-shards`: Parquet files with the images embedded, the columns and `huggingface` schema
  metadata of the `parquet` export (written by its `RowGroups`), so `load_dataset("parquet",
  data_files="folder/train-*.parquet")` decodes PIL images.
- `jsonl-shards`: the `jsonl` export's records, the images copied once into `images/` beside them.
- `webdataset`: tar files in the layout `webdataset.WebDataset` reads. A sample is its files
  grouped by key, the part of a file name before its first dot (`tariterators.base_plus_ext`),
  files of one sample next to each other: `{key}.png` (or `.jpg`, ...) for a single image,
  `{key}.0.png`, `{key}.1.png`, ... for several (the decoder picks a handler by the last
  extension), and `{key}.json`, the `jsonl` record whose `images` names those extensions. The key
  is the sample id, any character but letters, digits, `_` and `-` percent-encoded (so it holds
  no dot and no slash, and two ids never share a key). Members have fixed owner, mode and time,
  so the same rows give the same bytes.

Shards are cut by bytes as rows stream by: a shard takes the next row while that brings it
nearer `shard_size`, so it ends within half a row of it (Parquet: as estimated from the bytes
written so far, the row group in memory and the footer; a row larger than a shard is a shard).
Memory is one row (JSONL, tar) or one row group (Parquet) whatever the run's size, and a
shard's bounds follow from the rows alone, so the same run gives the same shards.

Each shard is written under a temporary name and renamed into place when complete, and the index
is rewritten after each one (`"complete": false` until the last). An export run again (after
being killed, or on an unchanged run) keeps each indexed shard whose file is still the one
indexed (size and sha256) and whose rows are still the same (a digest of each row's sample and
images), and writes the rest; the result is byte-identical to a fresh export. Shard files of
the same name pattern that the new index does not list (a run that shrank) are removed, so the
glob names exactly the export.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from visinstruct.errors import ExportError
from visinstruct.export import jsonl, parquet
from visinstruct.export.common import (
    ExportedImage,
    ExportOptions,
    ExportSummary,
    Images,
    atomic_path,
    atomic_text,
    dumps,
)
from visinstruct.records import Sample
from visinstruct.store import RunStore, _pid_alive

SPLIT = "train"
LAYOUT = 1  # bump when a format's bytes change: a rerun then writes every shard again
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_SHARD_SIZE = 64 * 2**10
DEFAULT_SHARD_SIZE = 256 * 10**6  # as `datasets` counts MB; a shard a worker loads in a few seconds
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_-]")
# Parquet footer: about this much for the schema and metadata, and this much a row group.
FOOTER_BYTES = 3 * 2**10
FOOTER_GROUP_BYTES = 1600
GROUPS_A_SHARD = 8  # a Parquet shard's row groups, at least: the estimate is off by a part of one
TAR_RECORD = tarfile.RECORDSIZE


def parse_size(value: int | str) -> int:
    """Bytes from `value`: an integer, or a number with a unit (256MB, 1.5GB, 512KiB; KB, MB,
    GB count by 1000 and KiB, MiB, GiB by 1024, as `datasets` does)."""
    n: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and (m := _SIZE.fullmatch(value)) and m.group(2).lower() in UNITS:
        n = float(m.group(1)) * UNITS[m.group(2).lower()]
    if n is None:
        raise ExportError(
            f"shard size {value!r} is not a size: give bytes or a number with a unit, e.g. 256MB"
        )
    if n < MIN_SHARD_SIZE:
        raise ExportError(f"shard size {value!r} is too small: a shard takes at least 64KiB")
    return int(n)


# -- the shards of each format ------------------------------------------------------------
class JsonlShard:
    """Lines of the `jsonl` export; exactly as many bytes as its lines."""

    ext = "jsonl"

    def __init__(self, path: Path, target: int, images: Images) -> None:
        self.f = open(path, "xb")  # noqa: SIM115 - closed by `close`, on failure too
        self.target = target
        self.size = 0
        self.rows = 0

    def prepare(self, sample: Sample, ims: list[ExportedImage]) -> bytes:
        return (dumps(jsonl.record(sample, ims, [im.ref for im in ims])) + "\n").encode()

    def fits(self, line: bytes) -> bool:
        return nearer(self.size, self.size + len(line), self.target)

    def add(self, line: bytes) -> None:
        self.f.write(line)
        self.size += len(line)
        self.rows += 1

    def close(self, complete: bool = True) -> None:
        self.f.close()


def wds_key(sample_id: str) -> str:
    """The sample's WebDataset key: its id with every character but [A-Za-z0-9_-] percent-encoded."""
    return _KEY_SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), sample_id)


class TarShard:
    """A tar of WebDataset samples; its size is counted block by block, as tar writes it."""

    ext = "tar"

    def __init__(self, path: Path, target: int, images: Images) -> None:
        self.f = open(path, "xb")  # noqa: SIM115 - closed by `close`, on failure too
        self.tar = tarfile.open(fileobj=self.f, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.target = target
        self.size = 0  # member bytes, headers and padding included
        self.rows = 0

    def prepare(self, sample: Sample, ims: list[ExportedImage]) -> list[tuple[tarfile.TarInfo, bytes]]:
        key = wds_key(sample.id)
        names = [im.name.rsplit(".", 1)[-1].lower() for im in ims]
        if len(ims) > 1:
            names = [f"{i}.{ext}" for i, ext in enumerate(names)]
        files = []
        for im, name in zip(ims, names, strict=True):
            try:
                files.append((name, im.src.read_bytes()))
            except OSError as e:
                raise ExportError(
                    f"sample {sample.id}: cannot read image file {im.src} ({e.strerror})"
                ) from None
        files.append(("json", dumps(jsonl.record(sample, ims, names)).encode()))
        return [(self._info(f"{key}.{name}", len(data)), data) for name, data in files]

    @staticmethod
    def _info(name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, 0, 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    @staticmethod
    def _bytes(members: list[tuple[tarfile.TarInfo, bytes]]) -> int:
        blocks = tarfile.BLOCKSIZE
        n = 0
        for info, data in members:
            n += len(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            n += -(-len(data) // blocks) * blocks
        return n

    def fits(self, members: list[tuple[tarfile.TarInfo, bytes]]) -> bool:
        def closed(size: int) -> int:  # two zero blocks end the archive, padded to a whole record
            return -(-(size + 2 * tarfile.BLOCKSIZE) // TAR_RECORD) * TAR_RECORD

        return nearer(closed(self.size), closed(self.size + self._bytes(members)), self.target)

    def add(self, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
        for info, data in members:
            self.tar.addfile(info, io.BytesIO(data))
        self.size = self.tar.offset
        self.rows += 1

    def close(self, complete: bool = True) -> None:
        try:
            if complete:
                self.tar.close()
        finally:
            self.f.close()


class ParquetShard:
    """A Parquet file of the `parquet` export's rows, in row groups of a part of a shard."""

    ext = "parquet"

    def __init__(self, path: Path, target: int, images: Images) -> None:
        self.target = target
        self.groups = parquet.RowGroups(path, min(parquet.ROW_GROUP_BYTES, target // GROUPS_A_SHARD))
        self.images = images

    @property
    def rows(self) -> int:
        return self.groups.rows

    def prepare(self, sample: Sample, ims: list[ExportedImage]) -> dict[str, Any]:
        return self.groups.row(sample, self.images)  # counts the row's new images in `pending`

    def fits(self, row: dict[str, Any]) -> bool:
        g = self.groups
        footer = FOOTER_BYTES + FOOTER_GROUP_BYTES * (g.groups + 1)
        now = g.written + g.pending - g.new + footer  # `row` already counted its new images
        return nearer(now, now + g.new + parquet.text_bytes(row), self.target)

    def add(self, row: dict[str, Any]) -> None:
        self.groups.add(row)

    def close(self, complete: bool = True) -> None:
        self.groups.close(complete)


def nearer(now: int, after: int, target: int) -> bool:
    """Whether a shard of `now` bytes, `after` with one more row, is nearer `target` with it."""
    return after <= target or after - target < target - now


SHARD_FORMATS: dict[str, type[JsonlShard] | type[TarShard] | type[ParquetShard]] = {
    "parquet-shards": ParquetShard,
    "jsonl-shards": JsonlShard,
    "webdataset": TarShard,
}


# -- where they go -------------------------------------------------------------------------
def index_path(folder: Path, fmt: str) -> Path:
    """The index of a sharded export written to `folder`."""
    return folder / f"{SPLIT}.{SHARD_FORMATS[fmt].ext}.shards.json"


def shard_glob(folder: Path, fmt: str) -> Path:
    """The shards of a sharded export as one glob (what the Hub's `data_files` takes)."""
    return folder / f"{SPLIT}-*.{SHARD_FORMATS[fmt].ext}"


def shard_name(i: int, ext: str) -> str:
    return f"{SPLIT}-{i:05d}.{ext}"


def read_index(path: Path) -> dict[str, Any] | None:
    """A sharded export's index, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("shards"), list) else None


def _sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(2**20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def _row_digest(sample: Sample, ims: list[ExportedImage]) -> bytes:
    """What a row is made from: the sample and its images (ids are content hashes)."""
    text = dumps([sample.to_dict(), [[im.ref, im.width, im.height, im.attribution] for im in ims]])
    return hashlib.sha256(text.encode()).digest()


def _clean(folder: Path, ext: str, keep: set[str] | None) -> None:
    """Remove temporary files that a killed export of these shards left (their writer is gone)
    and, given the shards to `keep`, the other shards of this name pattern."""
    pattern = re.compile(rf"{SPLIT}-\d{{5,}}\.{ext}")
    temp = re.compile(rf"\.(?:{SPLIT}-\d{{5,}}\.{ext}|{SPLIT}\.{ext}\.shards\.json)\.(\d+)-[0-9a-f]+\.tmp")
    for entry in os.scandir(folder):
        stale = keep is not None and pattern.fullmatch(entry.name) is not None and entry.name not in keep
        m = temp.fullmatch(entry.name)
        if stale or (m is not None and not _pid_alive(int(m.group(1)), entry.stat().st_mtime)):
            os.unlink(entry.path)


# -- the export ----------------------------------------------------------------------------
def writer(fmt: str) -> Callable[[RunStore, Path, tuple[str, ...], ExportOptions], ExportSummary]:
    """The sharded format `fmt` as a writer of the export registry."""

    def write_format(
        store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions
    ) -> ExportSummary:
        return write(store, fmt, out, include, options)

    return write_format


def write(
    store: RunStore, fmt: str, out: Path, include: tuple[str, ...], options: ExportOptions
) -> ExportSummary:
    """Write the sharded export `fmt` of `store` into the folder `out`."""
    kind = SHARD_FORMATS[fmt]
    target = parse_size(options.shard_size) if options.shard_size is not None else DEFAULT_SHARD_SIZE
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; a sharded export writes a folder of shards")
    out.mkdir(parents=True, exist_ok=True)
    index_file = index_path(out, fmt)
    settings: dict[str, Any] = {
        "format": fmt,
        "layout": LAYOUT,
        "shard_size": target,
        "include": list(include),
        "absolute_paths": options.absolute_paths and fmt == "jsonl-shards",
    }
    if fmt == "parquet-shards":
        import pyarrow

        settings["pyarrow"] = pyarrow.__version__
    previous = read_index(index_file)
    if previous is not None and previous.get("format") not in (None, fmt):
        raise ExportError(
            f"{index_file} indexes a {previous.get('format')} export; write {fmt} to another folder"
        )
    reusable = previous["shards"] if previous and {k: previous.get(k) for k in settings} == settings else []
    _clean(out, kind.ext, None)

    images = Images(store, out if fmt == "jsonl-shards" else None, options.absolute_paths)
    shards: list[dict[str, Any]] = []

    def save(complete: bool) -> None:
        rows = sum(s["rows"] for s in shards)
        body = {**settings, "complete": complete, "rows": rows, "images": images.count, "shards": shards}
        with atomic_text(index_file) as f:
            f.write(json.dumps(body, indent=1, ensure_ascii=False) + "\n")

    samples = _kept(store, include, images, reusable, shards, out)
    sample = next(samples, None)
    while sample is not None:
        path = out / shard_name(len(shards), kind.ext)
        with atomic_path(path) as tmp:
            shard = kind(tmp, target, images)
            try:
                entry, sample = _fill(shard, sample, samples, images)
            except BaseException:
                shard.close(complete=False)
                raise
            shard.close()
        shards.append({"file": path.name, **entry, "bytes": path.stat().st_size, "sha256": _sha256(path)})
        if sample is not None:
            save(False)
    save(True)
    _clean(out, kind.ext, {s["file"] for s in shards})
    paths = tuple(out / s["file"] for s in shards)
    return ExportSummary(fmt, index_file, sum(s["rows"] for s in shards), images.count, shards=paths)


def _fill(
    shard: JsonlShard | TarShard | ParquetShard, sample: Sample, samples: Iterator[Sample], images: Images
) -> tuple[dict[str, Any], Sample | None]:
    """Add rows to `shard`, `sample` first, while they bring it nearer its size; returns
    the shard's index entry and that next sample (None when the samples are done)."""
    first, last, digest = sample.id, sample.id, hashlib.sha256()
    next_sample: Sample | None = sample
    while next_sample is not None:
        ims = images.of(next_sample)
        item = shard.prepare(next_sample, ims)
        if shard.rows and not shard.fits(item):
            break
        shard.add(item)
        digest.update(_row_digest(next_sample, ims))
        last = next_sample.id
        next_sample = next(samples, None)
    entry = {"rows": shard.rows, "first_id": first, "last_id": last, "rows_digest": digest.hexdigest()}
    return entry, next_sample


def _kept(
    store: RunStore,
    include: tuple[str, ...],
    images: Images,
    reusable: list[dict[str, Any]],
    shards: list[dict[str, Any]],
    out: Path,
) -> Iterator[Sample]:
    """The samples still to write: those of the indexed shards still on disk and still made of
    the same rows are passed over (their entries put in `shards`), the rest yielded."""
    it = iter(store.iter_samples(include))
    for entry in reusable:
        path = out / str(entry.get("file"))
        rows = entry.get("rows")
        if (
            not isinstance(rows, int)
            or rows < 1
            or not path.is_file()
            or path.stat().st_size != entry.get("bytes")
        ):
            break
        digest = hashlib.sha256()
        taken: list[str] = []
        for sample in it:
            digest.update(_row_digest(sample, images.of(sample)))
            taken.append(sample.id)
            if len(taken) == rows:
                break
        same = len(taken) == rows and taken[0] == entry.get("first_id") and taken[-1] == entry.get("last_id")
        if not (
            same and digest.hexdigest() == entry.get("rows_digest") and _sha256(path) == entry.get("sha256")
        ):
            # this shard is to be written again: start over after the shards kept
            it = iter(store.iter_samples(include))
            for _ in range(sum(s["rows"] for s in shards)):
                next(it)
            break
        shards.append(dict(entry))
    yield from it
