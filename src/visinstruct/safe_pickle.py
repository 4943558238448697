"""Pickles from downloaded datasets, loaded without running their code.

`pickle.load` calls whatever a file names (`os.system`, `subprocess.Popen`, `eval`, ...),
so a dataset released as pickles (GeoQA+, UniGeo) could run anything on the machine that
reads it. This unpickler resolves only the names those files need — numpy arrays, dtypes
and scalars, the builtin containers and values, `OrderedDict` — and refuses any other
name before it is called, with one line naming the module, the name and the file.

    data = safe_pickle.load(path)      # list of dicts holding numpy images
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from visinstruct.sources.ingest import SourceError

#: (module, name) a dataset pickle may name. numpy 1.x pickles name `numpy.core.*`,
#: numpy 2.x ones `numpy._core.*`; `_codecs.encode` carries the bytes of an array in a
#: protocol-2 pickle written by Python 3.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *((f"numpy.{core}.multiarray", n) for core in ("core", "_core") for n in ("_reconstruct", "scalar")),
        *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
        *(
            ("builtins", n)
            for n in (
                "list",
                "dict",
                "set",
                "frozenset",
                "tuple",
                "str",
                "bytes",
                "bytearray",
                "int",
                "float",
                "complex",
                "bool",
            )
        ),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),
    ]
)

#: Python 2 names of the same modules (pickles written by Python 2 use them).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class PickleRefused(SourceError):
    """A pickle names something outside the allow-list; nothing it names was called."""


class SafeUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose globals come only from `ALLOWED`."""

    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file, fix_imports=True, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if (module, name) not in ALLOWED:
            raise PickleRefused(
                f"{self.source}: refused to load the pickle: it names {module}.{name}, which is not "
                "allowed (only numpy arrays, dtypes and scalars and builtin values are)"
            )
        if module.startswith("numpy.core."):  # a numpy 1.x pickle read under numpy 2
            try:
                return super().find_class("numpy._core." + module.removeprefix("numpy.core."), name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """The object pickled in `data`; a refused name or a broken pickle is a one-line error."""
    return _load(io.BytesIO(data), source)


def load(path: str | Path) -> Any:
    """The object pickled in the file at `path` (see `loads`)."""
    try:
        with open(path, "rb") as f:
            return _load(f, str(path))
    except FileNotFoundError:
        raise SourceError(f"{path}: not found") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder, not a pickle") from None
    except PermissionError as e:
        raise SourceError(f"{path}: cannot read ({e.strerror})") from None


def _load(f: Any, source: str) -> Any:
    try:
        return SafeUnpickler(f, source).load()
    except SourceError:
        raise
    except MemoryError:
        raise SourceError(f"{source}: not a usable pickle (it asks for more memory than there is)") from None
    except Exception as e:  # truncated or garbled files raise many kinds
        detail = str(e) or type(e).__name__
        raise SourceError(f"{source}: not a valid pickle ({detail})") from None
