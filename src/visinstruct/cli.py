"""The `visinstruct` command: a thin shell over the Python API."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from visinstruct.errors import VisinstructError

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 200)  # piped output: don't squeeze tables

FORMATS = ("jsonl", "llava", "sharegpt", "internvl", "parquet", "dataengine")
STATUSES = ("accepted", "edited", "needs_review", "rejected")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="visinstruct")
def cli() -> None:
    """Make, check and export visual instruction-tuning data."""


@cli.command("run")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option(
    "--run-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the run lives; running again resumes it.",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes (default: all cores).")
@click.option("--no-export", is_flag=True, help="Skip the recipe's exports.")
@click.option("--dry-run", is_flag=True, help="Print requests, tokens and cost per stage; send nothing.")
def run_cmd(recipe: Path, run_dir: Path, workers: int | None, no_export: bool, dry_run: bool) -> None:
    """Run RECIPE into --run-dir, then write the recipe's exports."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from visinstruct.engine import run
    from visinstruct.recipe import load_recipe
    from visinstruct.store import RunStore

    rec = load_recipe(recipe)
    if dry_run:
        _dry_run(rec, run_dir)
        return
    RunStore(run_dir).close()  # fail on an unusable run directory before drawing progress
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, object] = {}

        def stage(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"{rec.name}: {name}", total=total)
            bar.update(tasks[name], completed=done, total=total)

        summary = run(
            rec,
            run_dir,
            workers=workers,
            on_progress=(lambda done, total: stage("synthetic items", done, total))
            if rec.synthetic
            else None,
            on_stage=stage,
        )
    if rec.synthetic:
        console.print(
            f"{summary.made} synthetic items made, {summary.skipped} already done, {summary.failed} failed"
        )
    for name, c in summary.stages.items():
        console.print(
            f"{name}: {c.done} done, {c.failed} failed" + (f", {c.skipped} not sent" if c.skipped else "")
        )
    console.print(f"{summary.samples} samples in {run_dir} ({summary.seconds:.1f} s)")
    if summary.gate is not None:
        _print_gate(summary.gate)
    else:
        with RunStore(run_dir, create=False) as store:
            by: dict[str, int] = {}
            for _d, _t, status, n in store.counts():
                by[status] = by.get(status, 0) + n
        console.print("checks: " + ", ".join(f"{n} {s}" for s, n in sorted(by.items())))
    if summary.budget_reached:
        console.print("[yellow]the budget is spent: raise budget_usd and run again to continue[/]")
    if not no_export:
        from visinstruct.export import export

        with RunStore(run_dir, create=False) as store:
            for spec in rec.export:
                res = export(store, spec.format, store.dir / "exports" / spec.out, include=spec.include)
                console.print(f"  {spec.format:<10} {res.n_samples:>6} samples → {res.path}")
    failed = summary.failed + sum(c.failed for c in summary.stages.values())
    if failed:
        console.print(
            f"[yellow]{failed} failed; `visinstruct status {run_dir}` lists why; "
            "running again retries them[/]"
        )


def _print_gate(g) -> None:
    st = g.statuses
    line = ", ".join(f"{st[k]} {k}" for k in ("accepted", "edited", "needs_review", "rejected") if st[k])
    console.print(
        f"checks: {line or 'no samples'}" + (f"; {g.rebalanced} rebalanced" if g.rebalanced else "")
    )
    if g.reasons:
        console.print("  failed checks: " + ", ".join(f"{n} {c}" for n, c in g.reasons.most_common()))
    if g.verify:
        console.print("  verification: " + ", ".join(f"{v} {k}" for k, v in g.verify.items() if v))


@cli.command("check")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--recipe",
    "recipe_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Take the checks (and endpoints) from this recipe instead of the run's own.",
)
def check_cmd(run_dir: Path, recipe_path: Path | None) -> None:
    """Run the quality gate over RUN_DIR again: rules, balance, dedup, verification, judge."""
    from visinstruct.checks.gate import run_gate
    from visinstruct.models import run_async
    from visinstruct.recipe import load_recipe, parse_recipe
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        rec = (
            load_recipe(recipe_path)
            if recipe_path
            else parse_recipe(store.get_meta("recipe"), f"{run_dir} (its recipe)")
        )
        _print_gate(run_async(run_gate(rec, store, Path.cwd())))


@cli.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file to write (default: RUN_DIR/report.html).",
)
@click.option("--gallery", type=click.IntRange(min=0), default=24, help="Random samples to show.")
def report_cmd(run_dir: Path, out: Path | None, gallery: int) -> None:
    """Write one self-contained HTML report of RUN_DIR: plots, balance, reasons, cost, a gallery."""
    from visinstruct.report import write_report
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        path = write_report(store, out or store.dir / "report.html", gallery=gallery)
    console.print(f"report → {path}")


def _dry_run(rec, run_dir: Path) -> None:
    """What the recipe would send, per stage, before anything is sent."""
    from visinstruct.models import run_async
    from visinstruct.pipeline import Pipeline

    if rec.synthetic:
        n = sum(s.count for s in rec.synthetic.values())
        out.print(f"synthetic: {n} items, drawn offline (no model requests)")
    if not rec.sources:
        return
    estimates = run_async(Pipeline(rec, None, Path.cwd(), run_dir=run_dir).estimate())
    table = Table(title="dry run: model requests (nothing sent)")
    for col in ("stage", "endpoint", "model", "requests", "cached", "tokens in", "tokens out", "cost (USD)"):
        table.add_column(col, justify="left" if col in ("stage", "endpoint", "model") else "right")
    total = 0.0
    for e in estimates:
        total += e.cost_usd
        table.add_row(
            e.stage,
            e.endpoint,
            e.model,
            str(e.requests),
            str(e.cached),
            f"{e.input_tokens:,}",
            f"{e.output_tokens:,}",
            f"{e.cost_usd:.4f}",
        )
    table.add_row(
        "[bold]total", "", "", str(sum(e.requests for e in estimates)), "", "", "", f"[bold]{total:.4f}"
    )
    out.print(table)
    out.print(
        "estimates: text at ~4 characters a token, images by the tile rule, outputs at max_tokens; "
        "domain assignment not counted"
    )


@cli.command("status")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def status_cmd(run_dir: Path) -> None:
    """What RUN_DIR holds: samples per domain × type and status, and what failed."""
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        rows = store.counts()
        table = Table(title=f"samples in {run_dir}")
        table.add_column("domain")
        table.add_column("type")
        for st in STATUSES:
            table.add_column(st, justify="right")
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for domain, typ, status, n in rows:
            groups.setdefault((domain, typ), {})[status] = n
        totals = dict.fromkeys(STATUSES, 0)
        for (domain, typ), by in groups.items():
            table.add_row(domain, typ, *(str(by.get(s, 0)) for s in STATUSES))
            for s in STATUSES:
                totals[s] += by.get(s, 0)
        table.add_row("[bold]total", "", *(f"[bold]{totals[s]}" for s in STATUSES))
        out.print(table)
        _print_spend(store)
        from visinstruct.checks.gate import gate_counts

        g = gate_counts(store)
        if g["verify_agree"] or g["verify_disagree"]:
            total = g["verify_agree"] + g["verify_disagree"]
            out.print(
                f"verification: {g['verify_agree']} agree, {g['verify_disagree']} disagree "
                f"({g['verify_agree'] / total:.0%} agreement); disagreements are in needs_review"
            )
        if g["reasons"]:
            out.print("failed checks: " + ", ".join(f"{n} {c}" for n, c in g["reasons"].most_common()))
        _print_review_progress(store)
        n_inputs = store.db.execute("SELECT COUNT(*) FROM inputs").fetchone()[0]
        rejected = store.rejected_inputs()
        if n_inputs:
            out.print(f"source images: {n_inputs - len(rejected)} stored, {len(rejected)} rejected")
        for ref, err in rejected[:200]:
            why = err if err.startswith(ref) else f"{ref}: {err}"
            out.print(f"  rejected {why}", markup=False, soft_wrap=True)
        if len(rejected) > 200:
            out.print(f"  … and {len(rejected) - 200} more")
        failed = store.failed_units()
        if failed:
            out.print(f"[yellow]{len(failed)} items failed:[/]")
            for key, err in failed[:50]:
                out.print(f"  {key}: {err}", markup=False)
            if len(failed) > 50:
                out.print(f"  … and {len(failed) - 50} more")


def _print_review_progress(store) -> None:
    """Manual review so far: samples reviewed, per reviewer and action (undone ones not counted)."""
    has = store.db.execute("SELECT 1 FROM sqlite_master WHERE name='review_audit'").fetchone()
    if not has:
        return
    live = (
        "FROM review_audit a WHERE action != 'undo' "
        "AND NOT EXISTS (SELECT 1 FROM review_audit u WHERE u.undoes = a.id)"
    )
    reviewed = store.db.execute(f"SELECT COUNT(DISTINCT sample_id) {live}").fetchone()[0]
    waiting = store.db.execute("SELECT COUNT(*) FROM samples WHERE status='needs_review'").fetchone()[0]
    out.print(f"review: {reviewed} samples reviewed, {waiting} waiting in needs_review")
    by: dict[str, dict[str, int]] = {}
    for reviewer, action, n in store.db.execute(f"SELECT reviewer, action, COUNT(*) {live} GROUP BY 1, 2"):
        by.setdefault(reviewer, {})[action] = n
    for reviewer, acts in sorted(by.items()):
        out.print(f"  {reviewer}: " + ", ".join(f"{n} {a}" for a, n in sorted(acts.items())), markup=False)


def _print_spend(store) -> None:
    """Model calls and their cost, per endpoint and stage, and the commonest failure reasons."""
    from visinstruct.models.ledger import ledger_rows

    rows = ledger_rows(store.db)
    if not rows:
        return
    table = Table(title="model calls")
    for col in (
        "endpoint",
        "stage",
        "model",
        "sent",
        "cached",
        "failed",
        "retries",
        "tokens in",
        "tokens out",
        "cost (USD)",
    ):
        table.add_column(col, justify="left" if col in ("endpoint", "stage", "model") else "right")
    total = 0.0
    for endpoint, stage, model, sent, cached, failed, retries, tin, tout, cost in rows:
        total += cost
        table.add_row(
            endpoint,
            stage,
            model,
            str(sent),
            str(cached),
            str(failed),
            str(retries),
            f"{tin:,}",
            f"{tout:,}",
            f"{cost:.4f}",
        )
    table.add_row("[bold]total", "", "", "", "", "", "", "", "", f"[bold]{total:.4f}")
    out.print(table)
    reasons = list(
        store.db.execute(
            "SELECT reason, COUNT(*) FROM model_failures GROUP BY reason ORDER BY 2 DESC LIMIT 10"
        )
    )
    if reasons:
        out.print("[yellow]model failures (kept with their raw replies in run.db, table model_failures):[/]")
        for reason, n in reasons:
            out.print(f"  {n:>6}  {reason}", markup=False)


@cli.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output file.")
@click.option(
    "--include",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Statuses to include besides accepted and edited (repeatable).",
)
def export_cmd(run_dir: Path, fmt: str, out: Path, include: tuple[str, ...]) -> None:
    """Write RUN_DIR's samples in a training format."""
    from visinstruct.export import export
    from visinstruct.store import RunStore

    statuses = tuple(dict.fromkeys(("accepted", "edited", *include)))
    with RunStore(run_dir, create=False) as store:
        res = export(store, fmt, out, include=statuses)
    console.print(f"{res.n_samples} samples, {res.n_images} images → {res.path}")


@cli.command("review")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Bind address; others need the token too."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
def review_cmd(run_dir: Path, host: str, port: int) -> None:
    """Review samples in the browser: accept, edit, reject (prints a URL with an access token)."""
    from visinstruct.review import serve

    serve(run_dir, host=host, port=port)


@cli.command("domains")
@click.option(
    "--domains-dir",
    "extra",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A domain YAML file or folder of them, added to the catalog (repeatable).",
)
def domains_cmd(extra: tuple[Path, ...]) -> None:
    """List the domains a recipe can use, with their seed-question counts."""
    from visinstruct.domains import load_catalog
    from visinstruct.synth import REGISTRY, get_domain

    table = Table(title="domain catalog: seed questions per family (en / zh)")
    for col in ("domain", "title", "judgement", "choice", "open", "from"):
        table.add_column(col, justify="right" if col in ("judgement", "choice", "open") else "left")
    catalog = load_catalog(extra)
    for name, d in sorted(catalog.items()):
        c = d.counts()
        table.add_row(
            name,
            d.title.en,
            *(f"{c[(f, 'en')]} / {c[(f, 'zh')]}" for f in ("judgement", "choice", "open")),
            d.source,
        )
    out.print(table)
    out.print(f"{len(catalog)} catalog domains")
    synth = Table(title="synthetic domains (offline, exact facts)")
    synth.add_column("name")
    synth.add_column("images")
    synth.add_column("description")
    for name in sorted(REGISTRY):
        d = get_domain(name)
        synth.add_row(name, str(d.images_per_item), d.description)
    out.print(synth)


@cli.command("weakness")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "generic", "lmms-eval", "vlmevalkit"]),
    default="auto",
    help="Results format (default: detected).",
)
@click.option(
    "--benchmark", default=None, help="Mapping to show targets from: seedbench, mmbench (default: detected)."
)
@click.option("--mapping", "mappings", multiple=True, type=click.Path(exists=True, path_type=Path))
@click.option("--floor", type=float, default=0.05, show_default=True)
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option(
    "--total", type=click.IntRange(min=0), default=1000, show_default=True, help="Samples to share."
)
def weakness_cmd(
    results: Path,
    fmt: str,
    benchmark: str | None,
    mappings: tuple[Path, ...],
    floor: float,
    temperature: float,
    total: int,
) -> None:
    """Read evaluation RESULTS: accuracy per category, weights, quotas, and where data would come from."""
    from visinstruct.loop.importers import load_results
    from visinstruct.loop.mapping import load_mapping
    from visinstruct.loop.weakness import accuracy_by_category, quotas, weakness_table, weights

    res = load_results(results, format=fmt, benchmark=benchmark)
    for p in res.problems[:20]:
        console.print(f"  {p.where}: {p.reason}", markup=False, highlight=False)
    if len(res.problems) > 20:
        console.print(f"  … and {len(res.problems) - 20} more problems")
    if not res.records:
        raise VisinstructError(f"{results}: no evaluation records")
    stats = accuracy_by_category(res.records)
    try:
        w = weights(stats, floor=min(floor, 1 / len(stats)), temperature=temperature)
    except ValueError as e:
        raise VisinstructError(str(e)) from None
    out.print(weakness_table(stats, w, quotas(w, total)))
    bench = benchmark or res.benchmark or None
    mapping = load_mapping(bench if bench != "generic" else None, list(mappings))
    targets = Table(
        title=f"where the data would come from ({res.format}, mapping: {bench or 'our categories'})"
    )
    for col in ("category", "targets", "from"):
        targets.add_column(col)
    for s in stats:
        ts = mapping.targets(s.category)
        names = ", ".join(f"{t.domain or 'any'}/{t.category}" for t in ts) or "[yellow]unmapped[/]"
        targets.add_row(s.category, names, mapping.source(s.category))
    out.print(targets)


@cli.command("loop")
@click.argument("loop_file", type=click.Path(path_type=Path))
@click.option(
    "--loop-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the loop's rounds live; running again continues where it stopped.",
)
@click.option("--rounds", type=click.IntRange(min=1), default=None, help="Rounds (default: the loop file's).")
def loop_cmd(loop_file: Path, loop_dir: Path, rounds: int | None) -> None:
    """Evaluate → find weak categories → make targeted data → train, round after round."""
    from visinstruct.loop.runner import Events, Loop, load_loop
    from visinstruct.loop.weakness import weakness_table

    spec, base = load_loop(loop_file)

    def step(rnd: int, name: str, state: str, info: dict) -> None:
        if state == "start":
            return
        what = ""
        if name == "evaluate":
            what = f": {info['records']} answers from {info['source']}"
            if info["problems"]:
                what += f" ({info['problems']} lines not read: round-{rnd}/import_problems.json)"
        elif name == "generate":
            what = f": {info['samples']} samples, ${info['cost_usd']:.4f}, data {info['data']}"
            for domain, missing in info["short"].items():
                what += f"; {domain} fell short by " + ", ".join(f"{n} {c}" for c, n in missing.items())
        console.print(f"round {rnd}: {name} {state}{what}", markup=False, highlight=False)

    def analysis(rnd, stats, weights, quotas, previous, dropped) -> None:
        out.print(weakness_table(stats, weights, quotas, previous))
        for cat, why in sorted(dropped.items()):
            console.print(f"[yellow]  {cat}: no data made ({why})[/]")

    history = Loop(spec, base, loop_dir, Events(step, analysis)).run(rounds)
    first, last = history[0][1], history[-1][1]
    acc = {s.category: s.accuracy for s in first}
    console.print(
        f"{len(history) - 1} rounds; accuracy "
        + ", ".join(f"{s.category} {acc.get(s.category, 0):.0%}→{s.accuracy:.0%}" for s in last)
    )
    console.print(f"report: {loop_dir / 'report.html'}")


def _register() -> None:
    from visinstruct.augment.cli import augment

    cli.add_command(augment)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, no traceback."""
    run_command(cli, argv, "visinstruct")


def run_command(command: click.Command, argv: list[str] | None, prog_name: str) -> None:
    """Run a click command the way the `visinstruct` entry point does (one-line errors, exit codes)."""
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        console.print("interrupted; run the same command again to resume")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except VisinstructError as e:
        console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()
