"""The one HTTP client of every search provider: polite rate, `Retry-After`, retries, the page cache.

Requests go out one at a time per source, at least `min_interval` seconds apart. A `429 Too Many
Requests` (or `503`) is answered by waiting as long as its `Retry-After` header says (seconds or an
HTTP date; RFC 9110 §10.2.3), then asking again: a retry, not a failure. Without the header, and
after a server error, a refused connection or a time-out, the wait doubles from 2 s (at most 60 s).
A wait longer than `max_wait`, or more than `retries` retries, fails the page with the reason;
other 4xx answers fail it at once. Pages that parsed are cached (see `cache.py`) and never asked
again; a failed page is asked again by the next run.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from visinstruct.sources.search.base import SearchFailed, SearchPage, SearchProvider
from visinstruct.sources.search.cache import SearchCache, request_key
from visinstruct.sources.urls import USER_AGENT

if TYPE_CHECKING:
    import aiohttp

MAX_BODY = 32 * 1024 * 1024  # a search response larger than this is refused
FIRST_BACKOFF = 2.0
MAX_BACKOFF = 60.0
_RETRY_STATUS = (429, 503)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delay-seconds or an HTTP date), or None."""
    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    base = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - base)


class SearchClient:
    """Fetches a provider's result pages; see the module docstring."""

    def __init__(
        self,
        provider: SearchProvider,
        cache: SearchCache | None = None,
        *,
        min_interval: float | None = None,
        retries: int = 5,
        max_wait: float = 300.0,
        timeout: float = 30.0,
        contact: str | None = None,
    ) -> None:
        self.provider = provider
        self.cache = cache or SearchCache(None)
        self.min_interval = provider.interval() if min_interval is None else min_interval
        self.retries = retries
        self.max_wait = max_wait
        self.timeout = timeout
        self.user_agent = f"{USER_AGENT} ({contact})" if contact else USER_AGENT
        self._session: aiohttp.ClientSession | None = None
        self._next_at = 0.0
        self.sent = 0  # requests sent by this client
        self.retried = 0  # of which retries

    async def page(
        self, query: str, licenses: list[str], page_size: int, cursor: Any, number: int
    ) -> SearchPage:
        """Page `number` (from 1) of `query`: from the cache, else from the provider."""
        req = self.provider.request(query, licenses, page_size, cursor)
        key = request_key(self.provider.name, req.url, req.params)
        body = self.cache.get(key)
        if body is not None:
            return self.provider.parse(json.loads(body))
        name = self.provider.name
        try:
            text, page, sent, retried = await self._fetch(req.url, req.params)
        except SearchFailed as e:
            reason, sent, retried = e.args
            self.cache.put(key, name, query, number, error=reason, requests=sent, retries=retried)
            raise SearchFailed(f"{name} {query!r} page {number}: {reason}") from None
        self.cache.put(key, name, query, number, body=text, requests=sent, retries=retried)
        return page

    async def _fetch(self, url: str, params: dict[str, str]) -> tuple[str, SearchPage, int, int]:
        import aiohttp

        session = self._client()
        sent = retried = 0
        backoff = FIRST_BACKOFF
        while True:
            wait = self._next_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_at = time.monotonic() + self.min_interval
            sent += 1
            self.sent += 1
            why: str
            delay: float | None
            try:
                async with session.get(url, params=params) as resp:
                    status = resp.status
                    if status == 200:
                        try:
                            text = await _read(resp)
                            return text, self.provider.parse(json.loads(text)), sent, retried
                        except ValueError as e:
                            raise SearchFailed(f"the response cannot be read ({e})", sent, retried) from None
                    text = await _read(resp, 64 * 1024, truncate=True)
                    why = f"HTTP {status}{_detail(text)}"
                    if status in _RETRY_STATUS:
                        delay = retry_after(resp.headers.get("Retry-After"))
                    elif status >= 500:
                        delay = None
                    else:
                        raise SearchFailed(why, sent, retried)
            except SearchFailed:
                raise
            except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
                why, delay = f"timed out after {self.timeout:g} s", None
            except aiohttp.ClientConnectorError as e:
                why, delay = f"cannot connect to {e.host}:{e.port}", None
            except (aiohttp.ClientError, OSError) as e:
                why, delay = f"request failed ({type(e).__name__}: {e})", None
            if retried >= self.retries:
                raise SearchFailed(f"{why}, after {retried} retries", sent, retried)
            if delay is None:
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            if delay > self.max_wait:
                raise SearchFailed(
                    f"{why}: the server asks to wait {delay:g} s, more than max_wait ({self.max_wait:g} s)",
                    sent,
                    retried,
                )
            retried += 1
            self.retried += 1
            self._next_at = max(self._next_at, time.monotonic() + delay)

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None:
            headers = {"User-Agent": self.user_agent, "Accept": "application/json", **self.provider.headers()}
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read(resp: aiohttp.ClientResponse, limit: int = MAX_BODY, truncate: bool = False) -> str:
    """The body as text; ValueError past `limit` bytes (or the first `limit` with `truncate`)."""
    if not truncate and resp.content_length is not None and resp.content_length > limit:
        raise ValueError(f"{resp.content_length} bytes, more than {limit}")
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(1 << 16):
        buf += chunk
        if len(buf) > limit:
            if truncate:
                break
            raise ValueError(f"more than {limit} bytes")
    return buf.decode(resp.charset or "utf-8", "replace")


def _detail(text: str) -> str:
    """The reason an API gives in an error body: Openverse's `detail`, MediaWiki's `error.info`."""
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    detail: Any = None
    if isinstance(body, dict):
        detail = body.get("detail")
        if detail is None and isinstance(body.get("error"), dict):
            detail = body["error"].get("info")
    if detail is None:
        return ""
    return f": {str(detail)[:200]}"
