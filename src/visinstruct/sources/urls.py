"""Download URL items: concurrent, bounded in time, size and type, one error per bad URL.

Only http and https URLs are fetched (never file:, data: or others). Each request has a total
`timeout`; a body is read in chunks and abandoned once it passes `max_bytes` (and refused at once
when Content-Length says it is larger). The response must be an image type from `allowed_types`;
`application/octet-stream` (or no type) is accepted when the first bytes are those of an allowed
image format. Whether the bytes really are a sound image is checked at ingestion.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from visinstruct import __version__
from visinstruct.files import NotRegularFile, read_regular
from visinstruct.sources.ingest import SourceError, SourceItem

if TYPE_CHECKING:
    import aiohttp

ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff")
MAX_BYTES = 20 * 1024 * 1024
USER_AGENT = f"visinstruct/{__version__}"
_UNTYPED = ("", "application/octet-stream", "binary/octet-stream")
_CHUNK = 1 << 16


def sniff_image_type(data: bytes) -> str | None:
    """The image MIME type the first bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


class _Refused(Exception):
    """A download refused for a reason given as the message."""


async def download(
    items: Iterable[SourceItem],
    concurrency: int = 16,
    timeout: float = 20,
    max_bytes: int = MAX_BYTES,
    allowed_types: Iterable[str] = ALLOWED_TYPES,
) -> list[SourceItem]:
    """Every item, in order, URL items with their bytes in `data` or the reason in `error`.

    Items that are not URL items, already have data or already carry an error are returned as
    they are. The returned items are copies: the given ones are not changed.
    """
    return [
        item
        async for item in iter_download(
            items, concurrency=concurrency, timeout=timeout, max_bytes=max_bytes, allowed_types=allowed_types
        )
    ]


async def iter_download(
    items: Iterable[SourceItem],
    concurrency: int = 16,
    timeout: float = 20,
    max_bytes: int = MAX_BYTES,
    allowed_types: Iterable[str] = ALLOWED_TYPES,
) -> AsyncIterator[SourceItem]:
    """Like `download`, but yields items in order as they are ready, with at most `4 * concurrency`
    items held at once, so a long list of URLs streams through in flat memory."""
    import aiohttp

    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    allowed = frozenset(t.lower() for t in allowed_types)
    limiter = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    window: list[asyncio.Task[SourceItem]] = []
    async with aiohttp.ClientSession(
        connector=connector, timeout=client_timeout, headers={"User-Agent": USER_AGENT}
    ) as session:

        async def one(item: SourceItem) -> SourceItem:
            if item.url is None or item.data is not None or item.error is not None:
                return item
            async with limiter:
                return await _fetch(session, item, timeout, max_bytes, allowed)

        try:
            for item in items:
                window.append(asyncio.ensure_future(one(item)))
                if len(window) >= 4 * concurrency:
                    yield await window.pop(0)
            while window:
                yield await window.pop(0)
        finally:
            for task in window:
                task.cancel()
            if window:
                await asyncio.gather(*window, return_exceptions=True)


async def _fetch(
    session: aiohttp.ClientSession, item: SourceItem, timeout: float, max_bytes: int, allowed: frozenset[str]
) -> SourceItem:
    import aiohttp

    url = item.url or ""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        return _failed(item, f"invalid URL ({e})")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}'" if scheme else "none"
        return _failed(item, f"unsupported URL scheme {shown} (only http and https are fetched)")
    if not parts.hostname:
        return _failed(item, "invalid URL (no host)")
    try:
        data, content_type, final_url = await _get(session, url, max_bytes, allowed)
    except _Refused as e:
        return _failed(item, str(e))
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        return _failed(item, f"timed out after {timeout:g} s")
    except aiohttp.ClientConnectorError as e:
        reason = getattr(e.os_error, "strerror", None) or str(e.os_error or e)
        return _failed(item, f"cannot connect to {e.host}:{e.port} ({reason})")
    except aiohttp.InvalidURL as e:
        return _failed(item, f"invalid URL ({e})")
    except aiohttp.TooManyRedirects:
        return _failed(item, "too many redirects")
    except aiohttp.ClientError as e:
        return _failed(item, f"download failed ({type(e).__name__}: {e})")
    except (OSError, ValueError) as e:
        return _failed(item, f"download failed ({type(e).__name__}: {e})")
    prov = {**item.provenance, "url": url, "content_type": content_type}
    if final_url != url:
        prov["final_url"] = final_url
    return dataclasses.replace(item, data=data, provenance=prov)


async def _get(
    session: aiohttp.ClientSession, url: str, max_bytes: int, allowed: frozenset[str]
) -> tuple[bytes, str, str]:
    async with session.get(url) as resp:
        if resp.status != 200:
            raise _Refused(f"HTTP {resp.status} {resp.reason or ''}".rstrip())
        content_type = (resp.content_type or "").lower()
        if content_type not in _UNTYPED and content_type not in allowed:
            raise _Refused(f"not an image (content type {content_type})")
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise _Refused(f"too large ({resp.content_length} bytes, limit {max_bytes})")
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            buf += chunk
            if len(buf) > max_bytes:
                raise _Refused(f"too large (more than {max_bytes} bytes)")
        data = bytes(buf)
        if content_type in _UNTYPED:
            sniffed = sniff_image_type(data)
            if sniffed is None or sniffed not in allowed:
                shown = content_type or "none"
                raise _Refused(f"not an image (content type {shown} and the bytes are not an allowed image)")
            content_type = sniffed
        return data, content_type, str(resp.url)


def _failed(item: SourceItem, reason: str) -> SourceItem:
    return dataclasses.replace(item, error=f"{item.ref}: {reason}")


def iter_url_list(path: str | os.PathLike[str]) -> Iterator[SourceItem]:
    """A text file of image URLs, one per line (blank lines and `#` comments skipped)."""
    p = Path(path)
    try:
        raw = read_regular(p)  # never waits on a named pipe
    except NotRegularFile as e:
        raise SourceError(f"{p}: cannot read the URL list: {e}") from None
    except OSError as e:
        raise SourceError(f"{p}: cannot read the URL list ({e.strerror or e})") from None
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        bad = f"invalid byte 0x{raw[e.start]:02x} at offset {e.start}"
        raise SourceError(f"{p}: the URL list is not a UTF-8 text file ({bad})") from None
    for n, line in enumerate(lines, 1):
        url = line.strip()
        if url and not url.startswith("#"):
            yield SourceItem(ref=url, url=url, provenance={"source": "urls", "list": str(p), "line": n})
