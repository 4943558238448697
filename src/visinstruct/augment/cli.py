"""`visinstruct augment`: grow a pool of instruction templates, compare modes, build data."""

from __future__ import annotations

import sys
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from visinstruct.augment.config import MODES, AugmentConfig, Mode, load_config

if TYPE_CHECKING:
    from visinstruct.augment.generate import AugmentResult
    from visinstruct.augment.pool import TaskFigures

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 200)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def augment() -> None:
    """Instruction augmentation: rephrase templates with a model, filter, and build data."""


def _config(path: Path, mode: str | None, target: float | None, rounds: int | None) -> AugmentConfig:
    from visinstruct.augment.config import ConfigError, GenerationSpec
    from visinstruct.recipe import validate

    cfg = load_config(path)
    update = {k: v for k, v in {"mode": mode, "target": target, "rounds": rounds}.items() if v is not None}
    if update:
        data = {**cfg.generation.model_dump(), **update}
        where = f"{path} with --{'/--'.join(update)}"
        cfg.generation = validate(GenerationSpec, data, where, "generation", ConfigError)
    return cfg


def _run_mode(
    cfg: AugmentConfig, mode: Mode, out_dir: Path, cache: Path
) -> tuple[AugmentResult, list[TaskFigures]]:
    """One augmentation into `out_dir`, with a progress bar once requests go out (so an
    error in the input is a single line)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from visinstruct.augment.runner import run_augment

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task_id = bar.add_task(f"{cfg.name}: {mode}", total=None)

    def progress(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task_id, completed=done, total=total)

    try:
        return run_augment(cfg, out_dir, mode, cache, progress=progress)
    finally:
        if bar.live.is_started:
            bar.stop()


@augment.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
@click.option("--mode", type=click.Choice(MODES), default=None, help="Override generation.mode.")
@click.option(
    "--target", type=click.FloatRange(min=1, min_open=True), default=None, help="Templates per original."
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=None, help="Rephrasing rounds (iterative, both)."
)
def run_cmd(config: Path, out_dir: Path, mode: str | None, target: float | None, rounds: int | None) -> None:
    """Grow CONFIG's templates into a filtered pool.

    Writes pool.jsonl, rejected.jsonl, pool.yaml and summary.json to --out; running the
    same command again reads every answer from the cache and resumes."""
    cfg = _config(config, mode, target, rounds)
    from visinstruct.augment.runner import default_cache

    result, figs = _run_mode(cfg, cfg.generation.mode, out_dir, default_cache(cfg, out_dir))
    _print_tasks(figs, f"{cfg.name}: {cfg.generation.mode}, target {cfg.generation.target:g}×")
    _print_outcome(result, out_dir)


@augment.command("compare")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
@click.option(
    "--modes",
    default="temperatures,iterative",
    show_default=True,
    help="Comma-separated: temperatures, iterative, both.",
)
@click.option(
    "--target", type=click.FloatRange(min=1, min_open=True), default=None, help="Templates per original."
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=None, help="Rephrasing rounds (iterative, both)."
)
def compare_cmd(config: Path, out_dir: Path, modes: str, target: float | None, rounds: int | None) -> None:
    """Compare generation modes on the same templates.

    Each mode writes its pool to --out/<mode>; the modes share one response cache."""
    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    bad = [m for m in chosen if m not in MODES]
    if bad or not chosen:
        raise click.BadParameter(f"unknown mode {bad[0] if bad else '(none)'!r} (use {', '.join(MODES)})")
    from visinstruct.augment.runner import default_cache

    cfg = _config(config, None, target, rounds)
    cache = default_cache(cfg, out_dir)
    rows = []
    for m in chosen:
        result, figs = _run_mode(cfg, m, out_dir / m, cache)  # type: ignore[arg-type]
        _print_tasks(figs, f"{cfg.name}: {m}, target {cfg.generation.target:g}×")
        rows.append((m, result, figs))
    table = Table(title=f"{cfg.name}: modes compared (mean over {len(rows[0][2])} tasks)")
    cols = ("mode", "replies", "sent", "pool", "mean ×", "min ×", "rejected", "words")
    for col in (*cols, "distinct-1", "distinct-2", "ROUGE-L"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    figs0 = rows[0][2]
    table.add_row(
        "originals", "", "", str(sum(f.originals for f in figs0)), "1.0", "", "", *_means(figs0, False)
    )
    for m, result, figs in rows:
        table.add_row(
            m,
            str(result.requests),
            str(result.sent),
            str(sum(f.kept for f in figs)),
            f"{mean(f.expansion for f in figs):.1f}",
            f"{min(f.expansion for f in figs):.1f}",
            str(sum(f.rejected for f in figs)),
            *_means(figs, True),
        )
    out.print(table)
    out.print("distinct-n: higher is more diverse; ROUGE-L: mean pairwise similarity, lower is more diverse")
    console.print(f"pools in {', '.join(str(out_dir / m) for m, _, _ in rows)}; cache {cache}")


@augment.command("templates")
@click.argument("config", type=click.Path(path_type=Path))
def templates_cmd(config: Path) -> None:
    """List CONFIG's tasks; sends nothing.

    Per task: templates, languages, placeholders and diversity of the originals."""
    from visinstruct.augment.diversity import diversity
    from visinstruct.augment.generate import load_originals

    originals = load_originals(load_config(config))
    table = Table(title=f"{config}: {len(originals)} templates")
    for col in ("task", "lang", "templates", "placeholders", "distinct-1", "distinct-2", "ROUGE-L"):
        table.add_column(
            col, justify="right" if col in ("templates", "distinct-1", "distinct-2", "ROUGE-L") else "left"
        )
    tasks: dict[str, list] = {}
    for t in originals:
        tasks.setdefault(t.task, []).append(t)
    for task, ts in tasks.items():
        d = diversity([t.text for t in ts])
        spans = sorted({s for t in ts for s in t.placeholders()})
        table.add_row(
            task,
            "+".join(sorted({t.lang for t in ts})),
            str(len(ts)),
            " ".join(spans),
            f"{d.distinct_1:.3f}",
            f"{d.distinct_2:.3f}",
            f"{d.rouge_l:.3f}",
        )
    out.print(table)


@augment.command("build")
@click.argument("pool", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL to write.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same pool, data and seed: same dataset."
)
@click.option("--task", default=None, help="The task of every row (default: each row's task field).")
@click.option(
    "--task-field", default=None, help="Row field naming the task (default: task; type for export rows)."
)
@click.option(
    "--field", "field_name", default="instruction", show_default=True, help="Where user rows get the text."
)
def build_cmd(
    pool: Path,
    data: Path,
    out_path: Path,
    seed: int,
    task: str | None,
    task_field: str | None,
    field_name: str,
) -> None:
    """Give each row of DATA a template from POOL.

    DATA is a visinstruct jsonl export or your JSONL with a field per placeholder; POOL is
    an augment output folder or its pool.jsonl."""
    import json
    import os

    from visinstruct.augment.build import BuildStats, build_rows, read_jsonl
    from visinstruct.augment.pool import read_pool
    from visinstruct.errors import VisinstructError

    templates = read_pool(pool)
    stats = BuildStats()
    tmp = out_path.with_name(out_path.name + ".tmp")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as f:
            for row in build_rows(
                read_jsonl(data),
                templates,
                seed=seed,
                task=task,
                task_field=task_field,
                field_name=field_name,
                source=str(data),
                stats=stats,
            ):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, out_path)
    except OSError as e:
        raise VisinstructError(f"{out_path}: cannot write ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    origins = ", ".join(f"{n} {o}" for o, n in stats.by_origin.most_common())
    console.print(
        f"{stats.rows} rows → {out_path}: {len(stats.templates_used)} distinct templates ({origins}); "
        + ", ".join(f"{t} {n}" for t, n in stats.by_task.most_common())
    )


def _means(figs: list[TaskFigures], after: bool) -> list[str]:
    ds = [f.after if after else f.before for f in figs]
    return [
        f"{mean(d.words for d in ds):.0f}",
        f"{mean(d.distinct_1 for d in ds):.3f}",
        f"{mean(d.distinct_2 for d in ds):.3f}",
        f"{mean(d.rouge_l for d in ds):.3f}",
    ]


def _print_tasks(figs: list[TaskFigures], title: str) -> None:
    table = Table(title=title)
    for col in (
        "task",
        "lang",
        "orig",
        "pool",
        "×",
        "rejected",
        "words",
        "distinct-1",
        "distinct-2",
        "ROUGE-L",
    ):
        table.add_column(col, justify="left" if col in ("task", "lang") else "right")
    for f in figs:
        table.add_row(
            f.task,
            f.langs,
            str(f.originals),
            str(f.kept),
            f"{f.expansion:.1f}",
            str(f.rejected),
            f"{f.before.words} → {f.after.words}",
            f"{f.before.distinct_1:.2f} → {f.after.distinct_1:.2f}",
            f"{f.before.distinct_2:.2f} → {f.after.distinct_2:.2f}",
            f"{f.before.rouge_l:.2f} → {f.after.rouge_l:.2f}",
        )
    out.print(table)


def _print_outcome(result: AugmentResult, out_dir: Path) -> None:
    from collections import Counter

    reasons = Counter(r.rule for r in result.rejected)
    console.print(
        f"{result.requests} replies ({result.sent} sent, {result.requests - result.sent} from the cache), "
        f"cost ${result.cost_usd:.4f}"
    )
    if reasons:
        console.print("rejected: " + ", ".join(f"{n} {r}" for r, n in reasons.most_common()))
    console.print(f"pool → {out_dir / 'pool.jsonl'}, rejections → {out_dir / 'rejected.jsonl'}")
    if result.failed:
        console.print(f"[yellow]{result.failed} requests failed; running again retries them[/]")
    if result.budget_reached:
        console.print("[yellow]the budget is spent: raise budget_usd and run again to continue[/]")


def main(argv: list[str] | None = None) -> None:
    """`python -m visinstruct.augment`: user errors are one line on stderr, no traceback."""
    from visinstruct.shell import run_command

    run_command(augment, argv, "visinstruct augment")
