"""Export a run's samples to the formats training code reads.

`export(store, fmt, out)` writes one output file at `out` (its folder is created) and, for
file-based formats, the images beside it as `images/<id>.<ext>`. Only samples whose status
is in `include` are written; by default the accepted and edited ones.

Formats: jsonl (our full records), llava, sharegpt (LLaMA-Factory), internvl, parquet
(images embedded, loadable with Hugging Face `datasets`) and dataengine (MLLM-DataEngine
multiple-choice rows). `ExportOptions` writes absolute image paths (every format but parquet,
whose images are embedded) and, for llava, keeps rows with several images out of the main file.

The sharded formats (`export.shards`) write a folder `out` of files of about
`ExportOptions.shard_size` bytes and an index: parquet-shards, jsonl-shards and webdataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from visinstruct.errors import ExportError
from visinstruct.export import dataengine, internvl, jsonl, llava, parquet, shards, sharegpt
from visinstruct.export.common import DEFAULT_INCLUDE, ExportOptions, ExportSummary, check_include
from visinstruct.store import RunStore

__all__ = ["FORMATS", "SHARDED", "ExportOptions", "ExportSummary", "export"]

NO_OPTIONS = ExportOptions()

FORMATS: dict[str, Callable[[RunStore, Path, tuple[str, ...], ExportOptions], ExportSummary]] = {
    "jsonl": jsonl.write,
    "llava": llava.write,
    "sharegpt": sharegpt.write,
    "internvl": internvl.write,
    "parquet": parquet.write,
    "dataengine": dataengine.write,
    **{fmt: shards.writer(fmt) for fmt in shards.SHARD_FORMATS},
}
SHARDED = tuple(shards.SHARD_FORMATS)


def export(
    store: RunStore,
    fmt: str,
    out: str | Path,
    include: Iterable[str] = DEFAULT_INCLUDE,
    options: ExportOptions = NO_OPTIONS,
) -> ExportSummary:
    """Write the samples of `store` whose status is in `include` to `out` in format `fmt` (a
    sharded format: into the folder `out`)."""
    writer = FORMATS.get(fmt)
    if writer is None:
        raise ExportError(f"unknown export format {fmt!r}; known formats: {', '.join(FORMATS)}")
    if options.single_image and fmt != "llava":
        raise ExportError(f"single-image rows are a llava option; {fmt} rows take several images")
    if options.shard_size is not None and fmt not in SHARDED:
        raise ExportError(
            f"a shard size is an option of the sharded formats ({', '.join(SHARDED)}), not of {fmt}"
        )
    statuses = check_include(include)
    path = Path(out)
    if path.is_dir() and fmt not in SHARDED:
        raise ExportError(f"{path} is a directory; give the path of the file to write")
    try:
        return writer(store, path, statuses, options)
    except OSError as e:
        raise ExportError(f"cannot write the {fmt} export to {path}: {e.strerror or e}") from None
