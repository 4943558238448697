"""Meta-prompts: the rewriting directives and the request texts, as data.

The built-in file (`directives.yaml` beside this module) names directives such as
synonyms, restructuring, formality, brevity, elaboration and question <-> imperative;
a user's file of the same shape adds or overrides them. A model can also propose new
directives (`propose_messages` / `parse_proposals`). Request texts are filled with
`visinstruct.templates.render`, so a template is only ever substituted, never evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from visinstruct.augment.mask import SENTINEL, Masked, brace_problems
from visinstruct.errors import VisinstructError
from visinstruct.templates import TemplateError, render

LANGS = ("en", "zh")
PROMPT_PARTS = ("system", "keep", "user", "propose")


class DirectivesError(VisinstructError):
    """A directives file is wrong: names the file, the field and the problem."""


@dataclass
class Directive:
    name: str
    text: dict[str, str]  # lang -> directive text
    proposed: bool = False  # written by a model rather than a person

    def for_lang(self, lang: str) -> str:
        """The directive in `lang`, else in English (a model reads either)."""
        return self.text.get(lang) or self.text.get("en") or next(iter(self.text.values()))


@dataclass
class MetaPrompts:
    prompt: dict[str, dict[str, str]]  # part -> lang -> text
    directives: dict[str, Directive] = field(default_factory=dict)

    def part(self, name: str, lang: str) -> str:
        texts = self.prompt[name]
        return texts.get(lang) or texts["en"]


def _parse(data: Any, source: str, base: MetaPrompts | None) -> MetaPrompts:
    if not isinstance(data, dict):
        raise DirectivesError(f"{source}: expected a mapping with `directives:` (and optionally `prompt:`)")
    unknown = set(data) - {"version", "prompt", "directives"}
    if unknown:
        raise DirectivesError(f"{source}: {sorted(unknown)[0]}: unknown field")
    prompt = {k: dict(v) for k, v in base.prompt.items()} if base else {}
    for part, texts in (data.get("prompt") or {}).items():
        if part not in PROMPT_PARTS:
            raise DirectivesError(f"{source}: prompt.{part}: unknown part (known: {', '.join(PROMPT_PARTS)})")
        if not isinstance(texts, dict):
            raise DirectivesError(f"{source}: prompt.{part}: expected lang -> text")
        for lang, text in texts.items():
            _check_text(text, f"{source}: prompt.{part}.{lang}")
            prompt.setdefault(part, {})[str(lang)] = text
    missing = [p for p in PROMPT_PARTS if "en" not in prompt.get(p, {})]
    if missing:
        raise DirectivesError(f"{source}: prompt.{missing[0]}.en is missing")
    directives = dict(base.directives) if base else {}
    raw = data.get("directives")
    if not isinstance(raw, dict) or (not raw and base is None):
        raise DirectivesError(f"{source}: directives: expected a mapping of name -> {{en: text, zh: text}}")
    for name, texts in raw.items():
        where = f"{source}: directives.{name}"
        if isinstance(texts, str):
            texts = {"en": texts}
        if not isinstance(texts, dict) or not texts:
            raise DirectivesError(f"{where}: expected {{en: text, zh: text}}")
        for lang, text in texts.items():
            if lang not in LANGS:
                raise DirectivesError(f"{where}.{lang}: language must be en or zh")
            _check_text(text, f"{where}.{lang}")
        directives[str(name)] = Directive(str(name), dict(texts))
    return MetaPrompts(prompt, directives)


def _check_text(text: Any, where: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise DirectivesError(f"{where}: expected non-empty text")
    bad = brace_problems(text)
    if bad:
        raise DirectivesError(f"{where}: brace expression {bad[0]} is not a plain {{name}} placeholder")


def builtin() -> MetaPrompts:
    text = resources.files("visinstruct.augment").joinpath("directives.yaml").read_text("utf-8")
    return _parse(yaml.safe_load(text), "directives.yaml (built in)", None)


def load_directives(path: str | Path | None = None, names: list[str] | None = None) -> MetaPrompts:
    """The built-in meta-prompts, plus a user's file, narrowed to `names` when given."""
    meta = builtin()
    if path is not None:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text("utf-8"))
        except OSError as e:
            raise DirectivesError(f"{p}: cannot read directives file ({e.strerror or e})") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise DirectivesError(f"{p}: not valid YAML{where}") from None
        meta = _parse(data, str(p), meta)
    if names:
        missing = [n for n in names if n not in meta.directives]
        if missing:
            raise DirectivesError(
                f"directive {missing[0]!r} is not defined (have: {', '.join(meta.directives)})"
            )
        meta.directives = {n: meta.directives[n] for n in names}
    return meta


def rewrite_messages(meta: MetaPrompts, directive: Directive, masked: Masked, lang: str) -> list[dict]:
    """The chat messages asking for one rewrite of a masked template."""
    keep = _render(meta.part("keep", lang), {"markers": ", ".join(masked.sentinels)}) if masked.spans else ""
    values = {"directive": directive.for_lang(lang), "instruction": masked.text, "keep": keep}
    user = _render(meta.part("user", lang), values)
    user = re.sub(r"\n{3,}", "\n\n", user)  # an empty {keep} line
    return [{"role": "system", "content": meta.part("system", lang)}, {"role": "user", "content": user}]


def propose_messages(meta: MetaPrompts, count: int, lang: str) -> list[dict]:
    """The chat messages asking a model for `count` new directives in `lang`."""
    examples = "\n".join(f"- {d.for_lang(lang)}" for d in meta.directives.values())
    text = _render(meta.part("propose", lang), {"examples": examples, "count": count})
    return [{"role": "user", "content": text}]


def _render(template: str, values: dict[str, object]) -> str:
    try:
        return render(template, values)
    except TemplateError as e:
        raise DirectivesError(f"meta-prompt: {e}") from None


BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)、]|[（(]?\d+[）)])\s*")


def parse_proposals(text: str, existing: dict[str, Directive], lang: str, count: int) -> list[Directive]:
    """New directives from a model's reply: one per line, bullets and numbers removed;
    lines with braces or markers, too short or too long, or already known are skipped."""
    known = {d.for_lang(lang).strip().lower() for d in existing.values()}
    out: list[Directive] = []
    for line in (text or "").splitlines():
        line = BULLET.sub("", line).strip().strip("\"'“”")
        words = len(line.split()) if lang == "en" else len(line)
        if not line or "{" in line or "}" in line or SENTINEL.search(line):
            continue
        if not (3 <= words <= 40 if lang == "en" else 4 <= words <= 60):
            continue
        if line.lower() in known:
            continue
        known.add(line.lower())
        out.append(Directive(f"proposed_{lang}_{len(out) + 1}", {lang: line}, proposed=True))
        if len(out) >= count:
            break
    return out
