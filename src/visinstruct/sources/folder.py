"""Images in a folder tree: every file with an image extension, in a fixed (sorted) order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from visinstruct.sources.ingest import SourceError, SourceItem

#: File extensions taken as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


def iter_folder(
    root: str | os.PathLike[str],
    domain_from_subfolder: bool = True,
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
) -> Iterator[SourceItem]:
    """One item per image file under `root`, recursively, sorted by path.

    The first sub-folder below `root` names the item's domain (files directly in `root` have none)
    when `domain_from_subfolder`. Files are chosen by extension only: one whose content is not an
    image is still yielded, and ingestion reports it. Hidden files and folders (".name") are skipped;
    links to folders are not followed (no loops). A folder that cannot be listed is yielded as an
    item carrying the error.
    """
    base = Path(root)
    if not base.is_dir():
        raise SourceError(f"{base}: not a folder" if base.exists() else f"{base}: no such folder")
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    yield from _walk(base, (), exts, domain_from_subfolder)


def _walk(
    folder: Path, parts: tuple[str, ...], exts: tuple[str, ...], domain_from_subfolder: bool
) -> Iterator[SourceItem]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        ref = "/".join(parts) or "."
        yield SourceItem(
            ref=ref,
            provenance={"source": "folder", "path": str(folder)},
            error=f"{ref}: cannot list the folder ({e.strerror or e})",
        )
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(Path(entry.path), (*parts, entry.name), exts, domain_from_subfolder)
        elif entry.name.lower().endswith(exts):
            ref = "/".join((*parts, entry.name))
            yield SourceItem(
                ref=ref,
                path=entry.path,
                domain=parts[0] if parts and domain_from_subfolder else None,
                provenance={"source": "folder", "path": entry.path},
            )
