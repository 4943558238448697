"""Images listed in a manifest: JSON Lines or CSV with a header.

Each line (JSONL object or CSV row) names one image by `path` (local, relative to the manifest's
folder) or `url`, with optional `domain`, `tags` (a list, or a comma-separated string), `text` or
`known_text` and `license`; any other key is kept in the item's provenance. A relative path must
stay inside the manifest's folder (after resolving `..` and links); an absolute path is allowed
only when it points inside it. A line that cannot be used (malformed, no path or url, a path that
escapes) becomes an item carrying the error, naming the line; the other lines are unaffected.

Several lines may name the same image (one image, several questions or texts): each line is its
own item, so each keeps its text. An item's `ref` is the path or url as written; a later line
naming one already seen gets `<path>#<line>`, so refs stay unique and stable for the file.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visinstruct.files import NotRegularFile, check_regular
from visinstruct.sources.ingest import SourceError, SourceItem

_KNOWN = ("path", "url", "domain", "tags", "text", "known_text", "license")


def iter_manifest(path: str | os.PathLike[str], format: str | None = None) -> Iterator[SourceItem]:
    """One item per line of the manifest at `path`, in file order.

    `format` is "jsonl" or "csv"; by default it comes from the extension (.jsonl/.ndjson/.json or
    .csv), else from the first character (`{` means JSON Lines).
    """
    manifest = Path(path)
    try:
        check_regular(manifest)  # opening a named pipe would wait for a writer
        with open(manifest, encoding="utf-8-sig", newline="") as f:
            yield from _iter(manifest, f, format)
    except NotRegularFile as e:
        raise SourceError(f"{manifest}: cannot read the manifest: {e}") from None
    except OSError as e:
        raise SourceError(f"{manifest}: cannot read the manifest ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise SourceError(f"{manifest}: not UTF-8 text ({e})") from None


def _iter(manifest: Path, f, format: str | None) -> Iterator[SourceItem]:
    kind = format or _detect(manifest, f)
    if kind not in ("jsonl", "csv"):
        raise SourceError(f"{manifest}: unknown manifest format {kind!r} (jsonl or csv)")
    base = manifest.parent.resolve()
    rows = _jsonl_rows(manifest, f) if kind == "jsonl" else _csv_rows(manifest, f)
    seen: set[int] = set()  # digests of the refs given so far: a repeated image gets its line
    for line, row in rows:
        if isinstance(row, str):  # the line could not be parsed: row is the reason
            ref = f"{manifest.name}:{line}"
            yield SourceItem(ref=ref, provenance=_prov(manifest, line), error=f"{ref}: {row}")
        else:
            yield _item(row, line, manifest, base, seen)


def _detect(manifest: Path, f) -> str:
    suffix = manifest.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv",):
        return "csv"
    start = f.read(4096).lstrip()
    f.seek(0)
    return "jsonl" if start.startswith("{") else "csv"


def _jsonl_rows(manifest: Path, f) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for n, text in enumerate(f, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except ValueError as e:
            yield n, f"line {n} is not valid JSON ({e})"
            continue
        if not isinstance(row, dict):
            yield n, f"line {n} is not a JSON object (got {type(row).__name__})"
            continue
        yield n, row


def _csv_rows(manifest: Path, f) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(f, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise SourceError(f"{manifest}: the CSV header cannot be read ({e})") from None
    if header is None:
        return
    header = [h.strip() for h in header]
    if "path" not in header and "url" not in header:
        raise SourceError(
            f"{manifest}: the CSV header has no 'path' or 'url' column (it has {', '.join(header)})"
        )
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield start, f"line {start} is not valid CSV ({e})"
            if reader.line_num < start:  # nothing consumed: stop rather than loop
                return
            continue
        if not any(x.strip() for x in fields):
            continue
        if len(fields) != len(header):
            yield start, f"line {start} has {len(fields)} fields, the header has {len(header)}"
            continue
        yield start, {k: v for k, v in zip(header, fields, strict=True) if k and v.strip() != ""}


def _prov(manifest: Path, line: int) -> dict[str, Any]:
    return {"source": "manifest", "manifest": str(manifest), "line": line}


def _item(row: dict[str, Any], line: int, manifest: Path, base: Path, seen: set[int]) -> SourceItem:
    prov = _prov(manifest, line)
    prov.update({k: v for k, v in row.items() if k not in _KNOWN})
    where = f"line {line} of {manifest.name}"
    raw_path, url = row.get("path"), row.get("url")
    ref = str(raw_path if raw_path not in (None, "") else url if url not in (None, "") else "")
    ref = ref or f"{manifest.name}:{line}"
    key = _digest(ref)
    if key in seen:  # another line names this image: this line is an input of its own
        ref = f"{ref}#{line}"
    seen.add(key)

    def bad(reason: str) -> SourceItem:
        return SourceItem(ref=ref, provenance=prov, error=f"{ref}: {reason} ({where})")

    if raw_path in (None, "") and url in (None, ""):
        return bad("no 'path' or 'url'")
    for key in ("path", "url", "domain", "text", "known_text", "license"):
        if row.get(key) is not None and not isinstance(row[key], str):
            return bad(f"'{key}' must be a string, not {type(row[key]).__name__}")
    tags = row.get("tags")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    elif isinstance(tags, list) and all(isinstance(t, (str, int, float)) for t in tags):
        tags = [str(t).strip() for t in tags if str(t).strip()]
    else:
        return bad("'tags' must be a list of strings or a comma-separated string")
    if row.get("license"):
        prov["license"] = row["license"]
    known_text = row.get("known_text") or row.get("text") or None
    domain = (row.get("domain") or "").strip() or None

    local = None
    if raw_path not in (None, ""):
        local, problem = _resolve_inside(raw_path, base)
        if local is None:
            return bad(problem)
        prov["path"] = raw_path
        if url:
            prov["url"] = url
    else:
        prov["url"] = url
    return SourceItem(
        ref=ref,
        path=str(local) if local is not None else None,
        url=None if local is not None else url,
        domain=domain,
        tags=tags,
        known_text=known_text,
        provenance=prov,
    )


def _digest(ref: str) -> int:
    """A stable 64-bit digest of a ref (a set of them stays small for long manifests)."""
    return int.from_bytes(hashlib.blake2b(ref.encode("utf-8", "surrogatepass"), digest_size=8).digest())


def _resolve_inside(raw: str, base: Path) -> tuple[Path | None, str]:
    """`raw` resolved against `base` (links followed), or None and why: the result is outside
    `base`, or the links cannot be resolved (a loop)."""
    leaves = "the path leaves the manifest's folder"
    if "\x00" in raw:
        return None, leaves
    p = Path(raw)
    try:
        full = (p if p.is_absolute() else base / p).resolve()
    except RuntimeError:  # Python < 3.13: a link loop
        return None, "the path is a link loop"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, "the path is a link loop"
        return None, f"the path cannot be resolved ({e.strerror or e})"
    return (full, "") if full.is_relative_to(base) else (None, leaves)
