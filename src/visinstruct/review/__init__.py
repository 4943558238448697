"""A local web UI to review samples: accept, reject or edit, with an audit trail and undo."""

from visinstruct.review.app import create_app, serve

__all__ = ["create_app", "serve"]
