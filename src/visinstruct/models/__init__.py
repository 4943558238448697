"""The model client: every call to an OpenAI-compatible VLM or LLM goes through here.

Names are imported on first use, so a process that only needs `models.images` (image
workers) does not pay for importing the `openai` SDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ResponseCache": "cache",
    "BudgetReached": "client",
    "ChatRequest": "client",
    "ModelClient": "client",
    "ModelFatalError": "client",
    "Outcome": "client",
    "run_async": "client",  # re-exported from visinstruct.aio
    "Endpoint": "endpoints",
    "EndpointError": "endpoints",
    "Price": "endpoints",
}

if TYPE_CHECKING:
    from visinstruct.models.cache import ResponseCache
    from visinstruct.models.client import (
        BudgetReached,
        ChatRequest,
        ModelClient,
        ModelFatalError,
        Outcome,
        run_async,
    )
    from visinstruct.models.endpoints import Endpoint, EndpointError, Price


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"visinstruct.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'visinstruct.models' has no attribute {name!r}")


__all__ = [
    "BudgetReached",
    "ChatRequest",
    "Endpoint",
    "EndpointError",
    "ModelClient",
    "ModelFatalError",
    "Outcome",
    "Price",
    "ResponseCache",
    "run_async",
]
