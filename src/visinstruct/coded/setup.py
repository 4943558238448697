"""What a recipe's `coded:` needs, checked before a run starts: its topics, its prompt, and
the renderers of its kinds (one line naming what is missing and how to install it)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from visinstruct.errors import RecipeError

EXTRA = "pip install 'visinstruct[coded]'"


def check(
    spec: Any, catalog: dict[str, Any], prompts_dir: str | None, languages: tuple[str, ...] = ("en",)
) -> None:
    """Raise RecipeError when the run could not make what `spec` asks for (in `languages`)."""
    from visinstruct.coded.render import CHROMIUM
    from visinstruct.prompts import load_prompt

    for name in spec.topics or []:
        if name not in catalog:
            raise RecipeError(f"coded.topics: {name!r} is not in the domain catalog")
    prompt = load_prompt("coded", prompts_dir)
    for kind in spec.kinds:
        try:
            prompt.text("rules", kind, lang="en")
        except (KeyError, TypeError):
            raise RecipeError(
                f"{prompt.source}: no `rules: {kind}: en:` text for coded kind {kind}"
            ) from None
    for lang in languages:
        if lang == "en":
            continue
        for path in (("system",), ("user",), *(("text_rules", kind) for kind in spec.kinds)):
            node: Any = prompt.data
            for p in path:
                node = node.get(p) if isinstance(node, dict) else None
            if not isinstance(node, dict) or not isinstance(node.get(lang), str):
                where = ": ".join(path)
                raise RecipeError(f"{prompt.source}: no `{where}: {lang}:` text for coded specs in {lang}")
    kinds = set(spec.kinds)
    if "vega-lite" in kinds and importlib.util.find_spec("vl_convert") is None:
        raise RecipeError(f"coded.kinds: vega-lite specs are drawn by vl-convert, not installed ({EXTRA})")
    if "svg" in kinds and importlib.util.find_spec("defusedxml") is None:
        raise RecipeError(f"coded.kinds: svg specs are read with defusedxml, not installed ({EXTRA})")
    if kinds & {"svg", "html"}:
        if importlib.util.find_spec("playwright") is None:
            raise RecipeError(
                f"coded.kinds: svg and html specs are drawn in Chromium via Playwright ({EXTRA})"
            )
        if not os.path.exists(CHROMIUM):
            raise RecipeError(
                f"coded.kinds: svg and html specs are drawn in Chromium, not found at {CHROMIUM} "
                "(apt-get install chromium, or set VISINSTRUCT_CHROMIUM)"
            )
