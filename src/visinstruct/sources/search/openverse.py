"""Openverse: openly licensed images, searched by keyword (https://api.openverse.org/v1/).

Request and response follow the API's own source (WordPress/openverse):
`api/api/serializers/media_serializers.py` (the search parameters `q`, `license`, `page`,
`page_size`; each result's `id`, `title`, `foreign_landing_url`, `url`, `creator`, `creator_url`,
`license`, `license_version`, `license_url`, `provider`, `source`, `filetype`, `attribution`) and
`api/api/utils/pagination.py` (`result_count`, `page_count`, `page_size`, `page`, `results`).

Anonymous requests may ask for at most 20 results a page (`MAX_ANONYMOUS_PAGE_SIZE`; more is
refused with 401) and are throttled to a few a minute (429 with `Retry-After`). With a key (an OAuth2
access token, from `POST /v1/auth_tokens/token/` with a registered client's id and secret) sent as
`Authorization: Bearer …`, pages may hold up to 500 results and the limits are higher. The key is
read from the environment only (`OPENVERSE_API_TOKEN` unless the recipe names another variable).
Openverse filters by license itself; pagination stops at `page_count` (at most 20 pages).
"""

from __future__ import annotations

from typing import Any

from visinstruct.sources.search.base import (
    SearchPage,
    SearchProvider,
    SearchRequest,
    SearchResult,
    register,
)
from visinstruct.sources.search.licenses import normalise_license

_MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
         "webp": "image/webp", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
         "svg": "image/svg+xml"}  # fmt: skip


@register
class Openverse(SearchProvider):
    name = "openverse"
    base_url = "https://api.openverse.org/v1"
    token_env = "OPENVERSE_API_TOKEN"
    max_page_size = 20
    max_page_size_keyed = 500
    min_interval = 3.0  # anonymous: about 20 requests a minute
    min_interval_keyed = 1.0
    filters_licenses = True
    option_names = ("source", "excluded_source", "extension", "category", "aspect_ratio", "size")

    def request(self, query: str, licenses: list[str], page_size: int, cursor: Any) -> SearchRequest:
        params = {"q": query, "page": str(cursor or 1), "page_size": str(page_size)}
        if licenses:
            params["license"] = ",".join(licenses)
        for key in self.option_names:
            if self.options.get(key):  # Openverse's other filters, passed through as given
                params[key] = str(self.options[key])
        return SearchRequest(f"{self.endpoint}/images/", params)

    def parse(self, body: Any) -> SearchPage:
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ValueError("not an Openverse search response (no `results` list)")
        results = []
        for r in body["results"]:
            if not isinstance(r, dict) or not r.get("url"):
                continue
            code, version = normalise_license(r.get("license"), r.get("license_url"))
            filetype = str(r.get("filetype") or "").lower()
            results.append(
                SearchResult(
                    url=str(r["url"]),
                    license=code or (str(r["license"]).lower() if r.get("license") else None),
                    license_version=_text(r.get("license_version")) or version,
                    license_url=_text(r.get("license_url")),
                    creator=_text(r.get("creator")),
                    creator_url=_text(r.get("creator_url")),
                    title=_text(r.get("title")),
                    source_page=_text(r.get("foreign_landing_url")),
                    provider=f"openverse/{r.get('source') or r.get('provider') or '?'}",
                    result_id=_text(r.get("id")),
                    mime=_MIME.get(filetype),
                    width=r.get("width") if isinstance(r.get("width"), int) else None,
                    height=r.get("height") if isinstance(r.get("height"), int) else None,
                    credit=_text(r.get("attribution")),
                )
            )
        page = body.get("page") if isinstance(body.get("page"), int) else 1
        count = body.get("page_count") if isinstance(body.get("page_count"), int) else page
        total = body.get("result_count") if isinstance(body.get("result_count"), int) else None
        return SearchPage(results, page + 1 if page < count and results else None, total)


def _text(v: Any) -> str | None:
    return str(v).strip() or None if v is not None else None
