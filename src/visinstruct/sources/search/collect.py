"""A recipe's `search:` source as URL items: queries from the catalog, results under the licenses.

The queries are the source's own `queries:` (with the source's `domain:`, if any) and then, for each
of its `domains:`, that domain's catalog `keywords:` (with that domain). Each query is paged through
until `per_keyword` results under the license filter are found (or the provider has no more);
a result whose file is not a raster image type the URL source accepts is passed over. Every result
becomes a URL item (downloaded by the URL source, with its size and type limits and reasons),
carrying in its provenance the license, its version and deed, the creator, the title, the page
that shows the work, the provider, the query and the domain.

Results are numbered within their query's slot (`QUERY_SLOT` places per query), so an item keeps
its place, and the samples made from it their ids, when a query before it finds more or fewer
results on a later run. A URL found again by a later query is taken once, by the first.

A page that cannot be had (after its retries) ends that query for this run, with the reason kept
in the run (`visinstruct status`); the next run asks for it again. Other queries go on.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from visinstruct.records import ATTRIBUTION_KEYS
from visinstruct.sources.ingest import SourceItem
from visinstruct.sources.search.base import (
    SearchError,
    SearchFailed,
    SearchProvider,
    SearchResult,
    provider_class,
)
from visinstruct.sources.search.cache import SearchCache
from visinstruct.sources.search.client import SearchClient
from visinstruct.sources.urls import ALLOWED_TYPES

log = logging.getLogger("visinstruct.search")

#: Result places per query: a query's results are numbered within its own slot, so they keep their
#: places (and their samples their ids) when another query's results change.
QUERY_SLOT = 10_000
MAX_QUERIES = 100_000  # QUERY_SLOT × MAX_QUERIES is a source's share of the source order
MAX_PAGES = 20  # pages asked per query at most (Openverse's own pagination depth)


@dataclass(frozen=True)
class Query:
    index: int  # its place among the source's queries: its results are numbered in its slot
    text: str
    domain: str | None


def plan_queries(spec: Any, catalog: Mapping[str, Any], domain: str | None = None) -> list[Query]:
    """The source's queries in order; SearchError for a domain not in the catalog or without keywords."""
    texts: list[tuple[str, str | None]] = [(q, domain) for q in spec.queries]
    for name in spec.domains:
        d = catalog.get(name)
        if d is None:
            raise SearchError(f"search domain {name!r} is not in the domain catalog")
        if not d.keywords:
            raise SearchError(
                f"search domain {name!r} has no `keywords:` in its catalog file ({d.source}); "
                "add some there, or give the source `queries:`"
            )
        texts += [(k, name) for k in d.keywords]
    if len(texts) > MAX_QUERIES:
        raise SearchError(f"the search source has {len(texts):,} queries, more than {MAX_QUERIES:,}")
    return [Query(i, text, dom) for i, (text, dom) in enumerate(texts)]


def _expand(value: str | None, name: str) -> str | None:
    """A recipe string with `${VAR:-default}` filled in from the environment."""
    from visinstruct.errors import VisinstructError
    from visinstruct.models.endpoints import expand_env

    if not value:
        return None
    try:
        return expand_env(value) or None
    except VisinstructError as e:
        raise SearchError(f"{name}: {e}") from None


def make_provider(spec: Any, env: Mapping[str, str] | None = None) -> SearchProvider:
    """The provider the spec names, with its key from the environment (never from the recipe)."""
    env = os.environ if env is None else env
    cls = provider_class(spec.provider)
    var = spec.key_env or cls.token_env
    token = env.get(var) if var else None
    if spec.key_env and not token:
        raise SearchError(
            f"search provider {spec.provider!r}: the environment variable {spec.key_env} (key_env) is not set"
        )
    base_url = _expand(spec.base_url, "base_url")
    if base_url is not None and urlsplit(base_url).scheme.lower() not in ("http", "https"):
        raise SearchError(f"base_url {base_url!r} is not an http(s) URL")
    try:
        return cls(base_url=base_url, token=token or None, **spec.options)
    except TypeError as e:
        raise SearchError(f"search provider {spec.provider!r}: options: {e}") from None


def check(spec: Any, catalog: Mapping[str, Any], domain: str | None = None) -> None:
    """Raise the one-line SearchError for a search source that cannot run, before anything is sent."""
    plan_queries(spec, catalog, domain)
    make_provider(spec)
    _expand(spec.contact, "contact")


def wanted(result: SearchResult, licenses: list[str]) -> bool:
    """Under the license filter, and a file the URL source will take (not SVG, PDF, video)."""
    if result.license not in licenses:
        return False
    return result.mime is None or result.mime.lower() in ALLOWED_TYPES


def item_of(result: SearchResult, query: Query, provider: str) -> SourceItem:
    """A URL item of one result, its attribution (records.ATTRIBUTION_KEYS) in its provenance."""
    found = result.to_dict()
    prov: dict[str, Any] = {
        "source": "search",
        "search_provider": provider,
        "query": query.text,
        "search_domain": query.domain,
        "result_id": result.result_id,
        **{k: found[k] for k in ATTRIBUTION_KEYS if k in found},
    }
    return SourceItem(ref=result.url, url=result.url, domain=query.domain, provenance=prov)


async def results(
    client: SearchClient, query: str, licenses: list[str], per_query: int, page_size: int | None = None
) -> AsyncIterator[SearchResult]:
    """The first `per_query` wanted results of `query`, page after page; SearchFailed when a page
    cannot be had."""
    provider = client.provider
    size = page_size or provider.page_size(per_query if provider.filters_licenses else 2 * per_query)
    cursor: Any = None
    kept = 0
    for number in range(1, MAX_PAGES + 1):
        page = await client.page(query, licenses, size, cursor, number)
        for r in page.results:
            if wanted(r, licenses):
                yield r
                kept += 1
                if kept >= per_query:
                    return
        if page.next is None or not page.results:
            return
        cursor = page.next


async def search_items(
    spec: Any,
    catalog: Mapping[str, Any],
    db: sqlite3.Connection | None,
    domain: str | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[int, SourceItem]]:
    """(place in the source, item) of every result of a `search:` source, in query order."""
    queries = plan_queries(spec, catalog, domain)
    provider = make_provider(spec, env)
    client = SearchClient(
        provider,
        SearchCache(db),
        min_interval=spec.min_interval,
        retries=spec.retries,
        max_wait=spec.max_wait,
        contact=_expand(spec.contact, "contact"),
    )
    seen: set[str] = set()
    try:
        for q in queries:
            k = 0
            try:
                async for r in results(client, q.text, list(spec.licenses), spec.per_keyword, spec.page_size):
                    place, k = q.index * QUERY_SLOT + k, k + 1
                    if r.url in seen:
                        continue
                    seen.add(r.url)
                    yield place, item_of(r, q, provider.name)
            except SearchFailed as e:
                log.warning("search: %s (asked again by the next run)", e)
    finally:
        await client.aclose()


def planned_items(spec: Any, catalog: Mapping[str, Any], domain: str | None = None) -> Iterator[SourceItem]:
    """Stand-ins for the results a search source may bring, as many as it may bring, for an
    estimate made without searching (their URLs are never fetched)."""
    for q in plan_queries(spec, catalog, domain):
        for k in range(spec.per_keyword):
            url = f"https://search.invalid/{spec.provider}/{q.index}/{k}"
            yield SourceItem(ref=url, url=url, domain=q.domain, provenance={"source": "search"})
