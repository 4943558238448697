"""Building an index over a pool of images: a folder, a manifest, a Hugging Face dataset or a
run's images, read by the same readers a recipe uses (visinstruct.sources).

Each image is embedded once per model: the embedding cache beside the index (embeddings.db)
is keyed by content hash, so building again over the same pool, or over a pool that grew,
embeds only the images it has not seen (`BuildReport.embedded` counts them). The same content
under two names is one row. What cannot be indexed (a file that is not an image, a URL, a path
that leaves its folder) is listed with its reason; nothing else stops the build.

The vectors stream to disk as they come (memory holds two batches, not the pool), then the
index is written (see index.py). When the rows are exactly those of the existing index, its
trained IVF file is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visinstruct.embed.errors import EmbedError
from visinstruct.embed.index import EXACT_BELOW, _read_meta, write_index
from visinstruct.embed.model import Embedder, describe_model, load_embedder

#: The model an index is built with when none is named (read from the hub cache).
DEFAULT_MODEL = "openai/clip-vit-base-patch32"
KINDS = ("auto", "folder", "manifest", "hf", "run")
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/bmp": "bmp"}
_EXT["image/tiff"] = "tif"


@dataclass
class Entry:
    """One image to index: where its file is (a root number and a path inside it)."""

    ref: str
    root: int
    path: str
    file: Path
    id: str | None = None  # content hash, when the source knows it (a run's image id)
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildReport:
    folder: Path
    count: int = 0
    embedded: int = 0  # images run through the model
    cached: int = 0  # images whose vectors came from the cache
    duplicates: int = 0  # images whose content another row already holds
    refused: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason)
    meta: dict[str, Any] = field(default_factory=dict)
    kept_ann: bool = False  # the trained IVF file of the same rows was kept
    seconds: float = 0.0


def source_kind(source: str) -> str:
    """What a SOURCE argument is: a run directory, a saved or file dataset, a folder, a manifest."""
    p = Path(source)
    if p.is_dir():
        if (p / "run.db").is_file():
            return "run"
        if any((p / m).is_file() for m in ("dataset_info.json", "state.json", "dataset_dict.json")):
            return "hf"
        return "folder"
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix in (".parquet", ".arrow"):
            return "hf"
        return "manifest"
    if not p.is_absolute() and source.count("/") == 1 and not source.startswith("."):
        return "hf"  # a Hub dataset name
    raise EmbedError(f"{source}: no such folder or file")


def build_index(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    model: str | None = None,
    embedder: Embedder | None = None,
    kind: str = "auto",
    split: str = "train",
    image_column: str = "image",
    limit: int | None = None,
    exact_below: int = EXACT_BELOW,
    device: str = "cpu",
    batch_size: int = 32,
    on_row: Callable[[int], None] | None = None,
) -> BuildReport:
    """Index the images of `sources` into the folder `out`; see the module docstring."""
    started = time.perf_counter()
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise EmbedError(f"{folder}: not a folder")
    old = _read_meta(folder)
    others = (
        [p for p in folder.iterdir() if not p.name.startswith("embeddings.db")] if folder.exists() else []
    )
    if others and old is None:
        raise EmbedError(f"{folder}: exists and is not an index; give a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    if embedder is None:
        name = model or ((old or {}).get("model") or {}).get("name") or DEFAULT_MODEL
        embedder = load_embedder(name, device=device, batch_size=batch_size, cache=folder / "embeddings.db")
    report = BuildReport(folder)
    roots: list[str] = ["."]
    entries = _entries(
        [os.fspath(s) for s in sources], kind, folder, roots, split, image_column, limit, report
    )

    vec_tmp, items_tmp = folder / "vectors.f32.tmp", folder / "items.jsonl.tmp"
    seen: set[bytes] = set()
    digest = hashlib.sha256()
    pending: deque[Entry] = deque()

    def inputs() -> Iterator[Path]:
        for e in entries:
            pending.append(e)
            yield e.file

    def ids() -> Iterator[str | None]:
        # read by iter_images right after it takes each input: the entry just appended
        while True:
            yield pending[-1].id if pending else None

    before = (embedder.stats.images_embedded, embedder.stats.images_cached)
    with open(vec_tmp, "wb") as vf, open(items_tmp, "w", encoding="utf-8") as jf:
        for result in embedder.iter_images(inputs(), ids()):
            entry = pending.popleft()
            if result.vector is None:
                report.refused.append((entry.ref, result.error or "no embedding"))
                continue
            image_id = result.id or entry.id or ""
            key = bytes.fromhex(image_id)[:16] if image_id else entry.ref.encode()
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            vf.write(np.ascontiguousarray(result.vector, dtype=np.float32).tobytes())
            row = {"id": image_id, "root": entry.root, "path": entry.path, "ref": entry.ref}
            if entry.provenance:
                row["provenance"] = entry.provenance
            jf.write(json.dumps(row, ensure_ascii=False) + "\n")
            digest.update(image_id.encode() + b"\n")
            report.count += 1
            if on_row is not None:
                on_row(report.count)
    report.embedded = embedder.stats.images_embedded - before[0]
    report.cached = embedder.stats.images_cached - before[1]

    model_info = describe_model(embedder)
    rows_digest = digest.hexdigest()[:16]
    same_rows = bool(
        old
        and old.get("rows") == rows_digest
        and (old.get("model") or {}).get("fingerprint") == embedder.fingerprint
    )
    os.replace(vec_tmp, folder / "vectors.f32")
    os.replace(items_tmp, folder / "items.jsonl")
    vectors = (
        np.memmap(folder / "vectors.f32", dtype=np.float32, mode="r", shape=(report.count, embedder.dim))
        if report.count
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )
    meta = write_index(
        folder,
        model_info,
        vectors,
        roots,
        [os.fspath(s) for s in sources],
        exact_below=exact_below,
        keep_ann=same_rows,
        extra={"rows": rows_digest},
    )
    report.meta, report.kept_ann = meta, same_rows and meta.get("kind") == "ivf"
    report.seconds = time.perf_counter() - started
    return report


def _entries(
    sources: list[str],
    kind: str,
    folder: Path,
    roots: list[str],
    split: str,
    image_column: str,
    limit: int | None,
    report: BuildReport,
) -> Iterator[Entry]:
    if kind not in KINDS:
        raise EmbedError(f"unknown source kind {kind!r} ({', '.join(KINDS)})")
    for source in sources:
        what = source_kind(source) if kind == "auto" else kind
        for n, entry in enumerate(_of_kind(what, source, folder, roots, split, image_column, report)):
            if limit is not None and n >= limit:
                break
            yield entry


def _of_kind(
    what: str, source: str, folder: Path, roots: list[str], split: str, image_column: str, report: BuildReport
) -> Iterator[Entry]:
    from visinstruct import sources as src

    if what == "run":
        yield from _run_entries(Path(source), roots)
        return
    if what == "folder":
        root = Path(source).resolve()
        items = src.iter_folder(root)
    elif what == "manifest":
        root = Path(source).resolve().parent
        items = src.iter_manifest(source)
    else:
        root = folder.resolve()
        items = src.iter_hf(source, split=split, image_column=image_column)
    number = _root(roots, root, folder)
    for item in items:
        if item.error is not None:
            report.refused.append((item.ref, item.error))
            continue
        prov = {k: v for k, v in item.provenance.items() if k not in ("path",)}
        if item.domain:
            prov["domain"] = item.domain
        if item.data is not None:  # a dataset row: the bytes are stored in the index folder
            from visinstruct.sources import sniff_image_type
            from visinstruct.store import write_image_file

            ext = _EXT.get(sniff_image_type(item.data) or "")
            if ext is None:
                report.refused.append(
                    (item.ref, f"{item.ref}: not an image (JPEG, PNG, WebP, GIF, BMP or TIFF)")
                )
                continue
            image_id, rel = write_image_file(folder, item.data, ext)
            yield Entry(item.ref, 0, rel, folder / rel, image_id, prov)
            continue
        if item.path is None:
            report.refused.append(
                (
                    item.ref,
                    f"{item.ref}: a URL; download it into a run first (visinstruct run) and index the run",
                )
            )
            continue
        full = Path(item.path).resolve()
        if not full.is_relative_to(root):
            report.refused.append((item.ref, f"{item.ref}: the file is a link out of {root}"))
            continue
        yield Entry(item.ref, number, full.relative_to(root).as_posix(), full, None, prov)


def _run_entries(run: Path, roots: list[str]) -> Iterator[Entry]:
    from visinstruct.store import RunStore

    store = RunStore(run, create=False)
    try:
        number = _root(roots, run.resolve(), None)
        for rec in store.iter_images():
            prov = {"source": "run", "run": str(run)}
            for key in ("license", "url", "dataset", "domain"):
                if rec.provenance.get(key):
                    prov[key] = rec.provenance[key]
            yield Entry(f"run:{rec.id}", number, rec.path, run / rec.path, rec.id, prov)
    finally:
        store.close()


def _root(roots: list[str], root: Path, folder: Path | None) -> int:
    if folder is not None and root == folder.resolve():
        return 0
    text = str(root)
    if text not in roots:
        roots.append(text)
    return roots.index(text)
