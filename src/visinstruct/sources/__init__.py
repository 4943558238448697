"""Image sources: folders, manifests, Hugging Face datasets and URLs, and their ingestion.

Each source yields `SourceItem`s in a fixed order, streaming; `download` fetches URL items;
`ingest` validates, normalises and stores each image in a run directory. A problem with one item
(an unreadable manifest line, a failed download, a file that is not an image) is carried by that
item and reported, never raised.

    items = iter_folder("photos/")
    for result in ingest(items, run_dir):
        print(result.image.id if result.image else result.error)
"""

from visinstruct.sources.folder import IMAGE_EXTENSIONS, iter_folder
from visinstruct.sources.hf import iter_hf
from visinstruct.sources.ingest import (
    MIN_SIDE,
    Ingested,
    SourceError,
    SourceItem,
    ingest,
    ingest_one,
)
from visinstruct.sources.manifest import iter_manifest
from visinstruct.sources.urls import (
    ALLOWED_TYPES,
    MAX_BYTES,
    download,
    iter_download,
    iter_url_list,
    sniff_image_type,
)

__all__ = [
    "ALLOWED_TYPES",
    "IMAGE_EXTENSIONS",
    "MAX_BYTES",
    "MIN_SIDE",
    "Ingested",
    "SourceError",
    "SourceItem",
    "download",
    "ingest",
    "ingest_one",
    "iter_download",
    "iter_folder",
    "iter_hf",
    "iter_manifest",
    "iter_url_list",
    "sniff_image_type",
]
