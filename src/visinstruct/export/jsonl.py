"""Our full records, one JSON object a line, with image paths beside the original image ids."""

from __future__ import annotations

from pathlib import Path

from visinstruct.export.common import ExportOptions, ExportSummary, Images, atomic_text, attributions, dumps
from visinstruct.store import RunStore


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    images = Images(store, out.parent, options.absolute_paths)
    n = 0
    with atomic_text(out) as f:
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            paths = [im.ref for im in ims]
            record = {}
            for key, value in sample.to_dict().items():
                if key == "images":
                    record["images"] = paths
                    record["image_ids"] = value
                else:
                    record[key] = value
            credits = attributions(ims)
            if credits is not None:
                record["attribution"] = credits
            f.write(dumps(record) + "\n")
            n += 1
    return ExportSummary("jsonl", out, n, images.count)
