"""Source images in: each recipe source's items, validated, normalised and stored once.

The flow's subjects are the sources' items in a fixed order; an item's place in that order
(source number, item number) is its `seq`, which orders its samples and places their answer
letters, so it does not depend on which image finished first. An image that is not usable
(not an image, truncated, too small, an unsupported type) is recorded as a rejected input
with its reason and counts as done; a download that failed for a passing reason (time-out,
refused connection, a server error) is a failed unit, tried again by the next run.

A `search:` source's items come from its provider while the run goes (see
`sources/search/collect.py`). Found images are often found again (by another keyword, at another
address, by another provider): with a search source the images are taken in in source order, and
an item whose image an earlier item already brought is recorded as an input of that image but
goes no further, so one image is captioned and written about once.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
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
    elif spec.urls:
        items = sources.iter_url_list(ctx_path(spec.urls))
    else:
        raise ValueError("a search source's items come from `search_source_items`")
    taken = 0  # `limit` counts images: entries already refused (a .txt in a folder) do not count
    for item in items:
        if spec.limit is not None and taken >= spec.limit:
            return
        taken += item.error is None
        if spec.domain and not item.domain:
            item.domain = spec.domain
        yield item


async def search_source_items(spec, ctx: RunContext) -> AsyncIterator[tuple[int, object]]:
    """(place, item) of a search source's results, at most `limit` of them."""
    from visinstruct.sources.search import search_items

    taken = 0
    async for place, item in search_items(spec.search, ctx.catalog, ctx.store.db, spec.domain):
        if spec.limit is not None and taken >= spec.limit:
            return
        taken += 1
        yield place, item


async def subjects(ctx: RunContext) -> AsyncIterator[Subject]:
    for n, spec in enumerate(ctx.recipe.sources):
        if spec.dataset:
            continue  # imported with its ground truth by the datasets flow
        if spec.search:
            async for i, item in search_source_items(spec, ctx):
                yield Subject(item.ref, n * SOURCE_STRIDE + i, {"item": item})
            continue
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


#: Downloads in flight at once when a recipe searches (the image hosts of search providers ask
#: clients to be gentle).
SEARCH_DOWNLOADS = 8
#: Images taken in lately whose first input is remembered (older ones are found in the store).
RECENT = 65536


class IngestStage(CpuStage):
    name = "images"
    version = "1"

    def __init__(self, ctx: RunContext) -> None:
        for spec in ctx.recipe.image_sources:
            if spec.domain and spec.domain not in ctx.catalog:
                raise VisinstructError(f"source domain {spec.domain!r} is not in the domain catalog")
        self.searching = any(spec.search for spec in ctx.recipe.image_sources)
        if self.searching:  # images taken in in source order: the first item of an image keeps it
            self.ordered = True  # type: ignore[misc]
            self.concurrency = SEARCH_DOWNLOADS  # type: ignore[misc]
        self._first: OrderedDict[str, int] = OrderedDict()  # image id → seq of its first input

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is None:
            return []
        item = subject.info["item"]
        known = ctx.store.input_for(item.ref)
        if known is not None:
            seq, image_id, domain, _error = known
            if image_id is not None:
                first = ctx.store.first_input_of(image_id) if _searched(item) else None
                if first is not None and first < seq:
                    subject.info["duplicate_of"] = image_id  # brought by an earlier input
                else:
                    subject.info.update(image_id=image_id, domain=domain)
            return []
        return [Unit(item.ref, subject.seq, item)]

    def accept(self, unit: Unit, result: Result, ctx: RunContext) -> Result | None:
        """In source order (with a search source): an image an earlier input brought makes this
        input a duplicate, recorded with the image but going no further."""
        image_id = result.info.get("image_id")
        if image_id is None:
            return result
        first = self._first.get(image_id)
        if first is None:
            first = ctx.store.first_input_of(image_id)
        if first is None or unit.seq < first:
            self._first[image_id] = unit.seq
            self._first.move_to_end(image_id)
            if len(self._first) > RECENT:
                self._first.popitem(last=False)
        elif first < unit.seq and _searched(unit.data):
            result.info = {"duplicate_of": image_id}
        return result

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.sources import download

        item = unit.data
        if item.url and item.data is None and not item.error:
            [item] = await download([item])
            if item.error and TRANSIENT.search(item.error):
                raise UnitFailed(item.error)
        domain = item.domain if item.domain in ctx.catalog else None
        return await ctx.cpu(ingest_item, (item, str(ctx.store.dir), unit.seq, domain))


def _searched(item) -> bool:
    return item.provenance.get("source") == "search"
