"""The augmentation config (YAML → pydantic): templates, endpoints, directives, generation,
filters. A wrong config fails with one line naming the file and the field. Endpoints are
written exactly as in a recipe's `endpoints:`; keys come only from environment variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from visinstruct.augment.filters import FilterSettings
from visinstruct.errors import VisinstructError
from visinstruct.models.endpoints import Endpoint, expand_env, named
from visinstruct.recipe import at_most_max_count, read_yaml, validate

Mode = Literal["temperatures", "iterative", "both"]
MODES: tuple[Mode, ...] = ("temperatures", "iterative", "both")


class ConfigError(VisinstructError):
    """The augmentation config is wrong."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateSource(Strict):
    """Exactly one of: a template file, a synthetic domain's phrasings, a catalog domain's seeds."""

    file: str | None = None
    format: Literal["auto", "yaml", "tsv", "multiinstruct"] = "auto"
    synth: str | None = None
    seeds: str | None = None
    keys: list[str] | None = Field(default=None, description="phrasing keys (synth) or families (seeds)")

    @model_validator(mode="after")
    def exactly_one(self) -> TemplateSource:
        given = [k for k in ("file", "synth", "seeds") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of file, synth, seeds")
        return self


class GenerationSpec(Strict):
    mode: Mode = "temperatures"
    temperatures: list[float] = Field(
        default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], min_length=1, description="the sampling grid"
    )
    iterative_temperature: float = Field(default=0.7, ge=0, le=2)
    rounds: int = Field(default=3, ge=1, le=50, description="rephrasing rounds (iterative, both)")
    target: Annotated[float, AfterValidator(at_most_max_count)] = Field(
        default=30, gt=1, description="stop a task at this many templates per original"
    )
    directives_per_parent: int | None = Field(default=None, ge=1, description="default: every directive")
    max_tokens: int = Field(default=256, ge=16)

    @field_validator("temperatures")
    @classmethod
    def in_range(cls, v: list[float]) -> list[float]:
        for t in v:
            if not 0 <= t <= 2:
                raise ValueError(f"temperature {t} is outside 0..2")
        return sorted(dict.fromkeys(v))


class FilterSpec(Strict):
    min_length_ratio: float = Field(default=0.5, ge=0)
    max_length_ratio: float = Field(default=2.0, gt=0)
    length_slack: int = Field(default=8, ge=0)
    max_similarity: float = Field(default=0.8, gt=0, le=1)
    language: bool = True

    def settings(self) -> FilterSettings:
        return FilterSettings(**self.model_dump())


class AugmentConfig(Strict):
    name: str = "augment"
    seed: int = 0
    templates: list[TemplateSource] = Field(min_length=1)
    tasks: list[str] | None = Field(default=None, description="only these tasks")
    languages: list[Literal["en", "zh"]] | None = Field(default=None, min_length=1)
    domains_dir: list[str] = Field(default_factory=list, description="extra catalog domains (seeds)")
    endpoints: dict[str, Endpoint] = Field(min_length=1)
    endpoint: str | None = Field(default=None, description="which endpoint rewrites; default: the first")
    directives: list[str] | None = Field(default=None, description="directive names to use; default: all")
    directives_file: str | None = None
    propose_directives: int = Field(default=0, ge=0, le=50, description="new directives asked of the model")
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    filters: FilterSpec = Field(default_factory=FilterSpec)
    cache: str | None = Field(default=None, description="response cache file; default: <out>/cache.db")
    budget_usd: float | None = Field(default=None, gt=0)
    prices: str | None = None

    @field_validator("templates", mode="before")
    @classmethod
    def paths_as_sources(cls, v: Any) -> Any:
        # `- tasks.yaml` is short for `- {file: tasks.yaml}`
        if isinstance(v, list):
            return [{"file": s} if isinstance(s, str) else s for s in v]
        return v

    @field_validator("endpoints", mode="before")
    @classmethod
    def named_endpoints(cls, v: Any) -> Any:
        return named(v)

    @model_validator(mode="after")
    def known_endpoint(self) -> AugmentConfig:
        if self.endpoint is None:
            self.endpoint = next(iter(self.endpoints))
        elif self.endpoint not in self.endpoints:
            raise ValueError(
                f"endpoint {self.endpoint!r} is not in endpoints (defined: {', '.join(self.endpoints)})"
            )
        return self

    def path(self, value: str) -> Path:
        """A path from the config: `${VAR:-default}` expanded, relative to where visinstruct runs."""
        return Path(expand_env(value))


def parse_config(data: Any, source: str = "config") -> AugmentConfig:
    """Validate a config mapping; raises ConfigError with one line naming the field."""
    return validate(AugmentConfig, data, source, "the config", ConfigError)


def load_config(path: str | Path) -> AugmentConfig:
    """Read and validate a YAML augmentation config."""
    return parse_config(read_yaml(path, "config", ConfigError), str(path))
