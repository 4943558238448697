"""Licensed image search as a source: Openverse, Wikimedia Commons, and providers of your own.

    sources:
      - search: {provider: openverse, domains: [landmark, artwork], per_keyword: 20,
                 licenses: [cc0, by, by-sa]}

`base.py` is the interface (a provider builds requests and parses responses; `register` makes one
known by name), `client.py` the one HTTP client (polite rate, `Retry-After`, retries), `cache.py`
the result pages kept in the run, `collect.py` a recipe source's queries and items, `licenses.py`
the license codes. See docs/collect.md.
"""

from visinstruct.sources.search.base import (
    PROVIDERS,
    SearchError,
    SearchFailed,
    SearchPage,
    SearchProvider,
    SearchRequest,
    SearchResult,
    credit_line,
    provider_class,
    register,
)
from visinstruct.sources.search.client import SearchClient, retry_after
from visinstruct.sources.search.collect import (
    QUERY_SLOT,
    check,
    make_provider,
    plan_queries,
    planned_items,
    results,
    search_items,
)
from visinstruct.sources.search.licenses import (
    DEFAULT_LICENSES,
    LICENSE_GROUPS,
    LICENSES,
    expand_licenses,
    normalise_license,
)

__all__ = [
    "DEFAULT_LICENSES",
    "LICENSES",
    "LICENSE_GROUPS",
    "PROVIDERS",
    "QUERY_SLOT",
    "SearchClient",
    "SearchError",
    "SearchFailed",
    "SearchPage",
    "SearchProvider",
    "SearchRequest",
    "SearchResult",
    "check",
    "credit_line",
    "expand_licenses",
    "make_provider",
    "normalise_license",
    "plan_queries",
    "planned_items",
    "provider_class",
    "register",
    "results",
    "retry_after",
    "search_items",
]
