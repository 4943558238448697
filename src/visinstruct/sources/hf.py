"""Images in a Hugging Face dataset: a saved dataset folder, local parquet/imagefolder data, or the Hub.

The image column is read as encoded bytes, never decoded here (`Image(decode=False)`), and only
the columns asked for are read. Datasets loaded with `load_dataset` are streamed, so `limit` rows
cost `limit` rows however large the dataset is. Needs the `datasets` package (the `hf` extra).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.sources.ingest import SourceError, SourceItem

_SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
# a Hub dataset id: "name" or "owner/name" (letters, digits, "-", "_", "."; no path separators beyond one)
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")
_FILE_BUILDERS = {".parquet": "parquet", ".arrow": "arrow"}


def hub_name(text: str) -> bool:
    """Whether `text`, which names no local file or folder, reads as a Hub dataset id."""
    return bool(_HUB_NAME.fullmatch(text)) and ".." not in text and not text.endswith((".parquet", ".arrow"))


def _datasets():
    try:
        import datasets
    except ImportError:
        raise SourceError(
            "reading Hugging Face datasets needs the 'datasets' package: pip install 'visinstruct[hf]'"
        ) from None
    return datasets


def iter_hf(
    path_or_name: str | os.PathLike[str],
    split: str = "train",
    image_column: str = "image",
    domain_column: str | None = None,
    text_column: str | None = None,
    limit: int | None = None,
    tags_column: str | None = None,
) -> Iterator[SourceItem]:
    """One item per row of `split`, in dataset order, with the image as bytes (`data`).

    `path_or_name` is a folder written by `save_to_disk`, a parquet or arrow file, a folder that
    `datasets.load_dataset` reads (parquet files, an imagefolder), or a dataset name on the Hub.
    `domain_column`, `text_column` and `tags_column` fill the item's domain, known text and tags
    (class labels are given by name). Refs are "hf:<dataset>#<row>" ("hf:<dataset>:<split>#<row>"
    for a split other than train).
    """
    source = os.fspath(path_or_name)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    wanted = [c for c in (image_column, domain_column, text_column, tags_column) if c]
    ds = load_columns(source, split, image_column, wanted)
    features = ds.features
    license = getattr(getattr(ds, "info", None), "license", None) or None
    labels = {c: _label_names(features, c) for c in (domain_column, tags_column) if c}
    prefix = f"hf:{source}" if split == "train" else f"hf:{source}:{split}"

    rows = iter(ds)
    for index in itertools.count() if limit is None else range(limit):
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as e:
            raise SourceError(f"{source}: cannot read row {index} ({type(e).__name__}: {e})") from None
        yield _item(
            row,
            index,
            prefix,
            source,
            split,
            license,
            image_column,
            domain_column,
            text_column,
            tags_column,
            labels,
        )


def load_columns(source: str, split: str, image_column: str, columns: list[str], paths: bool = False):
    """`split` of the dataset at `source` with only `columns` (which include `image_column`), the
    images as encoded bytes (`{"bytes", "path"}`, never decoded). With `paths`, the image column
    may also hold file paths (text)."""
    datasets = _datasets()
    ds = _load(datasets, source, split)
    features = ds.features
    if features is not None:
        missing = [c for c in dict.fromkeys(columns) if c not in features]
        if missing:
            raise SourceError(
                f"{source}: no column {', '.join(map(repr, missing))} in split {split!r} "
                f"(columns: {', '.join(features)})"
            )
        image_feature = features[image_column]
        if isinstance(image_feature, datasets.Image):
            ds = ds.cast_column(image_column, datasets.Image(decode=False))
        else:
            dtype = getattr(image_feature, "dtype", "") if isinstance(image_feature, datasets.Value) else ""
            if not ("binary" in dtype or (paths and dtype in ("string", "large_string"))):
                kinds = "an Image, binary or path column" if paths else "an Image or binary column"
                raise SourceError(
                    f"{source}: column {image_column!r} holds {image_feature!r}, not images ({kinds})"
                )
    try:
        return ds.select_columns(list(dict.fromkeys(columns)))
    except Exception as e:
        raise SourceError(f"{source}: cannot select columns {columns} ({type(e).__name__}: {e})") from None


def image_of(value: Any) -> tuple[bytes | None, str | None]:
    """(encoded bytes, path) of an image cell: an undecoded Image (`{"bytes", "path"}`), bytes,
    or a path (text); what the cell does not hold is None."""
    if isinstance(value, dict):
        data = value.get("bytes")
        return (bytes(data) if data is not None else None), (value.get("path") or None)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), None
    if isinstance(value, str) and value.strip():
        return None, value.strip()
    return None, None


def _load(datasets, source: str, split: str):
    p = Path(source)
    try:
        if p.is_dir() and any((p / m).is_file() for m in _SAVED_MARKERS):
            ds = datasets.load_from_disk(str(p))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise SourceError(f"{source}: no split {split!r} (splits: {', '.join(ds)})")
                ds = ds[split]
            return ds
        if p.is_file():
            builder = _FILE_BUILDERS.get(p.suffix.lower())
            if builder is None:
                raise SourceError(f"{source}: not a dataset file (.parquet or .arrow) or folder")
            return datasets.load_dataset(builder, data_files={split: str(p)}, split=split, streaming=True)
        if not p.exists() and hub_name(source):
            try:
                return datasets.load_dataset(source, split=split, streaming=True)
            except Exception as e:
                raise SourceError(
                    f"Hub dataset {source!r} (split {split!r}): cannot load it ({type(e).__name__}: "
                    f"{_first_line(e)}); without network, give a local copy (save_to_disk folder or parquet)"
                ) from None
        return datasets.load_dataset(source, split=split, streaming=True)
    except SourceError:
        raise
    except Exception as e:
        why = f"{type(e).__name__}: {_first_line(e)}"
        raise SourceError(f"{source}: cannot load the dataset ({why})") from None


def _first_line(e: BaseException) -> str:
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    return lines[0] if lines else "no reason given"


def _label_names(features, column: str) -> Any:
    feature = features.get(column) if features is not None else None
    names = getattr(feature, "names", None)
    if names is None:  # a sequence of class labels
        names = getattr(getattr(feature, "feature", None), "names", None)
    return names


def _text(value: Any, names: list[str] | None = None) -> str | None:
    if value is None:
        return None
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    text = str(value).strip()
    return text or None


def _item(
    row: dict[str, Any],
    index: int,
    prefix: str,
    source: str,
    split: str,
    license: str | None,
    image_column: str,
    domain_column: str | None,
    text_column: str | None,
    tags_column: str | None,
    labels: dict[str, Any],
) -> SourceItem:
    ref = f"{prefix}#{index}"
    prov: dict[str, Any] = {"source": "hf", "dataset": source, "split": split, "row": index}
    if license:
        prov["license"] = license
    tags: list[str] = []
    if tags_column:
        value = row.get(tags_column)
        values = value if isinstance(value, (list, tuple)) else [] if value is None else [value]
        if isinstance(value, str):
            values = value.split(",")
        tags = [t for t in (_text(v, labels.get(tags_column)) for v in values) if t]
    item = SourceItem(
        ref=ref,
        domain=_text(row.get(domain_column), labels.get(domain_column)) if domain_column else None,
        tags=tags,
        known_text=_text(row.get(text_column)) if text_column else None,
        provenance=prov,
    )
    data, path = image_of(row.get(image_column))
    if path:
        prov["image_path"] = path
    if data is not None:
        item.data = data
    elif path and os.path.isfile(path):
        item.path = path
    if item.data is None and item.path is None:
        item.error = f"{ref}: no image in column {image_column!r}"
    return item
