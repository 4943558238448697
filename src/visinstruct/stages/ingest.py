"""Source images in: each recipe source's items, validated, normalised and stored once.

The flow's subjects are the sources' items in a fixed order; an item's place in that order
(source number, item number) is its `seq`, which orders its samples and places their answer
letters, so it does not depend on which image finished first. An image that is not usable
(not an image, truncated, too small, an unsupported type) is recorded as a rejected input
with its reason and counts as done; a download that failed for a passing reason (time-out,
refused connection, a server error) is a failed unit, tried again by the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from visinstruct.errors import VisinstructError
from visinstruct.stages.base import CpuStage, Result, Subject, Unit, UnitFailed
from visinstruct.stages.context import RunContext

SOURCE_STRIDE = 10**9  # items per source in `seq`: source n's items are n·10⁹ + i
TRANSIENT = re.compile(r"timed out|cannot connect|HTTP (5\d\d|429|408)|download failed")


def source_items(spec, ctx_path, catalog=None) -> Iterator:
    """The items of one recipe source, in a stable order (`catalog`: the domains a `retrieve:`
    source may query by description)."""
    from visinstruct import sources
    from visinstruct.models.endpoints import expand_env

    if spec.folder:
        items = sources.iter_folder(ctx_path(spec.folder))
    elif spec.manifest:
        items = sources.iter_manifest(ctx_path(spec.manifest))
    elif spec.hf:
        local = ctx_path(spec.hf)
        items = sources.iter_hf(
            str(local) if local.exists() else expand_env(spec.hf),
            split=spec.split,
            image_column=spec.image_column,
            domain_column=spec.domain_column,
            text_column=spec.text_column,
            limit=spec.limit,
        )
    elif spec.retrieve:
        from visinstruct.domains import load_catalog
        from visinstruct.embed.retrieve import retrieved_items

        items = retrieved_items(spec.retrieve, ctx_path, catalog if catalog is not None else load_catalog())
    else:
        items = sources.iter_url_list(ctx_path(spec.urls))
    taken = 0  # `limit` counts images: entries already refused (a .txt in a folder) do not count
    for item in items:
        if spec.limit is not None and taken >= spec.limit:
            return
        taken += item.error is None
        if spec.domain and not item.domain:
            item.domain = spec.domain
        yield item


def subjects(ctx: RunContext) -> Iterator[Subject]:
    for n, spec in enumerate(ctx.recipe.sources):
        if spec.dataset:
            continue  # imported with its ground truth by the datasets flow
        for i, item in enumerate(source_items(spec, ctx.path, ctx.catalog)):
            yield Subject(item.ref, n * SOURCE_STRIDE + i, {"item": item})


def ingest_item(job: tuple) -> Result:
    """Worker side: validate and store one item; its perceptual hash for near-duplicate images."""
    from visinstruct.sources import ingest_one

    item, run_dir, seq, domain = job
    res = ingest_one(item, run_dir)
    out = Result(inputs=[(seq, item.ref, res.image.id if res.image else None, domain, res.error)])
    if res.image is not None:
        out.images.append(res.image)
        try:
            from visinstruct.checks.dedup import ImageDeduper

            out.phashes.append((res.image.id, ImageDeduper().phash(Path(run_dir) / res.image.path)))
        except (OSError, ValueError):
            pass
        out.info = {
            "image_id": res.image.id,
            "domain": domain,
            "provenance": res.image.provenance,
            "images": {res.image.id: res.image},
        }
    return out.pack(seq, f"input/{item.ref}")


class IngestStage(CpuStage):
    name = "images"
    version = "1"

    def __init__(self, ctx: RunContext) -> None:
        for spec in ctx.recipe.image_sources:
            if spec.domain and spec.domain not in ctx.catalog:
                raise VisinstructError(f"source domain {spec.domain!r} is not in the domain catalog")

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None:
            return []
        item = subject.info["item"]
        known = ctx.store.input_for(item.ref)
        if known is not None:
            seq, image_id, domain, _error = known
            if image_id is not None:
                subject.info.update(image_id=image_id, domain=domain)
            return []
        return [Unit(item.ref, subject.seq, item)]

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.sources import download

        item = unit.data
        if item.url and item.data is None and not item.error:
            [item] = await download([item])
            if item.error and TRANSIENT.search(item.error):
                raise UnitFailed(item.error)
        domain = item.domain if item.domain in ctx.catalog else None
        return await ctx.cpu(ingest_item, (item, str(ctx.store.dir), unit.seq, domain))
