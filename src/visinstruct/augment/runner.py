"""One augmentation end to end: config → templates → model → filtered pool on disk.

The output folder also holds `augment.db` (the spend ledger, failed requests, Batch API
jobs): `budget_usd` counts what every run into that folder has spent.

Whatever was produced is written even when the run stops on an error (a bad key, the
budget, an interrupt): every answer already received is in the client's cache, so the
same command resumes without asking again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from visinstruct.augment.config import AugmentConfig, Mode
from visinstruct.augment.directives import load_directives
from visinstruct.augment.generate import Augmenter, AugmentResult, Progress, load_originals
from visinstruct.augment.pool import TaskFigures, write_outputs
from visinstruct.errors import VisinstructError
from visinstruct.models import ModelClient, run_async
from visinstruct.models.endpoints import load_prices


def default_cache(cfg: AugmentConfig, out_dir: str | Path) -> Path:
    """The config's `cache:`, else `<out>/cache.db`."""
    return cfg.path(cfg.cache) if cfg.cache else Path(out_dir) / "cache.db"


def run_augment(
    cfg: AugmentConfig,
    out_dir: str | Path,
    mode: Mode | None = None,
    cache: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[AugmentResult, list[TaskFigures]]:
    """Augment `cfg`'s templates into `out_dir` (pool.jsonl, rejected.jsonl, pool.yaml,
    summary.json, augment.db) and return the result with its per-task figures."""
    originals = load_originals(cfg)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VisinstructError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    meta = load_directives(cfg.path(cfg.directives_file) if cfg.directives_file else None, cfg.directives)
    prices = load_prices(str(cfg.path(cfg.prices))) if cfg.prices else None
    aug = Augmenter(cfg, originals, meta, mode, progress)

    async def go() -> None:
        db = sqlite3.connect(out / "augment.db", timeout=30)  # spend, failures, Batch API jobs
        client = ModelClient(
            cfg.endpoints,
            cache=cache or default_cache(cfg, out),
            db=db,
            budget_usd=cfg.budget_usd,
            prices=prices,
            seed=cfg.seed,
        )
        spent_before = client.ledger.prior_cost
        try:
            async with client:
                await aug.run(client)
        finally:
            aug.result.sent = client.sent
            aug.result.cost_usd = client.ledger.total_cost() - spent_before
            client.cache.close()
            db.close()

    try:
        run_async(go())
    finally:
        figs = write_outputs(aug.result, out_dir)
    return aug.result, figs
