"""Instruction templates per task, from the files people already have.

A task is a named set of templates that share placeholders (`{question}`, `{options}`,
`{region}`, ...). Sources:
- YAML: `task: [templates]` or `task: {en: [...], zh: [...]}` (the phrasing-file shape);
- TSV: a header with `task` and `template` (optionally `lang`); `\\n`, `\\t`, `\\\\` escapes;
- MultiInstruct JSON: `{"task": ["template", ...]}`, where MultiInstruct's Python-side
  expressions (`{region_split_token.join(region)}`, `{region[0]}`, `{meta_data['relation']}`,
  `{options_token}`) are rewritten as plain placeholders — by pattern, never evaluated;
- a synthetic domain's phrasings (`synth: charts`): a task per phrasing key;
- a catalog domain's seed questions (`seeds: ocr`): a task per question family.
Every template must use plain `{name}` placeholders only; anything else is an error
naming the file, the task and the template.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from visinstruct.augment.diversity import detect_language
from visinstruct.augment.mask import SENTINEL, brace_problems, protected_spans
from visinstruct.errors import VisinstructError

TASK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/ ]{0,99}$")


class TemplateFileError(VisinstructError):
    """A template source cannot be used: names the file (or source), the task and the problem."""


@dataclass
class Template:
    """One instruction template and where it came from."""

    task: str
    text: str
    lang: str = "en"
    origin: str = "original"  # original | rephrased
    source: str | None = None  # file or source it was read from (originals)
    parent: str | None = None  # id of the template it was rephrased from
    root: str | None = None  # id of the original it descends from
    directive: str | None = None
    temperature: float | None = None
    round: int = 0
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            self.id = template_id(self.task, self.text, self.lang)
        if self.root is None and self.origin == "original":
            self.root = self.id

    def placeholders(self) -> list[str]:
        return sorted(protected_spans(self.text))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def template_id(task: str, text: str, lang: str = "en") -> str:
    """Stable while the text is unchanged (`{question}` alone may be both an en and a zh template)."""
    return f"{task}#{hashlib.sha1(f'{lang}:{text}'.encode()).hexdigest()[:10]}"


def check_template(text: str) -> str | None:
    """Why a template cannot be used, or None."""
    if not isinstance(text, str):
        return f"a template must be text, got {type(text).__name__}"
    if not text.strip():
        return "the template is empty"
    bad = brace_problems(text)
    if bad:
        return f"brace expression {bad[0]} is not a plain {{name}} placeholder"
    reserved = SENTINEL.search(text)
    if reserved:
        return f"{reserved.group(0)} is reserved for masking placeholders"
    return None


class _Collector:
    """Templates in file order; duplicates within a task are dropped."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out: list[Template] = []
        self.seen: set[str] = set()

    def add(self, task: str, text: Any, lang: str | None, where: str) -> None:
        task = str(task)
        if not TASK_NAME.match(task):
            raise TemplateFileError(f"{self.source}: task name {task!r} is not usable ({where})")
        why = check_template(text)
        if why:
            raise TemplateFileError(f"{self.source}: task {task!r} {where}: {why}")
        if lang is not None and lang not in ("en", "zh"):
            raise TemplateFileError(
                f"{self.source}: task {task!r} {where}: language {lang!r} is not en or zh"
            )
        t = Template(task, text, lang or detect_language(text), source=self.source)
        if t.id not in self.seen:
            self.seen.add(t.id)
            self.out.append(t)


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateFileError(
            f"{path}: cannot read template file ({getattr(e, 'strerror', None) or e})"
        ) from None


def load_yaml(path: Path) -> list[Template]:
    """`task: [templates]` or `task: {lang: [templates]}`."""
    try:
        data = yaml.safe_load(_read(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise TemplateFileError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    return from_mapping(data, str(path))


def from_mapping(data: Any, source: str) -> list[Template]:
    """Templates from `task -> [templates]` or `task -> lang -> [templates]`."""
    if not isinstance(data, dict) or not data:
        raise TemplateFileError(f"{source}: expected a mapping of task -> list of templates")
    col = _Collector(source)
    for task, value in data.items():
        if isinstance(value, list):
            for i, text in enumerate(value):
                col.add(task, text, None, f"template {i + 1}")
        elif isinstance(value, dict):
            for lang, texts in value.items():
                if not isinstance(texts, list):
                    raise TemplateFileError(f"{source}: task {task!r}.{lang}: expected a list of templates")
                for i, text in enumerate(texts):
                    col.add(task, text, str(lang), f"{lang} template {i + 1}")
        else:
            raise TemplateFileError(
                f"{source}: task {task!r}: expected a list of templates or lang -> list, "
                f"got {type(value).__name__}"
            )
    return col.out


def _unescape(cell: str) -> str:
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], cell)


def load_tsv(path: Path) -> list[Template]:
    """A header with `task` and `template` columns (optionally `lang`), one template a row."""
    rows = list(csv.reader(io.StringIO(_read(path)), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise TemplateFileError(f"{path}: the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    if "task" not in header or "template" not in header:
        raise TemplateFileError(f"{path}: line 1: the header must name the columns task and template")
    ti, xi, li = (
        header.index("task"),
        header.index("template"),
        header.index("lang") if "lang" in header else None,
    )
    col = _Collector(str(path))
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise TemplateFileError(f"{path}: line {n}: {len(row)} columns, the header has {len(header)}")
        lang = row[li].strip() or None if li is not None else None
        col.add(row[ti].strip(), _unescape(row[xi]), lang, f"line {n}")
    if not col.out:
        raise TemplateFileError(f"{path}: no templates")
    return col.out


# MultiInstruct writes templates as Python f-strings; these are its expressions, by pattern.
_MI_JOIN = re.compile(r"^\s*[A-Za-z_]\w*\s*\.\s*join\(\s*([A-Za-z_]\w*)\s*\)\s*$")
_MI_INDEX = re.compile(r"^\s*([A-Za-z_]\w*)\s*\[\s*(\d+)\s*\]\s*$")
_MI_KEY = re.compile(r"^\s*[A-Za-z_]\w*\s*\[\s*(['\"])([A-Za-z_]\w*)\1\s*\]\s*$")
_MI_TOKENS = {"options_token": "", "region_token": "Regions:", "image_token": "image"}
_MI_EXPR = re.compile(r"\{([^{}]*)\}")


def multiinstruct_text(text: str) -> str:
    """A MultiInstruct template with its expressions as plain placeholders; the options
    block (`{options_token} {split_token.join(options)}`) becomes `{options}`. Unknown
    expressions are left in place, so the template check names them."""

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        name = expr.strip()
        if name in _MI_TOKENS:
            return _MI_TOKENS[name]
        hit = _MI_JOIN.match(expr)
        if hit:
            return "{" + hit.group(1) + "}"
        hit = _MI_INDEX.match(expr)
        if hit:
            return "{" + hit.group(1) + "_" + hit.group(2) + "}"
        hit = _MI_KEY.match(expr)
        if hit:
            return "{" + hit.group(2) + "}"
        return m.group(0)

    out = _MI_EXPR.sub(sub, text)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def load_multiinstruct(path: Path) -> list[Template]:
    """MultiInstruct-style JSON: `{"task": ["template", ...]}`."""
    try:
        data = json.loads(_read(path))
    except json.JSONDecodeError as e:
        raise TemplateFileError(f"{path}: not valid JSON at line {e.lineno}: {e.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise TemplateFileError(f'{path}: expected {{"task": ["template", ...]}}')
    converted = {
        task: [multiinstruct_text(t) if isinstance(t, str) else t for t in texts]
        for task, texts in data.items()
    }
    return from_mapping(converted, str(path))


def load_file(path: str | Path, fmt: str = "auto") -> list[Template]:
    """A template file by format, or by extension when `fmt` is auto."""
    p = Path(path)
    if not p.is_file():
        raise TemplateFileError(f"{p}: no such template file")
    if fmt == "auto":
        ext = p.suffix.lower()
        fmt = {".yaml": "yaml", ".yml": "yaml", ".tsv": "tsv", ".json": "multiinstruct"}.get(ext, "")
        if not fmt:
            raise TemplateFileError(f"{p}: unknown template file type {ext!r} (use .yaml, .tsv or .json)")
    loader = {"yaml": load_yaml, "tsv": load_tsv, "multiinstruct": load_multiinstruct}[fmt]
    return loader(p)


def load_synth(domain: str, keys: list[str] | None = None) -> list[Template]:
    """A synthetic domain's phrasings as tasks `<domain>.<key>`. Without `keys`, the keys
    with at least two wordings in some language (single wordings are building blocks such
    as "Yes" or a list separator, not instructions)."""
    from visinstruct.synth.base import load_phrasings

    try:
        phrasings = load_phrasings(domain)
    except FileNotFoundError:
        raise TemplateFileError(f"synth:{domain}: no such synthetic domain phrasing file") from None
    if keys:
        missing = [k for k in keys if k not in phrasings]
        if missing:
            raise TemplateFileError(f"synth:{domain}: no phrasing key {missing[0]!r}")
        chosen = {k: phrasings[k] for k in keys}
    else:
        chosen = {
            k: v
            for k, v in phrasings.items()
            if any(sum(1 for t in texts if t.strip()) >= 2 for texts in v.values())
        }
    data = {
        f"{domain}.{k}": {lang: [t for t in texts if t.strip()] for lang, texts in v.items()}
        for k, v in chosen.items()
    }
    return from_mapping(data, f"synth:{domain}")


def load_seeds(
    domain: str, families: list[str] | None = None, domains_dir: list[str] | None = None
) -> list[Template]:
    """A catalog domain's seed questions as tasks `<domain>.<family>` (their `<slot>`
    markers are kept through rewriting like placeholders)."""
    from visinstruct.domains import FAMILIES, load_catalog

    catalog = load_catalog(domains_dir or [])
    if domain not in catalog:
        raise TemplateFileError(f"seeds:{domain}: no such catalog domain (see `visinstruct domains`)")
    d = catalog[domain]
    fams = families or list(FAMILIES)
    data: dict[str, dict[str, list[str]]] = {}
    for fam in fams:
        if fam not in FAMILIES:
            raise TemplateFileError(f"seeds:{domain}: unknown family {fam!r} (known: {', '.join(FAMILIES)})")
        texts = {lang: [s.text for s in d.seeds(fam, lang)] for lang in ("en", "zh")}
        texts = {k: v for k, v in texts.items() if v}
        if texts:
            data[f"{domain}.{fam}"] = texts
    return from_mapping(data, f"seeds:{domain}")
