"""Dataset expansion: open datasets, read as they are published, become checked four-type data.

A reader turns a dataset's files into `DatasetImage`s, one per image, each carrying every
question the dataset asks about that image (`Truth`: question, exact answer, choices,
solution). A record that cannot be used is a `BadRecord`, reported with the dataset, the
record id and the reason; the rest imports. The engine stores each image once by content
and makes the four instruction types from the ground truth without a model.

    for got in read("tabmwp", "data/tabmwp", split="train"):
        ...  # DatasetImage or BadRecord

Readers are named here and imported only when a recipe uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

from visinstruct.expand.base import BadRecord, DatasetImage, Dialogue, Truth
from visinstruct.sources.ingest import SourceError

#: dataset name -> "module:function"; each is `(root: Path, split: str, **options) -> Iterator`,
#: `options` being the source's column settings (generic importers; named datasets ignore them).
READERS: dict[str, str] = {
    "tabmwp": "visinstruct.expand.tabmwp:read",
    "geometry3k": "visinstruct.expand.geometry3k:read",
    "geos": "visinstruct.expand.geos:read",
    "geoqa_plus": "visinstruct.expand.geoqa:read_geoqa_plus",
    "unigeo": "visinstruct.expand.geoqa:read_unigeo",
    "clevr_math": "visinstruct.expand.clevr:read_clevr_math",
    "super_clevr": "visinstruct.expand.clevr:read_super_clevr",
    "dvqa": "visinstruct.expand.dvqa:read",
    "figureqa": "visinstruct.expand.figureqa:read",
    "tqa": "visinstruct.expand.tqa:read",
    "mapqa": "visinstruct.expand.mapqa:read",
    # generic importers: an existing dataset brought in as it is
    "llava": "visinstruct.expand.generic:read_llava",
    "sharegpt": "visinstruct.expand.generic:read_sharegpt",
    "vqa": "visinstruct.expand.generic:read_vqa",  # JSONL/CSV rows: image, question, answer, options
    "hf": "visinstruct.expand.generic:read_hf",  # save_to_disk folder, parquet, or a Hub name
}

Reader = Callable[..., Iterator[DatasetImage | BadRecord]]

__all__ = ["READERS", "BadRecord", "DatasetImage", "Dialogue", "Truth", "read", "reader"]


def reader(name: str) -> Reader:
    """The reader of dataset `name`; an unknown name is refused with the names there are."""
    target = READERS.get(name)
    if target is None:
        raise SourceError(f"unknown dataset {name!r} (known: {', '.join(sorted(READERS))})")
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def read(
    name: str, root: str | Path, split: str = "train", **options: object
) -> Iterator[DatasetImage | BadRecord]:
    """Every image of `split` of dataset `name` under `root`, with its questions, in a stable
    order; records that cannot be used come as `BadRecord`s in their place."""
    path = Path(root)
    if not path.exists():
        from visinstruct.sources.hf import hub_name

        if name == "hf" and hub_name(str(root)):
            return reader(name)(str(root), split, **options)  # a dataset on the Hugging Face Hub
        raise SourceError(f"{name}: {path} does not exist")
    return reader(name)(path, split, **options)
