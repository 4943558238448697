"""The `visinstruct` command: a thin shell over the Python API."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape as markup_escape
from rich.table import Table

from visinstruct.errors import VisinstructError
from visinstruct.shell import console, run_command

out = Console(width=None if sys.stdout.isatty() else 200)  # piped output: don't squeeze tables

FORMATS = (
    "jsonl",
    "llava",
    "sharegpt",
    "internvl",
    "parquet",
    "dataengine",
    "parquet-shards",
    "jsonl-shards",
    "webdataset",
)
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
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default=None,
    help="Where CPU units run (default: the recipe's executor:, else local processes).",
)
@click.option("--no-export", is_flag=True, help="Skip the recipe's exports.")
@click.option("--dry-run", is_flag=True, help="Print requests, tokens and cost per stage; send nothing.")
@click.option("--force", is_flag=True, help="Continue a run directory made by another recipe.")
def run_cmd(
    recipe: Path,
    run_dir: Path,
    workers: int | None,
    executor: str | None,
    no_export: bool,
    dry_run: bool,
    force: bool,
) -> None:
    """Run RECIPE into --run-dir, then write the recipe's exports."""
    from visinstruct.recipe import load_recipe
    from visinstruct.runner import run_recipe
    from visinstruct.store import RunStore

    rec = load_recipe(recipe)
    if dry_run:
        _dry_run(rec, run_dir)
        return
    with _progress(rec.name) as stage:
        summary = run_recipe(
            rec,
            run_dir,
            workers=workers,
            progress=stage,
            force=force,
            exports=not no_export,
            executor_kind=executor,
        )
    for name, c in summary.stages.items():
        if not c.planned:
            continue
        parts = [f"{c.done} done"]
        if c.skipped:
            parts.append(f"{c.skipped} already done")
        for n, what in (
            (c.failed, "failed (retried by the next run)"),
            (c.gave_up, "gave up"),
            (c.not_sent, "not sent"),
        ):
            if n:
                parts.append(f"{n} {what}")
        console.print(f"{name}: " + ", ".join(parts))
    console.print(f"{summary.samples} samples in {run_dir} ({summary.seconds:.1f} s)")
    if any(s.search for s in rec.image_sources):
        with RunStore(run_dir, create=False) as store:
            _print_search(store, console, shown=5)
    _print_checks(summary.statuses, summary.failed_checks)
    for res in summary.exports:
        console.print(f"  {res.format:<10} {res.n_samples:>6} samples → {res.path}")
        _print_export_files(res, " " * 13)
    if summary.card is not None:
        console.print(f"  {'card':<10} {'':>6}         → {summary.card}", markup=False, soft_wrap=True)
    _finish(summary, run_dir)


def _finish(summary, run_dir: Path) -> None:
    """The last line says what is left, and the exit code tells a script."""
    from visinstruct.errors import EXIT_BUDGET, EXIT_FAILED

    if summary.search_failed:
        console.print(
            f"[yellow]{summary.search_failed} search result pages could not be had; the next run asks "
            f"again (`visinstruct status {run_dir}` says why)[/]",
            soft_wrap=True,
        )
    if summary.failed or summary.gave_up:
        console.print(
            f"[yellow]{summary.failed + summary.gave_up} units not done ({summary.failed} will be retried by "
            f"the next run, {summary.gave_up} gave up); `visinstruct status {run_dir}` lists them[/]",
            soft_wrap=True,
        )
    if summary.failed or summary.gave_up or summary.search_failed:
        sys.exit(EXIT_FAILED)
    if summary.budget_reached:
        console.print("[yellow]the budget is spent: raise budget_usd and run again to continue[/]")
        sys.exit(EXIT_BUDGET)


class _progress:
    """A progress bar per stage, drawn on stderr."""

    def __init__(self, name: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.name = name
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, object] = {}

    def __enter__(self):
        self.bar.__enter__()
        return self.stage

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def stage(self, name: str, done: int, total: int | None) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(f"{self.name}: {name}", total=total)
        self.bar.update(self.tasks[name], completed=done, total=total)


def _print_checks(statuses: dict[str, int], failed_checks: list) -> None:
    line = ", ".join(
        f"{statuses[k]} {k}" for k in ("accepted", "edited", "needs_review", "rejected") if statuses.get(k)
    )
    console.print(f"checks: {line or 'no samples'}")
    if failed_checks:
        console.print("  failed checks: " + ", ".join(f"{n} {c}" for n, c in failed_checks))


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
    """Run the checks over RUN_DIR again: what changed since (edits, new check versions) is checked."""
    from visinstruct.recipe import load_recipe, parse_recipe
    from visinstruct.runner import run_recipe
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        stored = store.get_meta("recipe")
    rec = load_recipe(recipe_path) if recipe_path else parse_recipe(stored, f"{run_dir} (its recipe)")
    with _progress(rec.name) as stage:
        summary = run_recipe(rec, run_dir, progress=stage, make=False)
    _print_checks(summary.statuses, summary.failed_checks)
    with RunStore(run_dir, create=False) as store:
        _print_verification(store)
    _finish(summary, run_dir)


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


@cli.command("card")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Markdown file to write (default: RUN_DIR/exports/README.md, beside the exports).",
)
def card_cmd(run_dir: Path, out: Path | None) -> None:
    """Write RUN_DIR's dataset card: a Hugging Face Hub README.md for its exports."""
    from visinstruct.report.card import write_card
    from visinstruct.store import RunStore

    with RunStore(run_dir, create=False) as store:
        path = write_card(store, out)
    console.print(f"dataset card → {path}", markup=False, soft_wrap=True)


@cli.command("push")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--repo", "repo_id", required=True, help="The dataset repository, OWNER/NAME.")
@click.option(
    "--private", is_flag=True, help="Create the repository private (an existing public one is refused)."
)
@click.option("--dry-run", is_flag=True, help="List what would be uploaded; send nothing.")
@click.option(
    "--endpoint", default=None, help="The Hub's address (default: HF_ENDPOINT, else huggingface.co)."
)
@click.option(
    "--files-per-commit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Files a commit carries; a cut-off push resumes after the last commit.",
)
def push_cmd(
    run_dir: Path, repo_id: str, private: bool, dry_run: bool, endpoint: str | None, files_per_commit: int
) -> None:
    """Upload RUN_DIR's dataset card and the data files its configs name to a Hub dataset repository.

    The token comes from HF_TOKEN. Running again after an interruption sends only what is not there."""
    from visinstruct.errors import EXIT_FAILED
    from visinstruct.publish.hub import PushFailed, parse_repo_id, plan_upload, push, resolve_endpoint

    repo_id = parse_repo_id(repo_id)
    url = resolve_endpoint(endpoint)
    if dry_run:
        uploads = plan_upload(run_dir)
        table = Table(title=f"dry run: {url}/datasets/{repo_id} (nothing sent)")
        for col in ("path in repo", "bytes", "local file"):
            table.add_column(col, justify="right" if col == "bytes" else "left", overflow="fold")
        for u in uploads:
            table.add_row(markup_escape(u.path), f"{u.size:,}", markup_escape(str(u.local)))
        out.print(table)
        total = sum(u.size for u in uploads)
        out.print(
            f"{len(uploads)} files, {total:,} bytes; files the Hub already has are skipped when pushing",
            markup=False,
        )
        return
    try:
        summary = push(
            run_dir,
            repo_id,
            private=private,
            endpoint=url,
            files_per_commit=files_per_commit,
            say=console.print,
        )
    except PushFailed as e:
        console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILED)
    sent = sum(u.size for u in summary.uploaded)
    total = len(summary.uploaded) + len(summary.skipped)
    parts = [f"{len(summary.uploaded)} uploaded ({sent:,} bytes)", f"{len(summary.skipped)} already there"]
    if summary.deleted:
        parts.append(f"{len(summary.deleted)} stale data files deleted")
    console.print(f"{total} files: {', '.join(parts)} → {summary.url}", markup=False, soft_wrap=True)


def _dry_run(rec, run_dir: Path) -> None:
    """What the recipe would send, per stage, before anything is sent."""
    from visinstruct.models import run_async
    from visinstruct.stages.estimate import estimate

    if rec.synthetic:
        n = sum(s.count for s in rec.synthetic.values())
        out.print(f"synthetic: {n} items, drawn offline (no model requests)")
    for spec in rec.dataset_sources:
        out.print(f"dataset {spec.dataset}: imported with its own answers, offline (no model requests)")
    if not rec.image_sources and rec.coded is None:
        return
    estimates = run_async(estimate(rec, Path.cwd(), run_dir))
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
        store.verify_integrity()
        table = Table(title=f"samples in {run_dir}")
        table.add_column("domain")
        table.add_column("type")
        for st in STATUSES:
            table.add_column(st, justify="right")
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for domain, typ, status, n in store.counts():
            groups.setdefault((domain, typ), {})[status] = n
        totals = dict.fromkeys(STATUSES, 0)
        for (domain, typ), by in groups.items():
            table.add_row(domain, typ, *(str(by.get(s, 0)) for s in STATUSES))
            for s in STATUSES:
                totals[s] += by.get(s, 0)
        table.add_row("[bold]total", "", *(f"[bold]{totals[s]}" for s in STATUSES))
        out.print(table)
        _print_units(store)
        _print_spend(store)
        _print_verification(store)
        failed_checks = store.failed_check_counts()
        if failed_checks:
            out.print("failed checks: " + ", ".join(f"{n} {c}" for n, c in failed_checks))
        _print_caption_facts(store)
        _print_review_progress(store)
        _print_datasets(store)
        n_inputs, n_rejected = store.input_counts()
        if n_inputs:
            again = store.duplicate_inputs()
            dup = f" ({again} found again: images an earlier input brought, kept once)" if again else ""
            out.print(f"source images: {n_inputs - n_rejected} stored{dup}, {n_rejected} rejected")
        _print_search(store, out)
        for ref, err in store.rejected_inputs(limit=200):
            why = err if err.startswith(ref) else f"{ref}: {err}"
            out.print(f"  rejected {why}", markup=False, soft_wrap=True)
        if n_rejected > 200:
            out.print(f"  … and {n_rejected - 200} more")
        failed = store.failed_units(limit=51)
        if failed:
            out.print("[yellow]units not done:[/]")
            for stage, key, state, err, attempts in failed[:50]:
                what = "gave up" if state == "gave_up" else "will be retried"
                out.print(f"  {stage} {key}: {what} after {attempts} attempts: {err}", markup=False)
            if len(failed) > 50:
                out.print("  … and more")


def _print_caption_facts(store) -> None:
    """Per domain and language: how much of each synthetic image's facts its captions mention,
    and how many name something the image does not hold (template descriptions, and their LLM
    rewrites)."""
    from visinstruct.checks.facts import coverage_figures

    figures = coverage_figures(store.db)
    if not figures:
        return
    table = Table(title="caption facts (share of each image's facts its caption mentions)")
    left = ("domain", "language", "written by")
    for col in (*left, "captions", "coverage", "least", "not in the facts"):
        table.add_column(col, justify="left" if col in left else "right")
    for domain, lang, writer, n, mean, low, bad in figures:
        table.add_row(domain, lang, writer, str(n), f"{mean:.0%}", f"{low:.0%}", str(bad))
    out.print(table)


def _print_search(store, to, shown: int = 50) -> None:
    """Per search provider: result pages, requests and retries; then each page that failed."""
    from visinstruct.sources.search.cache import search_counts, search_failures

    for c in search_counts(store.db):
        retries = f", {c.retries} retried (429 or a passing error)" if c.retries else ""
        failed = f", {c.failed} failed" if c.failed else ""
        to.print(f"search {c.provider}: {c.pages} result pages, {c.requests} requests sent{retries}{failed}")
    failures = search_failures(store.db)
    for provider, query, page, reason in failures[:shown]:
        to.print(
            f"  search failed: {provider} {query!r} page {page}: {reason} (asked again by the next run)",
            markup=False,
            soft_wrap=True,
        )
    if len(failures) > shown:
        to.print(f"  … and {len(failures) - shown} more")


def _print_datasets(store, shown: int = 200) -> None:
    """Per imported dataset: images, questions, samples and bad records; then each bad record."""
    rows = store.dataset_counts()
    if not rows:
        return
    table = Table(title="datasets imported")
    for col in ("dataset", "images", "questions", "samples", "bad records"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for dataset, images, questions, bad, samples in rows:
        table.add_row(dataset, str(images), str(questions), str(samples), str(bad))
    out.print(table)
    n_bad = sum(r[3] for r in rows)
    for dataset, record, reason in store.bad_records(limit=shown):
        out.print(f"  bad record {dataset} {record}: {reason}", markup=False, soft_wrap=True)
    if n_bad > shown:
        out.print(f"  … and {n_bad - shown} more")


def _print_units(store) -> None:
    """Units per stage: done, failed (retried by the next run), gave up."""
    by: dict[str, dict[str, int]] = {}
    for stage, state, n in store.unit_counts():
        by.setdefault(stage, {})[state] = n
    if not by:
        return
    table = Table(title="units per stage")
    for col in ("stage", "done", "will be retried", "gave up"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, c in by.items():
        table.add_row(stage, str(c.get("done", 0)), str(c.get("failed", 0)), str(c.get("gave_up", 0)))
    out.print(table)


def _print_verification(store) -> None:
    agree, disagree = store.verification_counts()
    if agree or disagree:
        out.print(
            f"verification: {agree} agree, {disagree} disagree "
            f"({agree / (agree + disagree):.0%} agreement); disagreements are in needs_review"
        )


def _print_review_progress(store) -> None:
    """Manual review so far: samples reviewed, per reviewer and action (undone ones not counted)."""
    from visinstruct.review.db import review_progress

    p = review_progress(store.db)
    if p is None:
        return
    out.print(f"review: {p['reviewed']} samples reviewed, {p['waiting']} waiting in needs_review")
    for reviewer, acts in sorted(p["reviewers"].items()):
        out.print(f"  {reviewer}: " + ", ".join(f"{n} {a}" for a, n in sorted(acts.items())), markup=False)


def _print_spend(store) -> None:
    """Model calls and their cost, per endpoint and stage, and the commonest failure reasons."""
    from visinstruct.models.ledger import endpoint_notes, ledger_rows

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
    for note in endpoint_notes(store.db):
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    reasons = store.model_failure_reasons(10)
    if reasons:
        out.print("[yellow]model failures (kept with their raw replies in run.db, table model_failures):[/]")
        for reason, n in reasons:
            out.print(f"  {n:>6}  {reason}", markup=False)


@cli.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file (the sharded formats: a folder of shards train-00000.<ext>, ... and their index).",
)
@click.option(
    "--include",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Statuses to include besides accepted and edited (repeatable).",
)
@click.option(
    "--absolute-paths",
    is_flag=True,
    help="Write absolute image paths, so rows open from any working directory (ms-swift needs it).",
)
@click.option(
    "--single-image",
    is_flag=True,
    help="llava: one image a row, for LLaVA-1.5; rows with several go to <stem>_multi_image.json.",
)
@click.option(
    "--shard-size",
    metavar="SIZE",
    default=None,
    help="parquet-shards, jsonl-shards, webdataset: bytes a shard, e.g. 500MB or 1GiB (default 256MB).",
)
def export_cmd(
    run_dir: Path,
    fmt: str,
    out: Path,
    include: tuple[str, ...],
    absolute_paths: bool,
    single_image: bool,
    shard_size: str | None,
) -> None:
    """Write RUN_DIR's samples in a training format."""
    from visinstruct.export import ExportOptions, export
    from visinstruct.store import RunStore

    statuses = tuple(dict.fromkeys(("accepted", "edited", *include)))
    options = ExportOptions(absolute_paths=absolute_paths, single_image=single_image, shard_size=shard_size)
    with RunStore(run_dir, create=False) as store:
        res = export(store, fmt, out, include=statuses, options=options)
    console.print(f"{res.n_samples} samples, {res.n_images} images → {res.path}")
    _print_export_files(res, "")


def _print_export_files(res, indent: str) -> None:
    """The files an export wrote besides its main one, and what was kept out of it."""
    if res.shards:
        from visinstruct.export.shards import shard_glob

        size = sum(p.stat().st_size for p in res.shards) / 1e6
        where = shard_glob(res.shards[0].parent, res.format)
        console.print(
            f"{indent}{len(res.shards)} shards, {size:,.1f} MB → {where}",
            markup=False,
            soft_wrap=True,
        )
    if res.format == "llava" and res.files:
        console.print(
            f"{indent}{res.set_aside} samples with several images left out (LLaVA-1.5 reads one a row)"
            f" → {res.files[0]}",
            markup=False,
            soft_wrap=True,
        )
        return
    for path in res.files:
        console.print(f"{indent}also → {path}", markup=False, soft_wrap=True)


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
    type=click.Choice(["auto", "generic", "lmms-eval", "vlmevalkit", "seedbench"]),
    default="auto",
    help="Results format (default: detected).",
)
@click.option(
    "--benchmark", default=None, help="Mapping to show targets from: seedbench, mmbench (default: detected)."
)
@click.option(
    "--questions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The benchmark's question file (e.g. SEED-Bench.json, or its Hugging Face parquet): "
    "categories joined by question id.",
)
@click.option("--mapping", "mappings", multiple=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--unmapped",
    default="report",
    show_default=True,
    help="A category nothing maps: skip or report (quota 0), or a domain to send it to "
    "(catalog name or <synthetic domain>/<category>).",
)
@click.option("--floor", type=float, default=0.05, show_default=True)
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option(
    "--total", type=click.IntRange(min=0), default=1000, show_default=True, help="Samples to share."
)
def weakness_cmd(
    results: Path,
    fmt: str,
    benchmark: str | None,
    questions: Path | None,
    mappings: tuple[Path, ...],
    unmapped: str,
    floor: float,
    temperature: float,
    total: int,
) -> None:
    """Read evaluation RESULTS: accuracy per category, weights, quotas, and where data would come from.

    Only categories that map to some data share the total; one that maps to nothing gets
    quota 0 and is shown with the closest domain by name."""
    from visinstruct.loop.importers import load_results
    from visinstruct.loop.mapping import load_mapping
    from visinstruct.loop.suggest import suggest
    from visinstruct.loop.weakness import (
        accuracy_by_category,
        quotas,
        summary_stats,
        weakness_table,
        weights,
    )

    res = load_results(results, format=fmt, benchmark=benchmark, questions=questions)
    for p in res.problems[:20]:
        console.print(f"  {p.where}: {p.reason}", markup=False, highlight=False)
    if len(res.problems) > 20:
        console.print(f"  … and {len(res.problems) - 20} more problems")
    if not res.records and not res.summary:
        raise VisinstructError(f"{results}: no evaluation records")
    stats = accuracy_by_category(res.records) if res.records else summary_stats(res.summary)
    bench = benchmark or res.benchmark or None
    mapping = load_mapping(
        bench if bench != "generic" else None, list(mappings), unmapped=unmapped, where="--unmapped"
    )
    closest = {}
    for s in stats:
        if not mapping.targets(s.category):
            hint = suggest(s.category)
            closest[s.category] = hint.label if hint else ""
    mapped = [s for s in stats if s.category not in closest]
    w: dict[str, float] = {}
    if mapped:
        try:
            w = weights(mapped, floor=min(floor, 1 / len(mapped)), temperature=temperature)
        except ValueError as e:
            raise VisinstructError(str(e)) from None
    q = {**quotas(w, total), **dict.fromkeys(closest, 0)} if w else dict.fromkeys(closest, 0)
    notes = {c: f"unmapped; closest: {h}" if h else "unmapped" for c, h in closest.items()}
    out.print(weakness_table(stats, w, q, notes=notes))
    if unmapped == "report":
        for cat, hint in closest.items():
            near = f" (closest: {hint})" if hint else ""
            console.print(
                f"  {cat}: maps to nothing, quota 0{near}; map it with --mapping FILE or --unmapped DOMAIN",
                markup=False,
                highlight=False,
            )
    targets = Table(
        title=f"where the data would come from ({res.format}, mapping: {bench or 'our categories'})"
    )
    for col in ("category", "targets", "from"):
        targets.add_column(col)
    for s in stats:
        ts = mapping.targets(s.category)
        names = ", ".join(f"{t.domain or 'any'}/{t.category}" for t in ts)
        if not ts:
            hint = closest[s.category]
            names = "[yellow]unmapped[/]" + (f" (closest: {markup_escape(hint)})" if hint else "")
        targets.add_row(markup_escape(s.category), names, mapping.source(s.category))
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

    def analysis(rnd, stats, weights, quotas, previous, dropped, unmapped) -> None:
        notes = {c: "no data" for c in dropped}
        notes.update({c: f"unmapped; closest: {h}" if h else "unmapped" for c, h in unmapped.items()})
        out.print(weakness_table(stats, weights, quotas, previous, notes=notes))
        for cat, why in sorted(dropped.items()):
            if cat in unmapped and spec.unmapped == "skip":
                continue  # the table shows it at quota 0; the loop file asked for no more
            console.print(f"  {cat}: no data made ({why})", style="yellow", markup=False, highlight=False)

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
    from visinstruct.embed.cli import index, retrieve_cmd

    cli.add_command(augment)
    cli.add_command(index)
    cli.add_command(retrieve_cmd)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, no traceback."""
    run_command(cli, argv, "visinstruct")


if __name__ == "__main__":
    main()
