"""The pool of caption requests a caption sample's instruction is drawn from.

The pool is a template file in the shape `visinstruct augment` reads and writes
(`kind -> lang -> [templates]`, kinds `brief` and `detailed`), so a user can grow the bundled
pool with `visinstruct augment run` and point a recipe at the grown `pool.yaml`. A draw is
seeded by a key (the sample's unit and language), so the same run draws the same requests,
and records the template's id so a sample says which request it was given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from visinstruct.errors import VisinstructError

KINDS = ("brief", "detailed")
BUNDLED = "bundled"  # the pool shipped with the package


class CaptionRequestError(VisinstructError):
    """A caption request pool cannot be used: names the file and what is wrong."""


@dataclass(frozen=True)
class CaptionRequest:
    """One drawn request: its text, its kind and language, and a stable id (provenance)."""

    id: str
    kind: str
    lang: str
    text: str


@dataclass(frozen=True)
class RequestPool:
    """Templates per (kind, language); `source` names where they came from."""

    source: str
    templates: dict[tuple[str, str], tuple[str, ...]]

    def draw(self, key: str, lang: str, kind: str = "detailed") -> CaptionRequest:
        """The request for the sample keyed `key`: the same key always draws the same one."""
        if kind not in KINDS:
            raise CaptionRequestError(f"unknown caption request kind {kind!r}; known: {', '.join(KINDS)}")
        options = self.templates.get((kind, lang))
        if not options:
            raise CaptionRequestError(f"{self.source}: no {kind} caption requests in language {lang!r}")
        digest = hashlib.sha256(f"{key}|{kind}|{lang}".encode()).digest()
        text = options[int.from_bytes(digest[:8], "big") % len(options)]
        return CaptionRequest(id=request_id(kind, lang, text), kind=kind, lang=lang, text=text)

    def languages(self, kind: str) -> set[str]:
        return {lang for k, lang in self.templates if k == kind}


def request_id(kind: str, lang: str, text: str) -> str:
    """A template's id: stable across runs and pools (its kind, language and text)."""
    return f"{kind}/{lang}/" + hashlib.sha256(text.encode()).hexdigest()[:10]


def parse_pool(data: object, source: str) -> RequestPool:
    """Check and index a pool's mapping; errors name `source` and the offending entry."""
    if not isinstance(data, dict):
        raise CaptionRequestError(f"{source}: a caption request pool is a mapping of kind -> lang -> [texts]")
    unknown = sorted(str(k) for k in data if k not in KINDS)
    if unknown:
        raise CaptionRequestError(f"{source}: unknown kinds {', '.join(unknown)}; known: {', '.join(KINDS)}")
    templates: dict[tuple[str, str], tuple[str, ...]] = {}
    for kind, by_lang in data.items():
        if not isinstance(by_lang, dict):
            raise CaptionRequestError(f"{source}: {kind}: expected a mapping of language -> [texts]")
        for lang, texts in by_lang.items():
            if not isinstance(texts, list) or not texts:
                raise CaptionRequestError(f"{source}: {kind}.{lang}: expected a non-empty list of texts")
            clean = []
            for i, t in enumerate(texts):
                if not isinstance(t, str) or not t.strip():
                    raise CaptionRequestError(f"{source}: {kind}.{lang}[{i}]: expected a non-empty text")
                if "{" in t or "}" in t:
                    where = f"{source}: {kind}.{lang}[{i}]"
                    raise CaptionRequestError(f"{where}: a caption request takes no placeholders")
                clean.append(t.strip())
            templates[(kind, str(lang))] = tuple(dict.fromkeys(clean))
    return RequestPool(source=source, templates=templates)


@cache
def bundled_pool() -> RequestPool:
    text = resources.files("visinstruct.captions").joinpath("requests.yaml").read_text(encoding="utf-8")
    return parse_pool(yaml.safe_load(text), "visinstruct/captions/requests.yaml")


def load_pool(path: str | Path | None = None) -> RequestPool:
    """The bundled pool (None or "bundled"), or the pool file at `path` (e.g. an augmented pool.yaml)."""
    if path is None or str(path) == BUNDLED:
        return bundled_pool()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise CaptionRequestError(f"{p}: cannot read the caption request pool ({e.strerror or e})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise CaptionRequestError(f"{p}: not a YAML caption request pool ({e})") from None
    return parse_pool(data, str(p))
