"""Which of our data answers a benchmark's category: benchmark category → targets.

A target is a synthetic domain and one of its question categories (exact facts, no model
needed), or a catalog domain (or none) whose questions an LLM writes about source images.
Built-in mappings live in `mappings/<benchmark>.yaml`; a user's files (`--mapping FILE`)
replace built-in entries category by category:

    benchmark: seedbench
    categories:
      Instances Counting:
        - {domain: scenes, category: counting, types: [multiple_choice, short_vqa]}
        - {domain: species_recognition}     # catalog domain: category defaults to the benchmark's

A category with no entry maps to the synthetic categories of the same normalised name
("Counting" → every domain's `counting`); one that matches nothing is unmapped: it gets no
data unless the loop file says where unmapped categories go (`unmapped: <domain>`), and it
is shown with the closest domain by name (`loop/suggest.py`), never dropped in silence.
An empty list maps a category to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from visinstruct.errors import VisinstructError
from visinstruct.records import INSTRUCTION_TYPES

# The question categories each synthetic domain asks (tests check this against the domains).
SYNTH_CATEGORIES: dict[str, tuple[str, ...]] = {
    "charts": (
        "arithmetic",
        "comparison",
        "counting",
        "extremum",
        "legend",
        "text_reading",
        "trend",
        "value_lookup",
    ),
    "clocks": ("time_arithmetic", "time_reading"),
    "differences": ("change_detection", "color", "counting", "existence", "localization", "shape"),
    "geometry": ("angle", "area", "length", "perimeter", "shape"),
    "ocr": ("counting", "localization", "text_reading", "transcription", "value_lookup", "word_search"),
    "scenes": ("color", "comparison", "counting", "existence", "localization", "shape", "spatial_relation"),
    "tables": ("arithmetic", "comparison", "counting", "extremum", "statistics", "value_lookup"),
}
_TARGET_KEYS = {"domain", "category", "types"}
# What the loop does with a category nothing maps, besides sending it to a named domain.
UNMAPPED_POLICIES = ("skip", "report")


class MappingError(VisinstructError):
    """A mapping file is wrong: names the file, the entry and the problem."""


@dataclass(frozen=True)
class Target:
    """Data to make for a weak benchmark category.

    `domain`: a synthetic domain (then `category` is one of its question categories), a
    catalog domain, or None (LLM-written questions of `category` on any source image).
    `types`: instruction types to make; empty means the round's default types.
    """

    domain: str | None
    category: str
    types: tuple[str, ...] = ()


def normalise(category: str) -> str:
    """The form categories are matched in: lower case, spaces and hyphens as "_"."""
    return "_".join(category.strip().lower().replace("-", " ").split())


@dataclass
class Mapping:
    """Benchmark categories → targets, with the file each entry came from."""

    benchmark: str | None
    entries: dict[str, list[Target]] = field(default_factory=dict)  # normalised category → targets
    sources: dict[str, str] = field(default_factory=dict)  # normalised category → file
    fallback: str | None = None  # `unmapped: <domain>`: where a category nothing maps goes

    def _own(self, key: str) -> list[Target] | None:
        if key in self.entries:
            return list(self.entries[key])
        same = [Target(d, key) for d, cats in SYNTH_CATEGORIES.items() if key in cats]
        return same or None

    def targets(self, category: str) -> list[Target]:
        """Targets of a benchmark category: its entry, else our categories of the same name,
        else the `unmapped:` domain (if any)."""
        key = normalise(category)
        own = self._own(key)
        if own is not None:
            return own
        if self.fallback is None:
            return []
        domain, _, cat = self.fallback.partition("/")
        return [Target(domain, cat or key)]

    def source(self, category: str) -> str:
        """Where a category's targets come from: a mapping file, "identity", the loop file's
        `unmapped:` domain, or "unmapped"."""
        key = normalise(category)
        if key in self.sources:
            return self.sources[key]
        if self._own(key) is not None:
            return "identity"
        return f"unmapped: {self.fallback}" if self.fallback else "unmapped"

    def unmapped(self, categories: Iterable[str]) -> list[str]:
        """The categories that map to nothing, in the order given, each once."""
        out: list[str] = []
        for c in categories:
            if c not in out and not self.targets(c):
                out.append(c)
        return out

    def as_dict(self, categories: Iterable[str]) -> dict[str, list[Target]]:
        """category → targets for the categories given (what a round plan takes)."""
        return {c: self.targets(c) for c in categories}


def builtin_mapping_names() -> list[str]:
    """Benchmarks with a built-in mapping file."""
    folder = resources.files("visinstruct.loop").joinpath("mappings")
    return sorted(e.name[: -len(".yaml")] for e in folder.iterdir() if e.name.endswith(".yaml"))


def _catalog_names() -> set[str]:
    from visinstruct.domains import builtin_domains

    return set(builtin_domains())


def _target(raw: Any, category: str, where: str, catalog: set[str]) -> Target:
    """One YAML target entry, checked."""
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: a target must be a mapping like {{domain: scenes, category: counting}}")
    unknown = set(raw) - _TARGET_KEYS
    if unknown:
        raise MappingError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: domain, category, types)"
        )
    domain, cat, types = raw.get("domain"), raw.get("category"), raw.get("types") or []
    if domain is not None and (not isinstance(domain, str) or not domain.strip()):
        raise MappingError(f"{where}: domain must be a domain name or null, got {domain!r}")
    if cat is not None and (not isinstance(cat, str) or not cat.strip()):
        raise MappingError(f"{where}: category must be a non-empty text, got {cat!r}")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise MappingError(f"{where}: types must be a list like [multiple_choice, short_vqa]")
    bad = [t for t in types if t not in INSTRUCTION_TYPES]
    if bad:
        raise MappingError(
            f"{where}: unknown type(s) {', '.join(bad)} (known: {', '.join(INSTRUCTION_TYPES)})"
        )
    if domain in SYNTH_CATEGORIES:
        ours = ", ".join(SYNTH_CATEGORIES[domain])
        if cat is None:
            raise MappingError(f"{where}: synthetic domain {domain!r} needs a category ({ours})")
        if cat not in SYNTH_CATEGORIES[domain]:
            raise MappingError(f"{where}: {domain} asks no {cat!r} questions (its categories: {ours})")
    elif domain is not None and domain not in catalog:
        raise MappingError(
            f"{where}: unknown domain {domain!r} (synthetic: {', '.join(SYNTH_CATEGORIES)}; "
            "or a catalog domain listed by `visinstruct domains`)"
        )
    return Target(domain, cat or normalise(category), tuple(types))


def read_mapping_file(path: Path, catalog: set[str]) -> tuple[str | None, dict[str, list[Target]]]:
    """(benchmark, normalised category → targets) of one mapping file, or MappingError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MappingError(f"{path}: cannot be read ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise MappingError(f"{path}: not valid YAML{at}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{path}: a mapping file must be a YAML mapping with 'categories'")
    unknown = set(data) - {"benchmark", "categories"}
    if unknown:
        raise MappingError(
            f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: benchmark, categories)"
        )
    bench = data.get("benchmark")
    if bench is not None and not isinstance(bench, str):
        raise MappingError(f"{path}: benchmark must be a name, got {bench!r}")
    cats = data.get("categories")
    if not isinstance(cats, dict):
        raise MappingError(f"{path}: 'categories' must map each benchmark category to a list of targets")
    return bench, read_entries(cats, f"{path}: categories", catalog)


def read_entries(cats: dict, where_all: str, catalog: set[str]) -> dict[str, list[Target]]:
    """normalised category → targets of a `categories:` block (a mapping file's or a loop file's)."""
    entries: dict[str, list[Target]] = {}
    for name, targets in cats.items():
        where = f"{where_all}.{name}"
        if not isinstance(name, str) or not name.strip():
            raise MappingError(f"{where}: a category name must be text")
        if targets is None:
            targets = []
        if not isinstance(targets, list):
            raise MappingError(f"{where}: must be a list of targets")
        key = normalise(name)
        if key in entries:
            raise MappingError(f"{where}: the same category (as {key!r}) appears twice")
        out: list[Target] = []
        for i, raw in enumerate(targets):
            t = _target(raw, name, f"{where}[{i}]", catalog)
            if t not in out:
                out.append(t)
        entries[key] = out
    return entries


def read_unmapped(value: str, catalog: set[str], where: str) -> str | None:
    """The domain an `unmapped:` setting sends categories to (None for skip or report):
    a catalog domain, or `<synthetic domain>/<category>`."""
    if value in UNMAPPED_POLICIES:
        return None
    domain, slash, cat = value.partition("/")
    if domain in SYNTH_CATEGORIES:
        ours = ", ".join(SYNTH_CATEGORIES[domain])
        if not slash or cat not in SYNTH_CATEGORIES[domain]:
            raise MappingError(
                f"{where}: synthetic domain {domain!r} needs one of its categories, as {domain}/<category> "
                f"(its categories: {ours})"
            )
        return value
    if slash or domain not in catalog:
        raise MappingError(
            f"{where}: {value!r} is neither skip, report nor a domain (synthetic: "
            f"{', '.join(f'{d}/<category>' for d in SYNTH_CATEGORIES)}; or a catalog domain listed by "
            "`visinstruct domains`)"
        )
    return value


def load_mapping(
    benchmark: str | None,
    extra: Iterable[str | Path] = (),
    *,
    domains: Iterable[str] = (),
    categories: dict | None = None,
    unmapped: str = "report",
    where: str = "loop file",
) -> Mapping:
    """The built-in mapping of `benchmark` (none for an unknown one), overridden category by
    category by the user's files in `extra`, in order, then by `categories` (a loop file's
    own block, same shape as a mapping file's). `domains` adds catalog domain names a recipe
    brings (`domains_dir`) to those a target may name; `unmapped` is skip, report or the
    domain categories nothing maps are sent to. `where` names the loop file in errors."""
    catalog = _catalog_names() | set(domains)
    mapping = Mapping(benchmark)
    if benchmark is not None and benchmark in builtin_mapping_names():
        res = resources.files("visinstruct.loop").joinpath("mappings").joinpath(f"{benchmark}.yaml")
        with resources.as_file(res) as builtin:
            _, entries = read_mapping_file(Path(builtin), catalog)
        mapping.entries.update(entries)
        mapping.sources.update({k: f"built-in {benchmark}.yaml" for k in entries})
    for item in extra:
        path = Path(item)
        bench, entries = read_mapping_file(path, catalog)
        if benchmark is not None and bench is not None and bench != benchmark:
            raise MappingError(
                f"{path}: a mapping for benchmark {bench!r}, but the results are {benchmark!r}"
            )
        mapping.entries.update(entries)
        mapping.sources.update({k: str(path) for k in entries})
    if categories:
        entries = read_entries(categories, f"{where}: categories", catalog)
        mapping.entries.update(entries)
        mapping.sources.update({k: f"{where} (categories)" for k in entries})
    mapping.fallback = read_unmapped(unmapped, catalog, f"{where}: unmapped")
    return mapping
