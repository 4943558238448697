"""The domain catalog: what each domain is about and its seed questions, in en and zh.

One YAML file per domain (`catalog/<name>.yaml`, or a user's own folder). A seed question
is a template with slots such as `<object>`; the instruction stage samples a few of them
from the image's domain to steer the model toward that domain's kinds of questions.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from visinstruct.errors import VisinstructError

FAMILIES = ("judgement", "choice", "open")
Family = Literal["judgement", "choice", "open"]


class DomainError(VisinstructError):
    """A domain file is wrong: names the file and the field."""


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str
    zh: str


class SeedLists(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class SeedQuestion(BaseModel):
    id: str  # "<domain>/<family>/<lang>/<hash of text>": stable while the text is unchanged
    domain: str
    family: str
    language: str
    text: str


class Domain(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Texts
    description: Texts
    caption_hints: Texts  # what a caption of an image of this domain should cover
    keywords: list[str] = Field(default_factory=list)  # image-search keywords
    seed_questions: dict[Family, SeedLists]
    source: str = "builtin"  # the file it came from

    def seeds(self, family: str, lang: str) -> list[SeedQuestion]:
        lists = self.seed_questions.get(family)  # type: ignore[call-overload]
        texts = getattr(lists, lang, []) if lists else []
        return [
            SeedQuestion(
                id=seed_id(self.name, family, lang, t), domain=self.name, family=family, language=lang, text=t
            )
            for t in texts
        ]

    def sample_seeds(self, rng: random.Random, family: str, lang: str, k: int = 3) -> list[SeedQuestion]:
        """Up to `k` seed questions of a family, drawn without replacement."""
        pool = self.seeds(family, lang)
        return rng.sample(pool, min(k, len(pool)))

    def counts(self) -> dict[tuple[str, str], int]:
        return {(f, lang): len(self.seeds(f, lang)) for f in FAMILIES for lang in ("en", "zh")}


def seed_id(domain: str, family: str, lang: str, text: str) -> str:
    return f"{domain}/{family}/{lang}/{hashlib.sha1(text.encode()).hexdigest()[:8]}"


# The bundled catalog is read with libyaml's loader where PyYAML has it: the pure-Python one
# took a tenth of a second of every run's start. A user's file keeps the loader whose
# messages the errors quote.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_domain_file(path: Path, fast: bool = False) -> Domain:
    try:
        text = path.read_text("utf-8")
        data = yaml.load(text, Loader=_FAST_LOADER) if fast else yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise DomainError(f"{path}: cannot read domain file ({e})") from None
    if not isinstance(data, dict):
        raise DomainError(f"{path}: a domain file must be a mapping")
    data.setdefault("name", path.stem)
    try:
        d = Domain.model_validate({**data, "source": str(path)})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise DomainError(f"{path}: {where}: {err['msg']}") from None
    if d.name != path.stem:
        raise DomainError(f"{path}: name {d.name!r} must match the file name {path.stem!r}")
    return d


@cache
def builtin_domains() -> dict[str, Domain]:
    folder = resources.files("visinstruct.domains").joinpath("catalog")
    out: dict[str, Domain] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            d = load_domain_file(Path(str(entry)), fast=True)
            out[d.name] = d.model_copy(update={"source": "builtin"})
    return out


def load_catalog(extra: Iterable[str | Path] = ()) -> dict[str, Domain]:
    """Built-in domains plus users' files or folders of files (theirs override by name)."""
    catalog = dict(builtin_domains())
    for item in extra:
        p = Path(item)
        if p.is_dir():
            files = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
        elif p.is_file():
            files = [p]
        else:
            raise DomainError(f"{p}: no such domain file or folder")
        for f in files:
            d = load_domain_file(f)
            catalog[d.name] = d
    return catalog
