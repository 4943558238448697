"""Images in a folder tree: every regular file with an image extension, in a fixed (sorted) order.

Every other visible entry is reported, not skipped in silence: a file of an image type that is not
read here (.svg, .heic, ...) or that is not an image at all (.txt), and anything that is not a
regular file (a named pipe, a socket, a device, a broken link, a link to a folder). Such entries
become items carrying the reason, so the run records them as rejected inputs; they are never
opened (opening a named pipe waits for a writer forever).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from visinstruct.files import kind_of
from visinstruct.sources.ingest import SourceError, SourceItem

#: File extensions taken as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")

#: Extensions of other image types, reported as "unsupported image type" rather than "not an image".
OTHER_IMAGE_EXTENSIONS = (
    *(".svg", ".svgz", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".jpx", ".jpf", ".apng"),
    *(".ico", ".icns", ".cur", ".psd", ".psb", ".xcf", ".eps", ".ai", ".emf", ".wmf", ".pcx", ".tga"),
    *(".dds", ".exr", ".hdr", ".qoi", ".pbm", ".pgm", ".ppm", ".pnm", ".pam", ".xbm", ".xpm", ".sgi"),
    *(".raw", ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2"),
    *(".raf", ".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".mrw", ".mos", ".iiq", ".rwl"),
)


def iter_folder(
    root: str | os.PathLike[str],
    domain_from_subfolder: bool = True,
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
) -> Iterator[SourceItem]:
    """One item per entry under `root`, recursively, sorted by path.

    The first sub-folder below `root` names the item's domain (files directly in `root` have none)
    when `domain_from_subfolder`. Regular files are chosen by extension only: one whose content is
    not an image is still yielded, and ingestion reports it. Any other entry is yielded with its
    reason as `error` (see the module docstring). Hidden files and folders (".name") are skipped;
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
            continue
        ref = "/".join((*parts, entry.name))
        item = SourceItem(
            ref=ref,
            domain=parts[0] if parts and domain_from_subfolder else None,
            provenance={"source": "folder", "path": entry.path},
        )
        problem = _refusal(entry, exts)
        if problem:
            item.error = f"{ref}: {problem}"
        else:
            item.path = entry.path
        yield item


def _refusal(entry: os.DirEntry[str], exts: tuple[str, ...]) -> str | None:
    """Why the folder does not take this entry (from its type and name only), or None."""
    try:
        mode = entry.stat(follow_symlinks=True).st_mode
    except OSError as e:
        if entry.is_symlink():
            return f"not a regular file ({'a link loop' if e.errno == errno.ELOOP else 'a broken link'})"
        return f"cannot read ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return "not a regular file (a link to a folder; links to folders are not followed)"
    if not stat.S_ISREG(mode):
        return f"not a regular file ({kind_of(mode)})"
    if entry.name.lower().endswith(exts):
        return None
    suffix = os.path.splitext(entry.name)[1].lower()
    if suffix in IMAGE_EXTENSIONS or suffix in OTHER_IMAGE_EXTENSIONS:
        return f"unsupported image type {suffix} (supported: {', '.join(exts)})"
    return f"not an image file ({suffix or 'no extension'})"
