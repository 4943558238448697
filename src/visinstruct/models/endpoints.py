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
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from visinstruct.errors import VisinstructError

Provider = Literal["openai", "azure", "vllm", "sglang", "ollama", "lmdeploy", "vllm-offline"]
# vLLM engines on Ray workers through Ray Data's LLM processor: no server, no base URL
OFFLINE = "vllm-offline"
# the endpoint fields only `vllm-offline` takes (its engine and processor settings)
OFFLINE_OPTIONS = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "concurrency",
    "batch_size",
    "max_model_len",
    "gpu_memory_utilization",
    "max_concurrent_batches",
    "accelerator_type",
    "engine_kwargs",
)
# engine settings that have their own endpoint field (or are the endpoint's model)
OWN_ENGINE_FIELDS = {"model", "tensor_parallel_size", "pipeline_parallel_size", "max_model_len"}
OWN_ENGINE_FIELDS |= {"gpu_memory_utilization"}

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
    OFFLINE: "json_schema",  # guided decoding to the schema
}
# servers that take `"strict": true` with a JSON schema (others may reject the field)
STRICT_SCHEMA = {"openai", "azure", "vllm", "sglang", OFFLINE}
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
    # provider vllm-offline only: the vLLM engine and Ray Data processor (docs/ray.md)
    tensor_parallel_size: int | None = Field(default=None, ge=1, description="GPUs per engine")
    pipeline_parallel_size: int | None = Field(default=None, ge=1)
    concurrency: int | tuple[int, int] | None = Field(
        default=None, description="engines (Ray actors): n, or [min, max] to autoscale"
    )
    batch_size: int | None = Field(default=None, ge=1, description="rows handed to an engine at once")
    max_model_len: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    max_concurrent_batches: int | None = Field(default=None, ge=1)
    accelerator_type: str | None = None  # e.g. "L4", "A100"
    engine_kwargs: dict[str, Any] | None = None  # other vllm.AsyncEngineArgs fields

    @field_validator("concurrency")
    @classmethod
    def engines(cls, v: int | tuple[int, int] | None) -> int | tuple[int, int] | None:
        if isinstance(v, int) and v < 1:
            raise ValueError(f"must be at least 1, got {v}")
        if isinstance(v, tuple) and not 1 <= v[0] <= v[1]:
            raise ValueError(f"[min, max] needs 1 <= min <= max, got [{v[0]}, {v[1]}]")
        return v

    @model_validator(mode="after")
    def offline_options(self) -> Endpoint:
        """`vllm-offline` runs the model on Ray workers: it names a model and no server, and
        its engine options are meaningless to an HTTP endpoint."""
        if self.provider != OFFLINE:
            given = [f for f in OFFLINE_OPTIONS if getattr(self, f) is not None]
            if given:
                raise ValueError(
                    f"{given[0]} is an option of provider {OFFLINE} only (this endpoint's provider "
                    f"is {self.provider})"
                )
            return self
        if not self.model.strip():
            raise ValueError(f"provider {OFFLINE} needs `model`: a local weights path or a hub name")
        if self.base_url is not None:
            raise ValueError(
                f"provider {OFFLINE} runs vLLM on Ray workers and takes no base_url "
                "(for a vLLM server use provider: vllm)"
            )
        if self.batch:
            raise ValueError(f"provider {OFFLINE} already sends a stage's requests as one job; remove batch")
        clash = sorted(OWN_ENGINE_FIELDS & set(self.engine_kwargs or {}))
        if clash:
            what = "the endpoint's model" if clash[0] == "model" else f"the endpoint's own {clash[0]}"
            raise ValueError(f"engine_kwargs.{clash[0]}: set it as {what}, not in engine_kwargs")
        return self

    @property
    def offline(self) -> bool:
        """The model runs in vLLM engines on Ray workers (no HTTP server)."""
        return self.provider == OFFLINE

    def collected(self) -> bool:
        """A stage's requests to this endpoint are collected and sent as one job (the Batch
        API, or a Ray Data job for `vllm-offline`); their answers are then read as cached."""
        return self.batch or self.offline

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

    def location(self) -> str:
        """Where the model answers: the base URL, or `ray:vllm-offline` (for the notes kept
        about an endpoint)."""
        return f"ray:{OFFLINE}" if self.offline else self.resolved_base_url()

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
        if self.offline:
            return f"endpoint {self.name!r} ({self.model} in vLLM on Ray workers)"
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
