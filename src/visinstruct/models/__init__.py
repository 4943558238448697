"""The model client: every call to an OpenAI-compatible VLM or LLM goes through here."""

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
