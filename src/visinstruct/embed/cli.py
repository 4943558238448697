"""`visinstruct index build` and `visinstruct retrieve`: thin shells over build.py and retrieve.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from visinstruct.shell import console


@click.group("index")
def index() -> None:
    """Embedding indexes over your own images."""


@index.command("build")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The index folder."
)
@click.option(
    "--model", default=None, help="A model folder or hub name (default: the index's, else CLIP ViT-B/32)."
)
@click.option(
    "--kind",
    type=click.Choice(["auto", "folder", "manifest", "hf", "run"]),
    default="auto",
    show_default=True,
    help="What SOURCES are (auto: a run directory, a dataset, a folder or a manifest).",
)
@click.option("--split", default="train", show_default=True, help="Dataset split.")
@click.option("--image-column", default="image", show_default=True, help="Dataset image column.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many images per source."
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N, mps or auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option(
    "--exact-below",
    type=click.IntRange(min=0),
    default=50_000,
    show_default=True,
    help="Search exactly up to this many rows; above, a tuned IVF index.",
)
def build_cmd(
    sources: tuple[str, ...],
    out: Path,
    model: str | None,
    kind: str,
    split: str,
    image_column: str,
    limit: int | None,
    device: str,
    batch_size: int,
    exact_below: int,
) -> None:
    """Embed the images of SOURCES (folders, manifests, datasets, run directories) into --out.
    Building again embeds only the images the index's cache has not seen."""
    from visinstruct.embed.build import build_index

    report = build_index(
        sources,
        out,
        model=model,
        kind=kind,
        split=split,
        image_column=image_column,
        limit=limit,
        exact_below=exact_below,
        device=device,
        batch_size=batch_size,
    )
    meta = report.meta
    for _ref, reason in report.refused[:50]:
        console.print(f"  refused {reason}", markup=False, highlight=False, soft_wrap=True)
    if len(report.refused) > 50:
        console.print(f"  … and {len(report.refused) - 50} more refused")
    how = "exact search"
    if meta.get("kind") == "ivf":
        how = (
            f"IVF {meta['nlist']} lists, nprobe {meta['nprobe']} "
            f"(recall@50 {meta['tuned_recall']:.3f}{', kept' if report.kept_ann else ''})"
        )
    console.print(
        f"{report.count} images indexed in {out} ({report.embedded} embedded, "
        f"{report.cached} from the cache, "
        f"{report.duplicates} duplicates, {len(report.refused)} refused; {meta['model']['name']}, "
        f"{meta['dim']}-d, {how}; {report.seconds:.1f} s)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@click.command("retrieve")
@click.argument("index_dir", metavar="INDEX", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--seed-images", type=click.Path(file_okay=False, path_type=Path), help="A folder of seed images."
)
@click.option("--text", "texts", multiple=True, help="A query text (repeatable).")
@click.option(
    "--k", type=click.IntRange(min=1, max=10_000), default=10, show_default=True, help="Neighbours per query."
)
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None, help="Leave out lower cosines.")
@click.option("--model", default=None, help="The model (default: the one the index records).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per neighbour.")
def retrieve_cmd(
    index_dir: Path,
    seed_images: Path | None,
    texts: tuple[str, ...],
    k: int,
    min_similarity: float | None,
    model: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Print the neighbours in INDEX of each seed image or text, with their cosine similarity."""
    from visinstruct.embed.retrieve import open_for_queries, search, seed_queries, text_queries

    if bool(seed_images) == bool(texts):
        raise click.UsageError("give --seed-images DIR or --text TEXT (one of them)")
    idx, embedder = open_for_queries(index_dir, model, device)
    queries = seed_queries(embedder, seed_images) if seed_images else text_queries(embedder, texts)
    for _ref, reason in queries.refused:
        console.print(f"  refused seed {reason}", markup=False, highlight=False, soft_wrap=True)
    for query, hits in search(idx, queries, k, min_similarity):
        if as_json:
            for rank, h in enumerate(hits):
                row = {"query": query.ref, "rank": rank, "score": round(h.score, 6), "id": h.id}
                row.update(path=str(h.path) if h.path else None, ref=h.ref)
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            continue
        click.echo(f"{query.ref}: {len(hits)} neighbours")
        for h in hits:
            click.echo(f"  {h.score:7.4f}  {h.path if h.path else h.ref}")
