"""Retrieval: the neighbours of seed images or texts in an index, and retrieval as a recipe source.

    sources:
      - retrieve: {index: pool-index, seeds: seeds/, k: 200, min_similarity: 0.25}
      - retrieve: {index: pool-index, domains: [landmark, artwork]}   # each domain's description
      - retrieve: {index: pool-index, texts: ["a street market at night"], domain: image_scene}

Queries are embedded by the index's own model (or `model:`, which must have the same
fingerprint: vectors of two models are not comparable). A seed folder's first sub-folder names
its seeds' domain, as a source folder does (`seeds/landmark/x.jpg`); a domain query gives its
neighbours that domain. Each neighbour becomes one source item, once however many seeds found
it: the seed with the highest score is kept in its provenance with the score and the rank, and
items come in the order of their seeds, then rank. Items then go through ingestion like any
other source (validated, stored once by content hash).

This is MMInstruct's retrieval step (200 neighbours per seed image from a LAION-5B kNN
service, no threshold), over your own pool and with a threshold.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visinstruct.embed.errors import EmbedError
from visinstruct.embed.index import Neighbour, VectorIndex
from visinstruct.embed.model import Embedder, load_embedder


@dataclass
class Query:
    ref: str  # the seed's path inside its folder, or "text:<text>", or "domain:<name>"
    vector: np.ndarray
    domain: str | None = None


@dataclass
class Queries:
    items: list[Query] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # seeds that cannot be embedded


def open_for_queries(
    index: str | os.PathLike[str], model: str | None = None, device: str = "cpu", batch_size: int = 32
) -> tuple[VectorIndex, Embedder]:
    """The index and an embedder of its model (`model` overrides the recorded name, not the
    weights: its fingerprint must match)."""
    idx = VectorIndex(index)
    recorded = idx.model
    name = model or recorded.get("name")
    if not name:
        raise EmbedError(f"{idx.folder}: the index does not name its model; give --model")
    embedder = load_embedder(name, device=device, batch_size=batch_size, cache=idx.folder / "embeddings.db")
    if recorded.get("fingerprint") and embedder.fingerprint != recorded["fingerprint"]:
        raise EmbedError(
            f"{idx.folder}: built with {recorded['fingerprint']}, but {name} is {embedder.fingerprint}: "
            "query with the index's model or build the index again"
        )
    if embedder.dim != idx.dim:
        raise EmbedError(f"{idx.folder}: vectors of {idx.dim} dimensions, {name} makes {embedder.dim}")
    return idx, embedder


def seed_queries(embedder: Embedder, seeds: str | os.PathLike[str]) -> Queries:
    """One query per image of the folder `seeds` (recursive, sorted); the first sub-folder
    names the domain."""
    from visinstruct.sources import SourceError, iter_folder

    try:
        items = list(iter_folder(seeds))
    except SourceError as e:
        raise EmbedError(f"seed images: {e}") from None
    out = Queries()
    usable = []
    for item in items:
        if item.error:
            out.refused.append((item.ref, item.error))
        else:
            usable.append(item)
    for item, result in zip(usable, embedder.iter_images([i.path for i in usable]), strict=True):
        if result.vector is None:
            out.refused.append((item.ref, result.error or "no embedding"))
        else:
            out.items.append(Query(item.ref, result.vector, item.domain))
    if not out.items:
        why = f" ({out.refused[0][1]})" if out.refused else ""
        raise EmbedError(f"{seeds}: no seed image could be embedded{why}")
    return out


def text_queries(embedder: Embedder, texts: Sequence[str], domain: str | None = None) -> Queries:
    texts = [t for t in (str(t).strip() for t in texts) if t]
    if not texts:
        raise EmbedError("no query text given")
    vectors = embedder.embed_texts(texts)
    return Queries([Query(f"text:{t}", v, domain) for t, v in zip(texts, vectors, strict=True)])


def domain_queries(
    embedder: Embedder, domains: Sequence[str], catalog: dict[str, Any], language: str = "en"
) -> Queries:
    """One query per domain: its description (in `language`) from the domain catalog."""
    unknown = [d for d in domains if d not in catalog]
    if unknown:
        raise EmbedError(f"unknown domain {unknown[0]!r} (known: {', '.join(sorted(catalog))})")
    texts = [getattr(catalog[d].description, language) for d in domains]
    vectors = embedder.embed_texts(texts)
    return Queries([Query(f"domain:{d}", v, d) for d, v in zip(domains, vectors, strict=True)])


def search(
    index: VectorIndex, queries: Queries, k: int, min_similarity: float | None = None
) -> list[tuple[Query, list[Neighbour]]]:
    if not queries.items:
        return []
    hits = index.search(np.stack([q.vector for q in queries.items]), k, min_similarity)
    return list(zip(queries.items, hits, strict=True))


def unique_neighbours(results: list[tuple[Query, list[Neighbour]]]) -> list[tuple[Query, int, Neighbour]]:
    """Each row once: (query, rank, hit) of the query that scored it highest, in the order of
    that query, then rank."""
    best: dict[int, tuple[float, int, int]] = {}  # row -> (score, query number, rank)
    for qn, (_, hits) in enumerate(results):
        for rank, h in enumerate(hits):
            old = best.get(h.row)
            if old is None or h.score > old[0]:
                best[h.row] = (h.score, qn, rank)
    chosen = sorted(best.items(), key=lambda kv: (kv[1][1], kv[1][2]))
    return [(results[qn][0], rank, results[qn][1][rank]) for _, (_, qn, rank) in chosen]


def retrieved_items(spec: Any, resolve: Callable[[str], Path], catalog: dict[str, Any]) -> Iterator[Any]:
    """The source items of a recipe's `retrieve:` source (see the module docstring)."""
    from visinstruct.sources import SourceItem

    index, embedder = open_for_queries(resolve(spec.index), spec.model, spec.device)
    try:
        if spec.seeds:
            queries = seed_queries(embedder, resolve(spec.seeds))
        elif spec.texts:
            queries = text_queries(embedder, spec.texts)
        else:
            queries = domain_queries(embedder, spec.domains, catalog, spec.language)
    finally:
        embedder.close()
    for ref, reason in queries.refused:
        yield SourceItem(ref=f"seed:{ref}", provenance={"source": "retrieve", "seed": ref}, error=reason)
    for query, rank, hit in unique_neighbours(search(index, queries, spec.k, spec.min_similarity)):
        prov = dict(hit.provenance)
        if "source" in prov:
            prov["indexed_from"] = prov.pop("source")
        prov.update(
            source="retrieve",
            index=str(index.folder),
            model=index.model.get("name"),
            seed=query.ref,
            score=round(hit.score, 4),
            rank=rank,
            indexed_as=hit.ref,
        )
        item = SourceItem(
            ref=f"retrieve:{hit.id}", domain=query.domain or prov.get("domain"), provenance=prov
        )
        if hit.path is None:
            item.error = f"retrieve:{hit.id}: the index's path {hit.ref!r} leaves its folder"
        else:
            item.path = str(hit.path)
        yield item
