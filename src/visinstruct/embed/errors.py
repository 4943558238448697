"""The error of the embedding package, and the one-line hint for a missing optional dependency."""

from __future__ import annotations

import importlib
from types import ModuleType

from visinstruct.errors import VisinstructError

#: The command that installs the embedding extra. Torch comes first and pinned: the extra's plain
#: `torch` would otherwise pull the CUDA build (several GB) on Linux.
INSTALL = "install torch first (its CPU build needs no GPU libraries), then: pip install 'visinstruct[embed]'"


class EmbedError(VisinstructError):
    """An embedding model, an index or a query cannot be used: names it and why."""


def need(module: str, what: str) -> ModuleType:
    """`module` imported, or EmbedError saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise EmbedError(f"{what} needs the '{module}' package ({e}): {INSTALL}") from None
