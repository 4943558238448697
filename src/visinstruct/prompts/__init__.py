"""Prompts are versioned data files: `<name>.yaml` with an `id`, a `version` and texts per language.

A sample records the id and version of every prompt that made it, so a changed prompt is
traceable (and, since the text is part of each request, never served from a stale cache).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from visinstruct.errors import VisinstructError
from visinstruct.templates import render


class Prompt:
    def __init__(self, data: dict[str, Any], source: str) -> None:
        if "id" not in data or "version" not in data:
            raise VisinstructError(f"{source}: a prompt file needs `id` and `version`")
        self.id: str = data["id"]
        self.version: int | str = data["version"]
        self.data = data
        self.source = source

    @property
    def ref(self) -> str:
        """ "<id>@v<version>": what a sample's provenance records."""
        return f"{self.id}@v{self.version}"

    def text(self, *path: str, lang: str, **values: object) -> str:
        """The text at `path` (e.g. "task", "judgement") in `lang`, with `{slots}` filled."""
        node: Any = self.data
        for p in path:
            node = node[p]
        return render(node[lang], values)


@cache
def load_prompt(name: str, folder: str | None = None) -> Prompt:
    """A prompt by name from `folder` when it has one, else the built-in."""
    if folder and (Path(folder) / f"{name}.yaml").is_file():
        p = Path(folder) / f"{name}.yaml"
        return Prompt(yaml.safe_load(p.read_text("utf-8")), str(p))
    text = resources.files("visinstruct.prompts").joinpath(f"{name}.yaml").read_text("utf-8")
    return Prompt(yaml.safe_load(text), f"builtin:{name}.yaml")
