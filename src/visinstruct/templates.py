"""Plain placeholder substitution for prompts, phrasings and instruction templates.

Templates come from data files and, later, from model output, so rendering must never
evaluate anything: `{name}` is replaced by a value looked up by exact name; there is no
attribute access, indexing or format spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValueError):
    pass


def placeholders(template: str) -> set[str]:
    """The set of `{name}` placeholders in a template."""
    return set(PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, object]) -> str:
    """Replace each `{name}` with `str(values[name])`; a missing name is an error."""
    if "{" not in template:  # most phrasings hold no slot
        return template

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise TemplateError(f"template {template!r}: no value for placeholder {{{name}}}")
        return str(values[name])

    return PLACEHOLDER.sub(sub, template)
