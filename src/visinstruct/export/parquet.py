"""A Parquet file with the images embedded, in the layout Hugging Face `datasets` reads.

Written with pyarrow alone (no `datasets` import): the `images` column holds
`list<struct<bytes, path>>` and the schema metadata `huggingface` declares it a sequence of
`Image` features, so `load_dataset("parquet", data_files=...)` decodes PIL images. Rows are
written in row groups of about `ROW_GROUP_BYTES` of images, so at most one group's images are
in memory, and few enough groups that the footer stays small (its metadata is held until close).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from visinstruct.errors import ExportError
from visinstruct.export.common import ExportOptions, ExportSummary, Images, atomic_path, attributions
from visinstruct.records import Sample
from visinstruct.store import RunStore

ROW_GROUP_SIZE = 4096  # rows at most in a row group
# Image bytes a row group collects before it is written. Groups are sized by bytes, not rows:
# each group costs ~15 KB of footer metadata held in memory until the file is closed, so small
# groups make memory grow with the run (3,900 groups of 256 rows at 1M samples: +85 MB).
ROW_GROUP_BYTES = 8 * 2**20
# A unit's samples share their image, and consecutive rows repeat it: dictionary encoding stores
# each image once per group, if the dictionary may hold a whole group's images (default: 1 MB).
DICTIONARY_BYTES = ROW_GROUP_BYTES * 2
# Min/max statistics only for short text columns: for the image bytes they would be two whole
# images per row group, kept in memory until the footer is written (hundreds of MB at 1M rows).
STATISTICS = ["id", "domain", "type", "language", "category", "answer_letter", "status"]

_STRING = {"dtype": "string", "_type": "Value"}
_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_TURN = pa.struct([("question", pa.string()), ("answer", pa.string())])

# (column, arrow type, `datasets` feature). "Sequence" is read by every `datasets` version
# since 2.x (newer ones turn it into `List`).
COLUMNS: list[tuple[str, pa.DataType, Any]] = [
    ("id", pa.string(), _STRING),
    ("images", pa.list_(_IMAGE), {"feature": {"_type": "Image"}, "_type": "Sequence"}),
    ("image_ids", pa.list_(pa.string()), {"feature": _STRING, "_type": "Sequence"}),
    ("domain", pa.string(), _STRING),
    ("type", pa.string(), _STRING),
    ("language", pa.string(), _STRING),
    ("category", pa.string(), _STRING),
    ("turns", pa.list_(_TURN), [{"question": _STRING, "answer": _STRING}]),
    ("options", pa.list_(pa.string()), {"feature": _STRING, "_type": "Sequence"}),
    ("answer_letter", pa.string(), _STRING),
    ("short_answer", pa.string(), _STRING),
    ("status", pa.string(), _STRING),
    ("checks", pa.string(), _STRING),  # JSON
    ("provenance", pa.string(), _STRING),  # JSON
    ("attribution", pa.string(), _STRING),  # JSON: per image, its license and credit (or null)
]


def schema() -> pa.Schema:
    features = {name: feature for name, _, feature in COLUMNS}
    meta = json.dumps({"info": {"features": features}})
    return pa.schema([(name, typ) for name, typ, _ in COLUMNS], metadata={b"huggingface": meta.encode()})


def row(sample: Sample, images: Images, read: dict[Path, bytes]) -> dict[str, Any]:
    """The sample's row, its images read into `read` (the row group's files, each read once)."""
    embedded = []
    ims = images.of(sample)
    for im in ims:
        data = read.get(im.src)
        if data is None:
            try:
                data = read[im.src] = im.src.read_bytes()
            except OSError as e:
                why = f"cannot read image file {im.src} ({e.strerror})"
                raise ExportError(f"sample {sample.id}: {why}") from None
        embedded.append({"bytes": data, "path": im.name})
    credits = attributions(ims)
    return {
        "id": sample.id,
        "images": embedded,
        "image_ids": list(sample.images),
        "domain": sample.domain,
        "type": sample.type,
        "language": sample.language,
        "category": sample.category,
        "turns": [{"question": t.question, "answer": t.answer} for t in sample.turns],
        "options": list(sample.options),
        "answer_letter": sample.answer_letter,
        "short_answer": sample.short_answer,
        "status": sample.status,
        "checks": json.dumps(sample.checks, ensure_ascii=False),
        "provenance": json.dumps(sample.provenance, ensure_ascii=False),
        "attribution": None if credits is None else json.dumps(credits, ensure_ascii=False),
    }


class RowGroups:
    """One Parquet file written a row group at a time: at most one group's rows are in memory.

    A group is written once it holds `ROW_GROUP_SIZE` rows or `group_bytes` of image bytes
    (repeats counted: each row holds its own copy). `written` and `pending` say how large the
    file is so far and about how much the group in memory will add to it (each of its images
    once, as dictionary encoding stores them), which is what sharded exports cut files by.
    """

    def __init__(self, path: Path, group_bytes: int | None = None) -> None:
        self.schema = schema()
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pq.ParquetWriter(
            self.sink, self.schema, write_statistics=STATISTICS, dictionary_pagesize_limit=DICTIONARY_BYTES
        )
        self.group_bytes = ROW_GROUP_BYTES if group_bytes is None else group_bytes
        self.rows = 0
        self.groups = 0
        self.batch: list[dict[str, Any]] = []
        self.read: dict[Path, bytes] = {}  # the group's image files, each read once
        self.size = 0  # image bytes in the group, repeats counted
        self.pending = 0  # the group's distinct image bytes and its text: about what it adds
        self.new = 0  # of those, the bytes of the images the last `row` read first

    def row(self, sample: Sample, images: Images) -> dict[str, Any]:
        """The sample's row, its images read once per group; `add` it next."""
        new = {im.src for im in images.of(sample) if im.src not in self.read}
        out = row(sample, images, self.read)
        self.new = sum(len(self.read[src]) for src in new)
        self.pending += self.new
        return out

    def add(self, out: dict[str, Any]) -> None:
        self.batch.append(out)
        self.rows += 1
        self.size += sum(len(im["bytes"]) for im in out["images"])
        self.pending += text_bytes(out)
        if len(self.batch) >= ROW_GROUP_SIZE or self.size >= self.group_bytes:
            self.flush()

    @property
    def written(self) -> int:
        """Bytes in the file so far (the footer comes at `close`)."""
        return self.sink.tell()

    def flush(self) -> None:
        if self.batch:
            self.writer.write_table(pa.Table.from_pylist(self.batch, schema=self.schema))
            self.groups += 1
        self.batch, self.read, self.size, self.pending = [], {}, 0, 0

    def close(self, complete: bool = True) -> None:
        """Write the last group and the footer; after a failure (`complete` false) only close."""
        try:
            if complete:
                self.flush()
        finally:
            try:
                self.writer.close()
            finally:
                self.sink.close()


def text_bytes(out: dict[str, Any]) -> int:
    """About what a row's text columns take in the file (uncompressed: an upper bound)."""
    n = sum(len(out[k] or "") for k in ("id", "checks", "provenance", "attribution", "short_answer"))
    return n + sum(len(t["question"]) + len(t["answer"]) for t in out["turns"]) + 64


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    images = Images(store, None)
    with atomic_path(out) as tmp:
        groups = RowGroups(tmp)
        try:
            for sample in store.iter_samples(include):
                groups.add(groups.row(sample, images))
        except BaseException:
            groups.close(complete=False)
            raise
        groups.close()
    return ExportSummary("parquet", out, groups.rows, images.count)
