"""Our full records, one JSON object a line, with image paths beside the original image ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visinstruct.export.common import (
    ExportedImage,
    ExportOptions,
    ExportSummary,
    Images,
    atomic_text,
    attributions,
    dumps,
)
from visinstruct.records import Sample
from visinstruct.store import RunStore


def record(sample: Sample, ims: list[ExportedImage], paths: list[str]) -> dict[str, Any]:
    """The sample's full record, its `images` the given paths and `image_ids` the stored ids."""
    out: dict[str, Any] = {}
    for key, value in sample.to_dict().items():
        if key == "images":
            out["images"] = paths
            out["image_ids"] = value
        else:
            out[key] = value
    credits = attributions(ims)
    if credits is not None:
        out["attribution"] = credits
    return out


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    images = Images(store, out.parent, options.absolute_paths)
    n = 0
    with atomic_text(out) as f:
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            f.write(dumps(record(sample, ims, [im.ref for im in ims])) + "\n")
            n += 1
    return ExportSummary("jsonl", out, n, images.count)
