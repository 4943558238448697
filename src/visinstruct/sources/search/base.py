"""The search-source interface: a provider turns a query into a request and a response into results.

A provider is two small functions, as a model task is: `request(query, ...)` says what to GET,
`parse(body)` turns the JSON body into a `SearchPage` of `SearchResult`s and the cursor of the next
page. Everything about HTTP (the polite request rate, `429` with `Retry-After`, retries, the cache
of result pages in the run's SQLite store) is one client for every provider (`client.py`), so no
provider builds its own HTTP client, and changing `parse` never re-sends a request.

Providers are found by name: the built-in ones (`openverse`, `commons`), classes given to
`register`, entry points of group `visinstruct.search_providers`, or a `module:Class` path.

License codes and their reading are in `licenses.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import import_module
from typing import Any, ClassVar

from visinstruct.plugins import load_reference
from visinstruct.sources.ingest import SourceError
from visinstruct.sources.search.licenses import license_name, license_url

ENTRY_POINTS = "visinstruct.search_providers"


class SearchError(SourceError):
    """A search source cannot be set up (an unknown provider, a missing key): names it and why."""


class SearchFailed(Exception):
    """One request of a search failed for good (after its retries): the reason is the message."""


@dataclass
class SearchResult:
    """One image a provider found, with what its license asks to be credited."""

    url: str  # the image file to download
    license: str | None  # a code of LICENSES (or the provider's own name for another license)
    license_version: str | None = None
    license_url: str | None = None
    creator: str | None = None
    creator_url: str | None = None
    title: str | None = None
    source_page: str | None = None  # the page that shows the work and its license
    provider: str = ""
    result_id: str | None = None  # the provider's id of the work
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    credit: str | None = None  # a ready credit line ("Title" by Creator is licensed under ...)

    def __post_init__(self) -> None:
        if self.license_url is None:
            self.license_url = license_url(self.license, self.license_version)
        if self.credit is None:
            self.credit = credit_line(self.title, self.creator, self.license, self.license_version)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def credit_line(title: str | None, creator: str | None, code: str | None, version: str | None) -> str:
    """A TASL credit line: title, author, source's license ("Eiffel Tower" by Ann is licensed
    under CC BY 4.0). Public-domain works are "marked with" rather than "licensed under"."""
    work = f"\u201c{title}\u201d" if title else "This work"
    by = f" by {creator}" if creator else ""
    verb = "is marked with" if code in ("cc0", "pdm") else "is licensed under"
    return f"{work}{by} {verb} {license_name(code, version)}."


@dataclass
class SearchRequest:
    """One GET a provider wants: the URL and its query parameters (never a key)."""

    url: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class SearchPage:
    """One page of results and the cursor of the next page (None after the last)."""

    results: list[SearchResult]
    next: Any = None
    total: int | None = None


class SearchProvider:
    """Base of every search provider; see the module docstring.

    A subclass sets `name` and `base_url` (the public endpoint, used when the recipe gives no
    `base_url:`) and writes `request` and `parse`. `options` are the recipe's `options:` for it.
    """

    name: ClassVar[str] = ""
    base_url: ClassVar[str] = ""
    token_env: ClassVar[str | None] = None  # the environment variable read for a key by default
    max_page_size: ClassVar[int] = 50  # the most results a page may ask for without a key
    max_page_size_keyed: ClassVar[int | None] = None  # ... and with one (None: the same)
    min_interval: ClassVar[float] = 1.0  # seconds between requests unless the recipe says
    min_interval_keyed: ClassVar[float | None] = None
    filters_licenses: ClassVar[bool] = False  # the server applies the license filter itself
    option_names: ClassVar[tuple[str, ...]] = ()  # the recipe `options:` it reads

    def __init__(self, base_url: str | None = None, token: str | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            known = ", ".join(self.option_names) or "none"
            raise TypeError(f"unknown option {unknown[0]!r} of {self.name} (known: {known})")
        self.endpoint = (base_url or self.base_url).rstrip("/")
        self.token = token
        self.options = options

    def headers(self) -> dict[str, str]:
        """Headers every request carries (a bearer token when there is a key)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def page_size(self, wanted: int) -> int:
        """Results to ask for per page when `wanted` are wanted per query."""
        most = self.max_page_size_keyed if self.token and self.max_page_size_keyed else self.max_page_size
        return max(1, min(wanted, most))

    def interval(self) -> float:
        if self.token and self.min_interval_keyed is not None:
            return self.min_interval_keyed
        return self.min_interval

    def request(self, query: str, licenses: list[str], page_size: int, cursor: Any) -> SearchRequest:
        """The GET for one page of `query` (`cursor` None for the first page)."""
        raise NotImplementedError

    def parse(self, body: Any) -> SearchPage:
        """The results of one response body (parsed JSON); ValueError when it is not one."""
        raise NotImplementedError


PROVIDERS: dict[str, type[SearchProvider]] = {}
#: The built-in providers, imported when first named.
BUILTIN = {
    "openverse": "visinstruct.sources.search.openverse:Openverse",
    "commons": "visinstruct.sources.search.commons:Commons",
}


def register(cls: type[SearchProvider]) -> type[SearchProvider]:
    """Make a provider class known by its `name` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, SearchProvider)) or not cls.name:
        raise TypeError(f"{cls!r} is not a SearchProvider with a name")
    PROVIDERS[cls.name] = cls
    return cls


def provider_class(ref: str) -> type[SearchProvider]:
    """The provider a recipe names: a registered name, an entry point or `module:Class`."""
    if ref in PROVIDERS:
        return PROVIDERS[ref]
    target: Any = None
    if ref in BUILTIN:
        module, _, attr = BUILTIN[ref].partition(":")
        target = getattr(import_module(module), attr)
    else:
        target = load_reference(ref, ENTRY_POINTS, "search provider", SearchError)
        if target is None:
            known = ", ".join(sorted({*BUILTIN, *PROVIDERS}))
            raise SearchError(f"unknown search provider {ref!r} (known: {known}; or give module:Class)")
    if not (isinstance(target, type) and issubclass(target, SearchProvider)):
        raise SearchError(f"search provider {ref!r} is not a SearchProvider class")
    return target
