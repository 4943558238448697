"""Classes a recipe names by reference: `module:Class`, or an entry point of a package.

Stages and search providers are both plugged in this way; each caller checks that what it
got is its kind of class and words its own errors.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any


def load_reference(ref: str, group: str, what: str, error: type[Exception], dotted: bool = False) -> Any:
    """The object `ref` names: `module:attr` (with `dotted`, also `module.attr`) imported, else
    the entry point `ref` of `group` loaded; None when no entry point has that name. Import
    failures raise `error` naming `what` and `ref`."""
    if ":" in ref or (dotted and "." in ref):
        module, _, attr = ref.partition(":") if ":" in ref else ref.rpartition(".")
        try:
            return getattr(import_module(module), attr)
        except ImportError as e:
            raise error(f"{what} {ref!r}: cannot import {module!r} ({e})") from None
        except AttributeError:
            raise error(f"{what} {ref!r}: {module!r} has no {attr!r}") from None
    found = [ep for ep in entry_points(group=group) if ep.name == ref]
    return found[0].load() if found else None
