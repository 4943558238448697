"""Named model endpoints: which server, which model, how fast, how priced.

A recipe names endpoints (e.g. a VLM for captions and a cheaper LLM for instructions).
Keys are never written in a recipe: an endpoint names the environment variable that holds
its key, and any string may use `${VAR}` or `${VAR:-default}` to read the environment.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from visinstruct.errors import VisinstructError

Provider = Literal["openai", "azure", "vllm", "sglang", "ollama", "lmdeploy"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "vllm": "http://127.0.0.1:8000/v1",
    "sglang": "http://127.0.0.1:30000/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "lmdeploy": "http://127.0.0.1:23333/v1",
}
# how each server takes structured output best (all accept OpenAI's json_schema today)
DEFAULT_STRUCTURED: dict[str, str] = {
    "openai": "json_schema",
    "azure": "json_schema",
    "vllm": "json_schema",
    "sglang": "json_schema",
    "ollama": "json_schema",
    "lmdeploy": "json_schema",
}
# servers that take `"strict": true` with a JSON schema (others may reject the field)
STRICT_SCHEMA = {"openai", "azure", "vllm", "sglang"}
ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class EndpointError(VisinstructError):
    """An endpoint is misconfigured (missing key, base URL)."""


def expand_env(value: str) -> str:
    """`${VAR}` and `${VAR:-default}` from the environment; unset without default is an error."""

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ and os.environ[name] != "":
            return os.environ[name]
        if default is not None:
            return default
        raise EndpointError(f"environment variable {name} is not set (used in {value!r})")

    return ENV.sub(sub, value)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an endpoint's base URL (it needs http or https and a host), or None."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "contains spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in 0..65535
    except ValueError as e:
        return f"cannot be parsed ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an http(s) URL"
    if not parts.hostname:
        return "is not an http(s) URL (no host)"
    return None


def _unset_variable(value: str) -> bool:
    """`value` names an environment variable that is not set and has no default."""
    return any(m.group(2) is None and not os.environ.get(m.group(1)) for m in ENV.finditer(value))


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0, description="USD per 1M input tokens")
    output: float = Field(ge=0, description="USD per 1M output tokens")


class Endpoint(BaseModel):
    """One OpenAI-compatible chat endpoint."""

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    model: str
    provider: Provider = "openai"
    base_url: str | None = None  # default by provider; may use ${VAR:-default}
    api_key_env: str | None = "OPENAI_API_KEY"  # the variable that holds the key; None: no key
    api_version: str | None = None  # Azure
    transport: Literal["aiohttp", "sdk"] = "aiohttp"  # lean HTTP path, or the official SDK
    max_in_flight: int = Field(default=64, ge=1)
    rpm: float | None = Field(default=None, gt=0, description="requests/min; default: read from headers")
    tpm: float | None = Field(default=None, gt=0, description="tokens/min; default: read from headers")
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    structured: Literal["json_schema", "json_object", "prompt", "tags"] | None = None
    image_max_side: int = Field(default=1024, ge=64)
    image_detail: Literal["low", "high", "auto"] = "auto"
    image_format: Literal["JPEG", "PNG"] = "JPEG"
    probe_limits: bool | None = None  # one request first to read rate-limit headers; default: hosted APIs
    price: Price | None = None  # default: the price table by model
    batch: bool = False  # send through the Batch API (half price, slow)

    @field_validator("base_url")
    @classmethod
    def http_url(cls, v: str | None) -> str | None:
        """A wrong URL is reported when the recipe is read, not after every request has failed.
        A URL naming a variable that is not set yet is checked when it is used."""
        if v is None or _unset_variable(v):
            return v
        url = expand_env(v)
        problem = url_problem(url)
        if problem:
            shown = f"{v!r}" if url == v else f"{v!r} (= {url!r})"
            raise ValueError(f"{shown} {problem}")
        return v

    def resolved_base_url(self) -> str:
        url = self.base_url or DEFAULT_BASE_URLS.get(self.provider)
        if not url:
            raise EndpointError(f"endpoint {self.name!r}: base_url is required for provider {self.provider}")
        resolved = expand_env(url)
        problem = url_problem(resolved)
        if problem:
            raise EndpointError(f"endpoint {self.name!r}: base_url {resolved!r} {problem}")
        return resolved.rstrip("/")

    def resolved_model(self) -> str:
        return expand_env(self.model)

    def api_key(self) -> str:
        """The key from the environment; local servers accept any key."""
        if not self.api_key_env:
            return "none"
        key = os.environ.get(self.api_key_env, "")
        if key:
            return key
        if self.provider in ("openai", "azure"):
            raise EndpointError(
                f"endpoint {self.name!r}: set the API key in the environment variable {self.api_key_env}"
            )
        return "none"

    def probes_limits(self) -> bool:
        """Hosted APIs limit rates: learn the limits from one response before sending many."""
        if self.rpm or self.tpm:
            return False
        return self.probe_limits if self.probe_limits is not None else self.provider in ("openai", "azure")

    def structured_mode(self) -> str:
        return self.structured or DEFAULT_STRUCTURED[self.provider]

    def strict_schema(self) -> bool:
        """The server decodes strictly to a JSON schema when asked (`"strict": true`)."""
        return self.provider in STRICT_SCHEMA

    def describe(self) -> str:
        try:
            where = self.resolved_base_url()
        except EndpointError:
            where = "?"
        return f"endpoint {self.name!r} ({self.model} at {where})"


@cache
def builtin_prices() -> dict[str, Price]:
    text = resources.files("visinstruct.models").joinpath("prices.yaml").read_text("utf-8")
    return {k: Price(**v) for k, v in (yaml.safe_load(text) or {}).items()}


def price_for(endpoint: Endpoint, table: dict[str, Price] | None = None) -> Price:
    """The endpoint's own price, else the table's entry for its model (longest prefix), else free."""
    if endpoint.price is not None:
        return endpoint.price
    prices = {**builtin_prices(), **(table or {})}
    model = endpoint.resolved_model()
    if model in prices:
        return prices[model]
    # dated snapshots ("gpt-4o-mini-2024-07-18") take their family's price
    best = max((k for k in prices if model.startswith(k)), key=len, default=None)
    return prices[best] if best else Price(input=0.0, output=0.0)


def load_prices(path: str) -> dict[str, Price]:
    """A user price table (YAML: model: {input, output} in USD per 1M tokens)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        return {k: Price(**v) for k, v in data.items()}
    except (OSError, yaml.YAMLError, TypeError, ValueError) as e:
        raise EndpointError(f"{path}: cannot read price table ({e})") from None


def named(endpoints: Any) -> Any:
    """`endpoints:` of a config file with each endpoint given its key as `name` (before validation)."""
    if isinstance(endpoints, dict):
        return {k: ({**e, "name": k} if isinstance(e, dict) else e) for k, e in endpoints.items()}
    return endpoints
