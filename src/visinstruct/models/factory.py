"""The one place a run's model client is made: endpoints, cache, ledger, budget, prices."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from visinstruct.models.client import ModelClient
from visinstruct.models.endpoints import load_prices
from visinstruct.models.images import ImageEncoder


def client_for(
    recipe: Any,
    run_dir: Path,
    db: sqlite3.Connection | None,
    base: Path,
    read_only: bool = False,
    encoder: ImageEncoder | None = None,
) -> ModelClient:
    """The model client of a recipe's run in `run_dir`; `read_only` (estimates) writes
    nothing anywhere: no ledger, and a cache only if one exists already. `encoder` prepares
    the images sent (a run passes one working in its executor's processes)."""
    prices = load_prices(str(base / recipe.prices)) if recipe.prices else None
    cache: Path | None = Path(recipe.cache) if recipe.cache else Path(run_dir) / "cache.db"
    if read_only:
        db = None
        if not cache.exists():
            cache = None
    return ModelClient(
        recipe.endpoints,
        cache=cache,
        db=db,
        budget_usd=recipe.budget_usd,
        prices=prices,
        seed=recipe.seed,
        encoder=encoder,
    )
