"""YAML recipe → validated config. A wrong recipe fails with one line naming the field."""

from __future__ import annotations

import codecs
import random
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from visinstruct.errors import RecipeError, VisinstructError
from visinstruct.files import FileTooLarge, NotRegularFile, read_regular
from visinstruct.models.endpoints import Endpoint, named
from visinstruct.sources.search.collect import QUERY_SLOT
from visinstruct.sources.search.licenses import DEFAULT_LICENSES, expand_licenses
from visinstruct.synth import REGISTRY

Language = Literal["en", "zh"]
InstructionType = Literal["judgement", "multiple_choice", "short_vqa", "long_vqa"]
#: What a recipe's `types` may name: the four instruction types, and `caption` (an image's caption
#: as a sample, its instruction drawn from a pool of caption requests).
SampleType = Literal["judgement", "multiple_choice", "short_vqa", "long_vqa", "caption"]
CaptionMode = Literal["direct", "translate"]
ExportFormat = Literal[
    "jsonl",
    "llava",
    "sharegpt",
    "internvl",
    "parquet",
    "dataengine",
    "parquet-shards",
    "jsonl-shards",
    "webdataset",
]
SHARDED_FORMATS = ("parquet-shards", "jsonl-shards", "webdataset")
ALL_TYPES: list[InstructionType] = ["judgement", "multiple_choice", "short_vqa", "long_vqa"]

#: The largest count any field may ask for (items per synthetic domain, samples per quota,
#: images per source, samples per loop round, templates per original): far above any real run,
#: low enough that a typo (`charts: 1000000000000`) is refused before anything is made.
MAX_COUNT = 10_000_000

#: The most worker processes a recipe may ask for.
MAX_WORKERS = 1024

#: The most questions (or rounds) asked of the LLM in one request.
MAX_PER_REQUEST = 50

#: The largest recipe, loop file or config read (bytes); only up to one byte more is ever read.
MAX_YAML_BYTES = 4 * 1024 * 1024


def at_most_max_count(n: int | float) -> int | float:
    """A count as it is, or ValueError naming MAX_COUNT (a typo must not make a trillion items)."""
    if n > MAX_COUNT:
        raise ValueError(f"{n:,} is more than the limit of {MAX_COUNT:,} (visinstruct.recipe.MAX_COUNT)")
    return n


#: A number of items or samples: at most MAX_COUNT.
Bounded = Annotated[int, AfterValidator(at_most_max_count)]
#: A count: 0 or more, at most MAX_COUNT.
Count = Annotated[int, Field(ge=0), AfterValidator(at_most_max_count)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SynthSpec(Strict):
    """How many items (images, or image sets) one synthetic domain makes."""

    count: Count
    languages: list[Language] | None = Field(default=None, min_length=1)
    types: list[SampleType] | None = Field(default=None, min_length=1)
    llm: list[SampleType] = Field(
        default_factory=list,
        description="types the LLM also writes from the exact facts (e.g. long_vqa); `caption`: it rewrites "
        "the item's description as fluent prose, every number, label and colour checked against the facts",
    )
    categories: list[str] | None = Field(
        default=None, min_length=1, description="keep only questions of these categories (e.g. counting)"
    )
    quotas: dict[str, Bounded] = Field(
        default_factory=dict,
        description="samples wanted per category; items are made until every quota is met (at most `count`)",
    )
    realism: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="this domain's share of photographed/scanned items (default: the recipe's)",
    )

    @field_validator("quotas")
    @classmethod
    def positive_quotas(cls, v: dict[str, int]) -> dict[str, int]:
        for cat, n in v.items():
            if n < 0:
                raise ValueError(f"quota of {cat!r} must be ≥ 0, got {n}")
        return v


CodedKind = Literal["vega-lite", "svg", "html", "table"]
CODED_KINDS: list[CodedKind] = ["vega-lite", "svg", "html", "table"]


class CodedSpec(Strict):
    """Code-guided synthesis: an LLM writes a declarative spec (Vega-Lite, SVG, HTML, table
    JSON) of an image about a catalog topic; the engine validates it, draws it in a sandbox
    and computes every answer from it (docs/coded.md)."""

    count: Count = Field(description="images to make, spread over kinds and languages")
    endpoint: str = "llm"
    kinds: list[CodedKind] = Field(default_factory=lambda: list(CODED_KINDS), min_length=1)
    topics: list[str] | None = Field(
        default=None, min_length=1, description="catalog domains to draw topics from; default: all"
    )
    languages: list[Language] | None = Field(default=None, min_length=1)  # default: the recipe's
    types: list[InstructionType] | None = Field(default=None, min_length=1)  # default: the recipe's
    max_tokens: int = Field(default=4000, ge=256)
    temperature: float = Field(default=0.9, ge=0, le=2)
    render_timeout: float = Field(default=20, gt=0, le=300, description="seconds one drawing may take")

    @field_validator("kinds")
    @classmethod
    def distinct_kinds(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a kind is named twice")
        return v


class ExportSpec(Strict):
    format: ExportFormat
    out: str = Field(description="file name inside the run's exports/ folder (sharded formats: a folder)")
    include: list[Literal["accepted", "edited", "needs_review", "rejected"]] = ["accepted", "edited"]
    absolute_paths: bool = Field(False, description="absolute image paths: rows open from any directory")
    single_image: bool = Field(
        False, description="llava only: one image a row (LLaVA-1.5); the others to <stem>_multi_image.json"
    )
    shard_size: int | str | None = Field(
        None, description="sharded formats: bytes a shard, e.g. 256MB (the default) or 1GB"
    )

    @model_validator(mode="after")
    def single_image_is_llava(self) -> ExportSpec:
        if self.single_image and self.format != "llava":
            raise ValueError(f"single_image is a llava option, not one of {self.format}")
        if self.shard_size is not None:
            if self.format not in SHARDED_FORMATS:
                raise ValueError(
                    f"shard_size is an option of {', '.join(SHARDED_FORMATS)}, not of {self.format}"
                )
            from visinstruct.export.shards import parse_size

            try:
                parse_size(self.shard_size)
            except VisinstructError as e:
                raise ValueError(str(e)) from None
        if self.format == "internvl" and not self.out.endswith("jsonl"):
            raise ValueError(f"{self.out!r}: InternVL reads only annotation files whose name ends in .jsonl")
        return self

    @field_validator("out")
    @classmethod
    def inside_run(cls, v: str) -> str:
        p = PurePosixPath(v.replace("\\", "/"))
        if not v or p.is_absolute() or ".." in p.parts:
            raise ValueError(f"{v!r} must be a relative path inside the run's exports/ folder")
        return v


class RetrieveSpec(Strict):
    """Images from an embedding index: the neighbours of seed images, texts or domains."""

    index: str = Field(description="an index folder (visinstruct index build)")
    seeds: str | None = None  # a folder of seed images; its first sub-folder names the domain
    texts: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    domains: list[str] | None = Field(default=None, min_length=1)  # query by their descriptions
    language: Language = "en"  # of the domain descriptions
    k: int = Field(default=200, ge=1, le=10_000, description="neighbours per seed")
    min_similarity: float | None = Field(default=None, ge=-1, le=1)
    model: str | None = None  # default: the model the index records
    device: str = "cpu"

    @model_validator(mode="after")
    def one_kind_of_query(self) -> RetrieveSpec:
        given = [k for k in ("seeds", "texts", "domains") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of seeds, texts, domains")
        return self


class SearchSpec(Strict):
    """Images found by a licensed image search: the catalog keywords of `domains` and the
    `queries` given, `per_keyword` results each, kept only under the `licenses` named."""

    provider: str = Field(min_length=1, description="openverse, commons, a registered name or module:Class")
    domains: list[str] = Field(default_factory=list, description="catalog domains to search by keyword")
    queries: list[str] = Field(default_factory=list, description="queries of your own (domain: the source's)")
    per_keyword: int = Field(default=20, ge=1, le=QUERY_SLOT, description="results taken per query")
    licenses: list[str] = Field(default_factory=lambda: list(DEFAULT_LICENSES), min_length=1)
    base_url: str | None = None  # a mirror, a proxy, a test server
    key_env: str | None = None  # the environment variable holding the key (default: the provider's)
    page_size: int | None = Field(default=None, ge=1, le=500)
    min_interval: float | None = Field(default=None, ge=0, description="seconds between requests")
    retries: int = Field(default=5, ge=0, le=100, description="retries of a page (429, server errors)")
    max_wait: float = Field(default=300, gt=0, description="the longest Retry-After honoured, seconds")
    contact: str | None = None  # an e-mail or URL added to the User-Agent (Wikimedia asks for one)
    options: dict[str, Any] = Field(default_factory=dict, description="the provider's own options")

    @field_validator("licenses")
    @classmethod
    def known_licenses(cls, v: list[str]) -> list[str]:
        return expand_licenses(v)

    @field_validator("queries")
    @classmethod
    def real_queries(cls, v: list[str]) -> list[str]:
        out = [q.strip() for q in v]
        if any(not q for q in out):
            raise ValueError("a query is empty")
        return out

    @model_validator(mode="after")
    def has_queries(self) -> SearchSpec:
        if not self.domains and not self.queries:
            raise ValueError("give `domains:` (their catalog keywords are searched) or `queries:`")
        return self


SOURCE_KINDS = ("folder", "manifest", "hf", "urls", "search", "dataset", "retrieve")


class SourceSpec(Strict):
    """Where images come from: exactly one of folder, manifest, hf, urls, search, dataset, retrieve."""

    folder: str | None = None  # recursive; the first sub-folder names the domain
    manifest: str | None = None  # JSONL or CSV: path or url, domain, tags, text
    hf: str | None = None  # a Hugging Face dataset: a local path (or a Hub name)
    urls: str | None = None  # a text file, one image URL per line
    search: SearchSpec | None = None  # a licensed image search (Openverse, Wikimedia Commons, ...)
    dataset: str | None = None  # an open dataset (expand.READERS) read from `path`, kept as ground truth
    retrieve: RetrieveSpec | None = None  # neighbours in an embedding index
    path: str | None = None  # the dataset's folder or file
    image_root: str | None = None  # generic importers: where relative image paths point (default: beside)
    question_column: str | None = None  # generic importers: column names of a VQA table
    answer_column: str | None = None
    options_column: str | None = None
    split: str = "train"
    image_column: str = "image"
    domain_column: str | None = None
    text_column: str | None = None
    domain: str | None = None  # the domain of every image of this source
    limit: Annotated[Bounded, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> SourceSpec:
        given = [k for k in SOURCE_KINDS if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SOURCE_KINDS)}")
        if self.dataset and not self.path:
            raise ValueError(f"dataset {self.dataset!r} needs `path:` (its folder or file)")
        return self


class CaptionSpec(Strict):
    endpoint: str = "vlm"
    languages: list[Language] = Field(default_factory=lambda: ["en"], min_length=1)
    max_tokens: int = Field(default=700, ge=16)
    temperature: float = Field(default=0.2, ge=0, le=2)
    min_words: int = Field(
        default=8,
        ge=0,
        description="a shorter caption is a failure, asked again (a Chinese character is a word)",
    )


class CaptionSamplesSpec(Strict):
    """Caption samples (`caption` in `types`): one per source image and language, the instruction
    drawn (seeded by the image and language) from a pool of caption requests, the answer the
    image's caption. Per language, the caption is the VLM's own in that language (`direct`, as
    MMInstruct's Chinese captions) or the LLM's translation of the `source` language's (`translate`)."""

    languages: list[Language] | None = Field(default=None, min_length=1)  # default: the recipe's
    en: CaptionMode = "direct"
    zh: CaptionMode = "direct"
    source: Language = Field(default="en", description="the language translations are made from")
    endpoint: str = Field(default="llm", description="the endpoint that translates")
    pool: str = Field(default="bundled", description="`bundled`, or a caption request file (pool.yaml)")
    kind: Literal["detailed"] = Field(
        default="detailed", description="the kind of request drawn: the VLM writes detailed captions"
    )
    quotas: dict[Language, Count] = Field(
        default_factory=dict, description="at most this many caption samples per language, in source order"
    )
    max_tokens: int = Field(default=1500, ge=16, description="of a translation")
    temperature: float = Field(default=0.2, ge=0, le=2)

    def mode(self, lang: str) -> str:
        return str(getattr(self, lang, "direct"))

    def translated(self, langs: list[str]) -> list[str]:
        """The languages of `langs` whose captions are translations."""
        return [lang for lang in langs if self.mode(lang) == "translate"]


class InstructionSpec(Strict):
    endpoint: str = "llm"
    languages: list[Language] | None = Field(default=None, min_length=1)  # default: the recipe's
    seeds_per_prompt: int = Field(default=3, ge=0, le=10)
    per_request: dict[InstructionType, Annotated[int, Field(ge=1, le=MAX_PER_REQUEST)]] = Field(
        default_factory=lambda: {"judgement": 4, "multiple_choice": 3, "short_vqa": 3, "long_vqa": 3},
        description="questions per request (rounds for long_vqa)",
    )
    quotas: dict[str, dict[InstructionType, Count]] = Field(
        default_factory=dict, description="at most this many samples per domain × type"
    )
    max_tokens: int = Field(default=1200, ge=16)
    temperature: float = Field(default=0.7, ge=0, le=2)


class TargetSpec(Strict):
    """What to make for one benchmark category."""

    count: Count
    category: str | None = None  # the samples' category; default: the benchmark's, normalised
    domain: str | None = None  # a catalog domain: its images are preferred and its title shown


class TargetedSpec(Strict):
    """New multiple-choice questions aimed at an evaluated model's weak categories, written
    about the recipe's source images with the model's bad cases as examples."""

    endpoint: str = "llm"
    bad_cases: str = Field(description="JSONL of evaluation records (the loop writes it)")
    quotas: dict[str, TargetSpec] = Field(description="benchmark category → samples to make")
    examples: int = Field(default=2, ge=0, le=8, description="bad cases shown per request")
    similar: float = Field(default=0.5, ge=0, le=1, description="share of images chosen like a bad case's")
    languages: list[Language] | None = Field(default=None, min_length=1)
    send_image: bool = False  # also send the image (for a vision model)
    per_request: int = Field(default=1, ge=1, le=5)
    max_tokens: int = Field(default=900, ge=16)
    temperature: float = Field(default=0.7, ge=0, le=2)

    @field_validator("quotas", mode="before")
    @classmethod
    def counts_as_targets(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: ({"count": s} if isinstance(s, int) and not isinstance(s, bool) else s)
                for k, s in v.items()
            }
        return v


class VerifySpec(Strict):
    """A VLM answers each question from the image alone; disagreements go to review."""

    endpoint: str = "vlm"
    judge_endpoint: str | None = None  # compares open answers; default: the verify endpoint
    types: list[InstructionType] = Field(
        default_factory=lambda: ["judgement", "multiple_choice", "short_vqa"]
    )
    max_tokens: int = Field(default=256, ge=1)


class JudgeSpec(Strict):
    """An optional LLM-judge score (1–5) on a rubric; below `min_score` goes to review."""

    endpoint: str = "vlm"
    min_score: int = Field(default=3, ge=1, le=5)


class CaptionChecksSpec(Strict):
    """Checks of caption samples (`checks/captions.py`); a failure sends the sample to review."""

    min_length: dict[Language, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="shortest caption a VLM writes: words in English, characters in Chinese (default 200 "
        "and 200; a description of a synthetic image has its own bounds)",
    )
    max_length: dict[Language, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="longest caption (default 1000 words and 2000 characters)"
    )
    dedup: bool = Field(default=True, description="near-duplicate captions across images")
    near_duplicate_threshold: float = Field(default=0.8, gt=0, le=1, description="shingle Jaccard")

    def limits(self) -> dict[str, tuple[int | None, int | None]]:
        """language → (min, max) given by the recipe (None: the default)."""
        langs = sorted(set(self.min_length) | set(self.max_length))
        return {lang: (self.min_length.get(lang), self.max_length.get(lang)) for lang in langs}  # type: ignore[call-overload]


class ChecksSpec(Strict):
    rules: bool = True  # options, lengths, language, refusals, unfilled slots, turn consistency
    lengths: dict[InstructionType, tuple[int, int]] = Field(default_factory=dict)  # answer length bounds
    dedup: bool = True
    near_duplicate_threshold: float = Field(default=0.85, gt=0, le=1)
    image_dedup: bool = True
    image_distance: int = Field(default=4, ge=0, le=32)
    semantic_dedup: bool = Field(
        default=False, description="near-duplicate images by embedding (needs `embed:`)"
    )
    semantic_threshold: float = Field(
        default=0.95, gt=0, le=1, description="cosine similarity at or above which an image near-copies"
    )
    captions: CaptionChecksSpec = Field(default_factory=CaptionChecksSpec)
    verify: VerifySpec | None = None
    judge: JudgeSpec | None = None


class EmbedSpec(Strict):
    """The image-text embedding model (CLIP, SigLIP) a run uses where it compares images by
    meaning: the loop's similar-image pick, semantic near-duplicates, zero-shot domains."""

    model: str = Field(min_length=1, description="a save_pretrained folder or a hub-cache name")
    device: str = "cpu"  # cpu, cuda, cuda:N, mps or auto
    batch_size: int = Field(default=32, ge=1, le=4096)
    cache: str | None = Field(default=None, description="embedding cache; default: <run-dir>/embeddings.db")


class RaySpec(Strict):
    """CPU units as Ray tasks: on the cluster at `address` (`auto`: the one `ray start` made on
    this machine, or RAY_ADDRESS), else on a Ray instance of this machine started for the run."""

    address: str | None = None  # auto, ray://host:10001, host:6379; default: RAY_ADDRESS, else local
    workers: int | None = Field(default=None, ge=1, le=100_000, description="tasks at once (default: CPUs)")
    max_retries: int = Field(default=3, ge=0, le=100, description="retries of a task whose worker died")


class ExecutorSpec(Strict):
    """Where CPU units run: worker processes of this machine (the default), or a Ray cluster."""

    ray: RaySpec | None = None


DomainMethod = Literal["llm", "zero_shot"]


class AssignDomainsSpec(Strict):
    """How a source image without a domain gets one: an LLM reads its caption (`llm`), or its
    embedding is compared with each domain's description (`zero_shot`, needs `embed:`)."""

    method: DomainMethod = "llm"
    domains: list[str] | None = Field(
        default=None, min_length=1, description="the domains to choose from; default: the whole catalog"
    )
    language: Language = Field(default="en", description="zero_shot: the language of the domain texts")


class StageSpec(Strict):
    """A stage of the user's own: `use` names its class (`module:Class` or an entry point)."""

    use: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


# what does not change the dataset a recipe makes: a run directory accepts a recipe that
# differs only in these (more workers, other exports, a larger budget, more attempts)
NOT_DATASET = ("workers", "executor", "export", "budget_usd", "max_attempts", "prices")


class Recipe(Strict):
    name: str = "run"
    seed: int = 0
    languages: list[Language] = Field(default_factory=lambda: ["en"], min_length=1)
    types: list[SampleType] = Field(default_factory=lambda: list(ALL_TYPES), min_length=1)
    synthetic: dict[str, SynthSpec] = Field(default_factory=dict)
    realism: float = Field(
        default=0,
        ge=0,
        le=1,
        description="share of synthetic items shown as a photograph or scan (and how strongly)",
    )
    coded: CodedSpec | None = None  # images an LLM specifies and the engine draws
    workers: int | None = Field(
        default=None, ge=1, le=MAX_WORKERS, description="processes; default: all cores"
    )
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    export: list[ExportSpec] = Field(default_factory=list)
    sources: list[SourceSpec] = Field(default_factory=list)
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)
    caption: CaptionSpec = Field(default_factory=CaptionSpec)
    instructions: InstructionSpec = Field(default_factory=InstructionSpec)
    caption_samples: CaptionSamplesSpec = Field(default_factory=CaptionSamplesSpec)
    # a domain for a source image that has none: true (an LLM reads the caption), false,
    # `zero_shot` (the embedder compares it with the domain descriptions) or an AssignDomainsSpec
    assign_domains: bool | DomainMethod | AssignDomainsSpec = True
    domains_dir: list[str] = Field(default_factory=list, description="extra domain files or folders")
    prompts_dir: str | None = None
    cache: str | None = Field(default=None, description="response cache file; default: <run-dir>/cache.db")
    checks: ChecksSpec = Field(default_factory=ChecksSpec)
    embed: EmbedSpec | None = None  # compare images by embeddings (else by perceptual hash)
    budget_usd: float | None = Field(default=None, gt=0)
    prices: str | None = None  # a price table overriding the built-in one
    targeted: TargetedSpec | None = None  # the closed loop's questions for weak categories
    round: int = Field(default=0, ge=0, description="the loop round this run belongs to")
    stages: list[StageSpec] = Field(
        default_factory=list, description="stages of your own, run over the dataset"
    )
    max_attempts: int = Field(
        default=3, ge=1, le=100, description="attempts per unit over all runs before it gives up"
    )

    def unit_seed(self, *parts: object) -> str:
        """The seed of one unit's random choices: the recipe's seed and the unit's key, so the
        same recipe makes the same choices for the same unit on every run."""
        return ":".join(str(p) for p in (self.seed, *parts))

    def rng(self, *parts: object) -> random.Random:
        return random.Random(self.unit_seed(*parts))

    def languages_of(self, spec: Any) -> list[str]:
        """A stage's own languages, else the recipe's."""
        return list(getattr(spec, "languages", None) or self.languages)

    def fingerprint(self) -> str:
        """What the run directory records of its recipe: everything that decides the dataset."""
        import hashlib
        import json

        data = self.model_dump(mode="json", exclude=set(NOT_DATASET))
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @field_validator("stages", mode="before")
    @classmethod
    def stage_names(cls, v: Any) -> Any:
        # `- mypackage.checks:CaptionLength` is short for `- {use: mypackage.checks:CaptionLength}`
        if isinstance(v, list):
            return [{"use": x} if isinstance(x, str) else x for x in v]
        return v

    @property
    def image_sources(self) -> list[SourceSpec]:
        """Sources of images a model captions and writes about (folder, manifest, hf, urls, search,
        retrieve)."""
        return [s for s in self.sources if not s.dataset]

    @property
    def dataset_sources(self) -> list[SourceSpec]:
        """Open datasets imported with their own ground truth: no model needed."""
        return [s for s in self.sources if s.dataset]

    @property
    def domain_assignment(self) -> AssignDomainsSpec | None:
        """How domains are assigned (None: they are not)."""
        a = self.assign_domains
        if a is False:
            return None
        if isinstance(a, AssignDomainsSpec):
            return a
        return AssignDomainsSpec(method="llm" if a is True else a)

    @property
    def instruction_types(self) -> list[InstructionType]:
        """The recipe's types an LLM writes from a context (all but `caption`)."""
        return [t for t in self.types if t != "caption"]  # type: ignore[misc]

    @property
    def caption_sample_languages(self) -> list[str]:
        """The languages of the caption samples made of source images (none without `caption`)."""
        if "caption" not in self.types or not self.image_sources:
            return []
        return self.languages_of(self.caption_samples)

    @property
    def translates_captions(self) -> bool:
        """Whether some caption samples are the LLM's translations."""
        return bool(self.caption_samples.translated(self.caption_sample_languages))

    def _caption_languages(self) -> None:
        """A caption sample language written directly is one the VLM captions in (added to
        `caption.languages`); a translated one needs its source language written directly."""
        spec, langs = self.caption_samples, self.caption_sample_languages
        if not langs:
            return
        translated = spec.translated(langs)
        if spec.source in translated:
            raise ValueError(
                f"caption_samples.{spec.source}: translate, but {spec.source} is the language translations "
                "are made from (caption_samples.source); it is written by the VLM"
            )
        direct = [lang for lang in langs if lang not in translated]
        if translated and spec.source not in direct:
            direct.append(spec.source)
        for lang in direct:
            if lang not in self.caption.languages:
                self.caption.languages.append(lang)  # type: ignore[arg-type]

    def uses_llm_on_facts(self) -> bool:
        return any(s.llm for s in self.synthetic.values())

    @field_validator("endpoints", mode="before")
    @classmethod
    def named_endpoints(cls, v: Any) -> Any:
        return named(v)

    @field_validator("synthetic", mode="before")
    @classmethod
    def counts_as_specs(cls, v: Any) -> Any:
        # `charts: 40` is short for `charts: {count: 40}`
        if isinstance(v, dict):
            return {
                k: ({"count": s} if isinstance(s, int) and not isinstance(s, bool) else s)
                for k, s in v.items()
            }
        return v

    @field_validator("synthetic")
    @classmethod
    def known_domains(cls, v: dict[str, SynthSpec]) -> dict[str, SynthSpec]:
        for name in v:
            if name not in REGISTRY:
                raise ValueError(f"unknown domain {name!r} (known: {', '.join(sorted(REGISTRY))})")
        return v

    @model_validator(mode="after")
    def has_work(self) -> Recipe:
        if not self.synthetic and not self.sources and self.coded is None:
            raise ValueError(
                "the recipe makes nothing: add `synthetic:` domain counts, `coded:` or `sources:`"
            )
        if self.targeted is not None and not self.image_sources:
            raise ValueError("targeted questions are written about source images: add `sources:`")
        needed = [("caption", self.caption)] if self.image_sources else []
        self._caption_languages()
        if self.translates_captions:
            needed.append(("caption_samples", self.caption_samples))
        if self.image_sources or self.uses_llm_on_facts():
            needed.append(("instructions", self.instructions))
        if self.targeted is not None:
            needed.append(("targeted", self.targeted))
        if self.coded is not None:
            needed.append(("coded", self.coded))
        if self.checks.verify is not None:
            needed.append(("checks.verify", self.checks.verify))
        if self.checks.judge is not None:
            needed.append(("checks.judge", self.checks.judge))
        assignment = self.domain_assignment
        if self.embed is None and assignment is not None and assignment.method == "zero_shot":
            raise ValueError(
                "assign_domains: zero_shot compares images with the domain descriptions by embedding: "
                "add an `embed:` section naming the model (embed: {model: ...})"
            )
        if self.embed is None and self.checks.semantic_dedup:
            raise ValueError(
                "checks.semantic_dedup compares images by embedding: add an `embed:` section naming "
                "the model (embed: {model: ...}), or use the perceptual-hash image_dedup alone"
            )
        if needed:
            for stage, spec in needed:
                if spec.endpoint not in self.endpoints:
                    known = ", ".join(self.endpoints) or "none"
                    raise ValueError(
                        f"{stage}.endpoint {spec.endpoint!r} is not in endpoints (defined: {known})"
                    )
        return self


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M], data: Any, source: str, what: str, error: type[VisinstructError] = RecipeError
) -> M:
    """`data` as a `model` (a recipe, a loop file, an augmentation config); anything wrong
    raises `error` with one line naming the source and the field."""
    if not isinstance(data, dict):
        raise error(f"{source}: {what} must be a mapping of fields, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise error(f"{source}: {_where(err['loc'])}: {_message(err)}{more}") from None


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping gives the same key twice: plain YAML keeps the last one without a word."""

    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(problem=f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.safe_load`, except that a key given twice in one mapping (at any depth) is an error.
    Keys brought in by a merge (`<<: *base`) may still be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # unhashable: the base class reports it
                continue
            if first is not None:
                raise DuplicateKeyError(key, key_node.start_mark.line + 1, first)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path, what: str, error: type[VisinstructError] = RecipeError) -> Any:
    """The data of a YAML file; a file that is not a regular UTF-8 text file of at most
    MAX_YAML_BYTES, invalid YAML or a duplicate key raises `error` in one line. Never blocks on a
    pipe or reads more than the cap (a recipe may be a link to /dev/zero)."""
    p = Path(path)
    try:
        raw = read_regular(p, MAX_YAML_BYTES)
    except NotRegularFile as e:
        raise error(f"{p}: cannot read {what}: not a regular file ({e.kind})") from None
    except FileTooLarge as e:
        size = f"{e.size:,} bytes" if e.size is not None else "it grew while read"
        raise error(f"{p}: {what} is too large ({size}; at most {MAX_YAML_BYTES:,} bytes)") from None
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or e})") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # also UTF-32 LE
        raise error(f"{p}: not a UTF-8 text file (it is UTF-16 or UTF-32: save it as UTF-8)")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise error(f"{p}: not a UTF-8 text file (NUL byte at offset {nul})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(
            f"{p}: not a UTF-8 text file (invalid byte 0x{raw[e.start]:02x} at offset {e.start})"
        ) from None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
    except DuplicateKeyError as e:
        raise error(f"{p}: duplicate key {e.key!r} at line {e.line} (first at line {e.first_line})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{p}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None


def parse_recipe(data: Any, source: str = "recipe") -> Recipe:
    """Validate a recipe mapping; raises RecipeError with one line naming the field."""
    return validate(Recipe, data, source, "a recipe")


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a YAML recipe file."""
    return parse_recipe(read_yaml(path, "recipe"), str(path))
