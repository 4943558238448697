"""Wikimedia Commons: freely licensed media, searched through the MediaWiki Action API.

One request a page: `action=query&generator=search&gsrsearch=…&gsrnamespace=6` (the File
namespace) with `prop=imageinfo&iiprop=url|extmetadata|mime|size`, JSON in `formatversion=2`
(`query.pages` a list; each page's `index` is its rank in the search). The next page is asked for
by sending back every parameter of the response's `continue` object (`gsroffset`, `continue`);
its absence means the last page (https://www.mediawiki.org/wiki/API:Continue).

The license and the credit come from `extmetadata`, read as Openverse's own Commons ingester
does (WordPress/openverse `catalog/dags/providers/provider_api_scripts/wikimedia_commons.py`):
`LicenseUrl` first, then `License` ("cc-by-sa-4.0") and `LicenseShortName` ("CC BY-SA 4.0");
`Artist` is HTML, reduced to its text and its first link; `ObjectName` is the title; the page is
`descriptionurl`. Commons has no license filter, so results are filtered here.

Originals can be very large; with `width` (option, default 1280 pixels) the API is asked for a
scaled copy (`iiurlwidth`) and its `thumburl` is downloaded instead. Wikimedia asks API clients
to identify themselves: the recipe's `contact:` is added to the User-Agent.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from visinstruct.sources.search.base import (
    SearchPage,
    SearchProvider,
    SearchRequest,
    SearchResult,
    register,
)
from visinstruct.sources.search.licenses import normalise_license

DEFAULT_WIDTH = 1280


@register
class Commons(SearchProvider):
    name = "commons"
    base_url = "https://commons.wikimedia.org/w/api.php"
    max_page_size = 50  # gsrlimit for clients without the bot right
    min_interval = 1.0
    option_names = ("width",)

    def request(self, query: str, licenses: list[str], page_size: int, cursor: Any) -> SearchRequest:
        params = {
            "action": "query",
            "format": "json",
            "formatversion": "2",
            "generator": "search",
            "gsrsearch": f"{query} filetype:bitmap",  # photos and drawings, no PDFs or videos
            "gsrnamespace": "6",
            "gsrlimit": str(page_size),
            "prop": "imageinfo",
            "iiprop": "url|extmetadata|mime|size",
        }
        width = self.options.get("width", DEFAULT_WIDTH)
        if width:
            params["iiurlwidth"] = str(int(width))
        if isinstance(cursor, dict):
            params.update({str(k): str(v) for k, v in cursor.items()})
        return SearchRequest(self.endpoint, params)

    def parse(self, body: Any) -> SearchPage:
        if not isinstance(body, dict):
            raise ValueError("not a MediaWiki API response (not a JSON object)")
        if "error" in body:
            err = body["error"] if isinstance(body["error"], dict) else {}
            raise ValueError(f"MediaWiki API error {err.get('code', '?')}: {err.get('info', body['error'])}")
        pages = (body.get("query") or {}).get("pages") or []
        if isinstance(pages, dict):  # formatversion=1: keyed by page id
            pages = list(pages.values())
        pages = sorted((p for p in pages if isinstance(p, dict)), key=lambda p: p.get("index", 1 << 30))
        results = [r for p in pages for r in [_result(p)] if r is not None]
        more = body.get("continue")
        return SearchPage(results, dict(more) if isinstance(more, dict) and more else None)


def _result(page: dict) -> SearchResult | None:
    info = (page.get("imageinfo") or [None])[0]
    if not isinstance(info, dict):
        return None
    url = info.get("thumburl") or info.get("url")
    if not url:
        return None
    meta = info.get("extmetadata") or {}

    def ext(key: str) -> str | None:
        v = (meta.get(key) or {}).get("value") if isinstance(meta.get(key), dict) else None
        return str(v).strip() or None if v is not None else None

    code, version = normalise_license(ext("LicenseUrl"), ext("License"), ext("LicenseShortName"))
    creator, creator_url = _html_text(ext("Artist"))
    title = ext("ObjectName") or _file_title(str(page.get("title") or ""))
    thumb = bool(info.get("thumburl"))
    return SearchResult(
        url=str(url),
        license=code or (ext("License") or ext("LicenseShortName") or "").lower() or None,
        license_version=version,
        license_url=ext("LicenseUrl"),
        creator=creator,
        creator_url=creator_url,
        title=_html_text(title)[0] if title else None,
        source_page=info.get("descriptionurl") or info.get("descriptionshorturl"),
        provider="commons",
        result_id=str(page["pageid"]) if page.get("pageid") is not None else None,
        mime=info.get("thumbmime") or info.get("mime") if thumb else info.get("mime"),
        width=info.get("thumbwidth") if thumb else info.get("width"),
        height=info.get("thumbheight") if thumb else info.get("height"),
    )


def _file_title(title: str) -> str | None:
    """ "File:Lone tree.jpg" → "Lone tree" (as Openverse's `extract_title`)."""
    name = title.removeprefix("File:")
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in ("jpg", "jpeg", "png", "gif", "webp", "tif", "tiff", "bmp"):
        name = stem
    return name or None


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and self.link is None:
            href = dict(attrs).get("href")
            if href:
                self.link = f"https:{href}" if href.startswith("//") else href

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_text(html: str | None) -> tuple[str | None, str | None]:
    """The text of an HTML fragment (spaces collapsed) and its first link."""
    if not html:
        return None, None
    p = _Text()
    p.feed(html)
    p.close()
    text = " ".join("".join(p.parts).split())
    return text or None, p.link
