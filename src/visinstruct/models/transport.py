"""Sending one chat request: a lean aiohttp path, or the official `openai` SDK.

Both return the response as a plain dict (the chat.completion JSON) with its headers,
and both fail with the SDK's own exception classes (`openai.RateLimitError`,
`openai.AuthenticationError`, `openai.APITimeoutError`, …), so callers handle one set of
errors whichever path is configured. The lean path exists because the SDK costs several
times more CPU per request than the HTTP exchange itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import openai
import orjson

try:  # the SDK's HTTP library: httpx2 from openai 3 on, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed SDK
    import httpx  # type: ignore[no-redef]

from visinstruct.models.endpoints import Endpoint

STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def status_error(status: int, body: bytes, headers: Mapping[str, str], url: str) -> openai.APIStatusError:
    """The SDK's exception for an HTTP error status, with the server's message."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = body.decode("utf-8", "replace")[:500]
    err = parsed.get("error") if isinstance(parsed, dict) else None
    message = err.get("message") if isinstance(err, dict) else (str(err or parsed) or f"HTTP {status}")
    response = httpx.Response(status, headers=dict(headers), content=body, request=httpx.Request("POST", url))
    cls = STATUS_ERRORS.get(status) or (
        openai.InternalServerError if status >= 500 else openai.APIStatusError
    )
    return cls(message, response=response, body=err if err is not None else parsed)


class MalformedResponse(openai.APIResponseValidationError):
    """A 2xx whose body is not a chat completion (broken JSON, missing choices)."""


class AiohttpTransport:
    """POSTs pre-serialised JSON over one keep-alive aiohttp session per endpoint."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        base = endpoint.resolved_base_url()
        key = endpoint.api_key()
        if endpoint.provider == "azure":
            version = endpoint.api_version or "2024-10-21"
            deployment = endpoint.resolved_model()
            self.url = f"{base}/openai/deployments/{deployment}/chat/completions?api-version={version}"
            self.headers = {"api-key": key, "Content-Type": "application/json"}
        else:
            self.url = f"{base}/chat/completions"
            self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(total=endpoint.timeout)

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.endpoint.max_in_flight, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=True
        )
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, json_serialize=lambda o: orjson.dumps(o).decode()
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def chat(self, body: bytes) -> tuple[dict, Mapping[str, str]]:
        assert self.session is not None, "transport not opened"
        try:
            async with self.session.post(self.url, data=body, headers=self.headers) as r:
                raw = await r.read()
                status, headers = r.status, r.headers
        except asyncio.TimeoutError:
            raise openai.APITimeoutError(request=httpx.Request("POST", self.url)) from None
        except aiohttp.ClientError as e:
            raise openai.APIConnectionError(
                message=f"Connection error: {e}", request=httpx.Request("POST", self.url)
            ) from None
        if status >= 400:
            raise status_error(status, raw, headers, self.url)
        return parse_completion(raw, status, headers, self.url), headers


def parse_completion(raw: bytes, status: int, headers: Mapping[str, str], url: str) -> dict:
    try:
        data = orjson.loads(raw)
        data["choices"][0]["message"]  # noqa: B018 - shape check
        return data
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        response = httpx.Response(
            status, headers=dict(headers), content=raw, request=httpx.Request("POST", url)
        )
        raise MalformedResponse(
            response=response,
            body=raw[:200].decode("utf-8", "replace"),
            message="the server's response is not a chat completion",
        ) from None


class SDKTransport:
    """The official `openai` SDK (`AsyncOpenAI` / `AsyncAzureOpenAI`), retries left to the client."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.client: openai.AsyncOpenAI | None = None

    async def open(self) -> None:
        e = self.endpoint
        if e.provider == "azure":
            self.client = openai.AsyncAzureOpenAI(
                azure_endpoint=e.resolved_base_url(),
                api_key=e.api_key(),
                api_version=e.api_version or "2024-10-21",
                max_retries=0,
                timeout=e.timeout,
            )
        else:
            self.client = openai.AsyncOpenAI(
                base_url=e.resolved_base_url(), api_key=e.api_key(), max_retries=0, timeout=e.timeout
            )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def chat(self, body: bytes) -> tuple[dict, Mapping[str, str]]:
        assert self.client is not None, "transport not opened"
        kwargs = orjson.loads(body)
        raw = await self.client.chat.completions.with_raw_response.create(**kwargs)
        headers = raw.headers
        return parse_completion(raw.content, raw.status_code, headers, str(raw.http_request.url)), headers


def make_transport(endpoint: Endpoint) -> Any:
    """How requests reach the endpoint: HTTP (aiohttp or the SDK), or for `vllm-offline`
    small Ray Data jobs of the requests made one at a time (repairs, more room)."""
    if endpoint.offline:
        from visinstruct.models.offline import OfflineTransport

        return OfflineTransport(endpoint)
    return SDKTransport(endpoint) if endpoint.transport == "sdk" else AiohttpTransport(endpoint)
