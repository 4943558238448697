"""A local web UI to review samples: accept, reject or edit, with an audit trail and undo.

The app (FastAPI, an optional extra) is imported on first use, so `visinstruct.review.db`
works without it, e.g. for `visinstruct status`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from visinstruct.review.app import create_app, serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from visinstruct.review import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
